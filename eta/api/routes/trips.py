"""Traveller API: one trip (a flight leg or a train run) with a prediction for each of its calls."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from eta.api.deps import Now, RateLimited, State, check_service_date
from eta.api.problems import problem_responses
from eta.api.schemas import Trip

router = APIRouter(prefix="/api/v1", tags=["traveller"], dependencies=[RateLimited])

CODE = r"^[A-Za-z0-9]{1,16}$"


class Mode(StrEnum):
    flight = "flight"
    train = "train"


@router.get(
    "/trips/{mode}/{operator}/{number}/{service_date}",
    operation_id="get_trip",
    response_model=Trip,
    responses=problem_responses(404, 409, 422, 429),
)
async def get_trip(
    state: State,
    now: Now,
    mode: Mode,
    operator: Annotated[str, Path(pattern=CODE, description="Carrier (UA) or train category (ICE).")],
    number: Annotated[str, Path(pattern=CODE, description="Flight or train number.")],
    service_date: Annotated[date, Path(description="Operating day, YYYY-MM-DD (local).")],
    leg: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9]{1,16}$", description="Departure airport of a flight leg.")
    ] = None,
) -> Response:
    """When will this flight or train arrive at each of its stops, and at which platform or gate?"""
    check_service_date(service_date, now, state.settings)
    key = ("trip", mode.value, operator, number, service_date, leg)

    def build() -> bytes:
        with state.engine.connect() as conn:
            trip = state.lookup.trip(conn, mode.value, operator, number, service_date, leg, now)
        return trip.model_dump_json().encode()

    body, hit = await state.answers.get_or_build(key, build)
    if hit:
        state.metrics.cache_hits.inc()
    return Response(body, media_type="application/json")
