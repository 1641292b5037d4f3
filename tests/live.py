"""The app on a real loopback HTTP server (uvicorn in a thread), and Debian's headless chromium: what the
browser, server-limit and outage tests share."""

from __future__ import annotations

import shutil
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

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
START_TIMEOUT_S = 30.0
# A server whose store is black-holed (tests/api/test_store_outage.py) takes a while to wind down.
STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(app: FastAPI, **options: Any) -> Iterator[str]:
    """``app`` served on 127.0.0.1 (a free port) for the block, as ``http://127.0.0.1:PORT``; then stopped
    and its store's engine disposed. ``options``: uvicorn's (log level "warning" unless given)."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, **({"log_level": "warning"} | options))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT_S)
        app.state.eta.engine.dispose()
        if thread.is_alive():
            # Going on would leave its worker threads running: pytest then waits for ever at exit
            # (concurrent.futures joins them without a limit), far from the test that left them.
            raise RuntimeError(
                f"uvicorn on 127.0.0.1:{port} did not stop within {STOP_TIMEOUT_S:g} s; threads:\n"
                + _stacks()
            )


def _stacks() -> str:
    """Every other thread's name and stack."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    return "\n".join(
        f"--- {names.get(ident, ident)}\n" + "".join(traceback.format_stack(frame))
        for ident, frame in sys._current_frames().items()
        if ident != threading.get_ident()
    )
