"""The timetable read model: a service's calls in the order its run reaches them."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from sqlalchemy import insert

from eta.config import Settings
from eta.read import timetable
from eta.store import open_store
from eta.store.schema import Call, Service


def test_a_trip_lists_the_stops_a_change_list_added_where_the_run_reaches_them(
    store_url: str, tmp_path: Path
) -> None:
    """S 90068 of 2025-09-04 (Berlin IRIS week): IRIS numbered the stops it added 100, 101, 102, after the
    trip's own stop 9, which the train reached last (09:24)."""
    settings = Settings(database_url=store_url, data_dir=tmp_path)
    engine = open_store(settings)

    def at(hhmm: str) -> datetime:
        return datetime.fromisoformat(f"2025-09-04T{hhmm}:00+00:00")

    stops = [
        (9, "8089053", "09:24", "09:25"),
        (100, "8089063", None, "08:23"),
        (101, "8089052", "08:26", "08:27"),
    ]
    stops.append((102, "8089007", "08:29", "08:30"))
    with engine.begin() as conn:
        conn.execute(
            insert(Service).values(
                id=1,
                mode="train",
                operator="S",
                number="90068",
                service_date=date(2025, 9, 4),
                source="db-iris",
            )
        )
        for sequence, location, arrival, departure in stops:
            conn.execute(
                insert(Call).values(
                    id=sequence,
                    service_id=1,
                    sequence=sequence,
                    location=location,
                    scheduled_arrival=at(arrival) if arrival else None,
                    scheduled_departure=at(departure),
                )
            )
    with engine.connect() as conn:
        assert [c.sequence for c in timetable.calls_of(conn, 1)] == [100, 101, 102, 9]
        later = at("08:00")
        assert [c.sequence for c in timetable.calls_of_services(conn, [1], later)] == [100, 101, 102, 9]
    engine.dispose()
