"""Migration 0022 widens every column holding a location code to 128 characters, keeping what is stored:
a named GTFS instance's stations are ``<instance>:<stop_id>``, which runs past the 32 before it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Connection, Engine, delete, insert, select, text

from eta.config import Settings
from eta.store.engine import make_engine
from eta.store.migrate import alembic_config, current_revisions, upgrade
from eta.store.schema import AccuracyDaily, Call, Location, Service, Weather

LONG = f"{'operator-' * 7}x:de:11000:900100001::1"  # a 64-character instance name, a VBB-style stop id
AT = datetime(2026, 8, 18, 5, 10, tzinfo=UTC)


def test_codes_are_kept_and_longer_ones_fit_in_every_location_column(store_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=store_url, data_dir=tmp_path / "var")
    engine = make_engine(store_url)
    upgrade(engine, "0021", settings=settings)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO locations (code, mode, name, source) "
                "VALUES ('8000261', 'train', 'München Hbf', 't')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO services (id, mode, operator, number, service_date, leg, origin, destination, "
                "source) VALUES (1, 'train', 'ICE', '598', '2026-08-18', '', '8000105', '8000261', 't')"
            )
        )
        conn.execute(
            text("INSERT INTO calls (id, service_id, sequence, location) VALUES (1, 1, 3, '8000261')")
        )
    upgrade(engine, "0022", settings=settings)
    assert "0022" in current_revisions(engine)
    with engine.begin() as conn:
        _assert_kept(conn)
        _write_everywhere(conn, LONG)  # PostgreSQL refused it at 32 characters
        stored = {
            conn.execute(select(Location.code).where(Location.name == "S Südkreuz")).scalar_one(),
            *conn.execute(select(Service.origin, Service.destination).where(Service.id == 2)).one(),
            conn.execute(select(Call.location).where(Call.id == 2)).scalar_one(),
            conn.execute(select(Weather.location)).scalar_one(),
            conn.execute(select(AccuracyDaily.location)).scalar_one(),
        }
        assert stored == {LONG}
        for table in (AccuracyDaily, Weather):
            conn.execute(delete(table))
        conn.execute(delete(Call).where(Call.id == 2))
        conn.execute(delete(Service).where(Service.id == 2))
        conn.execute(delete(Location).where(Location.code == LONG))
    _downgrade(engine, "0021")  # with the short codes only, as it was
    with engine.begin() as conn:
        _assert_kept(conn)
    upgrade(engine, "0022", settings=settings)
    assert "0022" in current_revisions(engine)


def _assert_kept(conn: Connection) -> None:
    assert conn.execute(select(Location.name).where(Location.code == "8000261")).scalar_one() == "München Hbf"
    assert conn.execute(select(Service.origin, Service.destination).where(Service.id == 1)).one() == (
        "8000105",
        "8000261",
    )
    assert conn.execute(select(Call.location).where(Call.id == 1)).scalar_one() == "8000261"


def _write_everywhere(conn: Connection, code: str) -> None:
    """One row naming ``code`` in every column that holds a location code."""
    conn.execute(insert(Location), [{"code": code, "mode": "train", "name": "S Südkreuz", "source": "t"}])
    service: dict[str, Any] = {"id": 2, "mode": "train", "operator": "S", "number": "x:1", "leg": ""}
    service |= {"service_date": date(2026, 8, 18), "origin": code, "destination": code, "source": "t"}
    conn.execute(insert(Service), [service])
    conn.execute(insert(Call), [{"id": 2, "service_id": 2, "sequence": 0, "location": code}])
    conn.execute(
        insert(Weather),
        [{"location": code, "source": "t", "kind": "observation", "valid_at": AT, "observed_at": AT}],
    )
    counts = dict.fromkeys(("n", "n_operator", "n_covered", "n_platform", "n_platform_hit"), 0)
    sums = dict.fromkeys(("model_abs_s", "model_err_s", "timetable_abs_s", "operator_abs_s"), 0.0)
    day = {"day": AT.date(), "mode": "train", "location": code, "line": "S2", "horizon": "0-15"}
    conn.execute(insert(AccuracyDaily), [day | counts | sums])


def _downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
