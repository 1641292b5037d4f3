"""`eta demo`'s parts: the bundled day, a real day replayed in parts through the collector runner, the
store serving needs first (the same predictions in force at 17:30 as a longer replay), the switch of the
servers to the full store on a clock that goes on, and the bundled models."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import requests
from sqlalchemy import Engine, func, select

import eta.demo as demo
from eta.api.apikeys import create_key
from eta.collectors.replay import bundled_day
from eta.config import Settings
from eta.demo import data, days, serving
from eta.read.predictions import current_at, latest_sweep
from eta.store import open_store
from eta.store.schema import CollectorState, Observation, Prediction, Service
from tests.api import seed
from tests.live import free_port


def test_the_bundled_train_day_is_read_from_its_archive() -> None:
    assert days.bundled_train_day(bundled_day(Settings())) == date(2025, 9, 8)


def test_the_quick_store_is_its_own_even_beside_postgresql(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", database_url="postgresql+psycopg://eta@db/eta")
    quick = demo.quick_settings(settings)
    assert (
        quick.resolved_database_url
        == f"sqlite:///{(tmp_path / 'var' / 'demo-quick' / 'eta.sqlite3').resolve()}"
    )
    assert quick.resolved_models_dir == tmp_path / "var" / "demo-quick" / "models"
    assert settings.database_url == "postgresql+psycopg://eta@db/eta"  # the full store's own stays


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_real_flight_day_is_replayed_and_served_on_its_own_clock(store: Engine, settings: Settings) -> None:
    day = days.flight_day(store, settings)
    assert day.replay.cycles_left() == 100  # the timetable, then each 15 minutes of 30 hours with news
    days.replay_until(day, None, predict=False, what="New York flights")
    with store.connect() as conn:
        flights = conn.execute(
            select(func.count()).select_from(Service).where(Service.service_date == days.FLIGHT_DAY)
        ).scalar_one()
        first, last = conn.execute(
            select(func.min(Observation.observed_at), func.max(Observation.observed_at))
        ).one()
        replayed = conn.execute(select(CollectorState.collector, CollectorState.primed_at)).all()
    assert flights > 800  # every NYC departure of that Friday
    assert first >= datetime(2013, 12, 20, 5, tzinfo=UTC)  # nothing observed before the day began
    assert last < datetime(2013, 12, 21, 11, tzinfo=UTC)
    assert replayed and all(primed is not None for _, primed in replayed)
    assert not (settings.data_dir / "demo-flights-staging.sqlite3").exists()

    seed.persistence_predictions(store)  # served rows for the guide's example (no model in this test)
    clock_from = datetime.combine(days.FLIGHT_DAY, days.SERVE_AT, days.FLIGHT_TZ)
    server = serving.start_server(settings, "flights", free_port(), clock_from)
    try:
        serving.wait_until_live(server)
        board = requests.get(f"{server.url}/api/v1/locations/ORD/arrivals", timeout=10)
        assert board.status_code == 200, board.text
        arrivals = board.json()["arrivals"]
        assert arrivals, "Chicago O'Hare receives New York flights every hour of the evening"
        assert arrivals[0]["scheduled_arrival"].startswith("2013-12-20T")  # the clock's evening
        assert arrivals[0]["scheduled_arrival"].endswith("-06:00")  # in Chicago's offset
        text = serving.guide(store, server, server, "eta_k_example", date(2025, 9, 8))
        first_line = next(line for line in text.splitlines() if line.strip())
        assert first_line.startswith(f"Open the traveller page: {server.url}/ ")  # the page comes first
        page = requests.get(f"{server.url}/", timeout=10)
        assert page.status_code == 200 and 'id="trip-form"' in page.text
        assert f"{server.url}/dashboard" in text and "eta_k_example" in text
        assert "ORD/arrivals" in text
        (example,) = re.findall(r"'(http://[^']+/api/v1/trips/flight/[^']+)'", text)
        trip = requests.get(example, timeout=10)
        assert trip.status_code == 200, trip.text  # the printed example request works
        assert trip.json()["calls"][-1]["predicted"]["p50"].startswith("2013-12-20T")
    finally:
        serving.stop([server])


def _in_force(engine: Engine, at: datetime) -> pd.DataFrame:
    """Per call scheduled after ``at``: the served P50 of the newest prediction made by ``at``."""
    with engine.connect() as conn:
        rows = pd.read_sql(
            select(Prediction.call_id, Prediction.made_at, Prediction.p50_arrival).where(
                Prediction.made_at <= at
            ),
            conn,
        )
    newest = rows.sort_values(["call_id", "made_at"]).groupby("call_id").tail(1)
    return newest.set_index("call_id").sort_index()


def test_the_store_serving_needs_first_serves_what_a_longer_replay_serves(tmp_path: Path) -> None:
    """The quick flights (the days around, one hour re-predicted) against twice the days around and
    two hours re-predicted: the same P50 in force for every call at 17:30."""
    stores = {}
    for name, around, lead in (("quick", data.NEIGHBOUR_DAYS, demo.LEAD), ("longer", 6, 2 * demo.LEAD)):
        settings = Settings(data_dir=tmp_path / name)
        engine = open_store(settings)
        data.ensure_champions(engine, settings, lambda _: None, train_missing=False)
        around_days = [days.FLIGHT_DAY + timedelta(days=d) for d in range(-around, around + 1) if d]
        from eta.importers import nycflights13

        nycflights13.run(engine, settings, data.flight_tables(around_days))
        day = days.flight_day(engine, settings)
        start = day.serve_from - lead
        days.replay_until(day, start, predict=False, what="reports only")
        days.replay_until(day, day.serve_from, predict=True, what="re-predicting")
        stores[name] = engine
    at = datetime.combine(days.FLIGHT_DAY, days.SERVE_AT, days.FLIGHT_TZ)
    quick, longer = _in_force(stores["quick"], at), _in_force(stores["longer"], at)
    assert len(quick) > 300
    # predictions are stored on change: the longer replay's may have been made before the quick one
    # started, so what each serves at 17:30 differs by less than a material change, and both are current
    # as of the last sweep
    p50 = {
        name: pd.to_datetime(frame["p50_arrival"], utc=True) for name, frame in (("q", quick), ("l", longer))
    }
    moved = (p50["q"] - p50["l"].loc[quick.index]).abs().dt.total_seconds()
    assert moved.max() < Settings().store.change_p50_s
    swept = {}
    for name, engine in stores.items():
        with engine.connect() as conn:
            last = latest_sweep(conn, "flight", at)
            assert last is not None
            swept[name] = current_at(conn, quick.index.tolist(), last)
    assert swept["quick"] == swept["longer"] and len(swept["quick"]) > 300
    for engine in stores.values():
        engine.dispose()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_servers_switch_stores_and_their_clocks_go_on(
    store: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Quick store (empty here) first, then the full one: same ports, the same operator key, and the
    served clocks where they were, not back at 17:30."""
    quick_settings = demo.quick_settings(settings)
    quick_settings.data_dir.mkdir(parents=True)
    quick = open_store(quick_settings)
    key, info = create_key(quick, "eta demo")
    seed.import_nyc_flights(store, settings, (days.FLIGHT_DAY,), carrier="UA")
    seed.persistence_predictions(store)
    serving.copy_key(quick, store, info.prefix)
    clocks = (
        datetime.combine(days.FLIGHT_DAY, days.SERVE_AT, days.TRAIN_TZ),
        datetime.combine(days.FLIGHT_DAY, days.SERVE_AT, days.FLIGHT_TZ),
    )
    servers = demo._start(quick_settings, free_port(), free_port(), "127.0.0.1", clocks)
    try:
        board = f"{servers.flights.url}/api/v1/locations/ORD/arrivals"
        assert requests.get(board, timeout=10).status_code == 404  # the quick store knows no ORD here
        time.sleep(1.0)
        servers = demo._switch(servers, settings, "127.0.0.1")
        assert servers.flights.clock_from >= clocks[1] + timedelta(seconds=1)
        assert requests.get(board, timeout=10).json()["arrivals"], "served from the full store now"
        accuracy = requests.get(
            f"{servers.flights.url}/api/v1/operator/accuracy", headers={"X-API-Key": key}, timeout=10
        )
        assert accuracy.status_code == 200, accuracy.text
    finally:
        serving.stop(servers.all)
        quick.dispose()


def test_the_bundled_models_match_the_features_the_code_computes() -> None:
    """A feature change must come with re-bundled demo models (python -m training.bundle_demo_models)."""
    from eta.features import feature_names, platforms
    from eta.model import artefact

    bundled = sorted((Settings().reference_dir / data.BUNDLED_MODELS).glob("*/meta.json"))
    tasks = set()
    for meta in bundled:
        model = artefact.load(meta.parent)
        mode, task = model.meta["mode"], model.meta["task"]
        tasks.add((mode, task))
        expected = platforms.FEATURES if task == "platform" else feature_names(mode)
        assert model.meta["features"] == list(expected), f"{meta.parent.name} was trained on other features"
    assert tasks == {("flight", "arrival"), ("train", "arrival"), ("train", "platform")}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_demo_promotes_the_bundled_models_without_training(store: Engine, settings: Settings) -> None:
    from eta.model import registry

    said: list[str] = []
    data.ensure_champions(store, settings, said.append)
    assert not any("training" in line for line in said), said
    for mode, task in (("flight", "arrival"), ("train", "arrival"), ("train", "platform")):
        champion = registry.champion(store, mode, task)
        assert champion is not None and champion.version.startswith(f"{mode}-{task}-")
