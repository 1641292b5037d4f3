"""Rendered trip answers: reused while the store and the clock allow, exact at every request, never stale.

Each test runs one app with the answer cache and compares it with one without it, on the same store
and clock: whatever the cache does, the two must answer the same bytes.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from eta.api.app import SERVING_GC_THRESHOLDS
from eta.api.deps import AppState
from eta.api.trip_cache import StoreGeneration
from eta.clock import ManualClock
from eta.store.schema import Call
from tests.api.helpers import add_observation, add_prediction, berlin, call_at

ICE_1011 = "/api/v1/trips/train/ICE/1011/2026-05-04"
MUNICH = "8000261"
TRIPS = [
    ICE_1011,
    "/api/v1/trips/train/ICE/1013/2026-05-04",
    "/api/v1/trips/train/ice/1011/2026-05-04",
]
# long enough that no poll happens during a test unless the test asks for one
NO_POLL = {"cache_ttl_s": 5, "store_poll_s": 3600}


def _state(client: TestClient) -> AppState:
    return client.app.state.eta  # type: ignore[attr-defined, no-any-return]


def _hits(client: TestClient) -> float:
    return _state(client).metrics.cache_hits._value.get()


def _pair(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient], **api: object
) -> tuple[TestClient, TestClient]:
    cached = make_client(seeded_url, clock, api=NO_POLL | api)
    fresh = make_client(seeded_url, clock)  # conftest: no answer cache
    assert _state(cached).trips is not None and _state(fresh).trips is None
    return cached, fresh


def _same(cached: TestClient, fresh: TestClient, path: str) -> bytes:
    got, want = cached.get(path), fresh.get(path)
    assert (got.status_code, got.headers["content-type"]) == (want.status_code, want.headers["content-type"])
    assert got.content == want.content, path
    return got.content


def test_reused_answers_are_exact_at_every_time_the_clock_shows(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    """as_of and ages follow the clock on a reused answer; stored rows appear when the clock passes them."""
    cached, fresh = _pair(seeded_url, clock, make_client)
    clock.now = berlin("2026-05-04 18:30")
    bodies = {path: _same(cached, fresh, path) for path in TRIPS}
    hits = _hits(cached)
    changed = 0
    for step_s in (0.25, 1, 7.5, 59, 301, 1800):
        clock.advance(step_s)
        for path in TRIPS:
            body = _same(cached, fresh, path)
            changed += body != bodies[path]
            bodies[path] = body
    assert changed == len(TRIPS) * 6  # as_of moves every time
    assert _hits(cached) - hits >= len(TRIPS) * 3  # and most of them were reused answers


def test_an_answer_is_rebuilt_once_the_clock_reaches_its_next_stored_row(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    """A replayed store holds rows for later times: a reused answer must not hide them."""
    cached, fresh = _pair(seeded_url, clock, make_client)
    _state(cached).trips.ahead = timedelta(0)  # type: ignore[union-attr]  # nothing built ahead
    clock.now = berlin("2026-05-04 19:40")
    before = cached.get(ICE_1011).json()
    rendered = _state(cached).trips.get(("/api/v1/trips/train/ICE/1011/2026-05-04", b""), clock.now)  # type: ignore[union-attr]
    assert rendered is not None and rendered.next_change is not None
    clock.now = rendered.next_change - timedelta(microseconds=1)
    hits = _hits(cached)
    _same(cached, fresh, ICE_1011)
    assert _hits(cached) == hits + 1  # nothing new is visible yet: reused
    clock.now = rendered.next_change
    after = _same(cached, fresh, ICE_1011)
    assert _hits(cached) == hits + 1  # rebuilt
    assert after != before


def test_new_predictions_are_served_after_the_next_poll_not_the_cached_answer(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    cached, fresh = _pair(seeded_url, clock, make_client)
    engine = _state(cached).engine
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), MUNICH)
    first = cached.get(ICE_1011).json()
    assert cached.get(ICE_1011).json()["calls"] == first["calls"]  # reused
    add_prediction(engine, call, clock.now - timedelta(seconds=5), 2_400, model_version="m-new")
    _state(cached).trips.generation.refresh()  # type: ignore[union-attr]  # what the poller does
    munich = next(c for c in cached.get(ICE_1011).json()["calls"] if c["location"]["code"] == MUNICH)
    assert munich["predicted"]["model_version"] == "m-new"
    assert munich["predicted"]["delay_s"] == 2_400
    _same(cached, fresh, ICE_1011)


def test_new_status_reports_are_served_after_the_next_poll(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    cached, fresh = _pair(seeded_url, clock, make_client)
    engine = _state(cached).engine
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), MUNICH)
    _same(cached, fresh, ICE_1011)
    add_observation(engine, call, clock.now - timedelta(seconds=1), platform="23", cancelled=True)
    _state(cached).trips.generation.refresh()  # type: ignore[union-attr]
    munich = next(c for c in cached.get(ICE_1011).json()["calls"] if c["location"]["code"] == MUNICH)
    assert (munich["status"], munich["platform"]["predicted"]) == ("cancelled", "23")
    _same(cached, fresh, ICE_1011)


def test_the_background_poll_sees_writes_within_a_few_polls(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    cached, fresh = _pair(seeded_url, clock, make_client, store_poll_s=0.05)
    engine = _state(cached).engine
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), MUNICH)
    _same(cached, fresh, ICE_1011)
    add_prediction(engine, call, clock.now - timedelta(seconds=5), 2_400, model_version="m-polled")
    deadline = time.monotonic() + 10
    while b"m-polled" not in cached.get(ICE_1011).content:
        assert time.monotonic() < deadline, "the new prediction was never served"
        time.sleep(0.05)
    _same(cached, fresh, ICE_1011)


def test_a_stalled_poll_is_not_trusted(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    """Without a recent poll the store may have changed unseen: answers are rebuilt, not reused."""
    cached, fresh = _pair(seeded_url, clock, make_client, store_poll_s=0.05)
    generation = _state(cached).trips.generation  # type: ignore[union-attr]
    generation.stop()
    _same(cached, fresh, ICE_1011)
    time.sleep(0.15)  # more than two polls missed
    assert generation.current() is None
    hits = _hits(cached)
    engine = _state(cached).engine
    add_prediction(
        engine, call_at(engine, "ICE", "1011", date(2026, 5, 4), MUNICH), clock.now, 600, model_version="m-x"
    )
    assert b"m-x" in _same(cached, fresh, ICE_1011)
    assert _hits(cached) == hits


def test_rate_limit_and_date_range_apply_to_reused_answers(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    cached = make_client(
        seeded_url, clock, api=NO_POLL | {"rate_limit_per_minute": 60, "rate_limit_burst": 3}
    )
    fresh = make_client(seeded_url, clock, api={"rate_limit_per_minute": 60, "rate_limit_burst": 3})
    for client in (cached, fresh):
        assert [client.get(ICE_1011).status_code for _ in range(3)] == [200, 200, 200]
    assert _hits(cached) == 2
    limited, want = cached.get(ICE_1011), fresh.get(ICE_1011)
    assert limited.status_code == 429
    assert (limited.headers["retry-after"], limited.content) == (want.headers["retry-after"], want.content)
    assert "eta_rate_limited_requests_total 1.0" in cached.get("/metrics").text

    cached, fresh = _pair(seeded_url, clock, make_client)
    _same(cached, fresh, ICE_1011)
    clock.advance(9 * 86_400)  # 4 May is now more than 7 days back
    late = _same(cached, fresh, ICE_1011)
    assert b"more than 7 days in the past" in late


@pytest.mark.parametrize(
    "path",
    ["/api/v1/trips/train/ICE/9999/2026-05-04", "/api/v1/trips/train/ICE/1011/2026-02-30"],
)
def test_problems_are_never_reused(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient], path: str
) -> None:
    cached, fresh = _pair(seeded_url, clock, make_client)
    for _ in range(2):
        _same(cached, fresh, path)
    assert _hits(cached) == 0


def test_the_route_template_labels_reused_answers_in_metrics(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    cached = make_client(seeded_url, clock, api=NO_POLL)
    for _ in range(3):
        cached.get(ICE_1011)
    assert _hits(cached) == 2
    route = "/api/v1/trips/{mode}/{operator}/{number}/{service_date}"
    line = f'eta_http_requests_total{{method="GET",route="{route}",status="2xx"}} 3.0'
    assert line in cached.get("/metrics").text.splitlines()


def test_generation_changes_with_every_write(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(seeded_url, clock)
    engine = _state(client).engine
    generation = StoreGeneration(engine, poll_s=3600)
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), MUNICH)
    seen = [generation.refresh()]
    add_prediction(engine, call, clock.now, 60, model_version="g1")
    seen.append(generation.refresh())
    add_observation(engine, call, clock.now, platform="1")
    seen.append(generation.refresh())
    assert len(set(seen)) == 3
    assert generation.current() == seen[-1]


def test_eta_serve_freezes_what_start_up_made_and_tests_do_not(tmp_path: Path) -> None:
    """gc.freeze() keeps the long-lived start-up objects out of full collections (the p99 of answers), and
    the serving thresholds make collections rarer."""
    script = (
        "import gc\n"
        "from fastapi.testclient import TestClient\n"
        "from eta.api import asgi\n"
        "before = gc.get_freeze_count()\n"
        "with TestClient(asgi.app) as client:\n"
        "    assert client.get('/livez').status_code == 200\n"
        "    print(before, gc.get_freeze_count(), *gc.get_threshold())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETA_")} | {
        "ETA_DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}",
        "ETA_DATA_DIR": str(tmp_path),
        "ETA_ALERTS__CYCLE_INTERVAL_S": "0",
    }
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert int(out[0]) == 0 and int(out[1]) > 50_000
    assert tuple(int(n) for n in out[2:]) == SERVING_GC_THRESHOLDS != gc.get_threshold()
    assert gc.get_freeze_count() == 0  # this process started many apps and froze nothing


def test_the_answer_for_the_next_stored_row_is_built_ahead(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    """Replaying, trips change on the same minutes: their successors are ready when the clock gets there."""
    cached, fresh = _pair(seeded_url, clock, make_client)
    trips = _state(cached).trips
    assert trips is not None
    clock.now = berlin("2026-05-04 19:40")
    key = ("/api/v1/trips/train/ICE/1011/2026-05-04", b"")
    before = _same(cached, fresh, ICE_1011)
    upcoming = trips.get(key, clock.now).next_change  # type: ignore[union-attr]
    assert upcoming is not None
    clock.now = upcoming - timedelta(seconds=20)  # not yet within 10 s of it: nothing is built ahead
    _same(cached, fresh, ICE_1011)
    assert key not in trips._ahead
    clock.now = upcoming - timedelta(seconds=3)
    _same(cached, fresh, ICE_1011)  # reused, and starts the build for `upcoming`
    deadline = time.monotonic() + 10
    while key not in trips._ahead:
        assert time.monotonic() < deadline, "the successor was never built"
        time.sleep(0.01)
    hits = _hits(cached)
    clock.now = upcoming
    after = _same(cached, fresh, ICE_1011)
    assert _hits(cached) == hits + 1 and after != before  # the successor, as a fresh lookup has it


def test_the_timetable_is_read_again_in_the_background_before_it_runs_out(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    cached = make_client(seeded_url, clock, api=NO_POLL)
    trips = _state(cached).trips
    assert trips is not None
    key = ("/api/v1/trips/train/ICE/1011/2026-05-04", b"")
    first = cached.get(ICE_1011).json()
    engine = _state(cached).engine
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), MUNICH)
    with engine.begin() as conn:  # the timetable changes: a new planned platform
        conn.execute(Call.__table__.update().where(Call.id == call.id).values(planned_platform="99"))
    trips.ahead = timedelta(0)  # nothing is built for the next stored row
    trips.reread_ahead_s = 86_400  # every timetable part is now about to run out
    hits = _hits(cached)
    assert cached.get(ICE_1011).json() == first  # reused (the timetable is kept a while), and starts it
    deadline = time.monotonic() + 10
    while key not in trips._ahead:
        assert time.monotonic() < deadline, "the answer was never built again"
        time.sleep(0.01)
    munich = next(c for c in cached.get(ICE_1011).json()["calls"] if c["location"]["code"] == MUNICH)
    assert munich["platform"]["planned"] == "99"
    assert _hits(cached) == hits + 2


def test_an_unchanged_timetable_keeps_the_answer_longer_without_a_rebuild(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    cached, fresh = _pair(seeded_url, clock, make_client)
    trips = _state(cached).trips
    assert trips is not None
    key = ("/api/v1/trips/train/ICE/1011/2026-05-04", b"")
    before = _same(cached, fresh, ICE_1011)
    kept = trips._entries[key]
    trips.ahead = timedelta(0)  # nothing is built for the next stored row
    trips.reread_ahead_s = 86_400  # every timetable part is now about to run out
    hits = _hits(cached)
    assert _same(cached, fresh, ICE_1011) == before  # reused, and reads the timetable part again
    deadline = time.monotonic() + 10
    while trips._entries[key].expires == kept.expires:
        assert time.monotonic() < deadline, "the timetable part was never read again"
        time.sleep(0.01)
    assert key not in trips._ahead  # the same timetable: nothing was built again
    assert trips._entries[key].parts == kept.parts  # kept, with the new timetable part's expiry
    trips.reread_ahead_s = 0
    assert _same(cached, fresh, ICE_1011) == before
    assert _hits(cached) == hits + 2


def test_a_write_replaces_only_the_answers_of_the_trips_it_touches(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    cached, fresh = _pair(seeded_url, clock, make_client)
    other = "/api/v1/trips/train/ICE/1013/2026-05-04"
    for path in (ICE_1011, other):
        _same(cached, fresh, path)
    engine = _state(cached).engine
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), MUNICH)
    add_prediction(engine, call, clock.now - timedelta(seconds=5), 2_400, model_version="m-new")
    add_prediction(  # a backtest is never served: it replaces nothing
        engine,
        call_at(engine, "ICE", "1013", date(2026, 5, 4), MUNICH),
        clock.now - timedelta(seconds=5),
        60,
        model_version="m-backtest",
        purpose="backtest",
    )
    _state(cached).trips.generation.refresh()  # type: ignore[union-attr]
    hits = _hits(cached)
    assert b"m-new" in _same(cached, fresh, ICE_1011)
    assert _hits(cached) == hits  # rebuilt
    _same(cached, fresh, other)
    assert _hits(cached) == hits + 1  # reused: nothing was written for its calls


def test_an_answer_older_than_the_changes_remembered_is_rebuilt(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    cached, fresh = _pair(seeded_url, clock, make_client)
    generation = _state(cached).trips.generation  # type: ignore[union-attr]
    generation.MAX_CHANGES = 2
    other = "/api/v1/trips/train/ICE/1013/2026-05-04"
    _same(cached, fresh, other)
    engine = _state(cached).engine
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), MUNICH)
    for minutes in (1, 2, 3):  # three changes, none of them to ICE 1013
        add_observation(engine, call, clock.now - timedelta(minutes=minutes), platform=str(minutes))
        generation.refresh()
    assert not generation.unchanged(frozenset({-1}), generation.seq - 3, generation.seq)
    assert generation.unchanged(frozenset({-1}), generation.seq - 2, generation.seq)
    hits = _hits(cached)
    _same(cached, fresh, other)
    assert _hits(cached) == hits  # it could not tell: rebuilt


def test_a_store_read_that_hangs_does_not_hold_up_other_reads_of_the_generation(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    """Issue 21: the poll's read of the store was made under the lock that builds take for their own read;
    a database gone silent then hung every trip answer, and kept them hung after it came back."""
    engine = _state(make_client(seeded_url, clock)).engine
    generation = StoreGeneration(engine, poll_s=3600)
    entered, release = threading.Event(), threading.Event()
    hung: list[bool] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _hang_once(*_: object) -> None:
        if not hung:
            hung.append(True)
            entered.set()
            release.wait(60)  # the silent database, until the test lets it answer

    stuck = threading.Thread(target=generation.refresh)
    stuck.start()
    assert entered.wait(60)
    try:
        other = threading.Thread(target=generation.refresh)
        other.start()
        other.join(60)  # returns at once when no lock is held across the hung read
        assert not other.is_alive()
        assert generation.current() is not None
    finally:
        release.set()
        stuck.join(60)
    event.remove(engine, "before_cursor_execute", _hang_once)
