"""Engines for the store: SQLite (WAL, foreign keys) by default, PostgreSQL by URL."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url

from eta.config import Settings, get_settings
from eta.errors import EtaError

SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` (default: the configured store)."""
    url = url or get_settings().resolved_database_url
    parsed = make_url(url)
    # SQL parameters carry webhook URLs, signing secrets and keys: errors must not print them into logs
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, **kwargs)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_engine(url: str, database: str | None, **kwargs: Any) -> Engine:
    if database and database != ":memory:":
        path = Path(database)
        if not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}, **kwargs
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        cursor = dbapi_conn.cursor()
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    return engine


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the file to WAL (it stays so), retrying while another process switches it at the same moment.

    The switch takes an exclusive lock without waiting for the busy timeout: processes opening a fresh store
    together (the collectors and the API) would otherwise fail with "database is locked".
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


PLANNED_TABLES = ("services", "calls", "observations", "weather", "predictions")


def refresh_statistics(engine: Engine) -> None:
    """Give the query planner current table statistics, after bulk writes and now and then.

    Without them SQLite takes every index for selective: it read all flight services of a mode to find the
    few of a serving window (0.7 s instead of 0.08 s). ``analysis_limit`` keeps ANALYZE to a sample.
    """
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql(f"ANALYZE {', '.join(PLANNED_TABLES)}")


def engine_from_settings(settings: Settings) -> Engine:
    return make_engine(settings.resolved_database_url)


def describe_url(url: str) -> str:
    """The URL without its password, for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception as exc:  # an unparsable URL is a user mistake, say so
        raise EtaError(f"ETA_DATABASE_URL is not a valid database URL: {exc}") from exc
