"""The live IRIS collector against a loopback server serving real recorded plan and fchg payloads."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from eta.collectors import archive
from eta.collectors.base import Payload, Request
from eta.collectors.registry import instance, make_adapter
from eta.collectors.runner import Runner
from eta.collectors.sources.db.iris_collector import DbIrisAdapter, parse_payload
from eta.config import Settings, get_settings
from eta.read.timetable import arrivals_at
from eta.store.queries import latest_state, observations_as_of
from eta.store.schema import Call, CallRef, CollectorRun, CollectorState, Observation, RawPayload, Service
from tests.collectors.loopback import Loopback, Reply
from tests.conftest import FIXTURES

IRIS = FIXTURES / "db_iris"
AACHEN_PLAN = (IRIS / "08000001_plan_10.xml").read_bytes()
AACHEN_FCHG = (IRIS / "08000001_fchg_10_EXCERPT.xml").read_bytes()
AT_10_05 = datetime(2024, 5, 9, 8, 5, tzinfo=UTC)  # 10:05 CEST


@pytest.fixture
def iris_settings(
    settings: Settings, loopback: Loopback, fast_http: None, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("ETA_COLLECTORS__DB_IRIS__BASE_URL", loopback.url)
    monkeypatch.setenv("ETA_COLLECTORS__DB_IRIS__STATIONS", '["8000001"]')
    monkeypatch.setenv("ETA_COLLECTORS__DB_IRIS__PLAN_HOURS_AHEAD", "0")
    monkeypatch.setenv("ETA_COLLECTORS__DB_IRIS__CLIENT_ID", "client-id-123")
    monkeypatch.setenv("ETA_COLLECTORS__DB_IRIS__API_KEY", "very-secret-key-456")
    get_settings.cache_clear()
    return get_settings()


def _aachen(loopback: Loopback) -> None:
    loopback.route(
        "/plan/8000001/240509/10", Reply(AACHEN_PLAN, content_type="application/xml; charset=utf-8")
    )
    loopback.route("/fchg/8000001", Reply(AACHEN_FCHG))
    loopback.route("/rchg/8000001", Reply(b'<timetable station="Aachen Hbf" eva="8000001"/>'))


def _call(store: Engine, stop_id: str) -> pd.Series:
    with store.connect() as conn:
        frame = pd.read_sql(
            select(Call).join(CallRef, CallRef.call_id == Call.id).where(CallRef.ref == stop_id), conn
        )
    assert len(frame) == 1, stop_id
    return frame.iloc[0]


def test_a_run_stores_planned_and_changed_times_and_platforms(
    store: Engine, iris_settings: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    _aachen(loopback)
    runner = make_runner(make_adapter("db-iris", iris_settings), store, iris_settings, now=AT_10_05)
    result = runner.run_once()
    assert result.ok, result.line()
    assert loopback.hits == ["/plan/8000001/240509/10", "/fchg/8000001"]
    assert loopback.headers_seen[0]["DB-Client-Id"] == "client-id-123"
    assert loopback.headers_seen[0]["DB-Api-Key"] == "very-secret-key-456"

    moved = _call(store, "7448894008162231514-2405091037-1")  # RB 10320, planned 10:37 on platform 6
    assert moved["planned_platform"] == "6"
    assert pd.Timestamp(moved["scheduled_departure"]) == pd.Timestamp("2024-05-09 08:37", tz="UTC")
    state = latest_state(observations_as_of(store, AT_10_05, [int(moved["id"])]))
    assert state.loc[moved["id"], "platform"] == "3"
    assert state.loc[moved["id"], "estimated_departure"] == pd.Timestamp("2024-05-09 08:42", tz="UTC")
    late = _call(store, "-818617874786858328-2405090809-24")  # ct 10:44, not yet happened at 10:05
    late_state = latest_state(observations_as_of(store, AT_10_05, [int(late["id"])]))
    assert late_state.loc[late["id"], "estimated_arrival"] == pd.Timestamp("2024-05-09 08:44", tz="UTC")
    assert pd.isna(late_state.loc[late["id"], "actual_arrival"])

    with store.connect() as conn:
        # the plan's 20, and ICE 2956 (an extra train, tl t="e") that only the change list names, at 19:13
        assert conn.execute(select(func.count()).select_from(Call)).scalar_one() == 21
        observed = conn.execute(
            select(func.min(Observation.observed_at), func.max(Observation.observed_at))
        ).one()
        assert observed == (AT_10_05, AT_10_05)  # known from the moment eta fetched them
        state_row = conn.execute(select(CollectorState)).one()
        assert state_row.primed_at == AT_10_05
        assert state_row.last_success_at == AT_10_05
        assert state_row.consecutive_failures == 0
        run = conn.execute(select(CollectorRun)).one()
        assert run.ok and run.rows_written == result.rows_written
        paths = conn.execute(select(RawPayload.path, RawPayload.status)).all()
    assert len(paths) == 2 and {status for _, status in paths} == {"parsed"}
    for path, _ in paths:  # archived byte for byte
        assert archive.read(iris_settings.data_dir, path) in (AACHEN_PLAN, AACHEN_FCHG)


def test_the_next_run_fetches_no_plan_twice_and_only_recent_changes(
    store: Engine, iris_settings: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    _aachen(loopback)
    runner = make_runner(make_adapter("db-iris", iris_settings), store, iris_settings, now=AT_10_05)
    first = runner.run_once()
    runner.clock = lambda: AT_10_05 + timedelta(minutes=2)
    second = runner.run_once()
    assert loopback.hits[2:] == ["/rchg/8000001"]
    assert second.ok and second.rows_written == 0 and first.rows_written > 0


def test_an_unchanged_full_change_list_adds_no_rows(
    store: Engine, iris_settings: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    _aachen(loopback)
    adapter = DbIrisAdapter(
        instance("db-iris", iris_settings).config.model_copy(update={"full_changes_every_s": 0})
    )
    runner = make_runner(adapter, store, iris_settings, now=AT_10_05)
    runner.run_once()
    with store.connect() as conn:
        before = conn.execute(select(func.count()).select_from(Observation)).scalar_one()
    # a fresh process (no caches) one minute later: the same fchg says nothing new
    again = make_runner(adapter, store, iris_settings, now=AT_10_05 + timedelta(minutes=1))
    result = again.run_once()
    assert loopback.hits[-1] == "/fchg/8000001"
    assert result.ok and result.written["observations"] == 0 and result.unchanged == before


def test_a_cancelled_departure_is_stored_as_cancelled(
    store: Engine, iris_settings: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    loopback.route("/plan/8000085/190317/13", Reply((IRIS / "plan_simple1.xml").read_bytes()))
    loopback.route("/fchg/8000085", Reply((IRIS / "fchg_departureCancelled.xml").read_bytes()))
    config = instance("db-iris", iris_settings).config.model_copy(update={"stations": ["8000085"]})
    now = datetime(2019, 3, 17, 12, 30, tzinfo=UTC)
    assert make_runner(DbIrisAdapter(config), store, iris_settings, now=now).run_once().ok
    call = _call(store, "-6062058741531589910-1903161424-13")
    assert call["planned_platform"] == "13"
    state = latest_state(observations_as_of(store, now, [int(call["id"])]))
    assert bool(state.loc[call["id"], "cancelled"]) is True


def test_changes_before_their_plan_wait_for_it(
    store: Engine, iris_settings: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    """The fchg lists stops of later hours; their reports are written once the plan names their calls."""
    _aachen(loopback)
    loopback.route("/plan/8000001/240509/10", Reply(b"", status=503))
    runner = make_runner(make_adapter("db-iris", iris_settings), store, iris_settings, now=AT_10_05)
    first = runner.run_once()
    # only ICE 2956's, whose change carries its planned times (it makes its call)
    assert first.written["observations"] == 1 and first.pending > 0
    loopback.route("/plan/8000001/240509/10", Reply(AACHEN_PLAN))
    runner.clock = lambda: AT_10_05 + timedelta(minutes=1)
    runner.run_once()
    moved = _call(store, "7448894008162231514-2405091037-1")
    with store.connect() as conn:
        (observed_at,) = conn.execute(
            select(Observation.observed_at).where(Observation.call_id == int(moved["id"]))
        ).one()
    assert observed_at == AT_10_05  # when eta received it, not when it could place it


def test_api_keys_never_reach_logs_or_run_records(
    store: Engine,
    iris_settings: Settings,
    loopback: Loopback,
    make_runner: Callable[..., Runner],
    caplog: pytest.LogCaptureFixture,
) -> None:
    loopback.route(
        "/plan/*", Reply(b"key very-secret-key-456 rejected", status=403, content_type="text/plain")
    )
    loopback.route("/fchg/8000001", Reply(b"<html>very-secret-key-456</html>", content_type="text/html"))
    caplog.set_level(logging.DEBUG)
    make_runner(make_adapter("db-iris", iris_settings), store, iris_settings, now=AT_10_05).run_once()
    with store.connect() as conn:
        messages = [str(m) for m in conn.execute(select(CollectorRun.error_message)).scalars()]
    assert "very-secret-key-456" not in caplog.text + " ".join(messages)
    assert "client-id-123" not in caplog.text


def test_plans_are_fetched_as_far_ahead_as_a_board_shows() -> None:
    """A board lists the next two hours by default: at 10:50 the default settings ask for the plans up to
    12 o'clock (and beyond), so that every train due on the board by 12:50 is known."""
    from eta.collectors.registry import make_adapter

    iris_settings = Settings()
    adapter = make_adapter("db-iris", iris_settings)

    class NothingParsed:
        def parsed_since(self, kind: str, since: datetime) -> list[tuple[datetime, dict[str, str]]]:
            return []

    now = datetime(2024, 5, 9, 8, 50, tzinfo=UTC)  # 10:50 in Berlin
    hours = {int(r.param("hour")) for r in adapter.requests(now, NothingParsed()) if r.kind == "plan"}
    window_end = 10 + (50 + iris_settings.api.board_default_window_s // 60) // 60  # the hour of 12:50
    assert set(range(10, window_end + 1)) <= hours


SPANDAU_FCHG = (IRIS / "8010404_fchg_2509081145_EXCERPT.xml").read_bytes()
SPANDAU_PLAN = (IRIS / "8010404_plan_2509081400_EXCERPT.xml").read_bytes()
ICE_757 = "6209522400545496804-2509080906-13"
AT_11_46 = datetime(2025, 9, 8, 9, 46, tzinfo=UTC)  # 11:46 CEST, a minute after the snapshot's 11:45


def test_a_stop_only_a_change_list_names_becomes_a_call_from_its_fetch_on(
    store: Engine,
    iris_settings: Settings,
    loopback: Loopback,
    make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """IRIS lists additional trains (and stops a plan has not listed yet) in its change lists with their
    planned times: the call is known from that fetch on, and the plan listing it later adds no second one."""
    monkeypatch.setenv("ETA_COLLECTORS__DB_IRIS__STATIONS", '["8010404"]')
    get_settings.cache_clear()
    settings = get_settings()
    loopback.route("/plan/8010404/250908/11", Reply(b'<timetable station="Berlin-Spandau"/>'))
    loopback.route("/fchg/8010404", Reply(SPANDAU_FCHG))
    loopback.route("/rchg/8010404", Reply(b'<timetable station="Berlin-Spandau" eva="8010404"/>'))
    runner = make_runner(make_adapter("db-iris", settings), store, settings, now=AT_11_46)
    runner.run_once()
    call = _call(store, ICE_757)
    assert call["known_since"].replace(tzinfo=UTC) == AT_11_46
    assert call["scheduled_arrival"].replace(tzinfo=UTC) == datetime(2025, 9, 8, 12, 30, tzinfo=UTC)
    assert call["planned_platform"] == "6"
    window = (AT_11_46, AT_11_46 + timedelta(hours=4))
    with store.connect() as conn:
        before = arrivals_at(conn, "8010404", *window, AT_11_46 - timedelta(seconds=1), 10)
        after = arrivals_at(conn, "8010404", *window, AT_11_46, 10)
        service = conn.execute(select(Service).where(Service.id == int(call["service_id"]))).one()
    assert [r.id for r in before] == [] and [r.id for r in after] == [call["id"]]
    assert (service.category, service.number, service.destination) == ("ICE", "757", "Berlin Ostbahnhof")
    assert service.source == "db-iris-changes"  # first known from a change list
    with store.connect() as conn:
        reported = conn.execute(
            select(Observation.estimated_arrival).where(Observation.call_id == int(call["id"]))
        )
    assert [r[0].replace(tzinfo=UTC) for r in reported] == [datetime(2025, 9, 8, 13, 3, tzinfo=UTC)]

    at_14 = datetime(2025, 9, 8, 12, 1, tzinfo=UTC)
    loopback.route("/plan/8010404/250908/14", Reply(SPANDAU_PLAN))
    runner.clock = lambda: at_14
    runner.run_once()
    again = _call(store, ICE_757)  # asserts a single call for the stop id
    assert again["id"] == call["id"] and again["known_since"].replace(tzinfo=UTC) == AT_11_46
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Call)).scalar_one() == 1


def test_a_change_without_planned_times_creates_no_call() -> None:
    """A change for a stop eta has no plan of, without planned times, names no train to show: nothing."""
    body = (IRIS / "8089007_fchg_2509081215_EXCERPT.xml").read_bytes()
    at = datetime(2025, 9, 8, 10, 16, tzinfo=UTC)
    rows = parse_payload(Payload("db-iris", Request.of("fchg", eva="8089007"), at, body, None, "x"))
    assert not rows.tables.get("calls") and not rows.tables.get("services")
    assert len(rows.tables["observations"]) == 1
