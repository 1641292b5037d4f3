"""Traveller API: the arrivals board of a station or airport over a time window."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import AwareDatetime

from eta._time import ensure_utc
from eta.api.deps import Now, RateLimited, State
from eta.api.problems import ApiProblem, problem_responses
from eta.api.schemas import Board
from eta.store.ids import LOCATION_CODE

router = APIRouter(prefix="/api/v1", tags=["traveller"], dependencies=[RateLimited])


@router.get(
    "/locations/{code}/arrivals",
    operation_id="get_arrivals_board",
    response_model=Board,
    responses=problem_responses(404, 422, 429),
)
async def get_arrivals_board(
    state: State,
    now: Now,
    code: Annotated[
        str,
        Path(
            pattern=LOCATION_CODE,
            description="EVA station number, IATA airport code or GTFS stop id (a named GTFS instance's "
            "`<instance>:<stop_id>`).",
        ),
    ],
    window_from: Annotated[
        AwareDatetime | None, Query(alias="from", description="Start of the window (RFC 3339); default now.")
    ] = None,
    window_to: Annotated[
        AwareDatetime | None, Query(alias="to", description="End of the window; default from + 2 h.")
    ] = None,
) -> Response:
    """Arrivals scheduled in the window, each with its prediction, platform and where to park."""
    api = state.settings.api
    start = ensure_utc(window_from) if window_from else now
    end = ensure_utc(window_to) if window_to else start + timedelta(seconds=api.board_default_window_s)
    if end < start:
        raise ApiProblem(
            422, "`to` is before `from`", type_="/problems/invalid-request", title="Invalid request"
        )
    if (end - start).total_seconds() > api.board_max_window_s:
        raise ApiProblem(
            422,
            f"the window is longer than {api.board_max_window_s // 3600} h; ask for a shorter one",
            type_="/problems/invalid-request",
            title="Invalid request",
        )
    horizon = timedelta(days=api.max_days_ahead + 1)
    past = timedelta(days=api.max_days_back + 1)
    if start > now + horizon or end < now - past:
        raise ApiProblem(
            422,
            f"the window must lie between {api.max_days_back} days ago and {api.max_days_ahead} days ahead",
            type_="/problems/date-out-of-range",
            title="Date out of range",
        )
    # a default window follows the clock: key it by its length so identical requests share an answer
    key = ("board", code, start if window_from else "now", end if window_to else api.board_default_window_s)

    def build() -> bytes:
        with state.engine.connect() as conn:
            board = state.lookup.board(conn, code, start, end, now, api.board_max_rows)
        return board.model_dump_json().encode()

    body, hit = await state.answers.get_or_build(key, build)
    if hit:
        state.metrics.cache_hits.inc()
    return Response(body, media_type="application/json")
