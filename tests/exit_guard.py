"""A test run that hangs at exit fails with every thread's stack instead.

After the last test, the interpreter joins the worker threads of ``concurrent.futures`` (asyncio's
``to_thread`` among them) without a limit: a worker a test left waiting on a connection gone silent held
the run for ever, after its summary was printed, with no stack to say which. ``faulthandler`` dumps them
from a C thread of its own, which runs however the main thread waits, and ends the process (exit 1).
"""

from __future__ import annotations

import faulthandler
import os
import sys

import pytest

EXIT_TIMEOUT_S = float(os.environ.get("ETA_TEST_EXIT_TIMEOUT_S", "120"))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if sys.__stderr__ is not None:
        faulthandler.dump_traceback_later(EXIT_TIMEOUT_S, exit=True, file=sys.__stderr__)
