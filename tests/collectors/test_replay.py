"""Replay: recorded IRIS snapshots through the live adapter on a simulated clock."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, func, select

from eta.collectors.registry import instance
from eta.collectors.replay import (
    ReplayCycle,
    SimClock,
    _write_station_coordinates,
    bundled_day,
    iris_cycles,
    iris_replay,
    replay_iris,
)
from eta.collectors.runner import Cycle
from eta.config import Settings, get_settings
from eta.importers import iris_archive
from eta.store import open_store
from eta.store.schema import Call, CollectorState, Location, Observation
from tests.conftest import FIXTURES

SLICE = FIXTURES / "iris_archive" / "raw"


def _observations(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = pd.read_sql(
            select(
                Observation.call_id,
                Observation.observed_at,
                Observation.estimated_arrival,
                Observation.actual_arrival,
                Observation.estimated_departure,
                Observation.actual_departure,
                Observation.platform,
                Observation.cancelled,
            ),
            conn,
        )
    return frame.sort_values(["call_id", "observed_at"]).reset_index(drop=True)


def _calls(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = pd.read_sql(
            select(Call.id, Call.scheduled_arrival, Call.scheduled_departure, Call.planned_platform), conn
        )
    return frame.sort_values("id").reset_index(drop=True)


def test_cycles_are_the_download_times_plans_first() -> None:
    cycles = list(iris_cycles(SLICE))
    assert [c.at for c in cycles] == sorted({c.at for c in cycles})
    first = cycles[0]
    assert first.at == datetime(2025, 9, 3, 14, 1, tzinfo=UTC)  # 16:00 folder, fetched 16:01 CEST
    kinds = [p.request.kind for p in first.payloads]
    assert kinds == sorted(kinds, key=lambda k: k != "plan") and "plan" in kinds and "fchg" in kinds
    assert all(p.fetched_at == first.at for p in first.payloads)
    assert len(cycles) == 12  # 16:00 … 18:45 every 15 minutes


def test_replay_rebuilds_what_the_archive_import_reads(
    store: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same calls, and the same observation history (what was known when) as a direct reading."""
    summary = replay_iris(store, settings, SLICE, progress=False)
    assert summary.cycles == 12 and summary.quarantined == 0
    monkeypatch.setenv("ETA_DATABASE_URL", f"sqlite:///{tmp_path / 'direct.sqlite3'}")
    get_settings.cache_clear()
    direct = open_store(get_settings())
    iris_archive.run(direct, get_settings(), SLICE)
    replayed, read = _observations(store), _observations(direct)
    assert len(replayed) > 100
    pd.testing.assert_frame_equal(replayed, read)
    pd.testing.assert_frame_equal(_calls(store), _calls(direct))
    with store.connect() as conn:
        state = conn.execute(select(CollectorState).where(CollectorState.collector == "db-iris")).one()
    assert state.primed_at == datetime(2025, 9, 3, 14, 1, tzinfo=UTC)  # on the simulated clock
    assert state.data_until == datetime(2025, 9, 3, 16, 46, tzinfo=UTC)
    direct.dispose()


def test_replaying_twice_adds_nothing(store: Engine, settings: Settings) -> None:
    replay_iris(store, settings, SLICE, progress=False)
    again = replay_iris(store, settings, SLICE, progress=False)
    assert again.written.get("observations", 0) == 0 and again.written.get("calls", 0) == 0


def test_a_replay_driven_in_parts_ends_as_one_straight_through(
    store: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Up to a time, then on (the demo serves in between): the same rows as one run, each callback once."""
    cut = datetime(2025, 9, 3, 15, 16, tzinfo=UTC)
    parts = iris_replay(store, settings, SLICE)
    assert parts.cycles_left() == 12 and parts.cycles_left(cut) == 5
    seen: list[datetime] = []
    parts.until(cut, progress=False)
    assert parts.next_at == cut and parts.cycles_left() == 7
    parts.until(after_cycle=[lambda cycle: seen.append(cycle.made_at)], progress=False)
    assert parts.next_at is None and parts.cycles_left() == 0
    assert parts.summary.cycles == 12 and seen[0] == cut and len(seen) == 7

    straight_settings = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'one.sqlite3'}"})
    straight = open_store(straight_settings)
    replay_iris(straight, straight_settings, SLICE, progress=False)
    pd.testing.assert_frame_equal(_observations(store), _observations(straight))
    pd.testing.assert_frame_equal(_calls(store), _calls(straight))
    straight.dispose()


def test_after_cycle_callbacks_see_each_simulated_cycle(store: Engine, settings: Settings) -> None:
    seen: list[tuple[datetime, int]] = []

    def count_calls(cycle: Cycle) -> None:
        with cycle.engine.connect() as conn:
            known = conn.execute(
                select(func.count(func.distinct(Observation.call_id))).where(
                    Observation.observed_at <= cycle.made_at
                )
            ).scalar_one()
        assert all(0 < call_id < 1 << 63 for call_id in cycle.call_ids)
        seen.append((cycle.made_at, known))

    replay_iris(store, settings, SLICE, after_cycle=[count_calls], progress=False)
    assert [at for at, _ in seen] == [
        datetime(2025, 9, 3, 14, 1, tzinfo=UTC) + timedelta(minutes=15 * k) for k in range(12)
    ]
    assert seen[0][1] > 0 and all(a[1] <= b[1] for a, b in pairwise(seen))


def test_one_day_of_the_bundled_archive_only(store: Engine, settings: Settings) -> None:
    folder = bundled_day(settings)
    cycles = iris_cycles(folder, day=date(2025, 9, 8))
    first: ReplayCycle = next(cycles)
    assert first.at == datetime(2025, 9, 7, 22, 1, tzinfo=UTC)  # 00:01 local
    assert len(first.payloads) > 200  # 133 stations: plans and change lists
    _write_station_coordinates(store, settings, folder)
    with store.connect() as conn:
        located = conn.execute(
            select(func.count()).select_from(Location).where(Location.lat.is_not(None))
        ).scalar_one()
    assert located >= 133  # coordinates from DB's station data


def test_the_simulated_clock_runs_faster_than_real_time() -> None:
    slept: list[float] = []
    real = [0.0]
    clock = SimClock(
        datetime(2025, 9, 3, tzinfo=UTC), speed=600, monotonic=lambda: real[0], sleep=slept.append
    )
    clock.advance_to(datetime(2025, 9, 3, 0, 15, tzinfo=UTC))
    assert slept == [1.5]  # 15 simulated minutes at 600× = 1.5 real seconds
    real[0] = 3.0
    assert clock.now() == datetime(2025, 9, 3, 0, 30, tzinfo=UTC)
    instant = SimClock(datetime(2025, 9, 3, tzinfo=UTC), speed=0, sleep=slept.append)
    instant.advance_to(datetime(2025, 9, 4, tzinfo=UTC))
    assert instant.now() == datetime(2025, 9, 4, tzinfo=UTC) and len(slept) == 1


def test_a_collectors_raw_archive_replays_into_another_store_as_recorded(
    store: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the live collector recorded (two runs) replays through the same adapter to the same rows."""
    import requests

    from eta.collectors.replay import archive_cycles, replay_archive
    from eta.collectors.runner import Runner
    from eta.collectors.sources.db.iris_collector import DbIrisAdapter
    from tests.collectors.loopback import Loopback, Reply

    iris = FIXTURES / "db_iris"
    fchg = (iris / "08000001_fchg_10_EXCERPT.xml").read_bytes()
    config = instance("db-iris", settings).config.model_copy(
        update={"stations": ["8000001"], "plan_hours_ahead": 0}
    )
    with Loopback() as server:
        server.route("/plan/8000001/*", Reply((iris / "08000001_plan_10.xml").read_bytes()))
        server.route("/fchg/8000001", Reply(fchg), Reply(fchg.replace(b'cp="3"', b'cp="4"')))
        adapter = DbIrisAdapter(config.model_copy(update={"base_url": server.url, "full_changes_every_s": 0}))
        at = datetime(2024, 5, 9, 8, 5, tzinfo=UTC)
        runner = Runner(adapter, store, settings, session=requests.Session(), clock=lambda: at)
        runner.run_once()
        runner.clock = lambda: at + timedelta(minutes=10)
        runner.run_once()
    raw = settings.data_dir / "raw"
    assert [len(c.payloads) for c in archive_cycles(raw, "db-iris")] == [2, 1]  # plan + fchg, then fchg
    monkeypatch.setenv("ETA_DATABASE_URL", f"sqlite:///{tmp_path / 'replayed.sqlite3'}")
    monkeypatch.setenv("ETA_DATA_DIR", str(tmp_path / "other"))
    get_settings.cache_clear()
    other = open_store(get_settings())
    summary = replay_archive(other, get_settings(), DbIrisAdapter(config), raw, progress=False)
    assert summary.cycles == 2
    pd.testing.assert_frame_equal(_observations(other), _observations(store))
    pd.testing.assert_frame_equal(_calls(other), _calls(store))
    assert {p for p in _observations(other)["platform"].dropna()} >= {"3", "4"}
    other.dispose()


def test_a_dataset_in_a_store_replays_into_another_as_if_live(
    store: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eta.collectors.replay import replay_store

    iris_archive.run(store, settings, SLICE)  # the dataset already in a store
    monkeypatch.setenv("ETA_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    get_settings.cache_clear()
    demo = open_store(get_settings())
    seen: list[tuple[datetime, int]] = []

    def watch(cycle: Cycle) -> None:
        with cycle.engine.connect() as conn:
            latest = conn.execute(select(func.max(Observation.observed_at))).scalar_one()
        if latest is not None:  # nothing from the future
            stamp = pd.Timestamp(latest)
            assert (stamp if stamp.tzinfo else stamp.tz_localize("UTC")) <= cycle.made_at
        seen.append((cycle.made_at, cycle.result.written.get("observations", 0)))

    start, end = datetime(2025, 9, 3, 14, tzinfo=UTC), datetime(2025, 9, 3, 17, tzinfo=UTC)
    summary = replay_store(
        store, demo, get_settings(), start, end, step_s=900, after_cycle=[watch], progress=False
    )
    assert summary.cycles == len(seen) == 13  # the timetable, then the 12 quarter hours with news
    pd.testing.assert_frame_equal(_calls(demo), _calls(store))
    pd.testing.assert_frame_equal(_observations(demo), _observations(store))
    demo.dispose()


def test_every_row_observed_by_a_cycle_is_in_the_store_when_it_runs(tmp_path: Path) -> None:
    """Knowledge at t (issue 15): a prediction made after a cycle at t must see what a backtest at t sees:
    every report observed by t, including one observed at t exactly (a flight that left on the quarter
    hour)."""
    from eta.collectors.replay import replay_store
    from tests import slices

    source = create_engine(slices.copy_of(slices.flights_template(), tmp_path / "source"))
    start, end = datetime(2013, 1, 12, 12, tzinfo=UTC), datetime(2013, 1, 12, 15, tzinfo=UTC)
    with source.connect() as conn:
        observed = pd.to_datetime(
            pd.read_sql(
                select(Observation.observed_at).where(
                    Observation.observed_at >= start, Observation.observed_at < end
                ),
                conn,
            )["observed_at"],
            utc=True,
        )
    assert (observed == observed.dt.floor("15min")).any()  # some observed on a cycle's time
    demo = open_store(Settings(database_url=f"sqlite:///{tmp_path / 'demo.sqlite3'}", data_dir=tmp_path))
    missing: list[tuple[datetime, int]] = []

    def watch(cycle: Cycle) -> None:
        with cycle.engine.connect() as conn:
            held = conn.execute(select(func.count()).select_from(Observation)).scalar_one()
        due = int((observed <= pd.Timestamp(cycle.made_at)).sum())
        if held < due:
            missing.append((cycle.made_at, due - held))

    replay_store(
        source,
        demo,
        Settings(data_dir=tmp_path),
        start,
        end,
        step_s=900,
        mode="flight",
        after_cycle=[watch],
        progress=False,
    )
    assert missing == []
    source.dispose()
    demo.dispose()


def test_a_replay_in_parts_shows_its_clock_in_the_days_zone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's New York flights bar says New York time (it said Berlin's: 23:00 for a replay to 17:15)."""
    from eta.collectors.replay import store_replay
    from tests import slices

    source = create_engine(slices.copy_of(slices.flights_template(), tmp_path / "source"))
    start = datetime(2013, 1, 12, 12, tzinfo=UTC)
    demo = open_store(Settings(database_url=f"sqlite:///{tmp_path / 'demo.sqlite3'}", data_dir=tmp_path))
    parts = store_replay(source, demo, get_settings(), start, start + timedelta(hours=1), mode="flight")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # progress bars are drawn on a terminal only
    parts.until(desc="New York flights", tz=ZoneInfo("America/New_York"))
    bar = capsys.readouterr().err.split("\r")[-1]
    # the last cycle, at 13:00 UTC: 08:00 in New York (14:00 in Berlin)
    assert bar.startswith("New York flights: 100%") and "2013-01-12 08:00]" in bar, bar
    demo.dispose()
    source.dispose()
