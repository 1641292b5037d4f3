"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from eta.api.deps import ScrapeLimited, State
from eta.api.problems import PROBLEM_JSON, problem_responses

# /livez and /readyz are not rate-limited: they answer a constant from memory (the readiness checks run in
# the background), cheaper than the 429 would be, and a probe answered 429 gets a healthy process restarted
# or taken out of rotation. /metrics walks every series, so it is limited (eta.api.deps.scrape_limit).
router = APIRouter(tags=["operations"])


class Live(BaseModel):
    status: str = Field(description="Always `ok` while the process answers.")


class Ready(BaseModel):
    status: str = Field(description="`ready` or `not ready`.")
    checks: dict[str, bool] = Field(description="store, model, collectors.")
    reasons: list[str] = Field(description="Why it is not ready (empty when ready).")
    champions: list[str] = Field(description="Champion model versions whose files were verified.")
    checked_at: str | None = Field(description="When the checks last ran (they run in the background).")


@router.get("/livez", operation_id="livez", response_model=Live)
async def livez() -> Response:
    """The process is up (nothing else is checked)."""
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get(
    "/readyz",
    operation_id="readyz",
    response_model=Ready,
    responses={503: {"model": Ready, "description": "Not ready; the body says why."}},
)
async def readyz(state: State) -> JSONResponse:
    """200 once the store answers, a champion model is verified and every enabled collector has run once."""
    snap = state.readiness.snapshot
    state.metrics.record_readiness(snap)
    body = Ready(
        status="ready" if snap.ready else "not ready",
        checks=snap.checks,
        reasons=snap.reasons,
        champions=snap.champions,
        checked_at=snap.checked_at.isoformat() if snap.checked_at else None,
    )
    return JSONResponse(body.model_dump(), status_code=200 if snap.ready else 503)


@router.get(
    "/metrics",
    operation_id="metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format."},
        **problem_responses(429),
    },
    dependencies=[ScrapeLimited],
)
async def metrics(state: State, request: Request) -> Response:
    """Prometheus metrics (request counts and latency by route template, alerts, readiness)."""
    state.metrics.record_readiness(state.readiness.snapshot)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


__all__ = ["PROBLEM_JSON", "problem_responses", "router"]
