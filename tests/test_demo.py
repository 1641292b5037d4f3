"""`eta demo`'s parts: the bundled day, a real day replayed through the collector runner, a served clock."""

from __future__ import annotations

import re
import socket
from datetime import UTC, date, datetime

import pytest
import requests
from sqlalchemy import Engine, func, select

from eta import demo
from eta.collectors.replay import bundled_day
from eta.config import Settings
from eta.store.schema import CollectorState, Observation, Service
from tests.api import seed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_bundled_train_day_is_read_from_its_archive() -> None:
    assert demo.bundled_train_day(bundled_day(Settings())) == date(2025, 9, 8)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_real_flight_day_is_replayed_and_served_on_its_own_clock(store: Engine, settings: Settings) -> None:
    said: list[str] = []
    demo.replay_flight_day(store, settings, said.append)
    with store.connect() as conn:
        flights = conn.execute(
            select(func.count()).select_from(Service).where(Service.service_date == demo.FLIGHT_DAY)
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
    clock_from = datetime.combine(demo.FLIGHT_DAY, demo.SERVE_AT, demo.FLIGHT_TZ)
    server = demo.start_server(settings, "flights", _free_port(), clock_from)
    try:
        demo.wait_until_live(server)
        board = requests.get(f"{server.url}/api/v1/locations/ORD/arrivals", timeout=10)
        assert board.status_code == 200, board.text
        arrivals = board.json()["arrivals"]
        assert arrivals, "Chicago O'Hare receives New York flights every hour of the evening"
        first = arrivals[0]
        assert first["scheduled_arrival"].startswith(
            "2013-12-20T"
        )  # the replay clock's evening, local offset
        assert first["scheduled_arrival"].endswith("-06:00")
        text = demo.guide(store, server, server, "eta_k_example", date(2025, 9, 8))
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
        server.process.terminate()
        server.process.wait(timeout=10)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_finished_replay_is_not_repeated_but_an_interrupted_one_is(settings: Settings) -> None:
    runs: list[str] = []
    said: list[str] = []

    def interrupted() -> None:
        runs.append("interrupted")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        demo.replay_once(settings, "trains", interrupted, False, said.append)
    demo.replay_once(settings, "trains", lambda: runs.append("finished"), False, said.append)
    demo.replay_once(settings, "trains", lambda: runs.append("again"), False, said.append)
    assert runs == ["interrupted", "finished"]
    assert "replayed by an earlier demo run" in said[-1]
    demo.replay_once(settings, "trains", lambda: runs.append("forced"), True, said.append)
    assert runs[-1] == "forced"


def test_the_bundled_models_match_the_features_the_code_computes() -> None:
    """A feature change must come with re-bundled demo models (python -m training.bundle_demo_models)."""
    from eta.features import feature_names, platforms
    from eta.model import artefact

    bundled = sorted((Settings().reference_dir / demo.BUNDLED_MODELS).glob("*/meta.json"))
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
    demo.ensure_champions(store, settings, said.append)
    assert not any("training" in line for line in said), said
    for mode, task in (("flight", "arrival"), ("train", "arrival"), ("train", "platform")):
        champion = registry.champion(store, mode, task)
        assert champion is not None and champion.version.startswith(f"{mode}-{task}-")
