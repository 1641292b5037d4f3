"""Signed webhooks (Standard Webhooks: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).

Targets are checked when a subscription is made and again at every attempt, at the address the attempt
connects to (:mod:`eta.alerts.transport`): https only (unless ``ETA_ALERTS__ALLOW_PLAIN_HTTP``), no
credentials in the URL, an allowed port, and public addresses only unless
``ETA_ALERTS__ALLOW_PRIVATE_TARGETS`` (tests). Redirects are not followed.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

from eta.alerts import transport
from eta.alerts.transport import DeliveryError, TargetPolicy
from eta.config import AlertsSettings
from eta.errors import InputError

USER_AGENT = "eta-webhooks/1"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def sign(secret: str, message_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``."""
    signature = Webhook(secret).sign(message_id, timestamp, body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }


@dataclass(frozen=True)
class Attempt:
    outcome: str  # delivered | gone | retry | refused
    status: int | None
    error: str | None  # for the operator (the store); never shown to the subscriber


@dataclass(frozen=True)
class Limits:
    """What one delivery may cost: a total deadline and a cap on the answer read."""

    deadline_s: float
    max_response_bytes: int
    policy: TargetPolicy

    @classmethod
    def from_settings(cls, alerts: AlertsSettings) -> Limits:
        return cls(alerts.webhook_timeout_s, alerts.max_response_bytes, TargetPolicy.from_settings(alerts))


def checked_target(url: str, limits: Limits) -> transport.Target | Attempt:
    """The target to connect to for this attempt, or the refusal as an attempt's outcome."""
    try:
        return transport.check_target(url, limits.policy, timeout_s=limits.deadline_s)
    except InputError as exc:
        return Attempt("refused", None, str(exc)[:200])


def deliver(url: str, secret: str, message_id: str, payload: dict[str, Any], limits: Limits) -> Attempt:
    """POST one signed message; never raises for network trouble (it is an outcome)."""
    start = time.monotonic()
    target = checked_target(url, limits)
    if isinstance(target, Attempt):
        return target
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    headers = sign(secret, message_id, datetime.now(UTC), body)
    headers |= {"content-type": "application/json", "user-agent": USER_AGENT}
    try:
        reply = transport.post(
            target,
            body.encode(),
            headers,
            deadline_s=max(0.1, limits.deadline_s - (time.monotonic() - start)),
            max_response_bytes=limits.max_response_bytes,
        )
    except DeliveryError as exc:
        return Attempt("retry", None, exc.kind)
    if 200 <= reply.status_code < 300:
        return Attempt("delivered", reply.status_code, None)
    if reply.status_code == 410:
        return Attempt("gone", 410, "the endpoint answered 410 Gone")
    return Attempt("retry", reply.status_code, f"HTTP {reply.status_code}")
