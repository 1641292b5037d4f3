"""The app's shutdown ends its background tasks even when one swallows a cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine

from eta.api.app import cancel_all
from tests import live
from tests.conftest import REPO


async def _swallows_first_cancellation(ended: list[bool]) -> None:
    # What asyncio.wait_for does on Python 3.11 when the cancellation meets its inner future's completion.
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)
    await asyncio.sleep(3600)  # the probe loop's next sleep: only a second cancellation ends it
    ended.append(True)


def test_cancel_all_ends_a_task_that_swallowed_its_first_cancellation() -> None:
    async def main() -> bool:
        ended: list[bool] = []
        task = asyncio.create_task(_swallows_first_cancellation(ended))
        plain = asyncio.create_task(asyncio.sleep(3600))
        await asyncio.sleep(0)
        shutdown = asyncio.create_task(cancel_all([task, plain]))
        await asyncio.wait([shutdown], timeout=10)  # waits without cancelling anything
        return shutdown.done() and task.done() and plain.done() and not ended

    assert asyncio.run(main())


async def _ignores_every_cancellation(stop: list[bool]) -> None:
    while not stop:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)


def test_cancel_all_gives_up_on_a_task_that_never_ends_and_names_it(caplog: pytest.LogCaptureFixture) -> None:
    """A task that ignores cancellation must not hold the shutdown for ever: it is left, and logged."""

    async def main() -> bool:
        stop: list[bool] = []
        task = asyncio.create_task(_ignores_every_cancellation(stop), name="stubborn")
        await asyncio.sleep(0)
        try:
            shutdown = asyncio.create_task(cancel_all([task], timeout_s=0.5))
            await asyncio.wait([shutdown], timeout=10)
            return shutdown.done()
        finally:
            stop.append(True)  # the test's own clean-up
            task.cancel()
            await asyncio.wait([task], timeout=10)

    with caplog.at_level(logging.ERROR, logger="eta.api"):
        assert asyncio.run(main())
    assert "stubborn" in caplog.text


def _blocked_until(released: threading.Event) -> None:
    released.wait()


def test_serving_fails_naming_what_is_left_when_the_server_does_not_stop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server thread still running after the stop timeout fails the test with the threads' stacks: it
    went on silently before, and pytest then waited for ever at exit on the worker thread it waited for."""
    released = threading.Event()

    @asynccontextmanager
    async def stuck_shutdown(_: FastAPI) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(_blocked_until, released)  # a blocking call that ignores the shutdown

    app = FastAPI(lifespan=stuck_shutdown)
    app.state.eta = SimpleNamespace(engine=create_engine("sqlite://"))
    monkeypatch.setattr(live, "STOP_TIMEOUT_S", 1.0)
    try:
        with pytest.raises(RuntimeError, match="did not stop") as failed, live.serving(app):
            pass
        assert "_blocked_until" in str(failed.value)  # the stuck worker's stack
    finally:
        released.set()


def test_a_run_that_hangs_at_exit_fails_with_the_threads_stacks(tmp_path: Path) -> None:
    """A worker thread left blocked (as the silent-connection rollback left one) held pytest at exit for
    ever; with the guard the run ends, exit 1, the worker's stack printed."""
    (tmp_path / "test_leaves_a_worker.py").write_text(
        "import threading\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "def never_released(): threading.Event().wait()\n"
        "def test_it(): ThreadPoolExecutor(1).submit(never_released)\n"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.exit_guard",
            str(tmp_path / "test_leaves_a_worker.py"),
        ],
        cwd=REPO,
        env=os.environ | {"ETA_TEST_EXIT_TIMEOUT_S": "2", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "1 passed" in run.stdout
    assert run.returncode == 1, run.stdout + run.stderr
    assert "never_released" in run.stderr
