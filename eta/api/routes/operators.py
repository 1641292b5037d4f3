"""Operator API (API key required): accuracy, collectors, models."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from eta._time import ensure_utc
from eta.api import accuracy, status
from eta.api.accuracy_view import accuracy_frame
from eta.api.deps import Now, Operator, State
from eta.api.problems import ApiProblem, problem_responses

router = APIRouter(prefix="/api/v1/operator", tags=["operator"])
MAX_WINDOW = timedelta(days=92)


class AccuracyRow(BaseModel):
    group: str
    n: int = Field(description="Served predictions with a known actual arrival.")
    model_mae_s: float | None = Field(description="Mean absolute error of eta's P50.")
    timetable_mae_s: float | None = Field(description="Mean absolute error of the scheduled time.")
    operator_mae_s: float | None = Field(description="Mean absolute error of the operator's estimate then.")
    n_operator: int
    model_bias_s: float | None = Field(description="Mean of P50 minus actual (positive: too late).")
    p10_p90_coverage: float = Field(description="Share of actual arrivals inside P10–P90 (ideal 0.8).")
    n_platform: int
    platform_accuracy: float | None


class AccuracyReport(BaseModel):
    group_by: str
    window_from: datetime
    window_to: datetime
    mode: str | None
    rows: list[AccuracyRow]


class CollectorInfo(BaseModel):
    collector: str
    enabled: bool
    primed_at: datetime | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error_kind: str | None
    consecutive_failures: int
    circuit_open_until: datetime | None
    data_until: datetime | None
    data_age_s: int | None
    runs_24h: int
    failures_24h: int
    errors_24h: dict[str, int]
    rows_written_24h: int
    rows_quarantined_24h: int


class ServedCalibrationInfo(BaseModel):
    computed_at: datetime
    arrivals_from: datetime = Field(description="Fitted on predictions of calls scheduled to arrive from …")
    arrivals_until: datetime = Field(description="… until.")
    n: int = Field(description="Served predictions fitted on.")
    model_coverage_p10_p90: float = Field(
        description="Share of those arrivals inside the model's own P10–P90 (what was corrected)."
    )


class ModelInfo(BaseModel):
    version: str
    mode: str
    task: str
    role: str
    created_at: datetime
    promoted_at: datetime | None
    train_from: datetime
    train_until: datetime
    n_train: int
    metrics: dict[str, Any]
    served_calibration: ServedCalibrationInfo | None = Field(
        description="Arrival models: the newest re-calibration of the served P10–P90 interval on the "
        "model's own served predictions (none yet: the model's own interval is served)."
    )


def window(now: datetime, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = ensure_utc(end) if end else now
    start = ensure_utc(start) if start else end - timedelta(days=7)
    if start > end:
        raise ApiProblem(
            422, "`from` is after `to`", type_="/problems/invalid-request", title="Invalid request"
        )
    if end - start > MAX_WINDOW:
        raise ApiProblem(
            422,
            "the window may be at most 92 days",
            type_="/problems/invalid-request",
            title="Invalid request",
        )
    return start, end


@router.get(
    "/accuracy",
    operation_id="get_accuracy",
    response_model=AccuracyReport,
    responses=problem_responses(401, 422),
)
def get_accuracy(
    state: State,
    now: Now,
    _key: Operator,
    group_by: Literal["overall", "station", "line", "horizon", "day"] = "overall",
    mode: Literal["flight", "train"] | None = None,
    window_from: Annotated[
        AwareDatetime | None, Query(alias="from", description="Predictions made from.")
    ] = None,
    window_to: Annotated[
        AwareDatetime | None, Query(alias="to", description="Predictions made until.")
    ] = None,
) -> AccuracyReport:
    """Served predictions against actual arrivals, the timetable and the operator's estimates."""
    start, end = window(now, window_from, window_to)
    frame = accuracy_frame(state, start, end, now, mode)
    rows = accuracy.summarise(frame, group_by, accuracy.rolled_up(state.engine, start, end, mode))
    return AccuracyReport(
        group_by=group_by,
        window_from=start,
        window_to=end,
        mode=mode,
        rows=[AccuracyRow.model_validate(r) for r in rows],
    )


@router.get(
    "/collectors",
    operation_id="get_collectors",
    response_model=list[CollectorInfo],
    responses=problem_responses(401),
)
def get_collectors(state: State, now: Now, _key: Operator) -> list[CollectorInfo]:
    """Per collector: primed, freshness of its data, runs and errors by kind over the last 24 h."""
    rows = status.collector_status(state.engine, now, state.settings.collectors.enabled)
    return [CollectorInfo.model_validate(r) for r in rows]


@router.get(
    "/models",
    operation_id="get_models",
    response_model=list[ModelInfo],
    responses=problem_responses(401),
)
def get_models(state: State, now: Now, _key: Operator) -> list[ModelInfo]:
    """Champion and challenger models with their training window, metrics and served re-calibration."""
    return [ModelInfo.model_validate(r) for r in status.models(state.engine, now)]
