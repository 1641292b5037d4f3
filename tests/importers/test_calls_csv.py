"""The generic calls CSV: good rows kept, bad rows reported by line number, non-zero exit."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from eta.config import Settings
from eta.errors import InputError
from eta.importers import calls_csv
from eta.store.schema import Call, Observation, Service
from tests.conftest import FIXTURES

BAD_ROWS = FIXTURES / "calls_csv" / "calls_with_bad_rows.csv"


def test_good_rows_are_kept_and_bad_rows_reported_by_line(store: Engine, settings: Settings) -> None:
    summary = calls_csv.run(store, settings, BAD_ROWS)
    assert [r.split(":")[0] for r in summary.rejected] == [f"line {n}" for n in range(8, 16)]
    assert "mode must be flight or train" in summary.rejected[0]
    assert "no UTC offset" in summary.rejected[2]
    assert "same service and sequence as line 2" in summary.rejected[-1]
    assert summary.inserted["calls"] == 6
    with store.connect() as conn:
        moved = conn.execute(
            select(
                Call.planned_platform,
                Call.scheduled_departure,
                Observation.platform,
                Observation.actual_departure,
            )
            .join(Service, Service.id == Call.service_id)
            .join(Observation, Observation.call_id == Call.id)
            .where(Service.operator == "RB", Service.number == "10320")
        ).one()
    assert moved.planned_platform == "6"
    assert moved.platform == "3"
    assert moved.scheduled_departure == datetime(2024, 5, 9, 8, 37, tzinfo=UTC)
    assert moved.actual_departure == datetime(2024, 5, 9, 8, 42, tzinfo=UTC)


def test_reimporting_the_same_file_adds_nothing(store: Engine, settings: Settings) -> None:
    calls_csv.run(store, settings, BAD_ROWS)
    again = calls_csv.run(store, settings, BAD_ROWS)
    assert sum(again.inserted.values()) == 0


def test_a_flight_gets_its_departure_airport_as_leg(store: Engine, settings: Settings) -> None:
    calls_csv.run(store, settings, BAD_ROWS)
    with store.connect() as conn:
        leg, origin, destination = conn.execute(
            select(Service.leg, Service.origin, Service.destination).where(Service.operator == "UA")
        ).one()
    assert (leg, origin, destination) == ("EWR", "EWR", "IAH")


def test_a_file_without_the_required_columns_is_refused(
    tmp_path: Path, store: Engine, settings: Settings
) -> None:
    path = tmp_path / "calls.csv"
    path.write_text("mode,operator\ntrain,ICE\n")
    with pytest.raises(InputError, match="lacks the columns number, service_date"):
        calls_csv.run(store, settings, path)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("scheduled_departure", "2024-05-09T10:00:00+02:00", "before scheduled_arrival"),
        ("location_tz", "Mars/Olympus", "not an IANA time zone"),
        ("sequence", "-1", "negative"),
        ("number", "X" * 129, "longer than 128"),
        ("operator", "X" * 33, "longer than 32"),
        ("location", "X" * 33, "longer than 32"),
        ("planned_platform", "X" * 33, "longer than 32"),
    ],
)
def test_row_validation_names_the_field(field: str, value: str, message: str) -> None:
    record = {
        "mode": "train",
        "operator": "RE",
        "number": "26808",
        "service_date": "2024-05-09",
        "location": "8000001",
        "sequence": "26",
        "scheduled_arrival": "2024-05-09T10:07:00+02:00",
        "scheduled_departure": "",
        "actual_arrival": "",
        "actual_departure": "",
        "planned_platform": "2",
        "actual_platform": "",
        "cancelled": "false",
    }
    record[field] = value
    with pytest.raises(calls_csv.RowError, match=message):
        calls_csv.parse_row(record, 2)  # type: ignore[arg-type]


def test_command_line_exits_non_zero_and_prints_each_bad_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "eta.cli", "import", "calls", str(BAD_ROWS)], capture_output=True, text=True
    )
    assert done.returncode == 1
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 8
    assert errors[0].endswith("line 8: mode must be flight or train, not 'bus'")
    assert "calls" in done.stdout and "rejected rows: 8" in done.stdout


def test_an_import_leaves_planner_statistics_of_what_it_wrote(store: Engine, settings: Settings) -> None:
    calls_csv.run(store, settings, BAD_ROWS)
    with store.connect() as conn:
        if store.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("SELECT stat FROM sqlite_stat1 WHERE tbl = 'calls'").scalars().all()
            assert rows and all(int(stat.split()[0]) == 6 for stat in rows)  # 6 calls, counted per index
        else:
            estimate = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE oid = 'calls'::regclass")
            assert estimate.scalar_one() == 6


def test_a_file_without_the_optional_columns_is_imported(
    tmp_path: Path, store: Engine, settings: Settings
) -> None:
    """Issue 21 §5: docs/calls-csv.md marks actual_*, the platforms and cancelled as optional, and only one
    of the scheduled times as needed; the importer refused files without those columns."""
    path = tmp_path / "timetable.csv"
    path.write_text(
        "mode,operator,number,service_date,location,sequence,scheduled_departure\n"
        "train,RB,10320,2024-05-09,8000001,1,2024-05-09T10:37:00+02:00\n"
        "train,RB,10320,2024-05-09,8000002,2,2024-05-09T10:52:00+02:00\n"
    )
    summary = calls_csv.run(store, settings, path)
    assert summary.rejected == [] and summary.inserted["calls"] == 2
    with store.connect() as conn:
        calls = conn.execute(select(Call.scheduled_departure, Call.planned_platform)).all()
        observations = conn.execute(select(Observation.id)).all()
    assert sorted(c.scheduled_departure for c in calls) == [
        datetime(2024, 5, 9, 8, 37, tzinfo=UTC),
        datetime(2024, 5, 9, 8, 52, tzinfo=UTC),
    ]
    assert all(c.planned_platform is None for c in calls) and observations == []


def test_a_file_without_either_scheduled_time_column_is_refused(
    tmp_path: Path, store: Engine, settings: Settings
) -> None:
    path = tmp_path / "calls.csv"
    path.write_text("mode,operator,number,service_date,location,sequence\ntrain,RB,1,2024-05-09,8000001,1\n")
    with pytest.raises(InputError, match="lacks the columns scheduled_arrival or scheduled_departure"):
        calls_csv.run(store, settings, path)


REAL_CODES = (
    "mode,operator,number,service_date,location,sequence,scheduled_arrival,planned_platform,actual_platform\n"
    # a GTFS-Realtime trip id as the number (40+ characters outside gtfs.de), a platform name of 25
    "train,FLX,1-FLX-2025-09-08-Berlin-Hbf-Koeln-Hbf-1745,2025-09-08,8011160,3,"
    "2025-09-08T17:45:00+02:00,Gleis 1 (S-Bahn Nord-Süd),Gleis 1 (S-Bahn Nord-Süd)\n"
    # an operator name of 17 characters, a GTFS stop id of 32
    "train,Ostdeutsche-Eisen,4711,2025-09-08,de:11000:900003201:2:53:Nord-Süd,1,2025-09-08T10:00:00+02:00,,\n"
    # a location of 33 characters: longer than the store's column, this row alone is rejected
    "train,RE,1,2025-09-08,de:11000:900003201:2:53:Nord-Süd1,1,2025-09-08T10:00:00+02:00,,\n"
)


def test_real_codes_fit_and_a_row_too_long_for_the_store_is_rejected_alone(
    tmp_path: Path, store: Engine, settings: Settings
) -> None:
    """Issue 21 §3: the CSV capped operator, number and platforms at 16 characters, shorter than the
    store's columns and than real trip ids and platform names; the caps are now the columns' own."""
    path = tmp_path / "calls.csv"
    path.write_text(REAL_CODES, encoding="utf-8")
    summary = calls_csv.run(store, settings, path)
    assert len(summary.rejected) == 1 and summary.rejected[0].startswith("line 4: location is longer than 32")
    assert summary.inserted["calls"] == 2
    with store.connect() as conn:
        kept = conn.execute(
            select(Service.number, Call.location, Call.planned_platform, Observation.platform)
            .join(Call, Call.service_id == Service.id)
            .outerjoin(Observation, Observation.call_id == Call.id)
            .order_by(Service.number)
        ).all()
    assert [tuple(row) for row in kept] == [
        ("1-FLX-2025-09-08-Berlin-Hbf-Koeln-Hbf-1745", "8011160", *["Gleis 1 (S-Bahn Nord-Süd)"] * 2),
        ("4711", "de:11000:900003201:2:53:Nord-Süd", None, None),
    ]
