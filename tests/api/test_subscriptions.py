"""Subscriptions: explicit consent, no extra personal data, safe webhook targets, deletion with the token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from eta.alerts.sealed import Sealer, SealError, new_key
from eta.clock import ManualClock
from eta.store.schema import Subscription
from tests.api.helpers import berlin

SUBSCRIBE = "/api/v1/subscriptions"


def request_body(url: str = "https://hooks.example.org/eta", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "trip": {"mode": "train", "operator": "ICE", "number": "1011", "service_date": "2026-05-04"},
        "location": "8000261",
        "watch": {"platform_change": True, "arrival_threshold_s": 300},
        "travel_time_s": 1800,
        "webhook": {"url": url},
        "consent": True,
    }
    return body | changes


@pytest.fixture
def strict_client(seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]) -> TestClient:
    """Production defaults for targets: https only, public addresses only."""
    return make_client(seeded_url, clock, alerts={"allow_private_targets": False, "allow_plain_http": False})


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"consent": False}, "explicit consent"),
        ({"consent": None}, "body.consent"),
        ({"consent": "yes"}, "body.consent"),  # only a JSON true is consent: no coerced string or number
        ({"consent": "on"}, "body.consent"),
        ({"consent": "true"}, "body.consent"),
        ({"consent": 1}, "body.consent"),
        ({"email": "someone@example.org"}, "body.email: Extra inputs are not permitted"),
        ({"travel_time_s": -5}, "body.travel_time_s"),
        ({"location": "8000001"}, "does not stop at 8000001"),
        (
            {"trip": {"mode": "train", "operator": "ICE", "number": "1", "service_date": "2026-05-04"}},
            "eta knows no train ICE 1",
        ),
        (
            {"trip": {"mode": "train", "operator": "ICE", "number": "1011", "service_date": "2029-05-04"}},
            "more than 60 days ahead",
        ),
    ],
)
def test_invalid_subscriptions_are_refused(client: TestClient, changes: dict[str, Any], detail: str) -> None:
    body = request_body()
    if changes.get("consent", True) is None:
        del body["consent"]
        changes = {}
    response = client.post(SUBSCRIBE, json=body | changes)
    assert response.status_code in (404, 422)
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.json()["detail"]


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("https://127.0.0.1/hook", "private, loopback or link-local"),
        ("https://93.184.215.14:8443/hook", "port must be one of 443"),
        ("https://[::ffff:127.0.0.1]/hook", "private, loopback or link-local"),
        ("https://[64:ff9b::7f00:1]/hook", "IPv6 form of a non-public IPv4 address"),  # NAT64
        ("https://[64:ff9b:1::a00:1]/hook", "IPv6 form of a non-public IPv4 address"),  # local NAT64
        ("https://[2002:a00:1::1]/hook", "IPv6 form of a non-public IPv4 address"),  # 6to4 of 10.0.0.1
        ("https://[::a9fe:a9fe]/hook", "IPv6 form of a non-public IPv4 address"),  # IPv4-compatible
        ("https://[fd00::1]/hook", "private, loopback or link-local"),
        ("https://[::1]/hook", "private, loopback or link-local"),
        ("https://10.1.2.3/hook", "private, loopback or link-local"),
        ("https://169.254.169.254/latest/meta-data", "private, loopback or link-local"),
        ("https://localhost/hook", "private, loopback or link-local"),
        ("http://93.184.215.14/hook", "must start with https://"),
        ("https://user:password@93.184.215.14/hook", "must not contain credentials"),
        ("ftp://93.184.215.14/hook", "must start with https://"),
        ("https:///no-host", "has no host"),
        ("https://host.invalid/hook", "cannot be resolved"),
        ("https://[::1/hook", "malformed"),
    ],
)
def test_unsafe_webhook_targets_are_refused(strict_client: TestClient, url: str, detail: str) -> None:
    response = strict_client.post(SUBSCRIBE, json=request_body(url))
    assert response.status_code == 422
    assert detail in response.json()["detail"]


def test_subscribe_see_and_delete_with_the_token(client: TestClient) -> None:
    response = client.post(SUBSCRIBE, json=request_body("http://127.0.0.1:9/hook"))
    assert response.status_code == 201
    created = response.json()
    assert created["id"].startswith("sub_")
    assert created["secret"].startswith("whsec_")
    assert created["location"] == "8000261"
    assert created["watch"] == {
        "platform_change": True,
        "predicted_platform_change": False,
        "arrival_threshold_s": 300,
    }
    # expires after the arrival: scheduled 19:41, newest P90 by now, plus 30 min
    assert created["expires_at"] > "2026-05-04T20:11:00+02:00"
    path = f"{SUBSCRIBE}/{created['id']}"
    auth = {"Authorization": f"Bearer {created['token']}"}

    info = client.get(path, headers=auth).json()
    assert info["active"] is True
    assert info["watch"] == created["watch"]
    assert info["deliveries"] == {"pending": 0, "delivered": 0, "failed": 0}
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 404

    assert client.delete(path, headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert client.delete(path, headers=auth).status_code == 204
    assert client.get(path, headers=auth).status_code == 404
    assert client.delete(path, headers=auth).status_code == 404
    engine = client.app.state.eta.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Subscription)).scalar_one() == 0


def test_only_the_endpoint_is_kept_and_it_is_encrypted(client: TestClient) -> None:
    url = "http://127.0.0.1:9/hook?token=receiver-secret"
    created = client.post(SUBSCRIBE, json=request_body(url)).json()
    state = client.app.state.eta  # type: ignore[attr-defined]
    with state.engine.connect() as conn:
        row = conn.execute(select(Subscription)).one()._asdict()
    stored = str(row)
    for secret in (created["token"], created["secret"], "receiver-secret", "/hook"):
        assert secret not in stored
    assert row["target_host"] == "127.0.0.1"  # in clear: subscriptions are counted per host
    assert row["target_url"].startswith("enc1:") and row["secret"].startswith("enc1:")
    sealer = Sealer.from_settings(state.settings)
    assert sealer.unseal(row["target_url"]) == url
    assert sealer.unseal(row["secret"]) == created["secret"]
    assert len(row["token_hash"]) == 64
    with pytest.raises(SealError, match="cannot be decrypted"):  # another server's key reads nothing
        Sealer([new_key()]).unseal(row["secret"])
    personal = {"ip", "address", "email", "name", "user_agent", "lat", "lon", "location_of_user"}
    assert not personal & set(row)


def test_trips_already_arrived_or_stops_without_arrival_are_refused(
    client: TestClient, clock: ManualClock
) -> None:
    clock.now = berlin("2026-05-04 20:30")
    response = client.post(SUBSCRIBE, json=request_body("http://127.0.0.1:9/hook"))
    assert response.status_code == 422
    assert "already arrived" in response.json()["detail"]
    first_stop = request_body("http://127.0.0.1:9/hook", location="8000080")  # Dortmund Hbf, where it starts
    clock.now = berlin("2026-05-04 12:00")
    response = client.post(SUBSCRIBE, json=first_stop)
    assert response.status_code == 422
    assert "no arrival" in response.json()["detail"]


def test_predicted_platform_changes_are_opt_in(client: TestClient) -> None:
    watch = {"platform_change": True, "predicted_platform_change": True, "arrival_threshold_s": 300}
    created = client.post(SUBSCRIBE, json=request_body("http://127.0.0.1:9/hook", watch=watch)).json()
    assert created["watch"]["predicted_platform_change"] is True
    # without platform changes at all, none predicted either
    watch = {"platform_change": False, "predicted_platform_change": True}
    created = client.post(SUBSCRIBE, json=request_body("http://127.0.0.1:9/hook", watch=watch)).json()
    assert created["watch"]["predicted_platform_change"] is False
