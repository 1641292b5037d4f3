"""Subscriptions to one call: created with explicit consent, deleted with their token, purged after arrival.

A subscription keeps the endpoint (a webhook URL, or a browser's Web Push subscription: endpoint and keys)
and nothing else about the person: no name, no address, no location (a travel time is a number of seconds
they chose to give). The deletion token is stored hashed; the endpoint, the signing secret and the push
keys are stored encrypted (:mod:`eta.alerts.sealed`), the endpoint's host in clear (to count per host).

Limits (issue 16): at most ``max_per_trip`` subscriptions per trip, ``max_per_host`` per target host over
all trips (the browsers' push services excepted: each of their endpoints is one browser), and a creation
rate per client (the API's buckets).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select

from eta.alerts import web_push
from eta.alerts.sealed import Sealer
from eta.alerts.transport import TargetPolicy, check_url, resolve
from eta.alerts.webhooks import new_secret
from eta.config import Settings
from eta.errors import InputError, LimitError, NotFoundError
from eta.read.predictions import in_force_one
from eta.read.reports import actual_arrival
from eta.read.timetable import call_known
from eta.store.schema import Subscription

WEBHOOK = "webhook"
WEB_PUSH = "web_push"


@dataclass(frozen=True)
class PushKeys:
    """A browser's ``PushSubscription.keys``."""

    p256dh: str
    auth: str


@dataclass(frozen=True)
class NewSubscription:
    call_id: int
    target_url: str  # the webhook URL, or the Web Push endpoint when ``push`` is given
    watch_platform: bool
    arrival_threshold_s: int | None
    travel_time_s: int | None
    push: PushKeys | None = None
    watch_predicted_platform: bool = False

    @property
    def channel(self) -> str:
        return WEB_PUSH if self.push is not None else WEBHOOK


@dataclass(frozen=True)
class Created:
    row: Any
    token: str
    secret: str  # the webhook signing secret, in clear: shown once


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(engine: Engine, settings: Settings, request: NewSubscription, now: datetime) -> Created:
    """Validate the target and the call, and store the subscription; the token is returned once."""
    alerts = settings.alerts
    policy = TargetPolicy.from_settings(alerts)
    parts = check_url(request.target_url, policy)
    host = (parts.hostname or "").lower()
    push_service = request.push is not None and on_push_service(host, alerts.web_push_services)
    if request.push is not None:
        check_web_push_enabled(settings)
        if not push_service and "*" not in alerts.web_push_services:
            raise InputError(
                "web_push.endpoint must be on a browser's push service "
                f"({', '.join(alerts.web_push_services)})"
            )
        web_push.check_keys(request.push.p256dh, request.push.auth)
    resolve(parts, policy, timeout_s=alerts.webhook_timeout_s)
    token = secrets.token_urlsafe(32)
    secret = new_secret()
    sealer = Sealer.from_settings(settings)
    with engine.begin() as conn:
        call = call_known(conn, request.call_id, now)
        if call is None:
            raise NotFoundError("that call does not exist (or eta did not know it yet)")
        if call.scheduled_arrival is None:
            raise InputError("this stop has no arrival (it is where the trip starts); choose a later stop")
        arrived = actual_arrival(conn, call.id, now)
        if arrived is not None:
            raise InputError("this trip has already arrived there; there is nothing left to watch")
        if _count(conn, Subscription.call_id == call.id) >= alerts.max_per_trip:
            raise LimitError("this trip has too many subscriptions; try again later")
        if not push_service and _count(conn, Subscription.target_host == host) >= alerts.max_per_host:
            raise LimitError(f"too many subscriptions send to {host}; delete some, or try again later")
        values = {
            "id": "sub_" + secrets.token_urlsafe(12),
            "token_hash": hash_token(token),
            "call_id": call.id,
            "target_url": sealer.seal(request.target_url),
            "target_host": host,
            "secret": sealer.seal(secret),
            "channel": request.channel,
            "push_p256dh": sealer.seal_optional(request.push.p256dh if request.push else None),
            "push_auth": sealer.seal_optional(request.push.auth if request.push else None),
            "watch_platform": request.watch_platform,
            "watch_predicted_platform": request.watch_predicted_platform,
            "arrival_threshold_s": request.arrival_threshold_s,
            "travel_time_s": request.travel_time_s,
            "consent_at": now,
            "created_at": now,
            "expires_at": _expiry(conn, call, now, settings),
            "arrival_streak": 0,
            "platform_streak": 0,
            "leave_streak": 0,
        }
        conn.execute(insert(Subscription).values(**values))
        row = conn.execute(select(Subscription).where(Subscription.id == values["id"])).one()
    return Created(row, token, secret)


def on_push_service(host: str, services: list[str]) -> bool:
    """Whether ``host`` is one of ``services`` (``*.example.org``: any subdomain of it)."""
    for service in services:
        service = service.lower()
        if host == service or (service.startswith("*.") and host.endswith(service[1:])):
            return True
    return False


def _count(conn: Connection, condition: Any) -> int:
    """Active subscriptions meeting ``condition``."""
    query = select(func.count()).select_from(Subscription)
    return int(conn.execute(query.where(condition, Subscription.disabled_at.is_(None))).scalar_one())


def check_web_push_enabled(settings: Settings) -> None:
    """:class:`InputError` unless this server has a VAPID key and subject to send Web Push with."""
    if web_push.vapid(settings.alerts) is None:
        raise InputError(
            "this server does not send Web Push (ETA_ALERTS__VAPID_PRIVATE_KEY and "
            "ETA_ALERTS__VAPID_SUBJECT are not set); use a webhook"
        )


def _expiry(conn: Connection, call: Any, now: datetime, settings: Settings) -> datetime:
    """Arrival (the later of schedule and the newest P90) plus the grace period."""
    prediction = in_force_one(conn, call.id, now)
    arrival = call.scheduled_arrival
    if prediction is not None and prediction.p90_arrival is not None:
        arrival = max(arrival, prediction.p90_arrival)
    return arrival + timedelta(seconds=settings.alerts.keep_after_arrival_s)


def get(engine: Engine, subscription_id: str, token: str) -> Any:
    """The subscription if the token matches (an unknown id and a wrong token look the same)."""
    with engine.connect() as conn:
        row = conn.execute(select(Subscription).where(Subscription.id == subscription_id)).first()
    if row is None or not hmac.compare_digest(row.token_hash, hash_token(token)):
        raise NotFoundError("no subscription with this id and token (it may have expired and been purged)")
    return row


def remove(engine: Engine, subscription_id: str, token: str) -> None:
    """Delete the subscription and its pending notifications for good."""
    get(engine, subscription_id, token)
    with engine.begin() as conn:
        conn.execute(delete(Subscription).where(Subscription.id == subscription_id))


def lock_for_examining(conn: Connection, subscription_id: str, now: datetime) -> Any:
    """The active subscription, read under a write lock that lasts until ``conn``'s transaction ends; None
    when another worker is examining it (PostgreSQL skips it) or it is no longer active.

    Two workers examining the same predictions would both notify the same change: on SQLite the
    transaction takes the database's write lock before reading (the other waits, then sees the news as
    examined); on PostgreSQL the row is locked ``FOR UPDATE SKIP LOCKED``.
    """
    query = select(Subscription).where(
        Subscription.id == subscription_id,
        Subscription.disabled_at.is_(None),
        Subscription.expires_at >= now,
    )
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        query = query.with_for_update(skip_locked=True)
    return conn.execute(query).first()


def purge_expired(engine: Engine, now: datetime) -> int:
    """Delete subscriptions past their expiry, with their deliveries (cascade)."""
    with engine.begin() as conn:
        from eta.store.schema import NotificationDelivery

        expired = select(Subscription.id).where(Subscription.expires_at < now)
        conn.execute(delete(NotificationDelivery).where(NotificationDelivery.subscription_id.in_(expired)))
        return int(conn.execute(delete(Subscription).where(Subscription.expires_at < now)).rowcount)
