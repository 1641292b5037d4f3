"""DB runs: stop order from planned times, runs across midnight, UTC with DST, idempotent import."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from eta.config import Settings
from eta.errors import InputError
from eta.importers import db_runs
from eta.store.schema import Call, Observation, Service


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return db_runs.read_rows(db_runs.bundled_path(Settings()))


@pytest.fixture(scope="module")
def stops(rows: pd.DataFrame) -> pd.DataFrame:
    return db_runs.reconstruct_runs(rows)


def test_stop_order_agrees_with_the_previous_stop_delay_column(stops: pd.DataFrame) -> None:
    ordered = stops.sort_values(["run", "sequence"])
    by_run = ordered.groupby("run")
    prev_arrival = by_run["arrival_delay_min"].shift()
    prev_departure = by_run["departure_delay_min_raw"].shift()
    given = ordered["prev_stop_delay_min"].notna() & ordered["sequence"].gt(0)
    agrees = ordered["prev_stop_delay_min"].eq(prev_arrival) | ordered["prev_stop_delay_min"].eq(
        prev_departure
    )
    assert given.sum() > 1_000_000
    assert agrees[given].mean() > 0.995


def test_a_run_across_midnight_stays_one_service(stops: pd.DataFrame) -> None:
    run = stops[(stops.train == "ALX 79866") & (stops.service_date == date(2026, 3, 1))].sort_values(
        "sequence"
    )
    assert run["station"].iloc[0] == "Schwandorf"
    assert run["station"].iloc[-1] == "München Hbf"
    assert len(run) == 11
    assert run["planned"].is_monotonic_increasing
    # München Hbf 01:21 local on 2 March (CET, UTC+1)
    assert run["planned"].iloc[-1] == pd.Timestamp("2026-03-02T00:21Z")


def test_local_times_follow_daylight_saving(stops: pd.DataFrame) -> None:
    local = stops["planned"].dt.tz_convert("Europe/Berlin")
    assert ((local.dt.hour * 60 + local.dt.minute) == stops["planned_minute_of_day"]).all()
    offset = (local.dt.tz_localize(None) - stops["planned"].dt.tz_localize(None)).dt.total_seconds()
    assert set(offset[stops["local"] < pd.Timestamp("2026-03-29")]) == {3600.0}
    assert set(offset[stops["local"] > pd.Timestamp("2026-03-30")]) == {7200.0}


def test_few_rows_are_lost_to_key_collisions(rows: pd.DataFrame, stops: pd.DataFrame) -> None:
    assert len(stops) / len(rows) > 0.995
    assert not stops.duplicated(["service_id", "sequence"]).any()


def test_missing_columns_are_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "runs.csv"
    bad.write_text("train,station\nICE 1,Berlin\n")
    with pytest.raises(InputError, match="lacks the columns"):
        db_runs.read_rows(bad)


def _counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (Service, Call, Observation)
        )


def test_importing_a_few_days_twice_on_either_backend_changes_nothing(
    store: Engine, settings: Settings, rows: pd.DataFrame, tmp_path: Path
) -> None:
    few = rows[rows.service_date.between("2026-03-01", "2026-03-03")].drop(columns="line_no")
    path = tmp_path / "few.csv.gz"
    few.to_csv(path, index=False)
    first = db_runs.run(store, settings, path)
    once = _counts(store)
    assert once[1] == first.inserted["calls"] > 30_000
    second = db_runs.run(store, settings, path)
    assert sum(second.inserted.values()) == 0
    assert _counts(store) == once
    with store.connect() as conn:
        arrival = conn.execute(
            select(Observation.actual_arrival)
            .join(Call, Call.id == Observation.call_id)
            .join(Service, Service.id == Call.service_id)
            .where(Service.operator == "ALX", Service.number == "79866", Call.location == "8000261")
            .where(Service.service_date == date(2026, 3, 1), Observation.actual_arrival.is_not(None))
        ).scalar_one()
    assert arrival == datetime(2026, 3, 2, 0, 57, tzinfo=UTC)  # 01:21 CET + 36 min


@pytest.mark.slow
def test_full_bundled_import_from_the_command_line() -> None:
    """The whole bundled file, once (importing twice changes nothing: the few-days test on both backends;
    a second full import here cost CI 1.5 minutes for the same check)."""

    def eta(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "eta.cli", *args], capture_output=True, text=True, check=True
        ).stdout

    eta("import", "db-runs")
    first = json.loads(eta("stats", "--json"))
    assert first["modes"]["train"]["calls"] > 1_200_000
    assert first["modes"]["train"]["first_service_date"] == "2026-02-28"
