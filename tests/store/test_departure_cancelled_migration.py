"""Migration 0023 adds ``observations.departure_cancelled`` (NULL: as ``cancelled``), keeping what is stored;
its downgrade drops it and keeps the rest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, inspect, select, text

from eta.config import Settings
from eta.store.engine import make_engine
from eta.store.migrate import alembic_config, current_revisions, upgrade
from eta.store.schema import Observation

AT = datetime(2025, 9, 8, 4, 1, tzinfo=UTC)


def test_the_departure_s_cancellation_is_a_column_of_its_own(store_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=store_url, data_dir=tmp_path / "var")
    engine = make_engine(store_url)
    upgrade(engine, "0022", settings=settings)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO locations (code, mode, name, source) "
                "VALUES ('8089024', 'train', 'Berlin Nordbahnhof', 't')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO services (id, mode, operator, number, service_date, leg, source) "
                "VALUES (1, 'train', 'S', '26527', '2025-09-08', '', 't')"
            )
        )
        conn.execute(
            text("INSERT INTO calls (id, service_id, sequence, location) VALUES (1, 1, 7, '8089024')")
        )
        conn.execute(
            text(
                "INSERT INTO observations (call_id, observed_at, source, cancelled) VALUES (1, :at, 't', :c)"
            ),
            {"at": AT, "c": True},
        )
    upgrade(engine, settings=settings)
    assert "0023" in current_revisions(engine)
    with engine.begin() as conn:
        kept = conn.execute(select(Observation.cancelled, Observation.departure_cancelled)).one()
        assert tuple(kept) == (True, None)  # stored before: the departure reads as the call
        conn.execute(
            Observation.__table__.insert(),
            [
                {"call_id": 1, "observed_at": AT.replace(minute=16), "source": "t", "cancelled": False}
                | {"departure_cancelled": True}
            ],
        )
        rows = conn.execute(
            select(Observation.cancelled, Observation.departure_cancelled).order_by(Observation.observed_at)
        ).all()
        assert [tuple(r) for r in rows] == [(True, None), (False, True)]
    _downgrade(engine, "0022")
    assert "departure_cancelled" not in {c["name"] for c in inspect(engine).get_columns("observations")}
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM observations")).scalar_one() == 2
    upgrade(engine, settings=settings)
    assert "0023" in current_revisions(engine)
    engine.dispose()


def _downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
