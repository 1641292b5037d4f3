"""Prediction rows per replayed hour written by an older eta: what main wrote when issue 21 was filed.

    git worktree add --detach /tmp/eta-then 36bf35b   # main before the first issue 21 commit
    cd /tmp/eta-then && PYTHONPATH=$PWD python /path/to/bench/prediction_rows_then.py \\
        --commit 36bf35b --out /path/to/bench/results/prediction_rows_then.json

Replays the bundled Berlin IRIS day as bench/prediction_rows.py does (reports only up to ``--from``, then
``--hours`` re-predicting after every cycle with the live sweep cadence), with whatever eta is on
PYTHONPATH and its bundled models, and counts the rows ``predictions`` gained. Only APIs that eta had
before issue 21 are used (no write-on-change, no table sizes: the bytes are SQLite's dbstat pages).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

from sqlalchemy import text

# the table's pages and its indexes'
PAGES = (
    "SELECT sum(pgsize) FROM dbstat WHERE name IN "
    "(SELECT name FROM sqlite_master WHERE tbl_name = 'predictions')"
)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--from", dest="start", default="13:00", help="local time the re-predicting starts")
    parser.add_argument("--hours", type=int, default=3, help="hours replayed re-predicting")
    parser.add_argument("--commit", required=True, help="the commit on PYTHONPATH, for the record")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from eta.config import Settings
    from eta.demo import data
    from eta.demo.days import replay_until, train_day
    from eta.store import open_store

    with tempfile.TemporaryDirectory(prefix="eta-bench-then-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        engine = open_store(settings)
        data.ensure_champions(engine, settings, lambda _: None, train_missing=False)
        day = train_day(engine, settings)
        begin = datetime.combine(day.day, clock_time.fromisoformat(args.start), day.tz)
        replay_until(day, begin, predict=False, what="reports only")
        before = _count(engine)
        started = time.perf_counter()
        replay_until(day, begin + timedelta(hours=args.hours), predict=True, what="re-predicting")
        wall = time.perf_counter() - started
        rows = _count(engine) - before
        with engine.connect() as conn:
            calls = conn.execute(text("SELECT count(DISTINCT call_id) FROM predictions")).scalar()
            pages = conn.execute(text(PAGES)).scalar()
        engine.dispose()
    figures = {
        "benchmark": "prediction_rows_then",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python bench/prediction_rows_then.py " + " ".join(sys.argv[1:]),
        "commit": args.commit,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_avg": os.getloadavg()},
        "input": "data/iris-berlin-day (DB IRIS, Berlin, 2025-09-08, 133 stations), its bundled models",
        "window_local": f"{args.start} + {args.hours} h re-predicting",
        "sweep_every_s": settings.model.sweep_every_s,
        "rows": rows,
        "rows_per_hour": round(rows / args.hours),
        "calls_predicted": calls,
        "predictions_bytes_with_indexes": pages,
        "bytes_per_row": round(pages / rows) if rows and pages else None,
        "re_predicting_wall_s": round(wall, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return 0


def _count(engine: object) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(text("SELECT count(*) FROM predictions")).scalar())


if __name__ == "__main__":
    raise SystemExit(main())
