"""Services, calls and locations: the timetable part of what is known.

A call is known at ``now`` from its ``known_since`` on (the fetch of the plan that listed it; NULL: known
before anything stored): boards, trips, the feed and alerts list only calls known at their clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Connection, Row, bindparam, func, or_, select

from eta.store.schema import Call, Location, Service

# Statements are built once: per request only the parameters change (SQLAlchemy caches the compiled SQL).
IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_SERVICES = select(Service).where(
    Service.mode == bindparam("mode"),
    Service.operator == bindparam("operator"),
    Service.number == bindparam("number"),
    Service.service_date == bindparam("service_date"),
)
_SERVICES_ANY_LEG = _SERVICES.order_by(Service.leg)
_SERVICES_ONE_LEG = _SERVICES.where(Service.leg == bindparam("leg")).order_by(Service.leg)
_SERVICES_BY_ID = select(Service).where(Service.id.in_(IDS))
# The order a run reaches its calls: by scheduled time (the arrival, else the departure), then sequence.
# Sequence alone is not that order: IRIS numbers the stops a change list adds from 100 on, after the trip's
# own stops, wherever they lie on the run (eta.read.passage.in_run_order orders frames the same way).
_RUN_AT = func.coalesce(Call.scheduled_arrival, Call.scheduled_departure)
_IN_RUN_ORDER = (Call.service_id, _RUN_AT.is_(None), _RUN_AT, Call.sequence)
_CALLS_OF = select(Call).where(Call.service_id == bindparam("service_id")).order_by(*_IN_RUN_ORDER)
_LOCATIONS = select(Location.code, Location.name, Location.tz).where(Location.code.in_(IDS))
NOW: BindParameter[Any] = bindparam("now")
KNOWN = or_(Call.known_since.is_(None), Call.known_since <= NOW)
_ARRIVALS_AT = (
    select(Call)
    .where(
        Call.location == bindparam("code"),
        Call.scheduled_arrival >= bindparam("window_from"),
        Call.scheduled_arrival <= bindparam("window_to"),
        KNOWN,
    )
    .order_by(Call.scheduled_arrival, Call.id)
    .limit(bindparam("limit"))
)
_LATE_AT = (
    select(Call)
    .where(
        Call.location == bindparam("code"),
        Call.scheduled_arrival >= bindparam("window_from"),
        Call.scheduled_arrival < bindparam("window_to"),
        KNOWN,
    )
    .order_by(Call.scheduled_arrival, Call.id)
)
_CALLS_OF_SERVICES = select(Call).where(Call.service_id.in_(IDS), KNOWN).order_by(*_IN_RUN_ORDER)
_DUE = (
    select(Call)
    .where(
        Call.scheduled_arrival >= bindparam("window_from"), Call.scheduled_arrival <= bindparam("window_to")
    )
    .where(KNOWN)
    .order_by(Call.service_id, Call.sequence)
)
NEXT_CALL = select(func.min(Call.known_since)).where(Call.id.in_(IDS), Call.known_since > NOW)


def known_by(now: datetime) -> ColumnElement[bool]:
    """The calls known at ``now``, as a condition on ``calls`` for queries built elsewhere."""
    return or_(Call.known_since.is_(None), Call.known_since <= now)


def is_known(call: Any, now: datetime) -> bool:
    return call.known_since is None or call.known_since <= now


def known_calls(calls: Sequence[Row[Any]], now: datetime) -> list[Row[Any]]:
    """Those of ``calls`` (rows read earlier, e.g. a cached timetable) known at ``now``."""
    return [call for call in calls if is_known(call, now)]


def find_services(
    conn: Connection, mode: str, operator: str, number: str, service_date: date, leg: str | None
) -> list[Row[Any]]:
    """Services by their key; operators and legs are matched as written, else in capitals ("ice" → "ICE")."""
    found: list[Row[Any]] = []
    for op in dict.fromkeys((operator, operator.upper())):
        params: dict[str, Any] = {
            "mode": mode,
            "operator": op,
            "number": number,
            "service_date": service_date,
        }
        if leg is None:
            found = list(conn.execute(_SERVICES_ANY_LEG, params).all())
        else:
            found = list(conn.execute(_SERVICES_ONE_LEG, params | {"leg": leg.upper()}).all())
        if found:
            break
    return found


def services_by_id(conn: Connection, ids: Iterable[int]) -> dict[int, Row[Any]]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    return {row.id: row for row in conn.execute(_SERVICES_BY_ID, {"ids": wanted}).all()}


def calls_of(conn: Connection, service_id: int) -> list[Row[Any]]:
    """The service's calls in the order its run reaches them."""
    return list(conn.execute(_CALLS_OF, {"service_id": service_id}).all())


def location_rows(conn: Connection, codes: Iterable[str]) -> list[tuple[str, str | None, str | None]]:
    """(code, name, time zone) of the known ones among ``codes``."""
    return [(code, name, tz) for code, name, tz in conn.execute(_LOCATIONS, {"ids": list(set(codes))})]


def call_known(conn: Connection, call_id: int, now: datetime) -> Row[Any] | None:
    """One call, if it is known at ``now``."""
    return conn.execute(select(Call).where(Call.id == call_id, known_by(now))).first()


def arrivals_at(
    conn: Connection, code: str, window_from: datetime, window_to: datetime, now: datetime, limit: int
) -> list[Row[Any]]:
    """Calls known at ``now`` scheduled to arrive at ``code`` within the window, in time order."""
    params = {"code": code, "window_from": window_from, "window_to": window_to, "now": now, "limit": limit}
    return list(conn.execute(_ARRIVALS_AT, params).all())


def calls_due(conn: Connection, window_from: datetime, window_to: datetime, now: datetime) -> list[Row[Any]]:
    """Calls known at ``now`` scheduled to arrive anywhere within the window, by service and sequence."""
    params = {"window_from": window_from, "window_to": window_to, "now": now}
    return list(conn.execute(_DUE, params).all())


def arrivals_before(
    conn: Connection, code: str, since: datetime, until: datetime, now: datetime
) -> list[Row[Any]]:
    """Calls known at ``now`` scheduled to arrive at ``code`` in [since, until): late ones still to come
    are among them."""
    params = {"code": code, "window_from": since, "window_to": until, "now": now}
    return list(conn.execute(_LATE_AT, params).all())


def calls_of_services(conn: Connection, service_ids: Iterable[int], now: datetime) -> list[Row[Any]]:
    """Every call known at ``now`` of these services, by service in the order its run reaches them."""
    ids = list(set(service_ids))
    if not ids:
        return []
    return list(conn.execute(_CALLS_OF_SERVICES, {"ids": ids, "now": now}).all())
