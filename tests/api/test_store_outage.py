"""PostgreSQL stops answering under a running `eta serve`, then comes back (issue 21 §2).

A TCP proxy started here on loopback sits between the service and PostgreSQL; it black-holes every
connection (open, silent, bytes lost) and later forwards new ones again. During the outage, trip lookups
are answered 503 with ``Retry-After`` and an RFC 9457 body within 5 s, ``/livez`` stays 200 and
``/readyz`` is 503; after it, lookups are answered 200 again within 10 s, without a restart.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from fastapi.testclient import TestClient

from eta.api.app import create_app
from eta.clock import ManualClock
from eta.config import Settings
from eta.store import open_store
from tests.api import seed
from tests.api.conftest import DB_DAY_NOW, api_settings
from tests.api.helpers import berlin
from tests.live import serving
from tests.store.blackhole import BlackholeProxy, blackhole_proxy

TRIP = "/api/v1/trips/train/ICE/1011/2026-05-04"
DURING_S, AFTER_S = 5.0, 10.0  # the limits


@pytest.fixture
def proxied(postgres_url: str, tmp_path: Path) -> Iterator[tuple[BlackholeProxy, str]]:
    settings = Settings(database_url=postgres_url, data_dir=tmp_path / "var")
    engine = open_store(settings)
    seed.import_db_runs(engine, settings)
    seed.persistence_predictions(engine)
    engine.dispose()
    with blackhole_proxy(postgres_url) as found:
        yield found


@pytest.fixture
def served(proxied: tuple[BlackholeProxy, str], tmp_path: Path) -> Iterator[str]:
    _, url = proxied
    settings = api_settings(
        url,
        tmp_path / "var",
        api={"cache_ttl_s": 5, "store_poll_s": 0.5},
        # the watchdog frees a silent connection after 2 + 2 s: the test sees it happen
        database={"statement_timeout_s": 2, "connect_timeout_s": 2, "probe_interval_s": 0.5},
    )
    with serving(create_app(settings, clock=ManualClock(DB_DAY_NOW))) as base:
        yield base


def _get(base: str, path: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    answer = requests.get(base + path, timeout=60)
    return answer, time.monotonic() - started


def _until(base: str, path: str, status: int, within_s: float) -> float:
    """Seconds until ``path`` is answered ``status``; fails after ``within_s``."""
    started = time.monotonic()
    while True:
        answer, _ = _get(base, path)
        waited = time.monotonic() - started
        if answer.status_code == status:
            return waited
        assert waited < within_s, f"{path}: still {answer.status_code} after {waited:.1f} s"
        time.sleep(0.2)


@pytest.mark.postgres
def test_a_database_that_stops_answering_is_a_503_and_recovery_needs_no_restart(
    proxied: tuple[BlackholeProxy, str], served: str
) -> None:
    proxy, _ = proxied
    assert _get(served, TRIP)[0].status_code == 200
    assert _store_ready(served)  # no champion is registered here: only the store's check matters
    proxy.black_hole()
    # an answer rendered from the store's last poll (under a second old) may still be served; then 503
    assert _until(served, TRIP, 503, DURING_S) < DURING_S
    for _ in range(3):  # lookups keep being answered, none hangs
        answer, took = _get(served, TRIP)
        assert answer.status_code == 503, answer.status_code
        assert took < DURING_S
        assert answer.headers["content-type"] == "application/problem+json"
        assert int(answer.headers["Retry-After"]) > 0
        problem = answer.json()
        assert problem["status"] == 503 and problem["type"] == "/problems/store-unavailable"
        assert _get(served, "/livez")[0].status_code == 200
        readyz = _get(served, "/readyz")[0]
        assert readyz.status_code == 503 and readyz.json()["checks"]["store"] is False
    proxy.resume()
    assert _until(served, TRIP, 200, AFTER_S) < AFTER_S
    started = time.monotonic()
    while not _store_ready(served):
        assert time.monotonic() - started < AFTER_S
        time.sleep(0.2)


def _store_ready(base: str) -> bool:
    return bool(_get(base, "/readyz")[0].json()["checks"]["store"])


def test_a_locked_sqlite_store_is_a_503_after_the_lock_timeout(
    seeded_url: str, make_client: Callable[..., TestClient]
) -> None:
    """Another process holds SQLite's write lock: a write is answered 503 after ``lock_timeout_s``, not
    500 after 30 s."""
    client = make_client(
        seeded_url, ManualClock(berlin("2026-05-04 18:00")), database={"lock_timeout_s": 0.2}
    )
    holder = sqlite3.connect(seeded_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        body = {
            "trip": {"mode": "train", "operator": "ICE", "number": "1103", "service_date": "2026-05-04"},
            "webhook": {"url": "http://127.0.0.1:9/hook"},
            "consent": True,
        }
        answer = client.post("/api/v1/subscriptions", json=body)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["Retry-After"] == "10"
    assert answer.json()["type"] == "/problems/store-unavailable"
    assert client.post("/api/v1/subscriptions", json=body).status_code == 201
