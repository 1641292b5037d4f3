"""Fast idempotent bulk writes: rows whose unique key already exists are skipped, never duplicated.

SQLite: one ``INSERT … ON CONFLICT DO NOTHING`` executemany per batch.
PostgreSQL: ``COPY`` into a temporary table, then ``INSERT … SELECT … ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import JSON, Boolean, Connection, Date, Engine, Table
from sqlalchemy.exc import DBAPIError

from eta.store import watchdog
from eta.store.schema import UTCDateTime, metadata

SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # what SQLAlchemy's SQLite DateTime reads back
# Tables written by importers and collectors, in foreign-key order.
WRITE_ORDER = ("locations", "vehicles", "services", "calls", "call_refs", "observations", "weather")


def write_batch(engine: Engine, frames: Mapping[str, pd.DataFrame], batch_size: int) -> dict[str, int]:
    """Write one batch of frames by table atomically, in foreign-key order: every table's rows, or none."""
    inserted: dict[str, int] = {}
    with engine.begin() as conn:
        for name in WRITE_ORDER:
            frame = frames.get(name)
            if frame is not None and not frame.empty:
                inserted[name] = insert_ignore(conn, metadata.tables[name], frame, batch_size)
    return inserted


def insert_ignore(conn: Connection, table: Table, frame: pd.DataFrame, batch_size: int = 20_000) -> int:
    """Insert ``frame``'s rows into ``table``, skipping existing keys; returns rows actually inserted."""
    if frame.empty:
        return 0
    columns = [c for c in frame.columns if c in table.c]
    unknown = set(frame.columns) - set(columns)
    if unknown:
        raise ValueError(f"{table.name} has no columns {sorted(unknown)}")
    prepared = _prepare(frame[columns], table, conn.dialect.name)
    inserted = 0
    for batch in _batches(prepared, batch_size):
        if conn.dialect.name == "postgresql":
            inserted += _copy_insert_postgres(conn, table, columns, batch)
        else:
            inserted += _executemany_sqlite(conn, table, columns, batch)
    return inserted


def _batches(rows: list[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _prepare(frame: pd.DataFrame, table: Table, dialect: str) -> list[tuple[Any, ...]]:
    """Convert columns to plain Python values the DBAPI takes as they are (None for missing)."""
    out: dict[str, list[Any]] = {}
    for name in frame.columns:
        out[name] = _column_values(frame[name], table.c[name].type, dialect)
    return list(zip(*out.values(), strict=True))


def _column_values(series: pd.Series, coltype: Any, dialect: str) -> list[Any]:
    if isinstance(coltype, UTCDateTime):
        stamps = pd.to_datetime(series, utc=True)
        fmt = SQLITE_TIME_FORMAT if dialect == "sqlite" else "%Y-%m-%dT%H:%M:%S.%f+00:00"
        text = stamps.dt.strftime(fmt)
        return [None if pd.isna(v) else v for v in text.tolist()]
    if isinstance(coltype, Date):
        dates = pd.to_datetime(series).dt.strftime("%Y-%m-%d")
        return [None if pd.isna(v) else v for v in dates.tolist()]
    if isinstance(coltype, JSON):
        return [None if v is None else json.dumps(v, sort_keys=True) for v in series.tolist()]
    if isinstance(coltype, Boolean):
        return [None if pd.isna(v) else bool(v) for v in series.tolist()]
    values = series.astype(object).where(series.notna(), None).tolist()
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def _executemany_sqlite(
    conn: Connection, table: Table, columns: list[str], rows: list[tuple[Any, ...]]
) -> int:
    placeholders = ", ".join("?" for _ in columns)
    sql = f'INSERT INTO "{table.name}" ({", ".join(columns)}) VALUES ({placeholders}) ON CONFLICT DO NOTHING'
    return int(conn.exec_driver_sql(sql, rows).rowcount)


def _copy_insert_postgres(
    conn: Connection, table: Table, columns: list[str], rows: list[tuple[Any, ...]]
) -> int:
    cols = ", ".join(f'"{c}"' for c in columns)
    tmp = f"_eta_load_{table.name}"
    create = f'CREATE TEMP TABLE IF NOT EXISTS "{tmp}" (LIKE "{table.name}" INCLUDING DEFAULTS) '
    create += "ON COMMIT DROP"
    dbapi_error = conn.dialect.loaded_dbapi.Error
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with watchdog.watched(conn):
            cursor.execute(create)
            cursor.execute(f'TRUNCATE "{tmp}"')
            with cursor.copy(f'COPY "{tmp}" ({cols}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
    except dbapi_error as exc:  # the driver's own error, as SQLAlchemy raises it for every other statement
        raise DBAPIError.instance(f'COPY "{tmp}"', None, exc, dbapi_error) from exc
    finally:
        cursor.close()
    insert = f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} FROM "{tmp}" ON CONFLICT DO NOTHING'
    return int(conn.exec_driver_sql(insert).rowcount)
