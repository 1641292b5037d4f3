"""Prediction rows per replayed hour, written every sweep against written on change, and what the operator
accuracy by horizon says on each.

    python -m bench.prediction_rows [--from 13:00] [--hours 3] [--out bench/results/prediction_rows.json]

Replays the bundled Berlin IRIS day (2025-09-08, 133 stations) through the live collector path into two
fresh SQLite stores with the bundled champion models: reports only up to ``--from`` (local time), then
``--hours`` hours re-predicting after every cycle as the live scheduler does (sweeps every
``ETA_MODEL__SWEEP_EVERY_S``), then the reports of the next hours without predicting, so that the calls
predicted have arrived. One store writes every prediction (``ETA_STORE__WRITE_ON_CHANGE=false``, what main
did before), the other only material changes (the defaults). Reports rows and bytes per replayed hour
and the operator accuracy by horizon (``/api/v1/operator/accuracy?group_by=horizon`` over the predicting
hours) of both, and the largest difference. Targets (issue 21): at most a fifth of the rows, accuracy
equal within 1 s.
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
from typing import Any

REPO = Path(__file__).resolve().parent.parent
METRICS = ("model_mae_s", "timetable_mae_s", "operator_mae_s", "model_bias_s")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--from", dest="start", default="13:00", help="local time the re-predicting starts")
    parser.add_argument("--hours", type=int, default=3, help="hours replayed re-predicting")
    parser.add_argument("--settle-hours", type=int, default=3, help="hours of reports replayed after")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "prediction_rows.json")
    parser.add_argument(
        "--only-on-change",
        action="store_true",
        help="replay only the store written on change; the every-sweep run is read from --out (same window)",
    )
    parser.add_argument("--p50-s", type=int, help="ETA_STORE__CHANGE_P50_S for the on-change store")
    parser.add_argument("--interval-s", type=int, help="ETA_STORE__CHANGE_INTERVAL_S for it")
    args = parser.parse_args()
    changes = {k: v for k, v in (("change_p50_s", args.p50_s), ("change_interval_s", args.interval_s)) if v}
    runs = {}
    if args.only_on_change:
        runs["every_sweep"] = json.loads(args.out.read_text())["runs"]["every_sweep"]
    with tempfile.TemporaryDirectory(prefix="eta-bench-rows-") as tmp:
        for name, on_change in (("every_sweep", False), ("on_change", True)):
            if name in runs:
                continue
            runs[name] = _run(
                Path(tmp) / name,
                on_change,
                args.start,
                args.hours,
                args.settle_hours,
                changes if on_change else {},
            )
            print(json.dumps({name: runs[name]["rows_per_hour"]}), file=sys.stderr)
    every, change = runs["every_sweep"], runs["on_change"]
    differences = _differences(every["accuracy_by_horizon"], change["accuracy_by_horizon"])
    figures = {
        "benchmark": "prediction_rows",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.prediction_rows " + " ".join(sys.argv[1:]),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_avg": os.getloadavg()},
        "input": "data/iris-berlin-day (DB IRIS, Berlin, 2025-09-08, 133 stations), bundled models",
        "window_local": f"{args.start} + {args.hours} h re-predicting, then {args.settle_hours} h reports",
        "thresholds": _thresholds() | changes,
        "runs": runs,
        "row_ratio": round(change["rows"] / every["rows"], 4) if every["rows"] else None,
        "byte_ratio": round(change["prediction_bytes"] / every["prediction_bytes"], 4)
        if every["prediction_bytes"]
        else None,
        "largest_accuracy_difference_s": differences,
        "targets": {"row_ratio_at_most": 0.2, "accuracy_difference_at_most_s": 1.0},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print(json.dumps(figures, indent=2, default=str))
    return 0


def _run(
    directory: Path, on_change: bool, start: str, hours: int, settle_hours: int, changes: dict[str, int]
) -> dict[str, Any]:
    from eta.api import accuracy
    from eta.config import Settings, StoreSettings
    from eta.demo import data
    from eta.demo.days import replay_until, train_day
    from eta.store import open_store
    from eta.store.sizes import table_sizes

    directory.mkdir(parents=True)
    settings = Settings(data_dir=directory, store=StoreSettings(write_on_change=on_change, **changes))
    engine = open_store(settings)
    data.ensure_champions(engine, settings, lambda _: None, train_missing=False)
    day = train_day(engine, settings)
    local = datetime.combine(day.day, clock_time.fromisoformat(start), day.tz)
    begin, end = local, local + timedelta(hours=hours)
    replay_until(day, begin, predict=False, what="reports only")
    before = table_sizes(engine)["predictions"]
    started = time.perf_counter()
    replay_until(day, end, predict=True, what="re-predicting")
    predict_s = time.perf_counter() - started
    after = table_sizes(engine)["predictions"]
    replay_until(day, end + timedelta(hours=settle_hours), predict=False, what="reports after")
    frame = accuracy.served_vs_actual(engine, begin.astimezone(UTC), end.astimezone(UTC), "train")
    by_horizon = accuracy.summarise(frame, "horizon")
    engine.dispose()
    rows = after.rows - before.rows
    return {
        "write_on_change": on_change,
        "rows": rows,
        "rows_per_hour": round(rows / hours),
        "prediction_bytes": after.bytes - before.bytes,
        "bytes_per_row": round((after.bytes - before.bytes) / rows) if rows else None,
        "re_predicting_wall_s": round(predict_s, 1),
        "accuracy_samples": len(frame),
        "accuracy_by_horizon": by_horizon,
    }


def _thresholds() -> dict[str, Any]:
    from eta.config import StoreSettings

    return StoreSettings().model_dump(
        include={"change_p50_s", "change_interval_s", "change_platform_probability"}
    )


def _differences(every: list[dict[str, Any]], change: list[dict[str, Any]]) -> dict[str, Any]:
    theirs = {row["group"]: row for row in change}
    out: dict[str, Any] = {}
    for row in every:
        other = theirs.get(row["group"])
        if other is None:
            out[row["group"]] = "missing on change"
            continue
        out[row["group"]] = {
            "n": [row["n"], other["n"]],
            **{
                m: round(abs(row[m] - other[m]), 1)
                for m in METRICS
                if row[m] is not None and other[m] is not None
            },
            "coverage": round(abs(row["p10_p90_coverage"] - other["p10_p90_coverage"]), 4),
        }
    return out


if __name__ == "__main__":
    raise SystemExit(main())
