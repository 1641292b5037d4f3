"""Web Push (RFC 8030) with message encryption (RFC 8291, aes128gcm) and VAPID (RFC 8292).

A browser's ``PushSubscription`` (endpoint and keys) is all eta keeps; the message is encrypted for that
browser alone, and the push service learns only who sends it (the VAPID key and subject). Endpoints pass
the same checks as webhook targets (:func:`eta.alerts.webhooks.check_target`).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pywebpush import WebPushException, webpush

from eta.alerts.webhooks import Attempt, check_target
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


def deliver(
    session: requests.Session,
    endpoint: str,
    p256dh: str,
    auth: str,
    payload: dict[str, Any],
    *,
    vapid_private_key: str,
    vapid_subject: str,
    ttl_s: int,
    timeout_s: float,
    allow_private: bool,
    allow_http: bool,
) -> Attempt:
    """Encrypt and send one message; never raises for network trouble (it is an outcome)."""
    try:
        check_target(endpoint, allow_private=allow_private, allow_http=allow_http)
    except InputError as exc:
        return Attempt("refused", None, str(exc)[:200])
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
            timeout=timeout_s,
            requests_session=session,
        )
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in GONE:
            return Attempt("gone", status, f"the push service answered {status}: the subscription is gone")
        return Attempt("retry", status, f"HTTP {status}" if status else str(exc)[:200])
    except requests.RequestException as exc:
        return Attempt("retry", None, type(exc).__name__)
    status = getattr(response, "status_code", None)
    return Attempt("delivered", status, None)
