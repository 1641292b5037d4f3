"""API test fixtures: a real store filled with real imported calls and served predictions, and clients."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from eta.api.apikeys import create_key
from eta.api.app import create_app
from eta.clock import ManualClock
from eta.config import Settings
from eta.store import open_store
from tests.api import seed

# 4 May 2026, 19:00 Berlin time: DB runs of that evening are partly under way.
DB_DAY_NOW = datetime(2026, 5, 4, 17, 0, tzinfo=UTC)


def api_settings(url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for tests: no answer cache, generous rate limit, alerts driven by the test."""
    api = {
        "cache_ttl_s": 0,
        "rate_limit_per_minute": 10_000,
        "rate_limit_burst": 10_000,
        "refresh_interval_s": 3600,
        "accuracy_stale_s": 0,  # the operator accuracy follows every write a test makes
    } | overrides.pop("api", {})
    alerts = {
        "cycle_interval_s": 0,
        "allow_private_targets": True,
        "allow_plain_http": True,
        "backoff_base_s": 0.01,
        "web_push_services": ["*"],  # push services stand in on loopback
        "max_per_host": 1_000,  # every test receiver is on 127.0.0.1
        "create_per_hour": 100_000,
        "create_burst": 10_000,
    } | overrides.pop("alerts", {})
    return Settings(database_url=url, data_dir=data_dir, api=api, alerts=alerts, **overrides)


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store with DB runs (München, 4–5 May 2026), Berlin Hbf arrivals and predictions."""
    path = tmp_path_factory.mktemp("seeded") / "store.sqlite3"
    settings = Settings(database_url=f"sqlite:///{path}", data_dir=path.parent)
    engine = open_store(settings)
    seed.import_db_runs(engine, settings)
    seed.import_berlin_hbf(engine, settings)
    seed.persistence_predictions(engine)
    engine.dispose()
    return path


@pytest.fixture
def seeded_url(seeded_template: Path, tmp_path: Path) -> str:
    """A private copy of the seeded store for one test (tests may write to it)."""
    copy = tmp_path / "seeded.sqlite3"
    shutil.copy(seeded_template, copy)
    return f"sqlite:///{copy}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(DB_DAY_NOW)


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(url: str, clock: ManualClock | None = None, **overrides: Any) -> TestClient:
        settings = api_settings(url, tmp_path / "var", **overrides)
        app = create_app(settings, clock=clock)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
        client.app.state.eta.engine.dispose()  # type: ignore[attr-defined]


@pytest.fixture
def client(seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(seeded_url, clock)


@pytest.fixture
def engine(client: TestClient) -> Engine:
    return client.app.state.eta.engine  # type: ignore[attr-defined, no-any-return]


@pytest.fixture
def operator_key(engine: Engine) -> str:
    key, _ = create_key(engine, "tests")
    return key
