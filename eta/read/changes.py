"""When what is known about some calls changes next: the first row stored for a time after ``now``
(a call becoming known, a served prediction, a status report)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from eta.read.predictions import NEXT_PREDICTION
from eta.read.reports import NEXT_OBSERVATION
from eta.read.timetable import NEXT_CALL
from eta.store.queries import as_utc


def next_change(conn: Connection, call_ids: Sequence[int], now: datetime) -> datetime | None:
    """The earliest served prediction, status report or plan of these calls stored for a time after ``now``.

    Until then, what a lookup at a later time reads from the store is what it reads at ``now``
    (unless rows are written meanwhile). Such rows exist when the clock replays recorded data.
    """
    if not call_ids:
        return None
    params = {"ids": list(call_ids), "now": now}
    # separate statements: as scalar subqueries of one, SQLite plans the second one ten times slower
    statements = (NEXT_PREDICTION, NEXT_OBSERVATION, NEXT_CALL)
    found = [conn.execute(statement, params).scalar() for statement in statements]
    return min((as_utc(value) for value in found if value is not None), default=None)
