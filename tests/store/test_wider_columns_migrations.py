"""Migrations 0021 and 0022 widen columns in place, through one helper (eta.store.migrations.widen): what
each declares after upgrading and after downgrading again, on SQLite (the schema text) and PostgreSQL."""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, inspect

from eta.config import Settings
from eta.store.engine import make_engine
from eta.store.migrate import alembic_config, upgrade

WIDER = {
    revision: importlib.import_module(f"eta.store.migrations.versions.{module}").WIDER
    for revision, module in (("0021", "0021_wider_codes"), ("0022", "0022_wider_location_codes"))
}


def _lengths(engine: Engine) -> dict[tuple[str, str], int]:
    found = {}
    inspector = inspect(engine)
    for table, column, _, _ in (*WIDER["0021"], *WIDER["0022"]):
        declared = {c["name"]: c["type"] for c in inspector.get_columns(table)}
        found[table, column] = declared[column].length
    return found


def _expected(at: str) -> dict[tuple[str, str], int]:
    return {
        (table, column): after if revision <= at else before
        for revision, columns in WIDER.items()
        for table, column, before, after in columns
    }


def _schema_text(engine: Engine) -> dict[str, str]:
    if engine.dialect.name != "sqlite":
        return {}
    with engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all())


def _downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_columns_are_widened_and_narrowed_back_exactly(store_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=store_url, data_dir=tmp_path / "var")
    engine = make_engine(store_url)
    upgrade(engine, "0020", settings=settings)
    assert _lengths(engine) == _expected("0020")
    before = _schema_text(engine)
    upgrade(engine, "0021", settings=settings)
    assert _lengths(engine) == _expected("0021")
    after_0021 = _schema_text(engine)
    upgrade(engine, "0022", settings=settings)
    assert _lengths(engine) == _expected("0022")
    if engine.dialect.name == "sqlite":  # only the lengths changed in the declarations, nothing else
        changed = _schema_text(engine)
        assert changed["calls"] == before["calls"].replace(
            "planned_platform VARCHAR(16)", "planned_platform VARCHAR(32)"
        ).replace("location VARCHAR(32)", "location VARCHAR(128)")
        assert {t for t in changed if changed[t] != before[t]} == {
            t for columns in WIDER.values() for t, *_ in columns
        }
    _downgrade(engine, "0021")
    assert _lengths(engine) == _expected("0021")
    assert _schema_text(engine) == after_0021
    _downgrade(engine, "0020")
    assert _lengths(engine) == _expected("0020")
    assert _schema_text(engine) == before  # SQLite: the very text 0001-0020 left
    engine.dispose()
