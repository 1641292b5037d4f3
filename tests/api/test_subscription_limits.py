"""Amplification limits: subscriptions per trip, per target host over all trips, and per client."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from eta.clock import ManualClock
from eta.config import AlertsSettings
from tests.api.test_subscriptions import SUBSCRIBE, request_body

OTHER_TRIP = {"mode": "train", "operator": "ICE", "number": "1103", "service_date": "2026-05-04"}


def test_the_defaults_are_low() -> None:
    defaults = AlertsSettings()
    assert defaults.max_per_trip <= 200  # was 10,000
    assert defaults.max_per_host <= 20
    assert defaults.create_burst <= 5 and defaults.create_per_hour <= 20


def test_subscriptions_per_host_are_capped_over_all_trips(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(seeded_url, clock, alerts={"max_per_host": 2})
    victim = "http://127.0.0.1:9/hook"
    first = client.post(SUBSCRIBE, json=request_body(victim + "/a")).json()
    assert client.post(SUBSCRIBE, json=request_body(victim + "/b", trip=OTHER_TRIP)).status_code == 201
    refused = client.post(SUBSCRIBE, json=request_body(victim + "/c", trip=OTHER_TRIP))
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "/problems/limit-reached"
    assert "too many subscriptions send to 127.0.0.1" in refused.json()["detail"]
    other_host = client.post(SUBSCRIBE, json=request_body("http://localhost:9/hook"))
    assert other_host.status_code == 201  # another host has its own count
    auth = {"Authorization": f"Bearer {first['token']}"}
    assert client.delete(f"{SUBSCRIBE}/{first['id']}", headers=auth).status_code == 204
    assert client.post(SUBSCRIBE, json=request_body(victim + "/c")).status_code == 201


def test_subscriptions_per_trip_are_capped(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(seeded_url, clock, alerts={"max_per_trip": 2})
    for n in range(2):
        assert client.post(SUBSCRIBE, json=request_body(f"http://127.0.0.1:9/{n}")).status_code == 201
    refused = client.post(SUBSCRIBE, json=request_body("http://127.0.0.1:9/2"))
    assert refused.status_code == 429 and "this trip has too many subscriptions" in refused.json()["detail"]
    assert (
        client.post(SUBSCRIBE, json=request_body("http://127.0.0.1:9/3", trip=OTHER_TRIP)).status_code == 201
    )


def test_a_client_may_ask_for_few_subscriptions_at_once(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(seeded_url, clock, alerts={"create_burst": 3, "create_per_hour": 2})
    answers = [
        client.post(SUBSCRIBE, json=request_body(f"http://127.0.0.1:9/{n}")).status_code for n in range(3)
    ]
    assert answers == [201, 201, 201]
    refused = client.post(SUBSCRIBE, json=request_body("http://127.0.0.1:9/x", consent=False))
    assert refused.status_code == 429  # before any look-up or validation: asking costs too
    assert 1700 <= int(refused.headers["retry-after"]) <= 1800  # 2 an hour: one every 30 min
    other = TestClient(client.app, client=("198.51.100.7", 50000))
    assert other.post(SUBSCRIBE, json=request_body("http://127.0.0.1:9/y")).status_code == 201
    assert client.get("/api/v1/trips/train/ICE/1011/2026-05-04").status_code == 200  # reading is not limited


def test_web_push_endpoints_must_be_on_a_push_service(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    from tests.alerts.test_web_push import browser_keys
    from tests.api.test_web_push_alerts import SUBJECT, VAPID_KEY, _push_body

    client = make_client(
        seeded_url,
        clock,
        alerts={
            "vapid_private_key": VAPID_KEY,
            "vapid_subject": SUBJECT,
            "web_push_services": AlertsSettings().web_push_services,
        },
    )
    _, p256dh, _, auth = browser_keys()
    refused = client.post(SUBSCRIBE, json=_push_body("http://127.0.0.1:9/push/abc", p256dh, auth))
    assert refused.status_code == 422
    assert "must be on a browser's push service (fcm.googleapis.com" in refused.json()["detail"]
