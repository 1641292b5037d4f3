"""Which prediction an alert carries, on both stores (SQLite and PostgreSQL), delivered to a real HTTP
server on loopback: the prediction in force when the notice is sent, and the first notice that meets the
subscription's conditions, even when it is the first prediction after subscribing (issue 15)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, select, update

from eta.alerts.cycle import AlertCycle
from eta.api.app import create_app
from eta.clock import ManualClock
from eta.config import Settings
from eta.store.schema import Prediction, PredictionSweep
from tests.api import seed
from tests.api.conftest import api_settings
from tests.api.helpers import add_prediction, berlin, call_at
from tests.api.webhook_receiver import Receiver, webhook_receiver

SCHEDULED = berlin("2026-05-04 19:41")  # ICE 1011 into München Hbf (real DB run)


@dataclass
class World:
    client: TestClient
    clock: ManualClock
    store: Engine
    receiver: Receiver
    call: Any

    def predict(self, at: str, delay_s: int) -> None:
        self.clock.now = berlin(f"2026-05-04 {at}")
        add_prediction(self.store, self.call, self.clock.now, delay_s)

    def sweep_finds_it_unchanged(self, at: str) -> None:
        """A sweep at ``at`` predicts the call again and finds the prediction in force unchanged: with
        predictions stored on change it writes no row, only confirms the one in force."""
        self.clock.now = berlin(f"2026-05-04 {at}")
        with self.store.begin() as conn:
            newest = select(func.max(Prediction.id)).where(Prediction.call_id == self.call.id)
            conn.execute(
                update(Prediction)
                .where(Prediction.id == newest.scalar_subquery())
                .values(confirmed_at=self.clock.now)
            )
            conn.execute(
                insert(PredictionSweep).values(mode="train", swept_at=self.clock.now, n_calls=1, n_written=0)
            )

    def subscribe(self, at: str, threshold_s: int = 300) -> None:
        self.clock.now = berlin(f"2026-05-04 {at}")
        body = {
            "trip": {"mode": "train", "operator": "ICE", "number": "1011", "service_date": "2026-05-04"},
            "location": "8000261",
            "watch": {"platform_change": False, "arrival_threshold_s": threshold_s},
            "webhook": {"url": self.receiver.url},
            "consent": True,
        }
        created = self.client.post("/api/v1/subscriptions", json=body)
        assert created.status_code == 201, created.text

    def cycle(self, at: str) -> int:
        self.clock.now = berlin(f"2026-05-04 {at}")
        state = self.client.app.state.eta  # type: ignore[attr-defined]
        return AlertCycle(self.store, state.settings, self.clock).run_once().queued

    def arrivals(self) -> list[dict[str, Any]]:
        return [json.loads(r.body)["data"] for r in self.receiver.received]


@pytest.fixture
def world(store: Engine, settings: Settings, tmp_path: Path) -> Iterator[World]:
    """ICE 1011 of 4 May 2026 imported, none of its calls predicted yet."""
    seed.import_db_runs(store, settings)
    call = call_at(store, "ICE", "1011", date(2026, 5, 4), "8000261")
    clock = ManualClock(berlin("2026-05-04 17:00"))
    app = create_app(
        api_settings(settings.resolved_database_url, tmp_path / "var"), engine=store, clock=clock
    )
    with TestClient(app) as client, webhook_receiver() as receiver:
        yield World(client, clock, store, receiver, call)


def _at(delay_s: int) -> str:
    return (SCHEDULED + timedelta(seconds=delay_s)).isoformat()


def test_the_first_prediction_after_subscribing_is_notified_when_it_already_differs(world: World) -> None:
    world.subscribe("17:30")
    world.predict("17:35", 3660)  # 61 minutes late: the subscriber knows only the timetable
    assert world.cycle("17:35") == 1
    [sent] = world.arrivals()
    assert (sent["previous_arrival"], sent["predicted_arrival"]) == (SCHEDULED.isoformat(), _at(3660))
    assert sent["made_at"] == berlin("2026-05-04 17:35").isoformat()


def test_a_first_prediction_within_the_threshold_is_no_notice(world: World) -> None:
    world.subscribe("17:30")
    world.predict("17:35", 120)
    assert world.cycle("17:35") == 0
    world.predict("17:40", 900)  # one noisy update is still not notified
    assert world.cycle("17:40") == 0
    assert world.arrivals() == []


def test_a_new_subscriber_is_told_the_prediction_in_force_not_an_older_one(world: World) -> None:
    for at, delay in (("17:00", 0), ("17:05", 900), ("17:10", 900), ("17:15", 1800)):
        world.predict(at, delay)
    world.subscribe("17:20")  # predictions made before subscribing are history, not news
    assert world.cycle("17:20") == 1
    [sent] = world.arrivals()
    assert (sent["previous_arrival"], sent["predicted_arrival"]) == (SCHEDULED.isoformat(), _at(1800))
    assert sent["made_at"] == berlin("2026-05-04 17:15").isoformat()


def test_a_confirmed_change_carries_the_prediction_in_force_when_sent(world: World) -> None:
    world.subscribe("17:30")
    world.predict("17:35", 0)
    assert world.cycle("17:35") == 0
    for at, delay in (("17:40", 900), ("17:45", 900), ("17:50", 1500)):
        world.predict(at, delay)  # confirmed at 17:45, superseded at 17:50, all before the next cycle
    assert world.cycle("17:50") == 1
    [sent] = world.arrivals()
    assert (sent["previous_arrival"], sent["predicted_arrival"]) == (SCHEDULED.isoformat(), _at(1500))
    assert sent["made_at"] == berlin("2026-05-04 17:50").isoformat()
    world.predict("17:55", 1500)
    assert world.cycle("17:55") == 0  # what was sent is what is in force: nothing new


def test_a_change_undone_before_the_cycle_is_not_notified(world: World) -> None:
    world.subscribe("17:30")
    world.predict("17:35", 0)
    assert world.cycle("17:35") == 0
    for at, delay in (("17:40", 900), ("17:45", 900), ("17:50", 60)):
        world.predict(at, delay)  # by the time the cycle runs, the prediction is back to the notified one
    assert world.cycle("17:50") == 0
    assert world.arrivals() == []


def test_a_change_confirmed_by_a_sweep_that_found_it_unchanged_is_notified(world: World) -> None:
    """Predictions stored on change: the second update agreeing with the first is a sweep's confirmation,
    not a new row."""
    world.subscribe("17:30")
    world.predict("17:35", 0)
    assert world.cycle("17:35") == 0
    world.predict("17:40", 900)
    assert world.cycle("17:40") == 0  # one update is not yet a change
    world.sweep_finds_it_unchanged("17:45")
    assert world.cycle("17:45") == 1
    [sent] = world.arrivals()
    assert (sent["previous_arrival"], sent["predicted_arrival"]) == (SCHEDULED.isoformat(), _at(900))
    assert sent["made_at"] == berlin("2026-05-04 17:40").isoformat()
    world.sweep_finds_it_unchanged("18:00")
    assert world.cycle("18:00") == 0  # told already
