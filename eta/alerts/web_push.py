"""Web Push (RFC 8030) with message encryption (RFC 8291, aes128gcm) and VAPID (RFC 8292).

A browser's ``PushSubscription`` (endpoint and keys) is all eta keeps; the message is encrypted for that
browser alone, and the push service learns only who sends it (the VAPID key and subject). Endpoints pass
the same checks as webhook targets, and pywebpush's POST goes through the same pinned, bounded transport
(:mod:`eta.alerts.transport`).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pywebpush import WebPushException, webpush

from eta.alerts import transport
from eta.alerts.transport import DeliveryError, Reply
from eta.alerts.webhooks import Attempt, Limits, checked_target
from eta.config import AlertsSettings
from eta.errors import InputError

# A push service must accept 4096 bytes of payload; the encryption adds 103 bytes (RFC 8291, 4).
MAX_PAYLOAD_BYTES = 3_993
GONE = (404, 410)  # the browser unsubscribed, or the subscription expired (RFC 8030, 7.3)


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def check_keys(p256dh: str, auth: str) -> None:
    """:class:`InputError` unless ``p256dh`` is a P-256 public key and ``auth`` a 16-byte secret."""
    try:
        point = b64url_decode(p256dh)
        secret = b64url_decode(auth)
    except (binascii.Error, ValueError):
        raise InputError(
            "web_push.keys must be base64url, as the browser's PushSubscription gives them"
        ) from None
    if len(secret) != 16:
        raise InputError("web_push.keys.auth must be 16 bytes (base64url)")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise InputError("web_push.keys.p256dh is not a P-256 public key") from None


def vapid(alerts: AlertsSettings) -> tuple[str, str] | None:
    """The VAPID private key and subject this server sends Web Push with; None where either is unset."""
    if alerts.vapid_private_key is None or alerts.vapid_subject is None:
        return None
    return alerts.vapid_private_key.get_secret_value(), alerts.vapid_subject


def new_private_key() -> str:
    """A fresh VAPID private key: the raw 32-byte P-256 scalar, base64url."""
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def public_key(private_key: str) -> str:
    """The VAPID public key browsers subscribe with (``applicationServerKey``): the uncompressed point."""
    try:
        scalar = int.from_bytes(b64url_decode(private_key), "big")
        key = ec.derive_private_key(scalar, ec.SECP256R1())
    except (binascii.Error, ValueError):
        raise InputError("ETA_ALERTS__VAPID_PRIVATE_KEY is not a base64url P-256 private key") from None
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(point)


class _PinnedPoster:
    """What pywebpush posts with (its ``requests_session``): the checked target, within the deadline."""

    def __init__(self, target: transport.Target, deadline: float, limits: Limits) -> None:
        self.target, self.deadline, self.limits = target, deadline, limits

    def post(
        self, url: str, *, data: bytes | None = None, headers: Mapping[str, str] | None = None, **_: Any
    ) -> Reply:
        if urlsplit(url).geturl() != self.target.url:  # pywebpush posts to the endpoint it was given
            raise DeliveryError("connection")
        return transport.post(
            self.target,
            data or b"",
            dict(headers or {}),
            deadline_s=max(0.1, self.deadline - time.monotonic()),
            max_response_bytes=self.limits.max_response_bytes,
        )


def deliver(
    endpoint: str,
    p256dh: str,
    auth: str,
    payload: dict[str, Any],
    *,
    vapid_private_key: str,
    vapid_subject: str,
    ttl_s: int,
    limits: Limits,
) -> Attempt:
    """Encrypt and send one message; never raises for network trouble (it is an outcome)."""
    deadline = time.monotonic() + limits.deadline_s
    target = checked_target(endpoint, limits)
    if isinstance(target, Attempt):
        return target
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    if len(body.encode()) > MAX_PAYLOAD_BYTES:
        return Attempt("refused", None, f"the message is longer than {MAX_PAYLOAD_BYTES} bytes")
    try:
        response = webpush(
            {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
            data=body,
            vapid_private_key=vapid_private_key,
            vapid_claims={"sub": vapid_subject},
            ttl=ttl_s,
            timeout=limits.deadline_s,
            requests_session=_PinnedPoster(target, deadline, limits),
        )
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in GONE:
            return Attempt("gone", status, f"the push service answered {status}: the subscription is gone")
        return Attempt("retry", status, f"HTTP {status}" if status else "push failed")
    except DeliveryError as exc:
        return Attempt("retry", None, exc.kind)
    status = getattr(response, "status_code", None)
    return Attempt("delivered", status, None)
