"""Nothing is shown before eta knew it: a replayed window of IRIS snapshots, served at each cycle's clock,
lists only calls whose plan (or a change list describing them) had been fetched by then (boards, trips,
the GTFS-RT feed, alerts)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from google.transit import gtfs_realtime_pb2 as rt
from sqlalchemy import select

from eta.clock import ManualClock
from eta.collectors.replay import iris_cycles, replay_iris
from eta.collectors.sources.db import iris as db_iris
from eta.config import Settings
from eta.store import open_store
from eta.store.schema import Call, Prediction, Service
from tests.conftest import FIXTURES

SLICE = FIXTURES / "iris_archive" / "raw"


def _plans_fetched() -> dict[int, datetime]:
    """Per call, when the first payload describing it was fetched: a plan listing it, or a change list
    carrying its train and planned time (an additional train); read from the snapshots themselves."""
    first: dict[int, datetime] = {}
    for cycle in iris_cycles(SLICE):
        for payload in cycle.payloads:
            if payload.request.kind == "plan":
                stops = list(db_iris.parse_plan(payload.body).stops)
            elif payload.request.kind in ("fchg", "rchg"):
                changes = db_iris.parse_changes(payload.body).stops
                stops = [stop for stop in map(db_iris.planned_stop, changes) if stop is not None]
            else:
                continue
            for stop in stops:
                call_id = db_iris.call_id_of(stop)
                first[call_id] = min(first.get(call_id, payload.fetched_at), payload.fetched_at)
    return first


def _served_predictions(engine: object, fetched: dict[int, datetime]) -> None:
    """A served prediction for every call, made at the plan's fetch (as the sweep after that cycle)."""
    with engine.begin() as conn:  # type: ignore[attr-defined]
        calls = conn.execute(
            select(Call.id, Call.scheduled_arrival).where(Call.scheduled_arrival.is_not(None))
        )
        rows = [
            {
                "call_id": call_id,
                "made_at": fetched[call_id],
                "model_version": "test",
                "purpose": "served",
                "horizon_s": round((arrival - fetched[call_id]).total_seconds()),
                "p10_arrival": arrival,
                "p50_arrival": arrival,
                "p90_arrival": arrival,
            }
            for call_id, arrival in calls
            if call_id in fetched
        ]
        conn.execute(Prediction.__table__.insert(), rows)


def test_a_replayed_window_shows_nothing_before_its_plan_was_fetched(
    tmp_path: Path, make_client: Callable[..., TestClient]
) -> None:
    url = f"sqlite:///{tmp_path / 'replayed.sqlite3'}"
    settings = Settings(database_url=url, data_dir=tmp_path / "var")
    engine = open_store(settings)
    replay_iris(engine, settings, SLICE, progress=False)
    fetched = _plans_fetched()
    with engine.connect() as conn:
        stored = dict(conn.execute(select(Call.id, Call.known_since)).all())
        stations = sorted({code for (code,) in conn.execute(select(Call.location).distinct())})
        trains = {row.id: row for row in conn.execute(select(Service))}
        call_service = dict(conn.execute(select(Call.id, Call.service_id)).all())
    # every call carries the time its plan was fetched (the snapshot's time on the replay's clock)
    assert stored == {call_id: fetched[call_id] for call_id in stored}
    _served_predictions(engine, fetched)
    engine.dispose()

    times = sorted(set(fetched.values()))
    assert len(times) >= 3, "the slice must fetch plans at several times for the test to mean anything"
    clock = ManualClock(times[0])
    client = make_client(url, clock)
    seen_late = 0
    for now in [t + offset for t in times for offset in (timedelta(0), timedelta(minutes=7))]:
        clock.now = now
        listed: set[int] = set()
        for code in stations:
            answer = client.get(
                f"/api/v1/locations/{code}/arrivals", params={"to": (now + timedelta(hours=12)).isoformat()}
            )
            assert answer.status_code == 200, answer.text
            listed |= {int(a["call_id"]) for a in answer.json()["arrivals"]}
        feed = rt.FeedMessage()
        feed.ParseFromString(client.get("/gtfs-rt/trip-updates").content)
        in_feed = {int(e.id) for e in feed.entity}
        for service_id in in_feed | {call_service[c] for c in listed}:
            service = trains[service_id]
            path = f"/api/v1/trips/train/{service.operator}/{service.number}/{service.service_date}"
            trip = client.get(path)
            assert trip.status_code == 200, trip.text
            listed |= {int(c["call_id"]) for c in trip.json()["calls"]}
        early = {c for c in listed if fetched[c] > now}
        assert not early, f"at {now}: {len(early)} calls shown before their plan was fetched"
        assert all(any(fetched[c] <= now for c, s in call_service.items() if s == sid) for sid in in_feed)
        seen_late += sum(1 for c in fetched if fetched[c] > now)
    assert seen_late > 0  # some plans came later than the first cycles: the check above had work to do

    # a trip whose plan is not fetched yet is unknown, and nobody can subscribe to it
    later = next(c for c, at in fetched.items() if at == times[-1] and call_service[c] in trains)
    clock.now = times[0]
    service = trains[call_service[later]]
    own_calls = [c for c, s in call_service.items() if s == service.id]
    if all(fetched[c] > times[0] for c in own_calls):
        path = f"/api/v1/trips/train/{service.operator}/{service.number}/{service.service_date}"
        assert client.get(path).status_code == 404
