"""Fault suite: the IRIS collector against a misbehaving loopback server and a failing store.

In every case the collector keeps running, counts the error by kind, loses nothing it fetched, writes
no duplicates, and the next run catches up to exactly what a clean run stores.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, event, func, select, text

from eta.collectors.registry import make_adapter
from eta.collectors.runner import Runner
from eta.collectors.sources.db import iris as db_iris
from eta.config import DatabaseSettings, Settings, get_settings
from eta.store import open_store
from eta.store.engine import make_engine
from eta.store.schema import (
    Call,
    CollectorRun,
    CollectorState,
    Observation,
    QuarantinedPayload,
    RawPayload,
)
from tests.collectors.conftest import Sleeps
from tests.collectors.loopback import Loopback, Reply
from tests.conftest import FIXTURES
from tests.store.blackhole import blackhole_proxy

PLAN = (FIXTURES / "db_iris" / "08000001_plan_10.xml").read_bytes()
FCHG = (FIXTURES / "db_iris" / "08000001_fchg_10_EXCERPT.xml").read_bytes()
PLAN_PATH, FCHG_PATH = "/plan/8000001/240509/10", "/fchg/8000001"
NOW = datetime(2024, 5, 9, 8, 5, tzinfo=UTC)
N_PLAN_CALLS = 20
N_CALLS = N_PLAN_CALLS + 1  # and ICE 2956, an extra train only the change list names (with its planned time)


@pytest.fixture
def iris(
    settings: Settings, loopback: Loopback, fast_http: None, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("ETA_COLLECTORS__DB_IRIS__BASE_URL", loopback.url)
    monkeypatch.setenv("ETA_COLLECTORS__DB_IRIS__STATIONS", '["8000001"]')
    monkeypatch.setenv("ETA_COLLECTORS__DB_IRIS__PLAN_HOURS_AHEAD", "0")
    monkeypatch.setenv("ETA_COLLECTORS__DB_IRIS__FULL_CHANGES_EVERY_S", "0")
    get_settings.cache_clear()
    return get_settings()


def _good(loopback: Loopback) -> None:
    loopback.route(PLAN_PATH, Reply(PLAN))
    loopback.route(FCHG_PATH, Reply(FCHG))


def _snapshot(store: Engine) -> tuple[int, pd.DataFrame]:
    with store.connect() as conn:
        calls = conn.execute(select(func.count()).select_from(Call)).scalar_one()
        obs = pd.read_sql(
            select(
                Observation.call_id,
                Observation.platform,
                Observation.estimated_arrival,
                Observation.estimated_departure,
                Observation.cancelled,
            ),
            conn,
        )
    return calls, obs.sort_values(["call_id"]).reset_index(drop=True)


def _clean_reference(
    store: Engine, iris: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    """What a clean run stores; the faulty runs must end with exactly this."""


@dataclass
class Fault:
    plan: list[Reply]
    fchg: list[Reply]
    errors: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    first_run_ok: bool = True
    sleeps: list[float] | None = None


FAULTS = {
    "timeout then ok": Fault([Reply(PLAN, delay_s=1.5), Reply(PLAN)], [Reply(FCHG)], {"timeout": 1}),
    "connection reset then ok": Fault([Reply(reset=True), Reply(PLAN)], [Reply(FCHG)], {"connection": 1}),
    "5xx twice then ok": Fault(
        [Reply(b"", status=500), Reply(b"", status=502), Reply(PLAN)], [Reply(FCHG)], {"http_5xx": 2}
    ),
    "5xx on every attempt": Fault(
        [Reply(b"", status=503)], [Reply(b"", status=500)], {"http_5xx": 6}, first_run_ok=False
    ),
    "429 with Retry-After then ok": Fault(
        [Reply(b"", status=429, headers={"Retry-After": "7"}), Reply(PLAN)],
        [Reply(FCHG)],
        {"http_429": 1},
        sleeps=[7.0],
    ),
    "truncated transfer then ok": Fault(
        [Reply(PLAN, send_bytes=len(PLAN) // 2), Reply(PLAN)], [Reply(FCHG)], {"truncated": 1}
    ),
    "truncated XML": Fault(
        [Reply(PLAN)], [Reply(FCHG[: len(FCHG) // 2]), Reply(FCHG)], quarantined={"parse": 1}
    ),
    "truncated XML plan": Fault([Reply(PLAN[:3000]), Reply(PLAN)], [Reply(FCHG)], quarantined={"parse": 1}),
    "wrong content type": Fault(
        [Reply(PLAN)],
        [Reply(b"<html><body>maintenance</body></html>", content_type="text/html"), Reply(FCHG)],
        quarantined={"content_type": 1},
    ),
    "empty body": Fault([Reply(PLAN)], [Reply(b""), Reply(FCHG)], quarantined={"empty": 1}),
    "404": Fault([Reply(b"no", status=404), Reply(PLAN)], [Reply(FCHG)], {"http_4xx": 1}),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_the_collector_survives_and_the_next_run_catches_up(
    name: str,
    store: Engine,
    iris: Settings,
    loopback: Loopback,
    make_runner: Callable[..., Runner],
    sleeps: Sleeps,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    fault = FAULTS[name]
    loopback.route(PLAN_PATH, *fault.plan)
    loopback.route(FCHG_PATH, *fault.fchg)
    adapter = make_adapter("db-iris", iris)
    runner = make_runner(adapter, store, iris, now=NOW)
    first = runner.run_once()
    assert first.ok is fault.first_run_ok, first.line()
    assert dict(first.errors) == fault.errors | fault.quarantined
    assert dict(first.quarantined) == fault.quarantined
    for kind, n in (fault.errors | fault.quarantined).items():
        assert runner.metrics.value("eta_collector_errors_total", collector="db-iris", kind=kind) == n
    if fault.sleeps is not None:
        assert sleeps == fault.sleeps
    # the server recovers; the next run catches up
    _good(loopback)
    runner.clock = lambda: NOW + timedelta(minutes=2)
    second = runner.run_once()
    assert second.ok, second.line()
    calls, observations = _snapshot(store)
    assert calls == N_CALLS
    with store.connect() as conn:
        quarantined = conn.execute(select(func.count()).select_from(QuarantinedPayload)).scalar_one()
        statuses = conn.execute(select(RawPayload.status, func.count()).group_by(RawPayload.status)).all()
        state = conn.execute(select(CollectorState)).one()
    assert quarantined == sum(fault.quarantined.values())
    assert dict(statuses).get("quarantined", 0) == quarantined  # kept in the archive, marked
    assert state.consecutive_failures == 0 and state.primed_at is not None
    # same rows as a clean run into a fresh store, no duplicates
    assert not observations.duplicated(["call_id"]).any()
    assert len(observations) == len(_clean_observations(iris, loopback, make_runner, tmp_path_factory))


def _clean_observations(
    iris: Settings, loopback: Loopback, make_runner: Callable[..., Runner], tmp: pytest.TempPathFactory
) -> pd.DataFrame:
    url = f"sqlite:///{tmp.mktemp('clean') / 'clean.sqlite3'}"
    clean_settings = iris.model_copy(update={"database_url": url, "data_dir": tmp.mktemp("clean-data")})
    engine = open_store(clean_settings)
    _good(loopback)
    make_runner(make_adapter("db-iris", iris), engine, clean_settings, now=NOW).run_once()
    _, observations = _snapshot(engine)
    engine.dispose()
    return observations


def test_a_long_retry_after_opens_the_circuit_until_then(
    store: Engine, iris: Settings, loopback: Loopback, make_runner: Callable[..., Runner], sleeps: Sleeps
) -> None:
    loopback.route(PLAN_PATH, Reply(b"", status=429, headers={"Retry-After": "3600"}))
    loopback.route(FCHG_PATH, Reply(b"", status=429, headers={"Retry-After": "3600"}))
    runner = make_runner(make_adapter("db-iris", iris), store, iris, now=NOW)
    assert not runner.run_once().ok
    assert sleeps == []  # an hour is not slept through
    _good(loopback)
    loopback.route("/plan/8000001/*", Reply(PLAN))  # the plan of whichever hour it is then
    runner.clock = lambda: NOW + timedelta(minutes=30)
    skipped = runner.run_once()
    assert skipped.skipped and len(loopback.hits) == 2  # nothing asked while open
    assert runner.metrics.value("eta_collector_circuit_open", collector="db-iris") == 1
    runner.clock = lambda: NOW + timedelta(minutes=61)
    assert runner.run_once().ok
    assert _snapshot(store)[0] == N_CALLS


def test_repeated_failures_open_the_circuit(
    store: Engine,
    iris: Settings,
    loopback: Loopback,
    make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = iris.model_copy(
        update={
            "collectors": iris.collectors.model_copy(update={"circuit_failures": 2, "circuit_open_s": 300})
        }
    )
    loopback.route(PLAN_PATH, Reply(reset=True))
    loopback.route(FCHG_PATH, Reply(reset=True))
    runner = make_runner(make_adapter("db-iris", settings), store, settings, now=NOW)
    runner.run_once()
    runner.clock = lambda: NOW + timedelta(minutes=1)
    runner.run_once()
    with store.connect() as conn:
        state = conn.execute(select(CollectorState)).one()
    assert state.consecutive_failures == 2 and state.last_error_kind == "connection"
    assert state.circuit_open_until == NOW + timedelta(minutes=1, seconds=300)
    runner.clock = lambda: NOW + timedelta(minutes=2)
    assert runner.run_once().skipped


def _big_plan(copies: int) -> bytes:
    """The real plan with its stops repeated under distinct trip ids (a payload ``copies`` times as big)."""
    head, rest = PLAN.decode().split("<s ", 1)
    body, tail = ("<s " + rest).rsplit("</timetable>", 1)
    parts = [
        re.sub(r'( n="\w+)"', rf'\g<1>x{k}"', re.sub(r'<s id="(-?\d+)-', rf'<s id="\g<1>{k:03d}-', body))
        for k in range(copies)
    ]
    return (head + "".join(parts) + "</timetable>" + tail).encode()


def test_a_payload_100_times_the_usual_size_is_stored(
    store: Engine, iris: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    big = _big_plan(100)
    assert len(big) > 100 * len(PLAN) * 0.95
    loopback.route(PLAN_PATH, Reply(big))
    loopback.route(FCHG_PATH, Reply(FCHG))
    result = make_runner(make_adapter("db-iris", iris), store, iris, now=NOW).run_once()
    assert result.ok and result.written["calls"] == 100 * N_PLAN_CALLS + 1


def test_a_payload_over_the_size_cap_is_refused_and_the_rest_kept(
    store: Engine, iris: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    capped = iris.model_copy(
        update={
            "collectors": iris.collectors.model_copy(
                update={"http": iris.collectors.http.model_copy(update={"max_payload_bytes": 100_000})}
            )
        }
    )
    loopback.route(PLAN_PATH, Reply(_big_plan(100)))
    loopback.route(FCHG_PATH, Reply(FCHG))
    result = make_runner(make_adapter("db-iris", capped), store, capped, now=NOW).run_once()
    assert result.errors == {"too_large": 1}  # not retried: it would be as large again
    assert result.fetched == 1 and result.pending > 0  # the changes were kept, waiting for their plan


def _short_busy_timeout(engine: Engine) -> Engine:
    @event.listens_for(engine, "connect")
    def _fast(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=100")

    return engine


@pytest.fixture
def locked_sqlite(sqlite_url: str, settings: Settings) -> Iterator[tuple[Engine, sqlite3.Connection]]:
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("SQLite file locking: runs in the SQLite parametrisation only")
    engine = _short_busy_timeout(make_engine(settings.resolved_database_url))
    open_store(settings).dispose()
    holder = sqlite3.connect(settings.resolved_database_url.removeprefix("sqlite:///"), isolation_level=None)
    yield engine, holder
    holder.close()
    engine.dispose()


@pytest.mark.parametrize("restart", [False, True], ids=["same process", "restarted process"])
def test_a_locked_database_loses_nothing(
    restart: bool,
    locked_sqlite: tuple[Engine, sqlite3.Connection],
    iris: Settings,
    loopback: Loopback,
    make_runner: Callable[..., Runner],
) -> None:
    engine, holder = locked_sqlite
    _good(loopback)
    runner = make_runner(make_adapter("db-iris", iris), engine, iris, now=NOW)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock across our write
    first = runner.run_once()
    holder.execute("ROLLBACK")
    assert not first.ok and first.errors["store_locked"] == 1 and first.fetched == 2
    assert _snapshot(engine)[0] == 0
    loopback.route(PLAN_PATH, Reply(b"", status=503))  # the source is down now: only the archive can help
    loopback.route(FCHG_PATH, Reply(b"", status=503))
    if restart:
        runner = make_runner(make_adapter("db-iris", iris), engine, iris, now=NOW)
    runner.clock = lambda: NOW + timedelta(minutes=2)
    runner.run_once()
    calls, observations = _snapshot(engine)
    assert calls == N_CALLS and len(observations) > 0
    assert not observations.duplicated(["call_id"]).any()


@pytest.mark.postgres
def test_a_database_connection_killed_mid_write_loses_nothing(
    postgres_url: str,
    iris: Settings,
    loopback: Loopback,
    make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL drops our session in the middle of the batch (as in a restart); the next run catches up."""
    if not iris.resolved_database_url.startswith("postgresql"):
        pytest.skip("needs a PostgreSQL session to kill; runs once, in the PostgreSQL parametrisation")
    monkeypatch.setenv("ETA_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    settings = get_settings()
    engine = open_store(settings)
    admin = make_engine(postgres_url)
    killed: list[int] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _kill(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if not killed and ('INSERT INTO "calls"' in statement or "_eta_load_calls" in statement):
            pid = conn.connection.driver_connection.info.backend_pid
            with admin.begin() as admin_conn:
                admin_conn.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})
            killed.append(pid)

    _good(loopback)
    runner = make_runner(make_adapter("db-iris", settings), engine, settings, now=NOW)
    first = runner.run_once()
    assert killed and not first.ok and first.errors["store"] == 1
    runner.clock = lambda: NOW + timedelta(minutes=2)
    assert runner.run_once().ok
    calls, observations = _snapshot(engine)
    assert calls == N_CALLS and len(observations) > 0
    assert not observations.duplicated(["call_id"]).any()
    engine.dispose()
    admin.dispose()


def test_a_store_that_is_down_at_the_start_of_a_run_is_counted_and_survived(
    iris: Settings,
    loopback: Loopback,
    make_runner: Callable[..., Runner],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    _good(loopback)
    down = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1})
    runner = make_runner(make_adapter("db-iris", iris), down, iris, now=NOW)
    result = runner.run_once()
    assert not result.ok and result.errors == {"store": 1}
    assert runner.metrics.value("eta_collector_errors_total", collector="db-iris", kind="store") == 1
    # what the source had then is archived all the same, to be written once the store is back
    assert result.fetched == 2 and len(loopback.hits) == 2


def _refusing_writes(engine: Engine) -> list[bool]:
    """Set the returned flag and the store refuses every write (read-only), as a full disk or a
    read-only failover does; reads go on."""
    refusing: list[bool] = []

    @event.listens_for(engine, "checkout")
    def _mode(dbapi_conn, _record, _proxy):  # type: ignore[no-untyped-def]
        if engine.dialect.name == "sqlite":
            dbapi_conn.execute(f"PRAGMA query_only = {1 if refusing else 0}")
        else:
            with dbapi_conn.cursor() as cursor:
                cursor.execute(f"SET default_transaction_read_only = {'on' if refusing else 'off'}")
            dbapi_conn.commit()

    return refusing


def _count(engine: Engine, table: type) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_while_the_store_refuses_writes_runs_are_counted_the_circuit_opens_and_the_archive_is_replayed(
    store: Engine, iris: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    """Issue 21 §2: the runner kept every payload fetched during the outage in memory, wrote them all in
    one batch afterwards, never recorded the failed runs and never opened its circuit."""
    collectors = iris.collectors.model_copy(
        update={"circuit_failures": 3, "circuit_open_s": 600, "recover_max_payloads": 2}
    )
    settings = iris.model_copy(update={"collectors": collectors})
    _good(loopback)
    refusing = _refusing_writes(store)
    runner = make_runner(make_adapter("db-iris", settings), store, settings, now=NOW)
    refusing.append(True)
    for minute in range(3):
        runner.clock = lambda minute=minute: NOW + timedelta(minutes=minute)  # type: ignore[misc]
        result = runner.run_once()
        assert not result.ok and result.fetched == 2 and result.error_kind == "store", result.line()
    assert runner.metrics.value("eta_collector_circuit_open", collector="db-iris") == 1
    hits = len(loopback.hits)
    runner.clock = lambda: NOW + timedelta(minutes=3)
    assert runner.run_once().skipped and len(loopback.hits) == hits  # the circuit is open: nothing asked
    assert _count(store, RawPayload) == 0 and _count(store, CollectorRun) == 0
    refusing.clear()  # the store takes writes again
    written = []
    for minute in range(13, 18):
        runner.clock = lambda minute=minute: NOW + timedelta(minutes=minute)  # type: ignore[misc]
        assert runner.run_once().ok
        written.append(_count(store, RawPayload))
    # two archived payloads read back per run, oldest first, until none is left, beside the run's own
    # (the plan and the changes, then the changes only: the plan is known by then)
    assert written == [4, 7, 10, 11, 12]
    archived = list((iris.data_dir / "raw").rglob("*.xml*"))
    assert written[-1] == len(archived) == 12
    with store.connect() as conn:
        runs = conn.execute(select(CollectorRun.ok, CollectorRun.error_kind).order_by(CollectorRun.id)).all()
        state = conn.execute(select(CollectorState)).one()
    assert [tuple(r) for r in runs] == [(False, "store")] * 3 + [(True, None)] * 5
    assert state.consecutive_failures == 0 and state.primed_at is not None
    calls, observations = _snapshot(store)
    assert calls == N_CALLS and not observations.duplicated(["call_id"]).any()


@pytest.mark.postgres
def test_a_run_while_postgresql_stops_answering_fails_and_its_payloads_are_written_after(
    postgres_url: str, iris: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    """Issue 21 §2: through a TCP proxy that black-holes every connection, a collector run fails in
    seconds (it was still blocked after 30 s), is recorded as failed once the database answers again, and
    what it fetched is written then."""
    if not iris.resolved_database_url.startswith("postgresql"):
        pytest.skip("runs once, in the PostgreSQL parametrisation")
    open_store(iris).dispose()
    _good(loopback)
    database = DatabaseSettings(statement_timeout_s=2, connect_timeout_s=2)
    with blackhole_proxy(iris.resolved_database_url) as (proxy, url):
        engine = make_engine(url, service=True, database=database)
        runner = make_runner(make_adapter("db-iris", iris), engine, iris, now=NOW)
        with engine.connect() as conn:  # a pooled connection, silent once black-holed
            conn.execute(text("select 1"))
        proxy.black_hole()
        during = runner.run_once()
        assert not during.ok and during.error_kind == "store" and during.fetched == 2, during.line()
        proxy.resume()
        runner.clock = lambda: NOW + timedelta(minutes=2)
        after = runner.run_once()
        assert after.ok, after.line()
        with engine.connect() as conn:
            runs = conn.execute(
                select(CollectorRun.ok, CollectorRun.error_kind).order_by(CollectorRun.id)
            ).all()
        assert [tuple(r) for r in runs] == [(False, "store"), (True, None)]
        calls, observations = _snapshot(engine)
        assert calls == N_CALLS and not observations.duplicated(["call_id"]).any()
        engine.dispose()


def test_platform_names_longer_than_16_characters_are_stored(
    store: Engine, iris: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    """Issue 21 §3: IRIS names some platforms at length; PostgreSQL refused them in the bulk write and
    every run crashed on the same batch. Both stores keep them now."""
    long_name = "Gleis 11 A-D Nord (S-Bahn)"
    loopback.route(PLAN_PATH, Reply(re.sub(rb' pp="[^"]*"', f' pp="{long_name}"'.encode(), PLAN)))
    loopback.route(FCHG_PATH, Reply(FCHG))
    result = make_runner(make_adapter("db-iris", iris), store, iris, now=NOW).run_once()
    assert result.ok, result.line()
    with store.connect() as conn:
        platforms = set(conn.execute(select(Call.planned_platform)).scalars())
    assert platforms == {long_name, "8"}  # "8": ICE 2956's, from the change list


def _observation_count(store: Engine) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Observation)).scalar_one())


def test_implausible_reports_are_rejected_row_by_row_and_the_rest_kept(
    store: Engine,
    iris: Settings,
    loopback: Loopback,
    make_runner: Callable[..., Runner],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Issue 21 §3: an estimate in the year 2099 and an arrival 10.6 h before its schedule were stored.
    Each is rejected on its own, counted by kind; the batch's other reports are written."""
    times = re.findall(rb'ct="(\d{10})"', FCHG)
    # two changes of trains in the plan (10:42 and 10:44)
    changed = db_iris.parse_time(times[2].decode())
    assert changed is not None
    early = changed - timedelta(hours=10, minutes=36)
    bad = FCHG.replace(b'ct="%s"' % times[1], b'ct="9901010000"', 1)
    bad = bad.replace(b'ct="%s"' % times[2], b'ct="%s"' % early.strftime("%y%m%d%H%M").encode(), 1)
    loopback.route(PLAN_PATH, Reply(PLAN))
    loopback.route(FCHG_PATH, Reply(bad))
    runner = make_runner(make_adapter("db-iris", iris), store, iris, now=NOW)
    result = runner.run_once()
    assert result.ok, result.line()
    assert dict(result.rows_rejected) == {"implausible_time": 2}
    assert (
        runner.metrics.value(
            "eta_collector_quarantined_total", collector="db-iris", kind="row_implausible_time"
        )
        == 2
    )
    _, observations = _snapshot(store)
    clean = _clean_observations(iris, loopback, make_runner, tmp_path_factory)
    assert len(observations) == len(clean) - 2
    times_stored = observations[["estimated_arrival", "estimated_departure"]].stack().dropna()
    assert all(pd.Timestamp(t).year == 2024 for t in times_stored)
    with store.connect() as conn:
        recorded = list(conn.execute(select(CollectorRun.rows_quarantined)).scalars())
    assert recorded == [2]


def test_a_value_too_long_for_its_column_rejects_its_row_not_the_batch(
    store: Engine, iris: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    """Issue 21 §3: PostgreSQL refused the whole batch for one value longer than its column (every run
    then failed on the same archived batch). Only that call (with its references and reports) is left
    out, counted; SQLite, which does not enforce lengths, does the same."""
    first = re.search(rb' pp="[^"]*"', PLAN)
    assert first is not None
    plan = PLAN[: first.start()] + b' pp="' + b"P" * 40 + b'"' + PLAN[first.end() :]
    loopback.route(PLAN_PATH, Reply(plan))
    loopback.route(FCHG_PATH, Reply(FCHG))
    result = make_runner(make_adapter("db-iris", iris), store, iris, now=NOW).run_once()
    assert result.ok, result.line()
    assert dict(result.rows_rejected) == {"too_long": 1}
    assert _snapshot(store)[0] == N_CALLS - 1
