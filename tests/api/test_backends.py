"""The API's read side, accuracy and alerts on both stores: SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from eta.alerts.cycle import AlertCycle
from eta.api.apikeys import create_key
from eta.api.app import create_app
from eta.clock import ManualClock
from eta.config import Settings
from eta.store.engine import make_engine
from eta.store.schema import NotificationDelivery
from tests.api import seed
from tests.api.conftest import DB_DAY_NOW, api_settings
from tests.api.helpers import add_prediction, berlin, call_at
from tests.api.webhook_receiver import webhook_receiver


def test_lookup_board_feed_accuracy_and_alerts(store: Engine, settings: Settings, tmp_path) -> None:
    seed.import_db_runs(store, settings)
    seed.persistence_predictions(store)
    clock = ManualClock(DB_DAY_NOW)
    app = create_app(
        api_settings(settings.resolved_database_url, tmp_path / "var"), engine=store, clock=clock
    )
    key, _ = create_key(store, "backend test")
    with TestClient(app) as client, webhook_receiver() as receiver:
        trip = client.get("/api/v1/trips/train/ICE/1011/2026-05-04").json()
        munich = next(c for c in trip["calls"] if c["location"]["code"] == "8000261")
        assert munich["predicted"]["made_at"] == "2026-05-04T18:41:00+02:00"
        assert munich["status"] == "en_route"
        board = client.get("/api/v1/locations/8000261/arrivals").json()
        # ICE 1101 was due at 18:43 and arrives 42 min late: at 19:00 it has not passed, so it stays listed
        numbers = [a["service"]["number"] for a in board["arrivals"]]
        assert numbers == ["1101", "1011", "1103", "1069"]
        assert client.get("/gtfs-rt/trip-updates").status_code == 200
        window = {"from": "2026-05-03T22:00:00Z", "to": "2026-05-05T22:00:00Z", "group_by": "horizon"}
        rows = client.get("/api/v1/operator/accuracy", params=window, headers={"X-API-Key": key}).json()[
            "rows"
        ]
        assert len(rows) == 4 and rows[0]["n"] > 100

        call = call_at(store, "ICE", "1103", date(2026, 5, 4), "8000261")  # 20:46
        clock.now = berlin("2026-05-04 18:00")
        body = {
            "trip": {"mode": "train", "operator": "ICE", "number": "1103", "service_date": "2026-05-04"},
            "webhook": {"url": receiver.url},
            "consent": True,
        }
        created = client.post("/api/v1/subscriptions", json=body)
        assert created.status_code == 201, created.text
        cycle = AlertCycle(store, app.state.eta.settings, clock)
        cycle.run_once()
        for at in ("19:01", "19:02"):
            clock.now = berlin(f"2026-05-04 {at}")
            add_prediction(store, call, clock.now, 1800)
        report = cycle.run_once()
        assert (report.queued, report.delivered) == (1, 1)
        assert len(receiver.received) == 1


def test_two_alert_workers_send_each_notification_once(store: Engine, settings: Settings, tmp_path) -> None:
    """Two processes' alert cycles at the same moment (API workers, replicas, `eta alerts run-once`):
    every change is queued once, each notification is claimed by one of them and sent once."""
    seed.import_db_runs(store, settings)
    url = settings.resolved_database_url
    clock = ManualClock(berlin("2026-05-04 18:00"))
    app_settings = api_settings(url, tmp_path / "var")
    call = call_at(store, "ICE", "1103", date(2026, 5, 4), "8000261")  # 20:46
    workers = [AlertCycle(make_engine(url), app_settings, clock) for _ in range(2)]

    def together() -> None:
        start = threading.Barrier(len(workers))

        def run(cycle: AlertCycle) -> None:
            start.wait()
            cycle.run_once()

        threads = [threading.Thread(target=run, args=(cycle,)) for cycle in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    with (
        TestClient(create_app(app_settings, engine=store, clock=clock)) as client,
        webhook_receiver() as receiver,
    ):
        receiver.delay_s = 0.3  # both workers are sending at the same time
        body = {
            "trip": {"mode": "train", "operator": "ICE", "number": "1103", "service_date": "2026-05-04"},
            "webhook": {"url": receiver.url},
            "consent": True,
        }
        subscriptions = [client.post("/api/v1/subscriptions", json=body).json()["id"] for _ in range(3)]
        add_prediction(store, call, berlin("2026-05-04 18:00"), 0)
        together()  # the baseline
        for at in ("19:01", "19:02"):
            clock.now = berlin(f"2026-05-04 {at}")
            add_prediction(store, call, clock.now, 1800)
        together()
        together()
    for cycle in workers:
        cycle.engine.dispose()
    sent = sorted(json.loads(r.body)["data"]["subscription_id"] for r in receiver.received)
    assert sent == sorted(subscriptions)
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 3
    with store.connect() as conn:
        rows = conn.execute(select(NotificationDelivery.state, NotificationDelivery.attempts)).all()
    assert sorted(rows) == [("delivered", 1)] * 3


def test_reused_trip_answers_on_both_stores(store: Engine, settings: Settings, tmp_path) -> None:
    """The store generation, the calls each write touched and the next stored row, in both dialects."""
    seed.import_db_runs(store, settings)
    seed.persistence_predictions(store)
    clock = ManualClock(berlin("2026-05-04 19:40"))
    url = settings.resolved_database_url
    cached_settings = api_settings(url, tmp_path / "a", api={"cache_ttl_s": 5, "store_poll_s": 3600})
    cached = create_app(cached_settings, engine=store, clock=clock)
    fresh = create_app(api_settings(url, tmp_path / "b"), engine=store, clock=clock)
    # ICE 1103 reaches München at 20:46, after the clock: a new prediction for it is served (ICE 1011's
    # München call has passed by 19:52, and a passed call is shown arrived, without a prediction)
    trips = ["/api/v1/trips/train/ICE/1103/2026-05-04", "/api/v1/trips/train/ICE/1013/2026-05-04"]
    with TestClient(cached) as a, TestClient(fresh) as b:
        for step_s in (0, 30, 120, 600):
            clock.advance(step_s)
            for path in trips:
                assert a.get(path).content == b.get(path).content
        call = call_at(store, "ICE", "1103", date(2026, 5, 4), "8000261")
        add_prediction(store, call, clock.now, 1800, model_version="m-both")
        cached.state.eta.trips.generation.refresh()
        assert b"m-both" in a.get(trips[0]).content
        for path in trips:
            assert a.get(path).content == b.get(path).content
        hits = cached.state.eta.metrics.cache_hits._value.get()
        assert hits >= 4
