"""Services, calls and locations: the timetable part of what is known."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import BindParameter, Connection, Row, bindparam, select

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
_CALLS_OF = select(Call).where(Call.service_id == bindparam("service_id")).order_by(Call.sequence)
_LOCATIONS = select(Location.code, Location.name, Location.tz).where(Location.code.in_(IDS))


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
    return list(conn.execute(_CALLS_OF, {"service_id": service_id}).all())


def location_rows(conn: Connection, codes: Iterable[str]) -> list[tuple[str, str | None, str | None]]:
    """(code, name, time zone) of the known ones among ``codes``."""
    return [(code, name, tz) for code, name, tz in conn.execute(_LOCATIONS, {"ids": list(set(codes))})]
