"""The status of calls from the observations eta had received by ``now`` (``observed_at ≤ now``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, bindparam, func, or_, select

from eta.read import cancellations, passage
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
        Observation.estimated_departure,
        Observation.platform,
        Observation.terminal,
        Observation.cancelled,
        Observation.departure_cancelled,
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
    estimated_departure: datetime | None = None
    platform: str | None = None
    terminal: str | None = None
    cancelled: bool | None = None  # the arrival's (a call without one: its departure's)
    departure_cancelled: bool | None = None  # the departure's (:mod:`eta.read.cancellations`)
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
        if row.estimated_departure is not None:
            state.estimated_departure = row.estimated_departure
        if row.platform is not None:
            state.platform = row.platform
        if row.terminal is not None:
            state.terminal = row.terminal
        if row.cancelled is not None:
            state.cancelled = row.cancelled
        departure = cancellations.departure_of(row.cancelled, row.departure_cancelled)
        if departure is not None:
            state.departure_cancelled = departure
    return states


@dataclass(frozen=True)
class Passed:
    """A call its train or flight has passed, as known at ``now`` (:mod:`eta.read.passage`)."""

    arrived_at: datetime  # the arrival reported, else the time it is known by
    basis: str
    # when it became passed by the clock alone (due time passed); None: a report said so
    due_at: datetime | None = None


def passed_calls(
    calls: Sequence[Any], states: Mapping[int, CallState], now: datetime, modes: Mapping[int, str]
) -> dict[int, Passed]:
    """Which of ``calls`` have passed at ``now``: ``calls`` are every known call of their services (a
    later stop's report counts), ``states`` their status at ``now``, ``modes`` each service's mode."""
    out: dict[int, Passed] = {}
    for mode, part in _passage_frame(calls, states, modes):
        found = passage.passages(part, now, mode)
        rows = zip(found.index, found["arrived_at"], found["basis"], found["due_at"], strict=True)
        for call_id, arrived_at, basis, due_at in rows:
            by_clock = basis == passage.DUE_TIME_PASSED
            out[int(call_id)] = Passed(
                arrived_at.to_pydatetime(), str(basis), due_at.to_pydatetime() if by_clock else None
            )
    return out


def next_passage(
    calls: Sequence[Any], states: Mapping[int, CallState], now: datetime, modes: Mapping[int, str]
) -> datetime | None:
    """When one of ``calls`` next passes by the clock alone (:func:`eta.read.passage.next_due`)."""
    found = [passage.next_due(part, now, mode) for mode, part in _passage_frame(calls, states, modes)]
    return min((at for at in found if at is not None), default=None)


def _passage_frame(
    calls: Sequence[Any], states: Mapping[int, CallState], modes: Mapping[int, str]
) -> list[tuple[str, pd.DataFrame]]:
    rows = []
    for call in calls:
        state = states.get(call.id) or CallState()
        rows.append(
            {
                "call_id": call.id,
                "service_id": call.service_id,
                "sequence": call.sequence,
                "scheduled_arrival": call.scheduled_arrival,
                "scheduled_departure": call.scheduled_departure,
                "estimated_arrival": state.estimated_arrival,
                "estimated_departure": state.estimated_departure,
                "actual_arrival": state.actual_arrival,
                "actual_departure": state.actual_departure,
                "cancelled": state.cancelled,
                "departure_cancelled": state.departure_cancelled,
                "mode": modes.get(call.service_id, ""),
            }
        )
    if not rows:
        return []
    return [(str(mode), part) for mode, part in pd.DataFrame(rows).groupby("mode")]


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
