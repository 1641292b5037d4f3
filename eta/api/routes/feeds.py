"""The GTFS-Realtime TripUpdates feed (protobuf), with Last-Modified / If-Modified-Since."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated

from fastapi import APIRouter, Header, Response

from eta.api.deps import Now, RateLimited, State
from eta.api.problems import problem_responses
from eta.feeds.gtfs_rt import Feed, build_trip_updates

router = APIRouter(tags=["feeds"], dependencies=[RateLimited])
PROTOBUF = "application/x-protobuf"


@router.get(
    "/gtfs-rt/trip-updates",
    operation_id="get_gtfs_rt_trip_updates",
    response_class=Response,
    responses={
        200: {"content": {PROTOBUF: {}}, "description": "A GTFS-Realtime FeedMessage (FULL_DATASET)."},
        304: {"description": "Not modified since If-Modified-Since."},
        **problem_responses(422, 429),
    },
)
def get_trip_updates(
    state: State,
    now: Now,
    if_modified_since: Annotated[str | None, Header(description="An HTTP date.")] = None,
) -> Response:
    """Predicted arrivals as GTFS-RT TripUpdates; uncertainty = half the P10–P90 width."""
    feed = _cached_feed(state, now)
    headers = {"Cache-Control": "no-cache"}
    if feed.last_modified is not None:
        headers["Last-Modified"] = format_datetime(feed.last_modified.replace(microsecond=0), usegmt=True)
        since = _parse_http_date(if_modified_since)
        if since is not None and feed.last_modified.replace(microsecond=0) <= since:
            return Response(status_code=304, headers=headers)
    return Response(feed.body, media_type=PROTOBUF, headers=headers)


def _cached_feed(state: State, now: datetime) -> Feed:
    """Rebuilt at most once per answer-cache period; the feed is the same for every client."""
    ttl = state.settings.api.cache_ttl_s
    cached = state.feed_cache.get("trip-updates")
    if isinstance(cached, tuple) and ttl > 0 and time.monotonic() - cached[0] < ttl:
        return cached[1]
    api = state.settings.api
    with state.engine.connect() as conn:
        feed = build_trip_updates(conn, now, api.feed_window_back_s, api.feed_window_ahead_s)
    state.feed_cache["trip-updates"] = (time.monotonic(), feed)
    return feed


def _parse_http_date(text: str | None) -> datetime | None:
    """An unparsable If-Modified-Since is ignored, as RFC 9110 says."""
    if not text:
        return None
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
