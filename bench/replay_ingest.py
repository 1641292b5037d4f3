"""Replay the Berlin IRIS week through the live collector path and measure the ingest speed.

    python -m bench.replay_ingest [--day 2025-09-03] [--out bench/results/replay_ingest.json]

Reads the week from ``../shared/data/trains/platforms/db-iris-berlin-dams/raw`` (skipped with a message
if absent), replays it at full speed (simulated clock, speed 0) into a fresh SQLite store, and checks the
result against a direct reading of the XML: the arrivals (count) and their planned and final platforms
match the published derived table. Writes observations/s, payloads/s and the check to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WEEK = REPO.parent / "shared" / "data" / "trains" / "platforms" / "db-iris-berlin-dams"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--day", help="replay one local day only (YYYY-MM-DD)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "replay_ingest.json")
    args = parser.parse_args()
    if not (WEEK / "raw").is_dir():
        print(f"skipped: the Berlin IRIS week is not at {WEEK} (it comes with ../shared)", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory(prefix="eta-bench-") as tmp:
        os.environ["ETA_DATA_DIR"] = tmp
        os.environ["ETA_DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        from eta.collectors.replay import parse_day, replay_iris
        from eta.config import get_settings
        from eta.store import open_store

        settings = get_settings()
        engine = open_store(settings)
        started = time.perf_counter()
        summary = replay_iris(engine, settings, WEEK / "raw", day=parse_day(args.day) if args.day else None)
        wall_s = time.perf_counter() - started
        check = None if args.day else _check_against_xml(engine)
        engine.dispose()
    observations = summary.written.get("observations", 0)
    simulated_s = (summary.last - summary.first).total_seconds() if summary.first and summary.last else 0.0
    figures = {
        "benchmark": "replay_ingest",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "store": "sqlite (WAL), fresh",
        "input": str(WEEK / "raw") + (f" (day {args.day})" if args.day else " (whole week)"),
        "cycles": summary.cycles,
        "payloads": summary.payloads,
        "written": summary.written,
        "quarantined_payloads": summary.quarantined,
        "skipped_files": len(summary.skipped_files),
        "wall_s": round(wall_s, 1),
        "replay_s": round(summary.elapsed_s, 1),
        "observations_per_s": round(observations / summary.elapsed_s, 1),
        "payloads_per_s": round(summary.payloads / summary.elapsed_s, 1),
        "speedup_over_real_time": round(simulated_s / summary.elapsed_s, 1),
        "check_against_xml": check,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return 0 if check is None or check["ok"] else 1


def _check_against_xml(engine: object) -> dict[str, object]:
    """Every arrival of the derived table (a direct reading of the XML) exists, with its platforms."""
    import pandas as pd
    from sqlalchemy import select

    from eta.store.queries import latest_state, observations_as_of
    from eta.store.schema import Call, CallRef

    derived = pd.read_csv(WEEK / "arrivals_derived.csv.gz", dtype=str)
    with engine.connect() as conn:  # type: ignore[attr-defined]
        calls = pd.read_sql(
            select(CallRef.ref, Call.id, Call.planned_platform)
            .join(Call, Call.id == CallRef.call_id)
            .where(Call.scheduled_arrival.is_not(None)),
            conn,
        )
    state = latest_state(observations_as_of(engine, datetime(2025, 9, 10, tzinfo=UTC)))  # type: ignore[arg-type]
    joined = derived.merge(calls, left_on="stop_id", right_on="ref", how="outer", indicator=True)
    final = joined["id"].map(state["platform"]).fillna(joined["planned_platform_y"])
    planned_equal = int(
        (joined["planned_platform_x"].fillna("") == joined["planned_platform_y"].fillna("")).sum()
    )
    final_equal = int((final.fillna("") == joined["actual_platform"].fillna("")).sum())
    both = int((joined["_merge"] == "both").sum())
    return {
        "derived_arrivals": len(derived),
        "replayed_arrivals": len(calls),
        "matched": both,
        "planned_platform_equal": planned_equal,
        "final_platform_equal": final_equal,
        "ok": both == len(derived) == len(joined) and planned_equal == final_equal == len(joined),
    }


if __name__ == "__main__":
    sys.exit(main())
