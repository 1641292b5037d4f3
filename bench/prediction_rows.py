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
import heapq
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from itertools import groupby
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# a row's reason in the counts: the first of these it has (a first prediction has them all)
PRIORITY = (
    "first",
    "model_version",
    "p50_arrival",
    "platform",
    "platform_announced",
    "p10_arrival",
    "p90_arrival",
    "model_p10_arrival",
    "model_p90_arrival",
    "platform_probs",
)
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
    parser.add_argument(
        "--platform-probability", type=float, help="ETA_STORE__CHANGE_PLATFORM_PROBABILITY for it"
    )
    parser.add_argument(
        "--plans-ahead-hours",
        type=int,
        default=0,
        help="replay each hour's plan this many hours before it was archived, as the live collector fetches "
        "plans (its plan_hours_ahead, default 3); the archive holds each hour's plan fetched at its start",
    )
    parser.add_argument(
        "--no-every-sweep",
        action="store_true",
        help="replay only the store written on change, compared with nothing (rows and bytes for sizing)",
    )
    parser.add_argument(
        "--every-sweep-out",
        type=Path,
        help="with --only-on-change: the results file to read the every-sweep run from (default --out)",
    )
    args = parser.parse_args()
    changes: dict[str, Any] = {
        k: v
        for k, v in (
            ("change_p50_s", args.p50_s),
            ("change_interval_s", args.interval_s),
            ("change_platform_probability", args.platform_probability),
        )
        if v is not None
    }
    runs = {}
    if args.only_on_change:
        source = args.every_sweep_out or args.out
        runs["every_sweep"] = json.loads(source.read_text())["runs"]["every_sweep"]
    with tempfile.TemporaryDirectory(prefix="eta-bench-rows-") as tmp:
        for name, on_change in (("every_sweep", False), ("on_change", True)):
            if name in runs or (args.no_every_sweep and not on_change):
                continue
            runs[name] = _run(
                Path(tmp) / name,
                on_change,
                args.start,
                args.hours,
                args.settle_hours,
                changes if on_change else {},
                args.plans_ahead_hours,
            )
            print(json.dumps({name: runs[name]["rows_per_hour"]}), file=sys.stderr)
    change = runs["on_change"]
    every = runs.get("every_sweep") or {"rows": 0, "prediction_bytes": 0, "accuracy_by_horizon": []}
    differences = _differences(every["accuracy_by_horizon"], change["accuracy_by_horizon"])
    figures = {
        "benchmark": "prediction_rows",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.prediction_rows " + " ".join(sys.argv[1:]),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_avg": os.getloadavg()},
        "input": "data/iris-berlin-day (DB IRIS, Berlin, 2025-09-08, 133 stations), bundled models",
        "window_local": f"{args.start} + {args.hours} h re-predicting, then {args.settle_hours} h reports",
        "plans_ahead_hours": args.plans_ahead_hours,
        "sweep_every_s": _sweep_every_s(),
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
    directory: Path,
    on_change: bool,
    start: str,
    hours: int,
    settle_hours: int,
    changes: dict[str, Any],
    plans_ahead_hours: int,
) -> dict[str, Any]:
    from eta.api import accuracy
    from eta.collectors.replay import Replay
    from eta.config import Settings, StoreSettings
    from eta.demo import data
    from eta.demo.days import bundled_train_folder, replay_until, train_day
    from eta.store import open_store
    from eta.store.sizes import table_sizes

    directory.mkdir(parents=True)
    settings = Settings(data_dir=directory, store=StoreSettings(write_on_change=on_change, **changes))
    engine = open_store(settings)
    data.ensure_champions(engine, settings, lambda _: None, train_missing=False)
    day = train_day(engine, settings)
    if plans_ahead_hours:
        cycles = _plans_ahead(bundled_train_folder(settings), day.day, timedelta(hours=plans_ahead_hours))
        day.replay = Replay(day.replay.runner, cycles, day.replay.summary)
    local = datetime.combine(day.day, clock_time.fromisoformat(start), day.tz)
    begin, end = local, local + timedelta(hours=hours)
    replay_until(day, begin, predict=False, what="reports only")
    before = table_sizes(engine)["predictions"]
    started = time.perf_counter()
    with _counting_reasons() as why:
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
        "why_written": why if on_change else None,
    }


@contextmanager
def _counting_reasons() -> Iterator[dict[str, Any]]:
    """While in the block, count per kind of re-prediction (``sweep``: the serving window; ``news``: the
    services a collector cycle brought news of) the predictions made, the rows written, and what made
    them a change (eta.model.on_change.REASONS): ``any`` counts every reason of a row, ``first_reason``
    each row once, under the first of its reasons in :data:`PRIORITY`."""
    from eta.model import on_change, predict

    counts: dict[str, Any] = {}
    kind = ["sweep"]
    original_material, original_predict = predict.material, predict.predict_calls

    def material(new: Any, in_force: Any, settings: Any) -> Any:
        found = on_change.reasons(new, in_force, settings)
        changed = found.any(axis=1)
        empty = {"predicted": 0, "written": 0, "any": dict.fromkeys(on_change.REASONS, 0), "first_reason": {}}
        mine = counts.setdefault(kind[0], empty)
        mine["predicted"] += len(found)
        mine["written"] += int(changed.sum())
        for reason in on_change.REASONS:
            mine["any"][reason] += int(found[reason].sum())
        left = found[changed]
        for reason in PRIORITY:
            n = int(left[reason].sum())
            mine["first_reason"][reason] = mine["first_reason"].get(reason, 0) + n
            left = left[~left[reason]]
        return changed

    def predict_calls(*args: Any, **kwargs: Any) -> int:
        call_ids = kwargs.get("call_ids", args[3] if len(args) > 3 else None)
        kind[0] = "sweep" if call_ids is None else "news"
        return original_predict(*args, **kwargs)

    predict.material, predict.predict_calls = material, predict_calls
    try:
        yield counts
    finally:
        predict.material, predict.predict_calls = original_material, original_predict


def _plans_ahead(folder: Path, day: date, lead: timedelta) -> Iterator[Any]:
    """The day's replay cycles with each plan snapshot ``lead`` earlier than archived (its calls known
    that much longer, as where the live collector fetches the next hours' plans), the changes as archived."""
    from eta.collectors.replay import ReplayCycle, iris_cycles

    def plans() -> Iterator[tuple[datetime, int, Any]]:
        for cycle in iris_cycles(folder, day):
            for payload in cycle.payloads:
                if payload.request.kind == "plan":
                    yield cycle.at - lead, 0, replace(payload, fetched_at=cycle.at - lead)

    def changes() -> Iterator[tuple[datetime, int, Any]]:
        for cycle in iris_cycles(folder, day):
            yield from ((cycle.at, 1, p) for p in cycle.payloads if p.request.kind != "plan")

    merged = heapq.merge(plans(), changes(), key=lambda item: (item[0], item[1]))
    for at, items in groupby(merged, key=lambda item: item[0]):
        yield ReplayCycle(at, [payload for _, _, payload in items])


def _sweep_every_s() -> int:
    from eta.config import ModelSettings

    return ModelSettings().sweep_every_s


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
