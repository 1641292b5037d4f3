"""Engines for the store: SQLite (WAL, foreign keys) by default, PostgreSQL by URL."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url

from eta.config import DatabaseSettings, Settings, get_settings
from eta.errors import EtaError
from eta.store import watchdog

SQLITE_BUSY_TIMEOUT_MS = 30_000
# A connection whose peer vanished (a cable, a firewall dropping the flow) is found dead after
# KEEPALIVE_IDLE_S + KEEPALIVE_COUNT * KEEPALIVE_INTERVAL_S, and one whose sent data is not acknowledged
# after TCP_USER_TIMEOUT_MS, instead of the kernel's two hours.
KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT = 10, 5, 3
TCP_USER_TIMEOUT_MS = 30_000


def make_engine(
    url: str | None = None,
    *,
    service: bool = False,
    database: DatabaseSettings | None = None,
    **kwargs: Any,
) -> Engine:
    """Create an engine for ``url`` (default: the configured store).

    Every engine has connect timeouts, TCP keepalives and a bounded pool wait (``database``, default the
    configured ones). A ``service`` engine (the API, the collectors, the scheduler) also has the statement
    timeout and its watchdog, and on SQLite the shorter lock timeout: a service answers or fails in
    seconds; batch commands (imports, training) may run long statements.
    """
    settings = get_settings()
    url = url or settings.resolved_database_url
    database = database or settings.database
    parsed = make_url(url)
    # SQL parameters carry webhook URLs, signing secrets and keys: errors must not print them into logs
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        lock_ms = round(database.lock_timeout_s * 1000) if service else SQLITE_BUSY_TIMEOUT_MS
        return _sqlite_engine(url, parsed.database, lock_ms, **kwargs)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
        parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    connect_args = {
        "connect_timeout": database.connect_timeout_s,
        "keepalives": 1,
        "keepalives_idle": KEEPALIVE_IDLE_S,
        "keepalives_interval": KEEPALIVE_INTERVAL_S,
        "keepalives_count": KEEPALIVE_COUNT,
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
    }
    # what the URL or the caller sets wins
    connect_args = {k: v for k, v in connect_args.items() if k not in parsed.query}
    connect_args.update(kwargs.pop("connect_args", {}))
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_timeout", database.pool_timeout_s)
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    if service and database.statement_timeout_s > 0:
        _statement_timeout(engine, database)
    return engine


def _statement_timeout(engine: Engine, database: DatabaseSettings) -> None:
    """PostgreSQL cancels a statement after ``statement_timeout_s``; the watchdog closes the connection of
    one still waiting ``connect_timeout_s`` later (the server could not tell us: it is unreachable)."""
    timeout_ms = database.statement_timeout_s * 1000

    @event.listens_for(engine, "connect")
    def _set_timeout(dbapi_conn: Any, _record: object) -> None:
        with dbapi_conn.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {timeout_ms}")
        dbapi_conn.commit()

    watchdog.watch(engine, database.statement_timeout_s + database.connect_timeout_s)


def _sqlite_engine(url: str, database: str | None, busy_timeout_ms: int, **kwargs: Any) -> Engine:
    if database and database != ":memory:":
        path = Path(database)
        if not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False}, **kwargs
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        cursor = dbapi_conn.cursor()
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
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
