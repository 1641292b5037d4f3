"""Served predictions as known at ``now``: the one in force per call, and the updates since a time.

A prediction is in force from its ``made_at`` until the next one for the same call: the prediction in
force at ``now`` is the newest served one with ``made_at ≤ now`` (the last written wins a tie).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, func, select

from eta.read.timetable import IDS
from eta.store.schema import Prediction

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
