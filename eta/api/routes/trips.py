"""Traveller API: one trip (a flight leg or a train run) with a prediction for each of its calls."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.routing import APIRoute

from eta.api.arrive_by import with_arrive_by
from eta.api.deps import AppState, Now, RateLimited, State, check_service_date, rate_limit
from eta.api.problems import ApiProblem, problem_responses
from eta.api.schemas import Trip
from eta.api.trip_cache import RenderedTrip, render_template
from eta.read.changes import next_change
from eta.store.ids import SERVICE_NUMBER

CODE = r"^[A-Za-z0-9]{1,16}$"


class Mode(StrEnum):
    flight = "flight"
    train = "train"


class TripRoute(APIRoute):
    """Answers a request whose rendered trip is current straight away, without solving the route's
    parameters and dependencies again: the same path and query string were validated when it was built.

    What depends on the request still runs, in the same order: the rate limit, then the service-date
    range (it moves with the clock). Everything else (a miss, any error) goes through the route.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            state: AppState = request.app.state.eta
            if state.trips is not None:
                now = state.clock()
                rendered = state.trips.get(_request_key(request), now)
                if rendered is not None:
                    await rate_limit(request, state)
                    check_service_date(rendered.service_date, now, state.settings)
                    state.metrics.cache_hits.inc()
                    return Response(rendered.render(now), media_type="application/json")
            return await handler(request)

        return answer


router = APIRouter(prefix="/api/v1", tags=["traveller"], dependencies=[RateLimited], route_class=TripRoute)


def _request_key(request: Request) -> tuple[str, bytes]:
    return request.scope["path"], request.scope["query_string"]


@router.get(
    "/trips/{mode}/{operator}/{number}/{service_date}",
    operation_id="get_trip",
    response_model=Trip,
    responses=problem_responses(404, 409, 422, 429),
)
async def get_trip(
    request: Request,
    state: State,
    now: Now,
    mode: Mode,
    operator: Annotated[str, Path(pattern=CODE, description="Carrier (UA) or train category (ICE).")],
    number: Annotated[
        str, Path(pattern=SERVICE_NUMBER, description="Flight or train number (GTFS: the trip id).")
    ],
    service_date: Annotated[date, Path(description="Operating day, YYYY-MM-DD (local).")],
    leg: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9]{1,16}$", description="Departure airport of a flight leg.")
    ] = None,
    by: Annotated[
        datetime | None,
        Query(
            description="A time with its UTC offset (2026-05-04T19:45:00+02:00): each predicted call then "
            "says how likely it is to arrive by then (predicted.arrive_by_probability)."
        ),
    ] = None,
) -> Response:
    """When will this flight or train arrive at each of its stops, and at which platform or gate?"""
    check_service_date(service_date, now, state.settings)
    if by is not None and by.tzinfo is None:
        raise ApiProblem(
            422,
            f"by={by.isoformat()} has no UTC offset; write e.g. {by.isoformat()}+02:00",
            type_="/problems/naive-time",
            title="Time without offset",
        )

    def build() -> bytes:
        with state.engine.connect() as conn:
            trip, _, _ = state.lookup.trip_and_skeleton(
                conn, mode.value, operator, number, service_date, leg, now
            )
        return with_arrive_by(trip, by).model_dump_json().encode()

    trips = state.trips
    if trips is None:  # no answer cache: every lookup reads the store
        key = ("trip", mode.value, operator, number, service_date, leg)
        body, hit = await state.answers.get_or_build(key, build)
    else:

        def render(at: datetime, reread: bool = False) -> RenderedTrip | None:
            """The trip as known at ``at``: now, or the time of its next stored row (built ahead)."""
            seq = trips.current_seq()  # before the trip is read: never newer than what it shows
            with state.engine.connect() as conn:
                trip, skeleton, passing = state.lookup.trip_and_skeleton(
                    conn, mode.value, operator, number, service_date, leg, at, reread
                )
                stored = next_change(conn, [c.id for c in skeleton.calls], at)
                upcoming = min((t for t in (stored, passing) if t is not None), default=None)

            def recheck() -> float | None:
                """The timetable part read again: its new expiry if unchanged (the answer stands)."""
                with state.engine.connect() as conn:
                    again = state.lookup.skeleton(conn, mode.value, operator, number, service_date, leg, True)
                return again.expires if again.same_timetable(skeleton) else None

            return render_template(
                with_arrive_by(trip, by),
                calls=frozenset(c.id for c in skeleton.calls),
                seq=seq,
                built_for=at,
                next_change=upcoming,
                expires=skeleton.expires,
                rebuild=render,
                recheck=recheck,
            )

        rendered, hit = await trips.get_or_build(_request_key(request), now, lambda: render(now))
        if rendered is None:  # could not be cut at its per-request values (never seen): answer as built
            from starlette.concurrency import run_in_threadpool

            body = await run_in_threadpool(build)
        else:
            body = rendered.render(now)
    if hit:
        state.metrics.cache_hits.inc()
    return Response(body, media_type="application/json")
