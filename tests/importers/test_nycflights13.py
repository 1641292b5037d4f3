"""nycflights13: local times to UTC (overnight, cross-time-zone), and an idempotent import."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from eta.config import Settings
from eta.importers import nycflights13
from eta.store.schema import Call, Observation, Service, Weather


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return nycflights13.load_tables()


@pytest.fixture(scope="module")
def flights(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    airports = nycflights13.airport_locations(tables["airports"], Settings())
    return nycflights13.flights_frame(tables["flights"], airports.set_index("code")["tz"])


def _flight(flights: pd.DataFrame, carrier: str, number: str, month: int, day: int) -> pd.Series:
    date = datetime(2013, month, day, tzinfo=UTC).date()
    hit = flights[(flights.operator == carrier) & (flights.number == number) & (flights.service_date == date)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_scheduled_departure_in_utc_matches_the_packages_own_utc_hour(
    flights: pd.DataFrame, tables: dict[str, pd.DataFrame]
) -> None:
    time_hour = pd.to_datetime(tables["flights"]["time_hour"], utc=True)
    assert (flights["scheduled_departure"].dt.floor("h") == time_hour).all()


def test_gate_to_gate_time_is_never_shorter_than_time_in_the_air(
    flights: pd.DataFrame, tables: dict[str, pd.DataFrame]
) -> None:
    # A wrong time zone or a missed overnight roll shifts arrivals by whole hours or a day.
    gate_to_gate = (flights["actual_arrival"] - flights["actual_departure"]).dt.total_seconds() / 60
    taxi = (gate_to_gate - tables["flights"]["air_time"]).dropna()
    assert len(taxi) > 320_000
    assert taxi.min() >= 0
    assert taxi.quantile(0.999) < 180


def test_overnight_arrival_across_time_zones(flights: pd.DataFrame) -> None:
    # UA 1482 EWR→LAX, 2013-01-01: dep 20:30 EST, sched arr 00:05 PST on Jan 2, arrived 23:37 PST on Jan 1.
    ua = _flight(flights, "UA", "1482", 1, 1)
    assert ua.scheduled_departure == pd.Timestamp("2013-01-02T01:30Z")
    assert ua.scheduled_arrival == pd.Timestamp("2013-01-02T08:05Z")
    assert ua.actual_arrival == pd.Timestamp("2013-01-02T07:37Z")
    # HA 51 JFK→HNL: 09:00 EST → 15:30 HST (UTC−10) the same local day, 01:30 UTC the next.
    ha = _flight(flights, "HA", "51", 1, 1)
    assert ha.scheduled_departure == pd.Timestamp("2013-01-01T14:00Z")
    assert ha.scheduled_arrival == pd.Timestamp("2013-01-02T01:30Z")


def test_daylight_saving_time_is_applied(flights: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> None:
    local = flights["scheduled_departure"].dt.tz_convert("America/New_York")
    raw = tables["flights"]
    assert ((local.dt.hour * 100 + local.dt.minute) == raw["sched_dep_time"] % 2400).all()
    offset_h = (
        local.dt.tz_localize(None) - flights["scheduled_departure"].dt.tz_localize(None)
    ).dt.total_seconds() / 3600
    assert set(offset_h[raw["month"] == 7]) == {-4.0}
    assert set(offset_h[raw["month"] == 1]) == {-5.0}


def test_puerto_rico_destinations_get_their_time_zone(flights: pd.DataFrame) -> None:
    sju = flights[flights.destination == "SJU"]
    assert len(sju) > 5000
    assert set(sju["dest_tz"]) == {"America/Puerto_Rico"}


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            model.__tablename__: conn.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Service, Call, Observation, Weather)
        }


def test_importing_a_month_twice_on_either_backend_changes_nothing(
    store: Engine, settings: Settings, tables: dict[str, pd.DataFrame]
) -> None:
    january = dict(tables)
    january["flights"] = tables["flights"][tables["flights"].month == 1]
    january["weather"] = tables["weather"][tables["weather"].month == 1]
    first = nycflights13.run(store, settings, january)
    assert first.inserted["services"] == len(january["flights"])
    once = _counts(store)
    second = nycflights13.run(store, settings, january)
    assert sum(second.inserted.values()) == 0
    assert _counts(store) == once
    with store.connect() as conn:
        arrival = conn.execute(
            select(Call.scheduled_arrival)
            .join(Service, Service.id == Call.service_id)
            .where(Service.operator == "UA", Service.number == "1482", Call.sequence == 1)
            .where(Service.service_date == datetime(2013, 1, 1, tzinfo=UTC).date())
        ).scalar_one()
    assert arrival == datetime(2013, 1, 2, 8, 5, tzinfo=UTC)


@pytest.mark.slow
def test_full_import_from_the_command_line(tmp_path: object) -> None:
    """The whole year, once (importing twice changes nothing: the month test on both backends; a second
    full import here cost CI 1.5 minutes for the same check)."""

    def eta(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "eta.cli", *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    eta("import", "nycflights13")
    first = json.loads(eta("stats", "--json"))
    assert first["modes"]["flight"]["services"] == 336_776
    assert first["tables"]["weather"] == 26_115
