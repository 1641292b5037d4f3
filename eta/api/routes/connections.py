"""Traveller API: 'will I make my connection?' — two calls at one station and a minimum transfer time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from eta.api import schemas
from eta.api.deps import AppState, Now, RateLimited, State, check_service_date
from eta.api.problems import ApiProblem, problem_responses
from eta.model import departure, distribution
from eta.store.ids import LOCATION_CODE, SERVICE_NUMBER

router = APIRouter(prefix="/api/v1", tags=["traveller"], dependencies=[RateLimited])

TRIP = rf"^[A-Za-z0-9]{{1,16}}/{SERVICE_NUMBER.strip('^$')}/\d{{4}}-\d{{2}}-\d{{2}}$"
TRIP_HELP = "OPERATOR/NUMBER/SERVICE_DATE, e.g. ICE/1011/2026-05-04"
# Outcomes are whole minutes: a transfer of exactly the minimum holds (see eta.evaluation.connections).
TIE_S = 30.0


@router.get(
    "/connections/train/{station}",
    operation_id="get_connection",
    response_model=schemas.Connection,
    responses=problem_responses(404, 409, 422, 429),
)
async def get_connection(
    state: State,
    now: Now,
    station: Annotated[str, Path(pattern=LOCATION_CODE, description="EVA number of the station.")],
    arriving: Annotated[str, Query(pattern=TRIP, description=f"The train you arrive with: {TRIP_HELP}.")],
    leaving: Annotated[str, Query(pattern=TRIP, description=f"The train you want to catch: {TRIP_HELP}.")],
    min_transfer_s: Annotated[
        int, Query(ge=0, le=7200, description="The time you need to change trains, in seconds.")
    ] = 300,
) -> Response:
    """How likely is the change from one train to another at this station to work?"""
    first, second = _trip(arriving), _trip(leaving)
    for _, _, service_date in (first, second):
        check_service_date(service_date, now, state.settings)
    answer = await run_in_threadpool(_connection, state, now, station, first, second, min_transfer_s)
    return Response(answer.model_dump_json(), media_type="application/json")


def _trip(text: str) -> tuple[str, str, date]:
    operator, number, day = text.split("/")
    try:
        return operator, number, date.fromisoformat(day)
    except ValueError:
        raise ApiProblem(
            422,
            f"{day} is not a date (YYYY-MM-DD)",
            type_="/problems/invalid-request",
            title="Invalid request",
        ) from None


def _call_at(trip: schemas.Trip, station: str, event: str) -> schemas.Arrival:
    """The trip's call at ``station`` with an arrival (``event`` arrival) or a departure."""
    calls = [c for c in trip.calls if c.location.code == station]
    last = trip.calls[-1].sequence if trip.calls else None
    if event == "arrival":
        found = [c for c in calls if c.scheduled_arrival is not None]
    else:
        found = [c for c in calls if c.scheduled_departure is not None or c.sequence != last]
    if not found:
        service = f"{trip.service.operator} {trip.service.number}"
        verb = "arrive at" if event == "arrival" else "leave from"
        raise ApiProblem(404, f"{service} does not {verb} {station}", title="Not found")
    return found[0]


def _cancelled(trip: schemas.Trip, call: schemas.Arrival, verb: str, event: str) -> ApiProblem:
    """The operator cancelled the event a connection needs (a train ending early keeps its arrival and
    loses its departure; one starting late the other way round)."""
    service = f"{trip.service.operator} {trip.service.number}"
    place = call.location.name or call.location.code
    return ApiProblem(
        409,
        f"{service} does not {verb} {place}: its {event} there is cancelled",
        type_="/problems/cancelled",
        title="Cancelled",
    )


def _connection(
    state: AppState,
    now: datetime,
    station: str,
    first: tuple[str, str, date],
    second: tuple[str, str, date],
    min_transfer_s: int,
) -> schemas.Connection:
    with state.engine.connect() as conn:
        trip_in, _, _ = state.lookup.trip_and_skeleton(conn, "train", *first, None, now)
        trip_out, _, _ = state.lookup.trip_and_skeleton(conn, "train", *second, None, now)
    call_in, call_out = _call_at(trip_in, station, "arrival"), _call_at(trip_out, station, "departure")
    if call_in.status == "cancelled":
        raise _cancelled(trip_in, call_in, "arrive at", "arrival")
    if call_out.departure_cancelled:
        raise _cancelled(trip_out, call_out, "leave", "departure")
    arriving, arrival_rows = _arriving(trip_in, call_in)
    forecast = departure.forecast(state.engine, int(call_out.call_id), now)
    if forecast is None:
        raise ApiProblem(
            409,
            "no departure model serves trains yet (eta train --task departure, then eta promote)",
            type_="/problems/no-prediction",
            title="No prediction",
        )
    leaving, departure_rows = _leaving(trip_out, call_out, forecast)
    assert call_in.scheduled_arrival is not None  # _call_at chose a call with one
    slack = (forecast.scheduled - call_in.scheduled_arrival).total_seconds() - min_transfer_s
    # delays relative to each call's schedule: the arrival's against its scheduled arrival
    probability = distribution.connection_probability(arrival_rows, departure_rows, np.array([slack + TIE_S]))
    return schemas.Connection(
        location=call_in.location,
        as_of=now,
        min_transfer_s=min_transfer_s,
        scheduled_transfer_s=int((forecast.scheduled - call_in.scheduled_arrival).total_seconds()),
        probability=round(float(probability[0]), 3),
        arriving=arriving,
        leaving=leaving,
    )


def _point(delay_s: float) -> np.ndarray:
    """A known event as a distribution: every quantile on it."""
    return np.full((1, len(distribution.LEVELS)), delay_s)


def _end(
    trip: schemas.Trip,
    call: schemas.Arrival,
    scheduled: datetime,
    basis: str,
    rows: np.ndarray,
    version: str | None,
) -> schemas.ConnectionEnd:
    offsets = rows[0]
    at = {level: scheduled + _seconds(offsets[distribution.LEVELS.index(level)]) for level in (0.1, 0.5, 0.9)}
    known = basis != "predicted"
    return schemas.ConnectionEnd(
        service=trip.service,
        call_id=call.call_id,
        scheduled=scheduled,
        basis=basis,  # type: ignore[arg-type]
        actual=at[0.5] if known else None,
        p10=None if known else at[0.1],
        p50=None if known else at[0.5],
        p90=None if known else at[0.9],
        model_version=version,
    )


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=float(np.rint(value)))


def _arriving(trip: schemas.Trip, call: schemas.Arrival) -> tuple[schemas.ConnectionEnd, np.ndarray]:
    """The first train's arrival: as it happened, or its served prediction's quantiles."""
    scheduled = call.scheduled_arrival
    assert scheduled is not None
    if call.actual_arrival is not None:
        rows = _point((call.actual_arrival - scheduled).total_seconds())
        return _end(trip, call, scheduled, "arrived", rows, None), rows
    predicted = call.predicted
    if predicted is None or not predicted.quantiles:
        raise ApiProblem(
            409,
            f"no prediction for {trip.service.operator} {trip.service.number} at {call.location.code} yet"
            + (f": {call.unpredicted_reason}" if call.unpredicted_reason else ""),
            type_="/problems/no-prediction",
            title="No prediction",
        )
    rows = np.array([[(q.arrival - scheduled).total_seconds() for q in predicted.quantiles]])
    return _end(trip, call, scheduled, "predicted", rows, predicted.model_version), rows


def _leaving(
    trip: schemas.Trip, call: schemas.Arrival, forecast: departure.DepartureForecast
) -> tuple[schemas.ConnectionEnd, np.ndarray]:
    """The second train's departure: as it happened, or the departure model's quantiles (times in the
    station's offset, as the trip gives them)."""
    local = call.scheduled_departure or call.scheduled_arrival
    scheduled = forecast.scheduled.astimezone(local.tzinfo if local is not None else UTC)
    if forecast.departed_at is not None:
        rows = _point((forecast.departed_at - scheduled).total_seconds())
        return _end(trip, call, scheduled, "departed", rows, None), rows
    assert forecast.quantiles_s is not None
    rows = forecast.quantiles_s[None, :]
    return _end(trip, call, scheduled, "predicted", rows, forecast.model_version), rows
