"""Alerts end to end: predictions in the store → change detection with hysteresis → signed webhooks to a
real HTTP server on loopback, retries with backoff, 410, time to leave, expiry and purge."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from standardwebhooks import Webhook

from eta.alerts.cycle import AlertCycle
from eta.clock import ManualClock
from eta.store.schema import NotificationDelivery, Subscription
from tests.api.helpers import add_observation, add_prediction, alert_cycle, berlin, fresh_munich_call
from tests.api.test_subscriptions import SUBSCRIBE, request_body
from tests.api.webhook_receiver import Receiver, webhook_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running


@pytest.fixture
def munich_call(engine: Engine) -> Any:
    return fresh_munich_call(engine)


def _subscribe(client: TestClient, receiver: Receiver, **changes: Any) -> dict[str, Any]:
    response = client.post(SUBSCRIBE, json=request_body(receiver.url, **changes))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _events(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    """Every delivery, verified as a Standard Webhook with the subscription's secret."""
    return [Webhook(secret).verify(r.body, r.headers) for r in receiver.received]


def test_changes_are_notified_once_confirmed_and_signed(
    client: TestClient, clock: ManualClock, engine: Engine, receiver: Receiver, munich_call: Any
) -> None:
    clock.now = berlin("2026-05-04 17:30")
    sub = _subscribe(client, receiver, travel_time_s=None)
    cycle = alert_cycle(client)

    def predict(at: str, delay_s: int, **extra: Any) -> None:
        clock.now = berlin(f"2026-05-04 {at}")
        add_prediction(engine, munich_call, clock.now, delay_s, **extra)

    predict("17:35", 0, platform="12", platform_probability=0.8, platform_announced=False)
    assert cycle.run_once().queued == 0  # the first prediction is the baseline
    predict("17:40", 900)  # one noisy update
    assert cycle.run_once().queued == 0
    predict("17:45", 60)
    assert cycle.run_once().queued == 0
    predict("17:50", 600)
    predict("17:55", 660)  # two updates agree: 11 min later than the 19:41 notified
    report = cycle.run_once()
    assert (report.queued, report.delivered) == (1, 1)

    predict("18:00", 660, platform="27", platform_probability=0.6, platform_announced=False)
    assert cycle.run_once().queued == 0
    predict("18:05", 660, platform="12", platform_probability=0.7, platform_announced=False)
    assert cycle.run_once().queued == 0
    predict("18:10", 660, platform="27", platform_probability=1.0, platform_announced=True)
    assert cycle.run_once().queued == 1  # an announcement is not noise

    events = _events(receiver, sub["secret"])
    assert [e["type"] for e in events] == ["trip.arrival_changed", "trip.platform_changed"]
    arrival, platform = events[0]["data"], events[1]["data"]
    assert arrival["subscription_id"] == sub["id"]
    assert arrival["trip"] == {
        "mode": "train",
        "operator": "ICE",
        "number": "1011",
        "service_date": "2026-05-04",
        "leg": "",
    }
    assert arrival["previous_arrival"] == berlin("2026-05-04 19:41").isoformat()
    assert arrival["predicted_arrival"] == berlin("2026-05-04 19:52").isoformat()
    assert (platform["previous_platform"], platform["platform"], platform["announced"]) == ("12", "27", True)
    first = receiver.received[0]
    assert first.path == "/hooks/eta?token=secret-of-the-receiver"
    assert first.headers["webhook-id"].startswith("msg_")
    assert first.headers["content-type"] == "application/json"
    assert abs(int(first.headers["webhook-timestamp"]) - time.time()) < 60
    with pytest.raises(Exception, match="signature"):  # signed with this subscription's secret only
        Webhook("whsec_" + "A" * 32).verify(first.body, first.headers)


def test_time_to_leave_and_its_correction(
    client: TestClient, clock: ManualClock, engine: Engine, receiver: Receiver, munich_call: Any
) -> None:
    clock.now = berlin("2026-05-04 18:00")
    sub = _subscribe(
        client, receiver, travel_time_s=1800, watch={"platform_change": False, "arrival_change": False}
    )
    cycle = alert_cycle(client)
    add_prediction(engine, munich_call, berlin("2026-05-04 18:00"), 600, below_s=120)  # P10 19:49
    cycle.run_once()
    clock.now = berlin("2026-05-04 19:08")  # leave at 19:19, notice 10 min before: not yet
    assert cycle.run_once().queued == 0
    clock.now = berlin("2026-05-04 19:09")
    assert cycle.run_once().queued == 1
    assert cycle.run_once().queued == 0  # sent once
    add_prediction(engine, munich_call, berlin("2026-05-04 19:10"), 1200, below_s=120)  # P10 19:59
    clock.now = berlin("2026-05-04 19:10")
    assert cycle.run_once().queued == 0  # one update does not move it
    add_prediction(engine, munich_call, berlin("2026-05-04 19:11"), 1260, below_s=120)  # P10 20:00
    clock.now = berlin("2026-05-04 19:11")
    assert cycle.run_once().queued == 1
    events = _events(receiver, sub["secret"])
    assert [e["type"] for e in events] == ["trip.leave_now", "trip.leave_time_changed"]
    assert events[0]["data"]["leave_at"] == berlin("2026-05-04 19:19").isoformat()
    assert events[0]["data"]["travel_time_s"] == 1800
    assert events[1]["data"]["leave_at"] == berlin("2026-05-04 19:30").isoformat()
    assert events[1]["data"]["previous_leave_at"] == berlin("2026-05-04 19:19").isoformat()


def _one_change_queued(
    client: TestClient, clock: ManualClock, receiver: Receiver
) -> tuple[dict[str, Any], AlertCycle]:
    """A webhook subscription to ICE 1011 into München Hbf made at 17:30 and one arrival change queued
    for it (15 min late, confirmed at 17:45): the subscription and the cycle to deliver it with."""
    engine = client.app.state.eta.engine  # type: ignore[attr-defined]
    call = fresh_munich_call(engine)
    clock.now = berlin("2026-05-04 17:30")
    sub = _subscribe(client, receiver, travel_time_s=None)
    cycle = alert_cycle(client)
    for at, delay in (("17:35", 0), ("17:40", 900), ("17:45", 900)):
        clock.now = berlin(f"2026-05-04 {at}")
        add_prediction(engine, call, clock.now, delay)
    cycle.find_changes(clock.now)
    return sub, cycle


def _time_passes(engine: Engine) -> None:
    """Every pending delivery's backoff is over."""
    with engine.begin() as conn:
        conn.execute(
            update(NotificationDelivery)
            .where(NotificationDelivery.state == "pending")
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )


def test_failed_deliveries_are_retried_with_backoff_under_the_same_id(
    seeded_url: str, clock: ManualClock, make_client, receiver: Receiver
) -> None:
    client = make_client(seeded_url, clock, alerts={"backoff_base_s": 60})
    engine = client.app.state.eta.engine
    _, cycle = _one_change_queued(client, clock, receiver)
    receiver.statuses = [500, 503]
    assert cycle.deliver_due() == (0, 1, 0, 0)
    with engine.connect() as conn:
        wait = conn.execute(select(NotificationDelivery.next_attempt_at)).scalar_one()
    assert 55 < (wait.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds() <= 60
    assert cycle.deliver_due() == (0, 0, 0, 0)  # not due yet (backoff)
    _time_passes(engine)
    assert cycle.deliver_due() == (0, 1, 0, 0)
    _time_passes(engine)
    assert cycle.deliver_due() == (1, 0, 0, 0)
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(receiver.received) == 3 and len(ids) == 1
    with engine.connect() as conn:
        row = conn.execute(select(NotificationDelivery)).one()
    assert (row.state, row.attempts, row.last_status) == ("delivered", 3, 204)


def test_deliveries_give_up_after_the_last_attempt(
    seeded_url: str, clock: ManualClock, make_client, receiver: Receiver
) -> None:
    client = make_client(seeded_url, clock, alerts={"max_attempts": 2})
    _, cycle = _one_change_queued(client, clock, receiver)
    receiver.statuses = [500, 500, 500]
    assert cycle.deliver_due() == (0, 1, 0, 0)
    time.sleep(0.05)
    assert cycle.deliver_due() == (0, 0, 1, 0)
    time.sleep(0.05)
    assert cycle.deliver_due() == (0, 0, 0, 0)
    assert len(receiver.received) == 2


def test_410_gone_disables_the_subscription(
    client: TestClient, clock: ManualClock, engine: Engine, receiver: Receiver, munich_call: Any
) -> None:
    sub, cycle = _one_change_queued(client, clock, receiver)
    receiver.statuses = [410]
    assert cycle.deliver_due() == (0, 0, 0, 1)
    info = client.get(f"{SUBSCRIBE}/{sub['id']}", headers={"Authorization": f"Bearer {sub['token']}"}).json()
    assert info["active"] is False
    assert info["disabled_reason"] == "failing"
    for at, delay in (("18:00", 2000), ("18:05", 2000)):
        clock.now = berlin(f"2026-05-04 {at}")
        add_prediction(engine, munich_call, clock.now, delay)
    report = cycle.run_once()
    assert (report.examined, report.queued) == (0, 0)
    assert len(receiver.received) == 1


def test_subscriptions_expire_after_arrival_and_are_purged(
    client: TestClient, clock: ManualClock, engine: Engine, receiver: Receiver
) -> None:
    sub, cycle = _one_change_queued(client, clock, receiver)
    cycle.deliver_due()
    clock.now = berlin("2026-05-04 20:10")  # arrived 20:05 (real DB data): kept 30 more minutes
    assert cycle.run_once().purged == 0
    with engine.connect() as conn:
        expires = conn.execute(select(Subscription.expires_at)).scalar_one()
    assert expires == berlin("2026-05-04 20:35")
    clock.now = berlin("2026-05-04 20:36")
    assert cycle.run_once().purged == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Subscription)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(NotificationDelivery)).scalar_one() == 0
    assert (
        client.get(
            f"{SUBSCRIBE}/{sub['id']}", headers={"Authorization": f"Bearer {sub['token']}"}
        ).status_code
        == 404
    )


def test_an_announced_actual_arrival_ends_watching(
    client: TestClient, clock: ManualClock, engine: Engine, receiver: Receiver, munich_call: Any
) -> None:
    clock.now = berlin("2026-05-04 17:30")
    _subscribe(client, receiver, travel_time_s=None)
    add_observation(
        engine, munich_call, berlin("2026-05-04 17:31"), actual_arrival=berlin("2026-05-04 17:31")
    )
    clock.now = berlin("2026-05-04 17:32")
    cycle = alert_cycle(client)
    cycle.run_once()
    with engine.connect() as conn:
        assert conn.execute(select(Subscription.expires_at)).scalar_one() == berlin("2026-05-04 18:01")


def test_webhook_payloads_name_no_secret(client: TestClient, clock: ManualClock, receiver: Receiver) -> None:
    sub, cycle = _one_change_queued(client, clock, receiver)
    cycle.deliver_due()
    body = receiver.received[0].body.decode()
    assert sub["token"] not in body and sub["secret"] not in body
    assert set(json.loads(body)) == {"type", "timestamp", "data"}
    assert datetime.fromisoformat(json.loads(body)["timestamp"]).tzinfo is not None
