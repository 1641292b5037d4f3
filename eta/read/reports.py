"""The status of calls from the observations eta had received by ``now`` (``observed_at ≤ now``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, bindparam, func, or_, select

from eta.read.timetable import IDS
from eta.store.queries import as_utc
from eta.store.schema import Call, Observation

_OBSERVATIONS = (
    select(
        Observation.call_id,
        Observation.observed_at,
        Observation.estimated_arrival,
        Observation.actual_arrival,
        Observation.actual_departure,
        Observation.platform,
        Observation.terminal,
        Observation.cancelled,
    )
    .where(Observation.call_id.in_(IDS), Observation.observed_at <= bindparam("now"))
    .order_by(Observation.observed_at, Observation.id)
)
_UNDER_WAY = (
    select(Call.service_id, func.max(Observation.observed_at))
    .join(Observation, Observation.call_id == Call.id)
    .where(
        Call.service_id.in_(IDS),
        Observation.observed_at <= bindparam("now"),
        or_(Observation.actual_departure.is_not(None), Observation.actual_arrival.is_not(None)),
    )
    .group_by(Call.service_id)
)
NEXT_OBSERVATION = select(func.min(Observation.observed_at)).where(
    Observation.call_id.in_(IDS), Observation.observed_at > bindparam("now")
)


@dataclass
class CallState:
    """What the observations received by ``now`` say about one call (latest non-empty value of each)."""

    estimated_arrival: datetime | None = None
    estimated_reported_at: datetime | None = None
    actual_arrival: datetime | None = None
    actual_departure: datetime | None = None
    platform: str | None = None
    terminal: str | None = None
    cancelled: bool | None = None
    last_report_at: datetime | None = None

    @property
    def moved(self) -> bool:
        return self.actual_arrival is not None or self.actual_departure is not None


def call_states(conn: Connection, call_ids: Sequence[int], now: datetime) -> dict[int, CallState]:
    states: dict[int, CallState] = defaultdict(CallState)
    if not call_ids:
        return states
    for row in conn.execute(_OBSERVATIONS, {"ids": list(call_ids), "now": now}).all():
        state = states[row.call_id]
        state.last_report_at = row.observed_at
        if row.estimated_arrival is not None:
            state.estimated_arrival = row.estimated_arrival
            state.estimated_reported_at = row.observed_at
        if row.actual_arrival is not None:
            state.actual_arrival = row.actual_arrival
        if row.actual_departure is not None:
            state.actual_departure = row.actual_departure
        if row.platform is not None:
            state.platform = row.platform
        if row.terminal is not None:
            state.terminal = row.terminal
        if row.cancelled is not None:
            state.cancelled = row.cancelled
    return states


def services_under_way(conn: Connection, service_ids: Iterable[int], now: datetime) -> dict[int, datetime]:
    """Services with an actual departure or arrival reported by ``now``, with their newest report time."""
    ids = list(set(service_ids))
    if not ids:
        return {}
    rows = conn.execute(_UNDER_WAY, {"ids": ids, "now": now}).all()
    return {sid: as_utc(at) for sid, at in rows}


def actual_arrival(conn: Connection, call_id: int, now: datetime) -> datetime | None:
    """The actual arrival of one call in its latest report observed by ``now`` (None: none yet)."""
    return conn.execute(
        select(Observation.actual_arrival)
        .where(
            Observation.call_id == call_id,
            Observation.actual_arrival.is_not(None),
            Observation.observed_at <= now,
        )
        .order_by(Observation.observed_at.desc(), Observation.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def actual_arrivals(conn: Connection, call_ids: list[int], now: datetime) -> pd.Series:
    """Per call, the actual arrival in its latest report observed by ``now`` (calls without one left out)."""
    frames = []
    for start in range(0, len(call_ids), 5000):
        chunk = call_ids[start : start + 5000]
        query = select(Observation.call_id, Observation.observed_at, Observation.actual_arrival).where(
            Observation.call_id.in_(chunk),
            Observation.actual_arrival.is_not(None),
            Observation.observed_at <= now,
        )
        frames.append(pd.DataFrame(conn.execute(query).mappings().all()))
    found = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if found.empty:
        return pd.Series(dtype="object")
    latest = found.sort_values("observed_at", kind="stable").drop_duplicates("call_id", keep="last")
    return latest.set_index("call_id")["actual_arrival"]
