"""Read queries over the store: counts, time ranges, and "what was known at t" (as-of)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select

from eta._time import ensure_utc
from eta.store.schema import TABLES, Call, Observation, Service, metadata

STATE_FIELDS = (
    "estimated_arrival",
    "actual_arrival",
    "estimated_departure",
    "actual_departure",
    "platform",
    "cancelled",
    "departure_cancelled",
    "terminal",
    "estimated_runway_arrival",
    "actual_runway_arrival",
    "estimated_runway_departure",
    "actual_runway_departure",
)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else ensure_utc(value).isoformat()


def store_stats(engine: Engine) -> dict[str, Any]:
    """Rows per table, services and calls per mode, and the scheduled and observed time ranges."""
    with engine.connect() as conn:
        tables = {
            name: conn.execute(select(func.count()).select_from(metadata.tables[name])).scalar_one()
            for name in TABLES
        }
        modes: dict[str, dict[str, Any]] = {}
        per_mode = conn.execute(
            select(Service.mode, func.count()).group_by(Service.mode).order_by(Service.mode)
        ).all()
        for mode, n_services in per_mode:
            sched = func.coalesce(Call.scheduled_arrival, Call.scheduled_departure)
            n_calls, first, last = conn.execute(
                select(func.count(), func.min(sched), func.max(sched))
                .select_from(Call)
                .join(Service, Service.id == Call.service_id)
                .where(Service.mode == mode)
            ).one()
            first_date, last_date = conn.execute(
                select(func.min(Service.service_date), func.max(Service.service_date)).where(
                    Service.mode == mode
                )
            ).one()
            modes[mode] = {
                "services": n_services,
                "calls": n_calls,
                "first_service_date": str(first_date),
                "last_service_date": str(last_date),
                "first_scheduled": _as_text(first),
                "last_scheduled": _as_text(last),
            }
        first_obs, last_obs = conn.execute(
            select(func.min(Observation.observed_at), func.max(Observation.observed_at))
        ).one()
    return {
        "tables": tables,
        "modes": modes,
        "observed": {"first": _as_text(first_obs), "last": _as_text(last_obs)},
    }


def _as_text(value: object) -> str | None:
    """Aggregates bypass the column type on SQLite (text comes back); normalise to ISO 8601 UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return _iso(value if value.tzinfo else value.replace(tzinfo=UTC))
    return pd.Timestamp(str(value), tz="UTC").isoformat()


def as_utc(value: Any) -> datetime:
    """A time read from the store as an aware UTC datetime (aggregates bypass the column type on SQLite)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    return datetime.fromisoformat(str(_as_text(value)))


def observations_as_of(
    engine: Engine, t: datetime, call_ids: list[int] | None = None, since: datetime | None = None
) -> pd.DataFrame:
    """Every observation eta had received by ``t`` (observed_at ≤ t), optionally for some calls only."""
    t = ensure_utc(t)
    query = select(Observation).where(Observation.observed_at <= t)
    if since is not None:
        query = query.where(Observation.observed_at >= ensure_utc(since))
    if call_ids is not None:
        query = query.where(Observation.call_id.in_(call_ids))
    with engine.connect() as conn:
        frame = pd.read_sql(query.order_by(Observation.call_id, Observation.observed_at), conn)
    for col in (
        "observed_at",
        "estimated_arrival",
        "actual_arrival",
        "estimated_departure",
        "actual_departure",
        "estimated_runway_arrival",
        "actual_runway_arrival",
        "estimated_runway_departure",
        "actual_runway_departure",
    ):
        frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601")
    return frame


def latest_state(observations: pd.DataFrame) -> pd.DataFrame:
    """Per call, the latest non-missing value of each state field (observations sorted by time).

    This is "the state of a call as known at t" when given :func:`observations_as_of` ``(t)``.
    """
    if observations.empty:
        return pd.DataFrame(columns=["call_id", "last_observed_at", *STATE_FIELDS]).set_index("call_id")
    ordered = observations.sort_values(["call_id", "observed_at"])
    grouped = ordered.groupby("call_id")
    state = grouped[list(STATE_FIELDS)].last()
    state["last_observed_at"] = grouped["observed_at"].max()
    return state


def calls_of_same_services(
    engine: Engine,
    call_ids: list[int],
    chunk: int = 500,
    arriving_between: tuple[datetime, datetime] | None = None,
) -> list[int]:
    """Every call of the services these calls belong to (news at one stop moves the later ones);
    with ``arriving_between``, only those scheduled to arrive in that window."""
    found: set[int] = set()
    with engine.connect() as conn:
        for start in range(0, len(call_ids), chunk):
            services = select(Call.service_id).where(Call.id.in_(call_ids[start : start + chunk]))
            query = select(Call.id).where(Call.service_id.in_(services))
            if arriving_between is not None:
                low, high = (ensure_utc(t) for t in arriving_between)
                query = query.where(Call.scheduled_arrival >= low, Call.scheduled_arrival < high)
            found.update(conn.execute(query).scalars())
    return sorted(found)


def scheduled_span(
    engine: Engine, call_ids: list[int], chunk: int = 500
) -> tuple[datetime | None, datetime | None]:
    """The earliest and latest scheduled time (arrival, else departure) of these calls; None if none."""
    sched = func.coalesce(Call.scheduled_arrival, Call.scheduled_departure)
    first: datetime | None = None
    last: datetime | None = None
    with engine.connect() as conn:
        for start in range(0, len(call_ids), chunk):
            some = call_ids[start : start + chunk]
            query = select(func.min(sched), func.max(sched)).where(Call.id.in_(some))
            low, high = conn.execute(query).one()
            if low is not None:
                low, high = ensure_utc(low), ensure_utc(high)
                first = low if first is None else min(first, low)
                last = high if last is None else max(last, high)
    return first, last
