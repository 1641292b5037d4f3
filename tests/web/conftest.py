"""Web page fixtures: the app on a real loopback HTTP server (uvicorn in a thread), and Debian's chromium."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
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

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (CI installs it in .ci/run)"
)


@dataclass
class Live:
    base: str
    app: FastAPI
    clock: ManualClock


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., Live]]:
    """Start the app for a store URL on 127.0.0.1 (a free port); stopped after the test."""
    running: list[tuple[uvicorn.Server, threading.Thread, FastAPI]] = []

    def start(url: str, at: ManualClock | None = None, **overrides: Any) -> Live:
        manual = at or ManualClock(DB_DAY_NOW)
        app = create_app(api_settings(url, tmp_path / "var", **overrides), clock=manual)
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        running.append((server, thread, app))
        return Live(f"http://127.0.0.1:{port}", app, manual)

    yield start
    for server, thread, app in running:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.eta.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
