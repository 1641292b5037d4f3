"""NS InfoPlus live: the recorded messages pushed over ZeroMQ by a loopback NDOV-style publisher go
through the same runner as the polled sources — archived, parsed, quarantined, written, counted,
primed, and failed (then the circuit opened) when the feed falls silent."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine, select

from eta.collectors import archive
from eta.collectors.metrics import CollectorMetrics
from eta.collectors.registry import make_adapter
from eta.collectors.replay import replay
from eta.collectors.runner import Runner, RunResult
from eta.collectors.sources.ns.infoplus import NsInfoPlusAdapter, message_cycles
from eta.collectors.sources.ns.settings import NsInfoPlusSettings
from eta.config import Settings, get_settings
from eta.store import open_store
from eta.store.schema import Call, CollectorState, Observation, QuarantinedPayload, RawPayload
from tests.collectors.sources.ns.zmq_publisher import Publisher
from tests.conftest import FIXTURES

GOTRAIN = FIXTURES / "ns_infoplus" / "gotrain"
DVS, DAS, RIT = "/RIG/InfoPlusDVSInterface4", "/RIG/InfoPlusDASInterface4", "/RIG/InfoPlusRITInterface5"


def _envelope(name: str) -> str:
    return RIT if name.startswith("service") else DAS if name.startswith("arrival") else DVS


def recorded() -> list[tuple[str, bytes]]:
    """The recorded messages as NDOV sends them, in the order a replay of them takes them."""
    order = [p.ref.rsplit("/", 1)[-1] for cycle in message_cycles(GOTRAIN) for p in cycle.payloads]
    return [(_envelope(name), (GOTRAIN / name).read_bytes()) for name in order]


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    published = Publisher()
    yield published
    published.close()


def _drain(runner: Runner, expected: int) -> list[RunResult]:
    """Runs until ``expected`` messages came through (the publisher sends from its own thread)."""
    results: list[RunResult] = []
    for _ in range(2_000):  # a bound, not a time budget: each empty run waits 50 ms
        results.append(runner.run_once())
        if sum(r.fetched for r in results) >= expected:
            return results
        if not results[-1].fetched:
            time.sleep(0.05)
    raise AssertionError(f"{sum(r.fetched for r in results)} of {expected} messages came through")


def _content(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame]:
    with engine.connect() as conn:
        calls = pd.read_sql(select(Call.id, Call.planned_platform, Call.scheduled_arrival), conn)
        observations = pd.read_sql(
            select(
                Observation.call_id,
                Observation.platform,
                Observation.estimated_arrival,
                Observation.estimated_departure,
                Observation.cancelled,
            ),
            conn,
        )
    return (
        calls.sort_values("id").reset_index(drop=True),
        observations.sort_values(list(observations.columns)).reset_index(drop=True),
    )


def test_pushed_messages_are_stored_like_the_same_messages_replayed(
    store: Engine, settings: Settings, publisher: Publisher, tmp_path: object
) -> None:
    messages = recorded()
    config = NsInfoPlusSettings(endpoint=publisher.endpoint, envelopes=[DVS, DAS, RIT], interval_s=30)
    metrics = CollectorMetrics(CollectorRegistry())
    runner = Runner(NsInfoPlusAdapter(config), store, settings, metrics=metrics)
    sender = publisher.publish_when_subscribed([DVS, DAS, RIT], messages)
    try:
        results = _drain(runner, len(messages))
    finally:
        runner.adapter.close()
    sender.join(60)
    assert publisher.error is None
    assert results[0].ok, results[0].line()
    quarantined = sum(sum(r.quarantined.values()) for r in results)
    assert quarantined == 1  # invalid.xml; the rest of its batch is kept
    with store.connect() as conn:
        raw = pd.read_sql(select(RawPayload.kind, RawPayload.path, RawPayload.status), conn)
        bad = conn.execute(select(QuarantinedPayload.error_kind)).scalar_one()
        state = conn.execute(select(CollectorState).where(CollectorState.collector == "ns-infoplus")).one()
    assert len(raw) == len(messages)  # every message archived and indexed before it was parsed
    assert raw["kind"].value_counts().to_dict() == {"dvs": 5, "das": 3, "rit": 3}  # invalid.xml went as a DVS
    assert (raw["status"] == "quarantined").sum() == 1 and bad == "parse"
    first = raw["path"].iloc[0]
    assert first.startswith("ns-infoplus/") and archive.read(settings.data_dir, first).startswith(b"<")
    assert state.primed_at is not None and state.consecutive_failures == 0
    text = generate_latest(metrics.registry).decode()
    assert f'eta_collector_fetches_total{{collector="ns-infoplus",kind="ok"}} {len(messages)}.0' in text
    assert 'eta_collector_quarantined_total{collector="ns-infoplus",kind="parse"} 1.0' in text
    assert 'eta_collector_primed{collector="ns-infoplus"} 1.0' in text

    # the same messages replayed from their files give the same calls and reports
    replayed = open_store(settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/replayed.db"}))
    replay(Runner(NsInfoPlusAdapter(), replayed, settings), message_cycles(GOTRAIN), progress=False)
    pushed_calls, pushed_obs = _content(store)
    replayed_calls, replayed_obs = _content(replayed)
    replayed.dispose()
    assert len(pushed_calls) == 22 + 14 + 9
    pd.testing.assert_frame_equal(pushed_calls, replayed_calls)
    pd.testing.assert_frame_equal(pushed_obs, replayed_obs)


def test_a_silent_feed_fails_its_runs_and_opens_the_circuit(
    store: Engine, publisher: Publisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETA_COLLECTORS__CIRCUIT_FAILURES", "2")
    monkeypatch.setenv("ETA_COLLECTORS__NS_INFOPLUS__ENDPOINT", publisher.endpoint)
    monkeypatch.setenv("ETA_COLLECTORS__NS_INFOPLUS__INTERVAL_S", "1")
    monkeypatch.setenv("ETA_COLLECTORS__NS_INFOPLUS__SILENCE_S", "600")
    get_settings.cache_clear()
    settings = get_settings()
    now = [datetime(2026, 5, 4, 6, 0, tzinfo=UTC)]
    clock: Callable[[], datetime] = lambda: now[0]  # noqa: E731
    runner = Runner(make_adapter("ns-infoplus", settings), store, settings, clock=clock)
    try:
        first = runner.run_once()  # subscribed; nothing yet, and not silent for long
        assert first.ok and first.fetched == 0
        now[0] += timedelta(seconds=601)
        silent = [runner.run_once(), runner.run_once()]
        now[0] += timedelta(seconds=1)
        skipped = runner.run_once()
    finally:
        runner.adapter.close()
    assert [r.ok for r in silent] == [False, False]
    assert silent[0].errors == {"timeout": 1} and "no message from tcp://127.0.0.1" in str(
        silent[0].error_message
    )
    assert skipped.skipped  # the circuit opened after two failed runs
    with store.connect() as conn:
        state = conn.execute(select(CollectorState).where(CollectorState.collector == "ns-infoplus")).one()
    assert state.last_error_kind == "timeout" and state.circuit_open_until is not None
