"""Opt-in alerts: subscribe to one trip's arrival at one stop, see it, delete it with its token."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator
from sqlalchemy import Connection, func, select

from eta.alerts import subscriptions, web_push
from eta.api.deps import CreationLimited, Now, RateLimited, State, check_service_date
from eta.api.lookup import find_services, local
from eta.api.problems import ApiProblem, problem_responses
from eta.errors import InputError, NotFoundError
from eta.read.timetable import calls_of, known_calls
from eta.store.ids import LOCATION_CODE, SERVICE_NUMBER
from eta.store.schema import Call, NotificationDelivery

router = APIRouter(prefix="/api/v1", tags=["alerts"], dependencies=[RateLimited])
CODE = r"^[A-Za-z0-9]{1,16}$"
SUB_ID = r"^sub_[A-Za-z0-9_-]{1,36}$"
_bearer = HTTPBearer(auto_error=False, description="The token returned when the subscription was made.")


class TripKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["flight", "train"]
    operator: str = Field(pattern=CODE)
    number: str = Field(pattern=SERVICE_NUMBER)
    service_date: date
    leg: str | None = Field(default=None, pattern=CODE, description="Departure airport of a flight leg.")


class WatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    platform_change: bool = Field(
        default=True, description="Notify when the platform or gate changes (as the operator announces it)."
    )
    predicted_platform_change: bool = Field(
        default=False,
        description="Also notify when eta's predicted platform changes before the operator announces one "
        "(a prediction, sent with its probability; needs platform_change).",
    )
    arrival_change: bool = Field(default=True, description="Notify when the predicted arrival moves.")
    arrival_threshold_s: int | None = Field(
        default=None, ge=60, le=86_400, description="How far it must move (default: the service's setting)."
    )


class WebhookRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000, description="https URL receiving Standard Webhooks POSTs.")


class PushKeysRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    p256dh: str = Field(max_length=100, description="The browser's P-256 public key (base64url).")
    auth: str = Field(max_length=40, description="The browser's 16-byte auth secret (base64url).")


class WebPushRequest(BaseModel):
    """A browser's ``PushSubscription.toJSON()``, as it comes (made with ``/web-push/public-key``)."""

    model_config = ConfigDict(extra="forbid")
    endpoint: str = Field(max_length=2000, description="The push service URL of this browser.")
    expirationTime: int | None = Field(  # noqa: N815 (the browser's own name)
        default=None, description="Ignored: the subscription ends after the arrival anyway."
    )
    keys: PushKeysRequest


class SubscriptionRequest(BaseModel):
    """Only what is needed to send the alert; anything else in the body is refused."""

    model_config = ConfigDict(extra="forbid")
    trip: TripKey
    location: str | None = Field(
        default=None,
        pattern=LOCATION_CODE,
        description="The stop to watch (station or airport code); default: the trip's last stop.",
    )
    watch: WatchRequest = Field(default_factory=WatchRequest)
    travel_time_s: int | None = Field(
        default=None,
        ge=0,
        le=86_400,
        description="Your own travel time to the station or airport; enables the time-to-leave notice.",
    )
    webhook: WebhookRequest | None = Field(default=None, description="Where to POST signed webhooks.")
    web_push: WebPushRequest | None = Field(default=None, description="Or: a browser to send Web Push to.")
    consent: StrictBool = Field(  # a JSON true, not "yes", "on" or 1 that lax parsing would take
        description=(
            "Must be the JSON value true: you agree that eta stores the webhook URL or push subscription "
            "until the trip has arrived."
        )
    )

    @model_validator(mode="after")
    def _one_channel(self) -> SubscriptionRequest:
        if (self.webhook is None) == (self.web_push is None):
            raise ValueError("give exactly one of webhook and web_push")
        return self

    @field_validator("consent")
    @classmethod
    def _needs_consent(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError('alerts need your explicit consent: send "consent": true')
        return value


class WatchInfo(BaseModel):
    platform_change: bool
    predicted_platform_change: bool = False
    arrival_threshold_s: int | None


def _watch_info(row: Any) -> WatchInfo:
    return WatchInfo(
        platform_change=row.watch_platform,
        predicted_platform_change=bool(row.watch_predicted_platform),
        arrival_threshold_s=row.arrival_threshold_s,
    )


class SubscriptionCreated(BaseModel):
    id: str
    token: str = Field(description="Keep it: it is needed to see or delete the subscription; shown once.")
    channel: Literal["webhook", "web_push"]
    secret: str | None = Field(
        description="Webhooks: the Standard Webhooks signing secret (whsec_…), shown once; Web Push: null."
    )
    call_id: str
    location: str
    watch: WatchInfo
    travel_time_s: int | None
    expires_at: datetime = Field(description="When it is deleted (after the arrival).")
    delete: str = Field(description="How to delete it.")


class Deliveries(BaseModel):
    pending: int
    delivered: int
    failed: int


class SubscriptionInfo(BaseModel):
    id: str
    channel: Literal["webhook", "web_push"]
    call_id: str
    location: str
    watch: WatchInfo
    travel_time_s: int | None
    active: bool
    disabled_reason: Literal["failing"] | None = Field(
        description='"failing" once deliveries were refused or given up: nothing more about the target.'
    )
    expires_at: datetime
    notified_arrival: datetime | None
    notified_platform: str | None
    leave_notified_at: datetime | None
    deliveries: Deliveries


def resolve_call(conn: Connection, key: TripKey, location: str | None, now: datetime) -> Any:
    """The call of the trip ``key`` at ``location`` (default: its last stop) among those known at ``now``;
    404, or 409 when the flight number has several legs that day and none is given."""
    services = find_services(
        conn, key.mode, key.operator, key.number, key.service_date, key.leg.upper() if key.leg else None
    )
    if not services:
        raise NotFoundError(f"eta knows no {key.mode} {key.operator} {key.number} on {key.service_date}")
    if len(services) > 1:
        raise ApiProblem(
            409,
            "this flight number has several legs on that day; give trip.leg",
            type_="/problems/ambiguous-trip",
            title="More than one trip matches",
        )
    calls = known_calls(calls_of(conn, services[0].id), now)
    if not calls:
        raise NotFoundError(f"eta knew no {key.mode} {key.operator} {key.number} on {key.service_date} yet")
    if location is None:
        return calls[-1]
    matching = [c for c in calls if c.location == location]
    if not matching:
        raise InputError(f"this trip does not stop at {location}")
    return matching[-1]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise ApiProblem(
            401,
            "send the subscription's token as Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


Token = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
SubscriptionId = Annotated[str, Path(pattern=SUB_ID)]


# OpenAPI links: what a client (and schemathesis' stateful tests) does with a new subscription
_WITH_TOKEN = {
    "subscription_id": "$response.body#/id",
    "header.Authorization": "Bearer {$response.body#/token}",
}
CREATED_LINKS = {
    "GetSubscription": {
        "operationId": "get_subscription",
        "parameters": _WITH_TOKEN,
        "description": "See the subscription with the token it was created with.",
    },
    "DeleteSubscription": {
        "operationId": "delete_subscription",
        "parameters": _WITH_TOKEN,
        "description": "Delete the subscription with the token it was created with.",
    },
}


@router.post(
    "/subscriptions",
    operation_id="create_subscription",
    status_code=201,
    dependencies=[CreationLimited],
    response_model=SubscriptionCreated,
    responses={
        201: {"description": "Created", "links": CREATED_LINKS},
        **problem_responses(400, 404, 409, 413, 422, 429),
    },
)
def create_subscription(state: State, now: Now, body: SubscriptionRequest) -> SubscriptionCreated:
    """Opt in to alerts about one trip's arrival at one stop (signed webhooks, or Web Push)."""
    check_service_date(body.trip.service_date, now, state.settings)
    with state.engine.connect() as conn:
        call = resolve_call(conn, body.trip, body.location, now)
    threshold = None
    if body.watch.arrival_change:
        threshold = body.watch.arrival_threshold_s or state.settings.alerts.default_arrival_threshold_s
    push = body.web_push
    created = subscriptions.create(
        state.engine,
        state.settings,
        subscriptions.NewSubscription(
            call_id=call.id,
            target_url=push.endpoint if push else body.webhook.url,  # type: ignore[union-attr]
            watch_platform=body.watch.platform_change,
            watch_predicted_platform=body.watch.platform_change and body.watch.predicted_platform_change,
            arrival_threshold_s=threshold,
            travel_time_s=body.travel_time_s,
            push=subscriptions.PushKeys(push.keys.p256dh, push.keys.auth) if push else None,
        ),
        now,
    )
    row = created.row
    return SubscriptionCreated(
        id=row.id,
        token=created.token,
        channel=row.channel,
        secret=created.secret if row.channel == subscriptions.WEBHOOK else None,
        call_id=str(row.call_id),
        location=call.location,
        watch=_watch_info(row),
        travel_time_s=row.travel_time_s,
        expires_at=local(row.expires_at, call.location_tz),  # type: ignore[arg-type]
        delete=f"DELETE /api/v1/subscriptions/{row.id} with the header Authorization: Bearer <token>",
    )


@router.get(
    "/subscriptions/{subscription_id}",
    operation_id="get_subscription",
    response_model=SubscriptionInfo,
    responses=problem_responses(401, 404, 422, 429),
)
def get_subscription(state: State, subscription_id: SubscriptionId, credentials: Token) -> SubscriptionInfo:
    """A subscription's state (with its token)."""
    row = subscriptions.get(state.engine, subscription_id, _token(credentials))
    with state.engine.connect() as conn:
        counts = dict(
            conn.execute(
                select(NotificationDelivery.state, func.count())
                .where(NotificationDelivery.subscription_id == row.id)
                .group_by(NotificationDelivery.state)
            ).all()
        )
        tz = conn.execute(select(Call.location_tz, Call.location).where(Call.id == row.call_id)).one()
    return SubscriptionInfo(
        id=row.id,
        channel=row.channel,
        call_id=str(row.call_id),
        location=tz.location,
        watch=_watch_info(row),
        travel_time_s=row.travel_time_s,
        active=row.disabled_at is None,
        # what a target did is not told: a caller must not learn about addresses eta can reach
        disabled_reason=None if row.disabled_at is None else "failing",
        expires_at=local(row.expires_at, tz.location_tz),  # type: ignore[arg-type]
        notified_arrival=local(row.notified_arrival, tz.location_tz),
        notified_platform=row.notified_platform,
        leave_notified_at=local(row.leave_notified_at, tz.location_tz),
        deliveries=Deliveries(
            pending=counts.get("pending", 0),
            delivered=counts.get("delivered", 0),
            failed=counts.get("failed", 0),
        ),
    )


@router.delete(
    "/subscriptions/{subscription_id}",
    operation_id="delete_subscription",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 404, 422, 429),
)
def delete_subscription(state: State, subscription_id: SubscriptionId, credentials: Token) -> Response:
    """Delete the subscription and everything kept for it, now."""
    subscriptions.remove(state.engine, subscription_id, _token(credentials))
    return Response(status_code=204)


class WebPushKey(BaseModel):
    public_key: str = Field(
        description="The VAPID public key (base64url): the applicationServerKey of pushManager.subscribe()."
    )


@router.get(
    "/web-push/public-key",
    operation_id="get_web_push_public_key",
    response_model=WebPushKey,
    responses=problem_responses(404, 429),
)
def web_push_public_key(state: State) -> WebPushKey:
    """The key a browser subscribes with before asking for Web Push alerts."""
    keys = web_push.vapid(state.settings.alerts)
    if keys is None:
        raise NotFoundError("this server does not send Web Push; subscribe with a webhook")
    return WebPushKey(public_key=web_push.public_key(keys[0]))
