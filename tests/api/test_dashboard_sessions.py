"""The dashboard's login: a server-side session (never the key in a cookie), revocable and tied to the key,
Secure over https, refused from other origins, throttled after failed logins; security headers on every
answer of the app."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from eta.api.apikeys import create_key, revoke_key
from eta.clock import ManualClock
from eta.store.schema import DashboardSession

ORIGIN = {"Origin": "http://testserver"}


def _login(client: TestClient, key: str, headers: dict[str, str] | None = None) -> object:
    return client.post(
        "/dashboard/login",
        data={"api_key": key},
        headers=ORIGIN if headers is None else headers,
        follow_redirects=False,
    )


def _session_cookie(response: object) -> str:
    cookie = response.headers["set-cookie"]  # type: ignore[attr-defined]
    assert cookie.startswith("eta_session="), cookie
    return str(cookie.split(";")[0].split("=", 1)[1])


def test_the_cookie_is_a_session_stored_hashed_and_tied_to_the_key(
    client: TestClient, engine: Engine
) -> None:
    key, info = create_key(engine, "ops")
    response = _login(client, key)
    assert response.status_code == 303
    session = _session_cookie(response)
    assert key not in response.headers["set-cookie"] and len(session) >= 40
    for flag in ("HttpOnly", "SameSite=strict", "Path=/"):
        assert flag.lower() in response.headers["set-cookie"].lower()
    with engine.connect() as conn:
        row = conn.execute(select(DashboardSession)).one()
    assert row.token_hash == hashlib.sha256(session.encode()).hexdigest() and session not in str(row)
    assert row.api_key_id == info.id
    assert timedelta(hours=7) < row.expires_at - row.created_at <= timedelta(hours=8)
    page = client.get("/dashboard")
    assert page.status_code == 200 and "key ops" in page.text
    assert client.get("/api/v1/operator/models").status_code == 200  # the session works for the API too

    revoke_key(engine, info.prefix)  # revoking the key ends its sessions
    assert client.get("/dashboard").status_code == 401


def test_logout_revokes_the_session_on_the_server(client: TestClient, engine: Engine) -> None:
    key, _ = create_key(engine, "ops")
    session = _session_cookie(_login(client, key))
    assert client.post("/dashboard/logout", headers=ORIGIN, follow_redirects=False).status_code == 303
    replay = TestClient(client.app, cookies={"eta_session": session})
    assert replay.get("/dashboard").status_code == 401  # a copied cookie is worthless after logout


def test_sessions_expire(client: TestClient, engine: Engine) -> None:
    key, _ = create_key(engine, "ops")
    _login(client, key)
    assert client.get("/dashboard").status_code == 200
    with engine.begin() as conn:
        conn.execute(update(DashboardSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert client.get("/dashboard").status_code == 401


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({}, 403),  # neither Origin nor Referer: not a form of ours
        ({"Referer": "https://evil.example/page"}, 403),
        ({"Referer": "http://testserver/dashboard"}, 303),
        (ORIGIN, 303),
    ],
)
def test_state_changing_forms_check_the_origin(
    client: TestClient, engine: Engine, headers: dict[str, str], status: int
) -> None:
    key, _ = create_key(engine, "ops")
    response = _login(client, key, headers)
    assert response.status_code == status
    if status == 403:
        assert "set-cookie" not in response.headers
        _login(client, key)
        assert client.post("/dashboard/logout", headers=headers, follow_redirects=False).status_code == 403
        assert client.get("/dashboard").status_code == 200  # still signed in


def test_the_cookie_is_secure_over_https(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(seeded_url, clock)
    key, _ = create_key(client.app.state.eta.engine, "ops")  # type: ignore[attr-defined]
    plain = _login(client, key)
    assert "secure" not in plain.headers["set-cookie"].lower()
    https = TestClient(client.app, base_url="https://testserver")
    assert "; secure" in _login(https, key, {"Origin": "https://testserver"}).headers["set-cookie"].lower()
    # behind a TLS proxy: the scheme the client used, as the proxy tells it
    proxied = make_client(seeded_url, clock, api={"trust_forwarded_for": True, "trusted_proxies": 1})
    proxy = TestClient(proxied.app, client=("10.0.0.2", 40000))
    headers = {
        "Origin": "https://testserver",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "198.51.100.7",
    }
    assert "; secure" in _login(proxy, key, headers).headers["set-cookie"].lower()
    forced = make_client(seeded_url, clock, api={"secure_cookies": True})
    assert "; secure" in _login(forced, key).headers["set-cookie"].lower()


def test_failed_logins_are_throttled(client: TestClient, engine: Engine) -> None:
    key, _ = create_key(engine, "ops")
    failures = [_login(client, f"eta_wrong{n}").status_code for n in range(5)]
    assert failures == [401] * 5
    throttled = _login(client, key)  # even the right key waits now
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 60
    assert "set-cookie" not in throttled.headers
    other = TestClient(client.app, client=("198.51.100.7", 40000))
    assert _login(other, key).status_code == 303  # another address is not held up


@pytest.mark.parametrize(
    "path", ["/livez", "/api/v1/trips/train/ICE/1011/2026-05-04", "/dashboard", "/nowhere", "/docs", "/"]
)
def test_every_answer_carries_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0] or path == "/docs"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"
