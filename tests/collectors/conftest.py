"""Fixtures for collector tests: the loopback server, fast HTTP settings, a runner factory."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import requests
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from eta.collectors.base import Adapter
from eta.collectors.metrics import CollectorMetrics
from eta.collectors.runner import Runner
from eta.config import Settings
from tests.collectors.loopback import Loopback, serve


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    yield from serve()


@pytest.fixture
def fast_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short timeouts and backoffs, so fault tests take milliseconds, not minutes."""
    monkeypatch.setenv("ETA_COLLECTORS__HTTP__TIMEOUT_S", "0.5")
    monkeypatch.setenv("ETA_COLLECTORS__HTTP__ATTEMPTS", "3")
    monkeypatch.setenv("ETA_COLLECTORS__HTTP__BACKOFF_BASE_S", "0.01")
    monkeypatch.setenv("ETA_COLLECTORS__HTTP__BACKOFF_MAX_S", "0.02")
    monkeypatch.setenv("ETA_COLLECTORS__HTTP__MAX_RETRY_AFTER_S", "30")


class Sleeps(list[float]):
    """Records the delays the runner asked to sleep instead of sleeping them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_runner(
    sleeps: Sleeps,
) -> Callable[..., Runner]:
    def make(
        adapter: Adapter, engine: Engine, settings: Settings, now: datetime | None = None, **kw: Any
    ) -> Runner:
        clock = (lambda: now) if now is not None else kw.pop("clock", None)
        extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
        return Runner(
            adapter,
            engine,
            settings,
            session=requests.Session(),
            metrics=CollectorMetrics(CollectorRegistry()),
            sleep=sleeps,
            rng=random.Random(7),
            **extra,
            **kw,
        )

    return make
