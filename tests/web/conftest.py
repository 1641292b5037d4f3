"""Web page fixtures: the app on a real loopback HTTP server (uvicorn in a thread), and Debian's chromium."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from eta.api.app import create_app
from eta.clock import ManualClock
from tests.api.conftest import (  # noqa: F401 (fixtures shared with the API tests)
    DB_DAY_NOW,
    api_settings,
    client,
    clock,
    make_client,
    seeded_template,
    seeded_url,
)
from tests.live import CHROMIUM, CHROMIUM_ARGS, needs_chromium, serving

__all__ = ["Live", "needs_chromium"]


@dataclass
class Live:
    base: str
    app: FastAPI
    clock: ManualClock


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., Live]]:
    """Start the app for a store URL on 127.0.0.1 (a free port); stopped after the test."""
    with ExitStack() as running:

        def start(url: str, at: ManualClock | None = None, **overrides: Any) -> Live:
            manual = at or ManualClock(DB_DAY_NOW)
            app = create_app(api_settings(url, tmp_path / "var", **overrides), clock=manual)
            return Live(running.enter_context(serving(app)), app, manual)

        yield start


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
