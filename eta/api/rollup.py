"""Served predictions past their retention (``ETA_STORE__PREDICTIONS_KEEP_DAYS``): rolled up into daily
accuracy aggregates (``accuracy_daily``), then deleted with the sweep log of those days.

Each whole UTC day before the cutoff is scored as the operator accuracy scores it (the same samples, joined
with the actual arrivals: :func:`eta.api.accuracy.served_vs_actual`), kept as sums per mode, service date,
station, line and horizon band (:func:`eta.api.accuracy.partial_sums`), so ``/api/v1/operator/accuracy``
and the dashboard give the same figures for those days afterwards (the platform calibration plot only covers
the predictions still kept). A row in force across the cutoff stays; its samples before the last day rolled
up are counted there only.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta

import pandas as pd
from sqlalchemy import Engine, delete, func, select

from eta._time import ensure_utc
from eta.api.accuracy import KEYS, SUMS, partial_sums, rolled_until, served_vs_actual
from eta.config import Settings
from eta.store.bulk import insert_ignore
from eta.store.retention import Pruned
from eta.store.schema import AccuracyDaily, Prediction, PredictionSweep

log = logging.getLogger("eta.store.retention")
PART = timedelta(hours=6)  # scored a quarter of a day at a time: each part stays under accuracy.MAX_ROWS


def roll_up_predictions(
    engine: Engine, settings: Settings, now: datetime, *, dry_run: bool = False
) -> list[Pruned]:
    """Roll up and delete served predictions (and sweeps) older than the retention as of ``now``."""
    cutoff = datetime.combine(
        (ensure_utc(now) - timedelta(days=settings.store.predictions_keep_days)).date(), time(0), UTC
    )
    days = _days_to_roll(engine, cutoff)
    for day in days:
        if not dry_run:
            _roll_up_day(engine, day)
    old = func.coalesce(Prediction.confirmed_at, Prediction.made_at) < cutoff
    statements = {
        "predictions": delete(Prediction).where(old),
        "prediction_sweeps": delete(PredictionSweep).where(PredictionSweep.swept_at < cutoff),
    }
    out = [Pruned("accuracy_daily", -len(days), cutoff)]  # negative: days added, not rows removed
    for table, statement in statements.items():
        if dry_run:
            counted = select(func.count()).select_from(statement.table).where(statement.whereclause)  # type: ignore[arg-type]
            with engine.connect() as conn:
                out.append(Pruned(table, int(conn.execute(counted).scalar_one()), cutoff))
            continue
        with engine.begin() as conn:
            out.append(Pruned(table, int(conn.execute(statement).rowcount or 0), cutoff))
    return out


def _days_to_roll(engine: Engine, cutoff: datetime) -> list[datetime]:
    with engine.connect() as conn:
        first = conn.execute(
            select(func.min(Prediction.made_at)).where(Prediction.purpose == "served")
        ).scalar()
        done = rolled_until(conn)
    if first is None:
        return []
    first_day = (
        pd.Timestamp(first).tz_localize(UTC) if pd.Timestamp(first).tzinfo is None else pd.Timestamp(first)
    )
    day = datetime.combine(first_day.date(), time(0), UTC)
    if done is not None:
        day = max(day, done)
    out = []
    while day + timedelta(days=1) <= cutoff:
        out.append(day)
        day += timedelta(days=1)
    return out


def _roll_up_day(engine: Engine, day: datetime) -> None:
    parts = []
    for start in (day + PART * i for i in range(4)):
        frame = served_vs_actual(engine, start, start + PART - timedelta(microseconds=1))
        parts.append(partial_sums(frame))
    sums = pd.concat([p for p in parts if not p.empty] or [pd.DataFrame(columns=[*KEYS, *SUMS])])
    if sums.empty:  # a day with nothing to count is still marked as rolled up
        sums = pd.DataFrame(
            [
                {
                    **dict.fromkeys(SUMS, 0),
                    "mode": "",
                    "service_date": None,
                    "location": "",
                    "line": "",
                    "horizon": "",
                }
            ]
        )
    else:
        sums = sums.groupby(KEYS, sort=False, dropna=False)[SUMS].sum().reset_index()
    sums["day"] = day.date()
    with engine.begin() as conn:
        insert_ignore(conn, AccuracyDaily.__table__, sums)  # type: ignore[arg-type]
    log.info("rolled up the served predictions of %s: %d samples", day.date(), int(sums["n"].sum()))
