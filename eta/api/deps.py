"""The app's shared state and the ``Annotated`` dependencies routes declare."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader
from sqlalchemy import Connection, Engine

from eta._time import utcnow
from eta.api.accuracy_view import AccuracyView
from eta.api.apikeys import KeyInfo, verify_key
from eta.api.cache import AnswerCache
from eta.api.lookup import Lookup
from eta.api.metrics import ApiMetrics
from eta.api.origin import SAFE_METHODS, same_origin
from eta.api.problems import ApiProblem
from eta.api.ratelimit import TokenBuckets
from eta.api.readiness import Readiness
from eta.api.sessions import COOKIE, session_key
from eta.api.trip_cache import TripAnswers
from eta.clock import Clock
from eta.config import Settings

API_KEY_HEADER = "X-API-Key"


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    clock: Clock
    lookup: Lookup
    metrics: ApiMetrics
    readiness: Readiness
    buckets: TokenBuckets
    answers: AnswerCache
    creations: TokenBuckets  # subscriptions asked for, per client IP
    login_failures: TokenBuckets  # failed dashboard logins, per client IP
    scrapes: TokenBuckets  # /metrics, per client IP
    accuracy: AccuracyView | None = None  # the operator accuracy's precomputed join (eta.api.accuracy_view)
    trips: TripAnswers | None = None  # None: no answer cache (cache_ttl_s = 0)
    feed_cache: dict[str, object] = field(default_factory=dict)


async def get_state(request: Request) -> AppState:
    # async: cheap dependencies run on the event loop instead of a worker thread
    return request.app.state.eta


State = Annotated[AppState, Depends(get_state)]


def get_connection(state: State) -> Iterator[Connection]:
    with state.engine.connect() as conn:
        yield conn


Conn = Annotated[Connection, Depends(get_connection)]


async def get_now(state: State) -> datetime:
    return state.clock()


Now = Annotated[datetime, Depends(get_now)]


def client_ip(request: Request) -> str:
    """The client's address; behind trusted proxies, as they saw it (:mod:`eta.api.proxies`)."""
    return request.client.host if request.client else "unknown"


def _take(buckets: TokenBuckets, request: Request, state: AppState, what: str) -> None:
    """One token from the client IP's bucket in ``buckets``; 429 with Retry-After when it is empty."""
    wait = buckets.take(client_ip(request))
    if wait > 0:
        state.metrics.rate_limited.inc()
        retry = buckets.retry_after_s(wait)
        raise ApiProblem(
            429,
            f"too many {what} from this address; try again in {retry} s",
            type_="/problems/rate-limited",
            headers={"Retry-After": str(retry)},
        )


async def rate_limit(request: Request, state: State) -> None:
    """Token bucket per client IP for the public endpoints (traveller API, GTFS-RT feed)."""
    _take(state.buckets, request, state, "requests")


RateLimited = Depends(rate_limit)


async def scrape_limit(request: Request, state: State) -> None:
    """``/metrics``, per client IP, at the traveller rate but in buckets of its own: a scrape costs a walk
    over every series, and travellers sharing the scraper's address (a proxy without X-Forwarded-For) must
    not blind the monitoring that would show them being limited."""
    _take(state.scrapes, request, state, "scrapes")


ScrapeLimited = Depends(scrape_limit)


async def creation_limit(request: Request, state: State) -> None:
    """Subscriptions a client IP may ask for (each one costs a look-up and, later, deliveries)."""
    _take(state.creations, request, state, "subscriptions asked for")


CreationLimited = Depends(creation_limit)

_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="An operator API key.")
_session_cookie = APIKeyCookie(name=COOKIE, auto_error=False, description="Set by the dashboard login.")


def require_api_key(
    request: Request,
    state: State,
    header_key: Annotated[str | None, Security(_key_header)] = None,
    session: Annotated[str | None, Security(_session_cookie)] = None,
) -> KeyInfo:
    """Operator endpoints: a valid, unrevoked key (created with ``eta apikey create``), or the session of
    a dashboard login (then a state-changing request must come from eta's own pages)."""
    if header_key:
        found = verify_key(state.engine, header_key)
        if found is None:
            raise ApiProblem(
                401, "this API key is unknown or revoked", headers={"WWW-Authenticate": "ApiKey"}
            )
        return found
    if session:
        found = session_key(state.engine, session, utcnow())
        if found is not None:
            if request.method not in SAFE_METHODS and not same_origin(request):
                raise ApiProblem(403, "this request does not come from eta's own pages")
            return found
    raise ApiProblem(
        401,
        f"operator endpoints need an API key in the {API_KEY_HEADER} header",
        headers={"WWW-Authenticate": "ApiKey"},
    )


Operator = Annotated[KeyInfo, Depends(require_api_key)]


def check_service_date(service_date: date, now: datetime, settings: Settings) -> None:
    """Refuse dates far from today: they cannot have predictions, and they make lookups expensive."""
    today = now.date()
    earliest = today - timedelta(days=settings.api.max_days_back + 1)  # +1: time zones east and west of UTC
    latest = today + timedelta(days=settings.api.max_days_ahead + 1)
    if service_date < earliest:
        raise ApiProblem(
            422,
            f"service date {service_date} is more than {settings.api.max_days_back} days in the past",
            type_="/problems/date-out-of-range",
            title="Date out of range",
        )
    if service_date > latest:
        raise ApiProblem(
            422,
            f"service date {service_date} is more than {settings.api.max_days_ahead} days ahead",
            type_="/problems/date-out-of-range",
            title="Date out of range",
        )
