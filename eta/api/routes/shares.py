"""Share links: "share with whoever picks me up" — read-only, unguessable, expiring after the arrival."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from eta.api import shares
from eta.api.deps import Now, RateLimited, State, check_service_date
from eta.api.lookup import local
from eta.api.problems import ApiProblem, problem_responses
from eta.api.routes.subscriptions import TripKey, resolve_call
from eta.store.ids import LOCATION_CODE
from eta.store.schema import Service

router = APIRouter(prefix="/api/v1", tags=["shares"], dependencies=[RateLimited])
SHARE_ID = r"^shr_[A-Za-z0-9_-]{1,36}$"
_bearer = HTTPBearer(
    auto_error=False,
    description="Reading: the link's key (its fragment). Revoking: the revocation token given at creation.",
)


class ShareRequest(BaseModel):
    """Which arrival to share; nothing about the traveller."""

    model_config = ConfigDict(extra="forbid")
    trip: TripKey
    location: str | None = Field(
        default=None,
        pattern=LOCATION_CODE,
        description="The stop where the traveller is picked up; default: the trip's last stop.",
    )


class SharedTrip(BaseModel):
    mode: Literal["flight", "train"]
    operator: str
    number: str
    service_date: date
    leg: str | None = Field(description="Departure airport of a flight leg; null for trains.")


class ShareCreated(BaseModel):
    id: str
    key: str = Field(description="Opens the share: put it in the link's fragment (`/pickup/{id}#{key}`).")
    revoke_token: str = Field(description="Keep it: it revokes the link; shown once.")
    page: str = Field(description="The pick-up page, relative to this server.")
    location: str
    valid_until: datetime = Field(
        description="When the link stops working, as known now (after the arrival)."
    )
    revoke: str = Field(description="How to revoke it.")


class ShareInfo(BaseModel):
    id: str
    trip: SharedTrip = Field(description="Read the arrival with GET /api/v1/trips/… for this trip.")
    location: str = Field(description="The stop of the pick-up.")
    valid_until: datetime = Field(description="When the link stops working, as known now.")


Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
ShareId = Annotated[str, Path(pattern=SHARE_ID)]


def _secret(credentials: HTTPAuthorizationCredentials | None, what: str) -> str:
    if credentials is None or not credentials.credentials:
        raise ApiProblem(
            401, f"send {what} as Authorization: Bearer <…>", headers={"WWW-Authenticate": "Bearer"}
        )
    return credentials.credentials


@router.post(
    "/shares",
    operation_id="create_share",
    status_code=201,
    response_model=ShareCreated,
    responses=problem_responses(400, 404, 409, 413, 422, 429),
)
def create_share(state: State, now: Now, body: ShareRequest) -> ShareCreated:
    """A read-only link to one arrival for whoever picks the traveller up; it expires after the arrival."""
    check_service_date(body.trip.service_date, now, state.settings)
    with state.engine.connect() as conn:
        call = resolve_call(conn, body.trip, body.location, now)
    alerts = state.settings.alerts
    made = shares.create(state.engine, call.id, now, alerts.max_per_trip, alerts.keep_after_arrival_s)
    _, _, end = shares.open_share(state.engine, made.row.id, made.key, now, alerts.keep_after_arrival_s)
    return ShareCreated(
        id=made.row.id,
        key=made.key,
        revoke_token=made.revoke_token,
        page=f"/pickup/{made.row.id}#{made.key}",
        location=call.location,
        valid_until=local(end, call.location_tz),  # type: ignore[arg-type]
        revoke=f"DELETE /api/v1/shares/{made.row.id} with the header Authorization: Bearer <revoke_token>",
    )


@router.get(
    "/shares/{share_id}",
    operation_id="get_share",
    response_model=ShareInfo,
    responses=problem_responses(401, 404, 410, 422, 429),
)
def get_share(state: State, now: Now, share_id: ShareId, credentials: Credentials) -> ShareInfo:
    """What a share link shows: the trip and the stop (its key as the bearer token); 410 after the arrival."""
    key = _secret(credentials, "the link's key")
    try:
        _, call, end = shares.open_share(
            state.engine, share_id, key, now, state.settings.alerts.keep_after_arrival_s
        )
    except shares.ShareGone as gone:
        raise ApiProblem(
            410, str(gone), type_="/problems/share-expired", title="Share link expired"
        ) from None
    with state.engine.connect() as conn:
        service = conn.execute(select(Service).where(Service.id == call.service_id)).one()
    return ShareInfo(
        id=share_id,
        trip=SharedTrip(
            mode=service.mode,
            operator=service.operator,
            number=service.number,
            service_date=service.service_date,
            leg=service.leg or None,
        ),
        location=call.location,
        valid_until=local(end, call.location_tz),  # type: ignore[arg-type]
    )


@router.delete(
    "/shares/{share_id}",
    operation_id="delete_share",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 404, 422, 429),
)
def delete_share(state: State, share_id: ShareId, credentials: Credentials) -> Response:
    """Revoke the link now (with the revocation token given when it was made)."""
    shares.revoke(state.engine, share_id, _secret(credentials, "the revocation token"))
    return Response(status_code=204)
