"""Rows of a batch checked before it is written: values that fit their columns, reports that are plausible.

One bad row never stops a collector. A value longer than its column (which PostgreSQL refuses, failing
the whole batch) or a report of an arrival or departure implausibly far from its schedule (an estimate
in the year 2099, an arrival 10 hours early) is taken out of the batch with the rows that depend on it
(a service's calls, a call's references and reports), counted by kind and logged; the rest is written.
The payload stays archived, so a fixed parser can reprocess it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import String

from eta.collectors.base import Row, Rows
from eta.store.schema import metadata

# call id -> (scheduled arrival, scheduled departure)
Schedules = Callable[[set[int]], dict[int, tuple[datetime | None, datetime | None]]]
REPORTED = (
    ("actual_arrival", 0),
    ("estimated_arrival", 0),
    ("actual_departure", 1),
    ("estimated_departure", 1),
)


def check(rows: Rows, schedules: Schedules, max_early_s: int, max_late_s: int) -> Counter[str]:
    """Take invalid rows (and their dependents) out of ``rows``; how many of each kind."""
    rejected: Counter[str] = Counter()
    services = _drop(rows, "services", lambda r: _too_long("services", r), rejected)
    calls = _drop(
        rows,
        "calls",
        lambda r: "too_long" if _int(r.get("service_id")) in services else _too_long("calls", r),
        rejected,
        dependent_of=services,
    )
    for table in ("call_refs", "observations"):
        _drop(
            rows,
            table,
            lambda r, t=table: "too_long" if _int(r.get("call_id")) in calls else _too_long(t, r),  # type: ignore[misc]
            rejected,
            dependent_of=calls,
        )
    reports = rows.tables.get("observations", [])
    if reports:
        known = schedules({i for r in reports if (i := _int(r.get("call_id"))) is not None})
        early, late = timedelta(seconds=max_early_s), timedelta(seconds=max_late_s)
        _drop(rows, "observations", lambda r: _implausible(r, known, early, late), rejected)
    return rejected


def _drop(
    rows: Rows,
    table: str,
    why: Callable[[Row], str | None],
    rejected: Counter[str],
    dependent_of: set[int] | None = None,
) -> set[int]:
    """Remove the rows ``why`` names a kind for; the ids of the removed rows (``id`` or ``call_id``)."""
    kept, removed = [], set()
    for row in rows.tables.get(table, []):
        kind = why(row)
        if kind is None:
            kept.append(row)
            continue
        key = _int(row.get("id") if "id" in row else row.get("call_id"))
        if key is not None:
            removed.add(key)
        own = dependent_of is None or _int(row.get("service_id" if table == "calls" else "call_id")) not in (
            dependent_of
        )
        if own:  # rows taken out with the row they depend on are not counted again
            rejected[kind] += 1
    if table in rows.tables:
        rows.tables[table] = kept
    return removed


def _too_long(table: str, row: Row) -> str | None:
    columns = metadata.tables[table].c
    for name, value in row.items():
        if isinstance(value, str) and name in columns:
            column_type = columns[name].type
            if isinstance(column_type, String) and column_type.length and len(value) > column_type.length:
                return "too_long"
    return None


def _implausible(
    row: Row,
    schedules: dict[int, tuple[datetime | None, datetime | None]],
    early: timedelta,
    late: timedelta,
) -> str | None:
    scheduled = schedules.get(_int(row.get("call_id")) or 0, (None, None))
    for name, side in REPORTED:
        value = row.get(name)
        if not isinstance(value, datetime):
            continue
        planned = scheduled[side] or scheduled[1 - side]
        if planned is not None and not (planned - early <= value <= planned + late):
            return "implausible_time"
        observed = row.get("observed_at")
        if planned is None and isinstance(observed, datetime) and value > observed + late:
            return "implausible_time"
    return None


def _int(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None
