"""Traveller API: find a trip by its number on a day, or a station or airport by its name or code."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Connection, func, or_, select

from eta.api.deps import Now, RateLimited, State, check_service_date
from eta.api.lookup import local, locations
from eta.api.problems import problem_responses
from eta.api.schemas import LocationRef, ServiceRef
from eta.store.schema import Call, Location, Service

router = APIRouter(prefix="/api/v1", tags=["traveller"], dependencies=[RateLimited])
QUERY = r"^[A-Za-z0-9 .:_-]{0,40}$"


class ServiceSuggestion(BaseModel):
    service: ServiceRef
    origin: LocationRef | None = Field(description="The first stop.")
    destination: LocationRef | None = Field(description="The last stop.")
    departure: datetime | None = Field(description="Scheduled departure from the first stop.")
    arrival: datetime | None = Field(description="Scheduled arrival at the last stop.")


class ServiceSuggestions(BaseModel):
    service_date: date
    services: list[ServiceSuggestion]


class LocationMatches(BaseModel):
    locations: list[LocationRef]


@router.get(
    "/services",
    operation_id="find_services",
    response_model=ServiceSuggestions,
    responses=problem_responses(422, 429),
)
def find_trips(
    state: State,
    now: Now,
    service_date: Annotated[date, Query(alias="date", description="Operating day, YYYY-MM-DD (local).")],
    q: Annotated[
        str,
        Query(pattern=QUERY, description="The start of the number, with or without its carrier or category."),
    ] = "",
    limit: Annotated[int, Query(ge=1, le=20, description="Most suggestions to return.")] = 10,
) -> ServiceSuggestions:
    """Trips eta knows on a day whose name starts with ``q`` ("ICE 10", "UA1", "1011"), for suggestions."""
    check_service_date(service_date, now, state.settings)
    wanted = "".join(q.split()).upper()
    statement = select(Service).where(Service.service_date == service_date)
    if wanted:
        name = func.upper(Service.operator + Service.number)
        statement = statement.where(
            or_(name.like(f"{_escape(wanted)}%", escape="\\"), Service.number == wanted)
        )
    statement = statement.order_by(func.length(Service.number), Service.operator, Service.number, Service.leg)
    with state.engine.connect() as conn:
        services = conn.execute(statement.limit(limit)).all()
        ends = _ends(conn, [s.id for s in services])
        places = locations(conn, {c.location for pair in ends.values() for c in pair})
    out = []
    for service in services:
        first, last = ends.get(service.id, (None, None))
        out.append(
            ServiceSuggestion(
                service=ServiceRef(
                    mode=service.mode,
                    operator=service.operator,
                    number=service.number,
                    service_date=service.service_date,
                    leg=service.leg,
                    line=service.line,
                    origin=first.location if first else service.origin,
                    destination=last.location if last else service.destination,
                ),
                origin=places.get(first.location) if first else None,
                destination=places.get(last.location) if last else None,
                departure=local(first.scheduled_departure, first.location_tz) if first else None,
                arrival=local(last.scheduled_arrival, last.location_tz) if last else None,
            )
        )
    return ServiceSuggestions(service_date=service_date, services=out)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _ends(conn: Connection, service_ids: list[int]) -> dict[int, tuple[Any, Any]]:
    """Per service, its first and its last call."""
    if not service_ids:
        return {}
    calls = conn.execute(
        select(
            Call.service_id,
            Call.sequence,
            Call.location,
            Call.location_tz,
            Call.scheduled_departure,
            Call.scheduled_arrival,
        )
        .where(Call.service_id.in_(service_ids))
        .order_by(Call.service_id, Call.sequence)
    ).all()
    ends: dict[int, tuple[Any, Any]] = {}
    for call in calls:
        first = ends.get(call.service_id, (call, call))[0]
        ends[call.service_id] = (first, call)
    return ends


@router.get(
    "/locations",
    operation_id="find_locations",
    response_model=LocationMatches,
    responses=problem_responses(422, 429),
)
def find_locations(
    state: State,
    q: Annotated[str, Query(min_length=1, max_length=128, description="Part of the name, or the code.")],
    limit: Annotated[int, Query(ge=1, le=20, description="Most matches to return.")] = 10,
) -> LocationMatches:
    """Stations and airports whose code is ``q`` or whose name contains it; those with trips first."""
    text = q.strip().lower()
    if not text:
        return LocationMatches(locations=[])
    pattern = f"%{_escape(text)}%"
    served = select(Call.location).where(Call.location == Location.code).exists()
    statement = (
        select(Location.code, Location.name, Location.tz)
        .where(or_(func.lower(Location.code) == text, func.lower(Location.name).like(pattern, escape="\\")))
        .order_by(
            (func.lower(Location.code) == text).desc(),
            served.desc(),
            func.lower(Location.name).like(f"{_escape(text)}%", escape="\\").desc(),
            func.length(Location.name),
            Location.code,
        )
        .limit(limit)
    )
    with state.engine.connect() as conn:
        rows = conn.execute(statement).all()
    return LocationMatches(locations=[LocationRef(code=c, name=n, tz=tz) for c, n, tz in rows])
