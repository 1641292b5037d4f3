"""The outbox: deliver every notification that is due, on its subscription's channel, in parallel.

Deliveries run in lanes: each host gets at most ``host_concurrency`` lanes, the lanes share
``delivery_concurrency`` threads, and every delivery has a total deadline (``webhook_timeout_s``). A slow
or hostile endpoint therefore holds up only its own lanes, for a bounded time. A cycle stops starting
deliveries after :data:`CYCLE_BUDGET_S`; what is left waits for the next cycle.

Several workers may run the outbox at once (API workers, replicas, ``eta alerts run-once``): each delivery
is claimed before it is sent (:meth:`Outbox._claim`), so it is sent by one of them, under its one
``webhook-id`` for every retry.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

from sqlalchemy import Engine, select, update

from eta.alerts import web_push
from eta.alerts.metrics import AlertMetrics
from eta.alerts.sealed import Sealer, SealError
from eta.alerts.webhooks import Attempt, Limits, deliver
from eta.config import Settings
from eta.store.schema import NotificationDelivery, Subscription

log = logging.getLogger("eta.alerts")
MAX_DELIVERIES_PER_CYCLE = 500
CYCLE_BUDGET_S = 30.0
LEASE_MARGIN_S = 60.0
WEB_PUSH = "web_push"


class Outbox:
    def __init__(self, engine: Engine, settings: Settings, metrics: AlertMetrics | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.metrics = metrics
        self._sealer: Sealer | None = None

    @property
    def sealer(self) -> Sealer:
        """Made when first needed: a server without subscriptions needs no key."""
        if self._sealer is None:
            self._sealer = Sealer.from_settings(self.settings)
        return self._sealer

    def deliver_due(self) -> tuple[int, int, int, int]:
        """Attempt every pending delivery whose time has come: (delivered, retried, failed, disabled)."""
        alerts = self.settings.alerts
        lanes = split_into_lanes(self._due(), alerts.host_concurrency)
        stop_at = time.monotonic() + max(CYCLE_BUDGET_S, alerts.cycle_interval_s)
        counts: Counter[str] = Counter()
        if lanes:
            with ThreadPoolExecutor(
                max_workers=min(alerts.delivery_concurrency, len(lanes)), thread_name_prefix="eta-deliver"
            ) as pool:
                for outcomes in pool.map(lambda lane: self._run_lane(lane, stop_at), lanes):
                    counts.update(outcomes)
        return counts["delivered"], counts["retry"], counts["failed"], counts["disabled"]

    def _due(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(
                        NotificationDelivery,
                        Subscription.target_url,
                        Subscription.target_host,
                        Subscription.secret,
                        Subscription.channel,
                        Subscription.push_p256dh,
                        Subscription.push_auth,
                    )
                    .join(Subscription, Subscription.id == NotificationDelivery.subscription_id)
                    .where(
                        NotificationDelivery.state == "pending",
                        NotificationDelivery.next_attempt_at <= datetime.now(UTC),
                        Subscription.disabled_at.is_(None),
                    )
                    .order_by(NotificationDelivery.id)
                    .limit(MAX_DELIVERIES_PER_CYCLE)
                ).all()
            )

    def _run_lane(self, lane: list[Any], stop_at: float) -> Counter[str]:
        outcomes: Counter[str] = Counter()
        for row in lane:
            if time.monotonic() > stop_at:
                break
            if not self._claim(row):
                continue  # another worker has it
            attempt = self._attempt(row)
            outcomes[self._record(row, attempt)] += 1
            if self.metrics is not None:
                self.metrics.webhook_deliveries.labels(attempt.outcome).inc()
            log.info(
                "%s %s to %s: %s",
                row.channel,
                row.event_type,
                row.target_host,
                attempt.outcome,
                extra={"status": attempt.status, "attempt": row.attempts + 1},
            )
        return outcomes

    def _claim(self, row: Any) -> bool:
        """Take the delivery for this attempt, or learn that another worker has: one conditional UPDATE
        (SQLite: a write transaction; PostgreSQL: it waits on the row's lock and re-checks), counting the
        attempt and leasing the row until the deadline has passed. A worker that dies mid-attempt leaves
        it to be retried when the lease ends, under the same webhook-id."""
        now = datetime.now(UTC)
        lease = timedelta(seconds=self.settings.alerts.webhook_timeout_s + LEASE_MARGIN_S)
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(NotificationDelivery)
                .where(
                    NotificationDelivery.id == row.id,
                    NotificationDelivery.state == "pending",
                    NotificationDelivery.attempts == row.attempts,
                    NotificationDelivery.next_attempt_at <= now,
                )
                .values(attempts=row.attempts + 1, next_attempt_at=now + lease)
            ).rowcount
        return claimed == 1

    def _attempt(self, row: Any) -> Attempt:
        """One delivery attempt on the subscription's channel."""
        alerts = self.settings.alerts
        limits = Limits.from_settings(alerts)
        try:
            url = self.sealer.unseal(row.target_url)
            if row.channel != WEB_PUSH:
                return deliver(url, self.sealer.unseal(row.secret), row.message_id, row.payload, limits)
            p256dh, auth = self.sealer.unseal(row.push_p256dh), self.sealer.unseal(row.push_auth)
        except SealError as exc:  # the operator's to fix (the key); the message waits for it
            log.error("%s", exc)
            return Attempt("retry", None, "the stored secrets cannot be read")
        keys = web_push.vapid(alerts)
        if keys is None:  # unset since the subscription was made
            return Attempt("retry", None, "Web Push is not configured (ETA_ALERTS__VAPID_PRIVATE_KEY)")
        return web_push.deliver(
            url,
            p256dh,
            auth,
            {"id": row.message_id} | row.payload,
            vapid_private_key=keys[0],
            vapid_subject=keys[1],
            ttl_s=alerts.web_push_ttl_s,
            limits=limits,
        )

    def _record(self, delivery: Any, attempt: Attempt) -> str:
        alerts = self.settings.alerts
        now = datetime.now(UTC)
        attempts = delivery.attempts + 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status": attempt.status,
            "last_error": attempt.error,
        }
        with self.engine.begin() as conn:
            if attempt.outcome == "delivered":
                values |= {"state": "delivered", "delivered_at": now, "next_attempt_at": None}
                outcome = "delivered"
            elif attempt.outcome in ("gone", "refused"):
                values |= {"state": "failed", "next_attempt_at": None}
                reason = "target refused"
                if attempt.outcome == "gone" and attempt.status is not None:
                    reason = f"endpoint answered {attempt.status} {HTTPStatus(attempt.status).phrase}"
                conn.execute(
                    update(Subscription)
                    .where(Subscription.id == delivery.subscription_id)
                    .values(disabled_at=now, disabled_reason=reason)
                )
                conn.execute(
                    update(NotificationDelivery)
                    .where(
                        NotificationDelivery.subscription_id == delivery.subscription_id,
                        NotificationDelivery.state == "pending",
                    )
                    .values(state="failed", next_attempt_at=None, last_error="subscription disabled")
                )
                outcome = "disabled"
            elif attempts >= alerts.max_attempts:
                values |= {"state": "failed", "next_attempt_at": None}
                outcome = "failed"
            else:
                delay = min(alerts.backoff_max_s, alerts.backoff_base_s * 2 ** (attempts - 1))
                values |= {"next_attempt_at": now + timedelta(seconds=delay)}
                outcome = "retry"
            conn.execute(
                update(NotificationDelivery)
                .where(NotificationDelivery.id == delivery.id, NotificationDelivery.attempts == attempts)
                .values(**values)
            )
        return outcome


def split_into_lanes(rows: Iterable[Any], per_host: int) -> list[list[Any]]:
    """Rows in lanes of one host each, at most ``per_host`` lanes per host, in the rows' order."""
    by_host: dict[str, list[list[Any]]] = defaultdict(lambda: [[] for _ in range(per_host)])
    seen: Counter[str] = Counter()
    for row in rows:
        host = row.target_host or ""
        by_host[host][seen[host] % per_host].append(row)
        seen[host] += 1
    lanes = [lane for host_lanes in by_host.values() for lane in host_lanes if lane]
    return sorted(lanes, key=lambda lane: lane[0].id)
