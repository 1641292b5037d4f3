"""Signed webhooks (Standard Webhooks: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).

Targets are checked when a subscription is made and again before every attempt: https only (unless
``ETA_ALERTS__ALLOW_PLAIN_HTTP``), no credentials in the URL, and every address the host resolves to must
be public unless ``ETA_ALERTS__ALLOW_PRIVATE_TARGETS`` (tests). Redirects are not followed.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from standardwebhooks import Webhook

from eta.errors import InputError

MAX_URL = 2000
USER_AGENT = "eta-webhooks/1"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def check_target(url: str, *, allow_private: bool, allow_http: bool) -> str:
    """The URL if it is an acceptable webhook target, else :class:`InputError` saying why."""
    if len(url) > MAX_URL:
        raise InputError(f"the webhook URL is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"the webhook URL is malformed ({exc})") from None
    allowed = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in allowed:
        raise InputError(f"the webhook URL must start with {' or '.join(s + '://' for s in allowed)}")
    if not parts.hostname:
        raise InputError("the webhook URL has no host")
    if parts.username or parts.password:
        raise InputError("the webhook URL must not contain credentials")
    if not allow_private:
        _refuse_private(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    return url


def _refuse_private(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise InputError(f"the webhook host {host!r} cannot be resolved") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            raise InputError(
                f"the webhook host {host!r} resolves to a private, loopback or link-local address; "
                "targets must be public"
            )


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
    error: str | None


def deliver(
    session: requests.Session,
    url: str,
    secret: str,
    message_id: str,
    payload: dict[str, Any],
    *,
    timeout_s: float,
    allow_private: bool,
    allow_http: bool,
) -> Attempt:
    """POST one signed message; never raises for network trouble (it is an outcome)."""
    try:
        check_target(url, allow_private=allow_private, allow_http=allow_http)
    except InputError as exc:
        return Attempt("refused", None, str(exc)[:200])
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    headers = sign(secret, message_id, datetime.now(UTC), body)
    headers |= {"content-type": "application/json", "user-agent": USER_AGENT}
    try:
        response = session.post(
            url, data=body.encode(), headers=headers, timeout=timeout_s, allow_redirects=False
        )
    except requests.RequestException as exc:
        return Attempt("retry", None, type(exc).__name__)
    if 200 <= response.status_code < 300:
        return Attempt("delivered", response.status_code, None)
    if response.status_code == 410:
        return Attempt("gone", 410, "the endpoint answered 410 Gone")
    return Attempt("retry", response.status_code, f"HTTP {response.status_code}")
