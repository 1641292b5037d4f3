"""Runs a collection in a subprocess and, when asked, SIGKILLs itself in the middle of a batch.

``python -m tests.collectors.crash_driver replay|collect [KILL_AT]``: with KILL_AT, the process kills
itself (SIGKILL, no cleanup) on the KILL_AT-th insert into ``observations``, inside the open transaction.
"""

from __future__ import annotations

import os
import signal
import sys

from sqlalchemy import event

from eta.collectors.registry import make_adapter
from eta.collectors.replay import iris_cycles, replay
from eta.collectors.runner import Runner
from eta.config import get_settings
from eta.store import open_store
from tests.conftest import FIXTURES


def main() -> None:
    mode = sys.argv[1]
    kill_at = int(sys.argv[2]) if len(sys.argv) > 2 else None
    settings = get_settings()
    engine = open_store(settings)
    inserts = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _maybe_die(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if kill_at is not None and statement.startswith('INSERT INTO "observations"'):
            inserts[0] += 1
            if inserts[0] == kill_at:
                print("killing myself mid-batch", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)

    runner = Runner(make_adapter("db-iris", settings), engine, settings)
    if mode == "replay":
        summary = replay(runner, iris_cycles(FIXTURES / "iris_archive" / "raw"), progress=False)
        print(summary.line())
    else:
        print(runner.run_once().line())


if __name__ == "__main__":
    main()
