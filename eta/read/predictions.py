"""Served predictions as known at ``now``: the one in force per call, and the updates since a time.

A prediction is in force from its ``made_at`` until the next one for the same call: the prediction in
force at ``now`` is the newest served one with ``made_at ≤ now`` (the last written wins a tie).

Rows are written when a prediction changes materially (eta.model.on_change); a re-prediction that finds
it unchanged sets the row's ``confirmed_at``, and every sweep of the serving window is logged in
``prediction_sweeps``. So a row stands for every sweep of its mode from its ``made_at`` to its
``confirmed_at``: :func:`current_at` says which calls' predictions in force were current at a sweep
(:func:`latest_sweep`), and :func:`samples` gives each row once where it was made and once per later
sweep it stood for — exactly the rows a store writing every prediction would hold at those times, which
is what accuracy and the served calibration are computed on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Row, and_, bindparam, func, select

from eta.read.timetable import IDS
from eta.store.queries import as_utc
from eta.store.schema import Prediction, PredictionSweep

SERVED = "served"

_NEWEST = (
    select(Prediction.call_id, func.max(Prediction.made_at).label("made_at"))
    .where(Prediction.call_id.in_(IDS), Prediction.purpose == SERVED, Prediction.made_at <= bindparam("now"))
    .group_by(Prediction.call_id)
    .subquery()
)
_IN_FORCE = (
    select(Prediction)
    .join(_NEWEST, and_(Prediction.call_id == _NEWEST.c.call_id, Prediction.made_at == _NEWEST.c.made_at))
    .where(Prediction.purpose == SERVED)
    .order_by(Prediction.id)
)
NEXT_PREDICTION = select(func.min(Prediction.made_at)).where(
    Prediction.call_id.in_(IDS), Prediction.purpose == SERVED, Prediction.made_at > bindparam("now")
)


def in_force(conn: Connection, call_ids: Sequence[int], now: datetime) -> dict[int, Row[Any]]:
    """Per call, the served prediction in force at ``now`` (the newest made by ``now``)."""
    if not call_ids:
        return {}
    rows = conn.execute(_IN_FORCE, {"ids": list(call_ids), "now": now}).all()
    return {row.call_id: row for row in rows}  # the last written wins a tie


def in_force_one(conn: Connection, call_id: int, now: datetime) -> Row[Any] | None:
    """The served prediction of one call in force at ``now``."""
    return conn.execute(
        select(Prediction)
        .where(Prediction.call_id == call_id, Prediction.purpose == SERVED, Prediction.made_at <= now)
        .order_by(Prediction.made_at.desc(), Prediction.id.desc())
        .limit(1)
    ).first()


def made_between(
    conn: Connection, call_id: int, after: datetime | None, now: datetime, limit: int
) -> list[Row[Any]]:
    """The served predictions of one call made after ``after`` (None: from the first) and by ``now``,
    oldest first, at most ``limit``."""
    query = select(Prediction).where(
        Prediction.call_id == call_id, Prediction.purpose == SERVED, Prediction.made_at <= now
    )
    if after is not None:
        query = query.where(Prediction.made_at > after)
    return list(conn.execute(query.order_by(Prediction.made_at, Prediction.id).limit(limit)).all())


def latest_sweep(conn: Connection, mode: str, now: datetime) -> datetime | None:
    """When the serving window of ``mode`` was last swept by ``now`` (None: never)."""
    found = conn.execute(
        select(func.max(PredictionSweep.swept_at)).where(
            PredictionSweep.mode == mode, PredictionSweep.swept_at <= now
        )
    ).scalar()
    return None if found is None else as_utc(found)


def current_at(conn: Connection, call_ids: Sequence[int], at: datetime) -> set[int]:
    """The calls whose prediction in force at ``at`` was made or found unchanged at ``at`` (e.g. a sweep:
    what it predicted, whether or not it wrote a row)."""
    rows = in_force(conn, call_ids, at)
    return {
        call_id
        for call_id, row in rows.items()
        if row.made_at == at or (row.confirmed_at is not None and row.confirmed_at >= at)
    }


def sweep_times(conn: Connection, start: datetime, end: datetime) -> dict[str, pd.DatetimeIndex]:
    """Per mode, the sweeps logged in [start, end], oldest first."""
    rows = conn.execute(
        select(PredictionSweep.mode, PredictionSweep.swept_at)
        .where(PredictionSweep.swept_at >= start, PredictionSweep.swept_at <= end)
        .order_by(PredictionSweep.swept_at)
    ).all()
    out: dict[str, list[datetime]] = {}
    for mode, swept_at in rows:
        out.setdefault(mode, []).append(swept_at)
    return {mode: pd.DatetimeIndex(pd.to_datetime(times, utc=True)).unique() for mode, times in out.items()}


def samples(
    rows: pd.DataFrame, sweeps: dict[str, pd.DatetimeIndex], start: datetime, end: datetime
) -> pd.DataFrame:
    """Each served prediction row (columns ``mode``, ``made_at``, ``confirmed_at``) once at its
    ``made_at`` and once per later sweep of its mode up to its ``confirmed_at``, kept where that time
    ``sampled_at`` is in [start, end]. Rows keep their other columns; ``made_at`` stays the row's own."""
    if rows.empty:
        return rows.assign(sampled_at=pd.Series(dtype="datetime64[ns, UTC]"))
    rows = rows.reset_index(drop=True)
    made = pd.to_datetime(rows["made_at"], utc=True).astype("datetime64[ns, UTC]")
    confirmed = pd.to_datetime(rows["confirmed_at"], utc=True).astype("datetime64[ns, UTC]").fillna(made)
    index = [np.arange(len(rows))]
    at = [made.to_numpy()]
    for mode, times in sweeps.items():
        mine = np.flatnonzero((rows["mode"] == mode).to_numpy())
        if not len(mine) or not len(times):
            continue
        t = times.astype("datetime64[ns, UTC]").to_numpy()
        lo = np.searchsorted(t, made.to_numpy()[mine], side="right")  # after made_at: counted above
        hi = np.searchsorted(t, confirmed.to_numpy()[mine], side="right")
        counts = np.maximum(hi - lo, 0)
        starts = np.repeat(lo, counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        index.append(np.repeat(mine, counts))
        at.append(t[starts + offsets])
    out = rows.iloc[np.concatenate(index)].copy()
    out["sampled_at"] = pd.to_datetime(np.concatenate(at), utc=True)
    keep = (out["sampled_at"] >= pd.Timestamp(start)) & (out["sampled_at"] <= pd.Timestamp(end))
    return out[keep.to_numpy()].reset_index(drop=True)
