"""Benchmark: BayesianBahn's protocol with the retraining job's loop (``--walk-forward``) against one model.

Runs exactly what ``eta backtest --mode train --protocol bayesianbahn --task arrival --walk-forward 7d``
runs, block by block (the protocol's own block step, ``bayesianbahn._block_models``: one arrival model per
7-day block, trained on the training window moved forward to it), writing the results after each block
(``--deadline``: start no block after it), records what each training cost, and predicts every event also
with the first block's model (trained on the training window itself: the single model of the run without
``--walk-forward``, at the same settings), so that both are scored on the same events, overall and per
block. Run after ``eta import db-runs`` (a row cap makes it fit a small machine, see docs/models.md):

    ETA_MODEL__MAX_TRAIN_ROWS=200000 python -m bench.walk_forward --train-from 2026-03-01 \\
        --train-until 2026-04-06 --test-from 2026-04-07 --test-until 2026-05-31 [--blocks N] [--from-block K]

``--merge A.json B.json`` pools runs over consecutive blocks into one.

Writes ``bench/results/walk_forward_<test-from>_<test-until>.{json,txt,png}``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from bench._windows import add_window_arguments
from eta.config import get_settings
from eta.evaluation import bayesianbahn
from eta.evaluation.walk_forward import blocks
from eta.features import load_frames
from eta.features.reports import delay_reports
from eta.model import arrival
from eta.model.artefact import Artefact
from eta.store import open_store
from eta.windows import Window, window

SCENARIOS = ("live", "blind")
RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_window_arguments(parser)
    parser.add_argument("--every-days", type=int, default=7)
    parser.add_argument(
        "--blocks", type=int, default=None, help="Only the first N blocks (the test window cut after them)."
    )
    parser.add_argument("--deadline", help="Start no block after this UTC time (ISO, with offset).")
    parser.add_argument(
        "--from-block",
        type=int,
        default=1,
        help="Start at block K (1-based; earlier ones were run before): only the first block's model is "
        "trained before it, for the single-model side.",
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        help="Pool result files of consecutive blocks (runs with --from-block) into one and stop.",
    )
    args = parser.parse_args()
    if args.merge:
        figures = merge(args.merge)
        stem = RESULTS / f"walk_forward_{figures['test_window_done'][0]}_{figures['test_window_done'][1]}"
        stem.with_suffix(".json").write_text(json.dumps(figures, indent=2, default=str) + "\n")
        text = table(figures)
        stem.with_suffix(".txt").write_text(text + "\n")
        plot(figures, stem.with_suffix(".png"))
        print(text)
        return
    settings = get_settings()
    train = window(args.train_from, args.train_until, "training")
    test = window(args.test_from, args.test_until, "test")
    every = timedelta(days=args.every_days)
    if args.blocks is not None:
        end = min(test.end, test.start + every * args.blocks)
        test = Window(test.start, end, test.label_from, (end - timedelta(days=1)).date().isoformat())
    trainings: list[dict[str, Any]] = []
    artefacts: list[Artefact] = []
    original = arrival.train

    def timed_train(*a: Any, **k: Any) -> Artefact:
        clock, cpu = time.perf_counter(), time.process_time()
        artefact = original(*a, **k)
        trainings.append(
            {
                "train_window": [a[2].date().isoformat(), (a[3] - timedelta(days=1)).date().isoformat()],
                "wall_s": round(time.perf_counter() - clock),
                "cpu_s": round(time.process_time() - cpu),
                "load_1m": round(os.getloadavg()[0], 1),
                "n_train": artefact.meta["n_train"],
            }
        )
        artefacts.append(artefact)
        return artefact

    began = time.perf_counter()
    engine = open_store(settings)
    found = bayesianbahn.events(*bayesianbahn.station_calls(engine))
    frames = load_frames(engine, "train", train.start, test.end)
    reports = delay_reports(frames.calls, frames.observations)
    scored = found[
        found["eligible"]
        & ~found["is_departure"]
        & (found["planned"] >= pd.Timestamp(test.start))
        & (found["planned"] < pd.Timestamp(test.end))
    ]
    views = {"arrival": (frames, reports)}
    deadline = datetime.fromisoformat(args.deadline) if args.deadline else None
    walk: list[pd.DataFrame] = []
    single: list[pd.DataFrame] = []
    models: list[dict[str, Any]] = []
    per_block: list[dict[str, Any]] = []
    first_tested = blocks(train, test, every)[args.from_block - 1].test.label_from
    stem = RESULTS / f"walk_forward_{first_tested}_{test.label_until}"
    for index, block in enumerate(blocks(train, test, every)):
        if index < args.from_block - 1:
            if index == 0:  # the single model, trained as the first block trains it
                timed_train(frames, "train", block.train.start, block.train.end, settings)
            continue
        if deadline is not None and datetime.now(UTC) >= deadline:
            break
        in_block = (found["planned"] >= block.test.start) & (found["planned"] < block.test.end)
        block_events = scored[(scored["planned"] >= block.test.start) & (scored["planned"] < block.test.end)]
        served_sample = found[in_block & ~found["is_departure"]]
        parts: list[pd.DataFrame] = []
        arrival.train = timed_train  # type: ignore[assignment]
        try:
            # the protocol's own block step (eta backtest --protocol bayesianbahn --walk-forward)
            models.append(
                bayesianbahn._block_models(
                    frames, block, block_events, served_sample, views, settings, parts, ("arrival",)
                )
            )
        finally:
            arrival.train = original  # type: ignore[assignment]
        # both scored with the model's own interval: the protocol's live rows are re-calibrated as served
        # from each block's start, which a single model's rows predicted block by block cannot follow
        mine = _scored(parts, block_events)
        mine = mine[mine["scenario"] != "live"].replace({"scenario": {"live_model": "live"}})
        # the same events predicted by the first block's model: the single model without --walk-forward
        first = _scored(
            [bayesianbahn.predict_events(frames, artefacts[0], block_events, s, reports) for s in SCENARIOS],
            block_events,
        )
        walk.append(mine)
        single.append(first)
        per_block.append(
            {
                "train_window": block.train.as_list(),
                "test_window": block.test.as_list(),
                "walk_forward": {s: bayesianbahn.score(mine[mine["scenario"] == s]) for s in SCENARIOS},
                "single": {s: bayesianbahn.score(first[first["scenario"] == s]) for s in SCENARIOS},
            }
        )
        done = pd.concat(walk, ignore_index=True), pd.concat(single, ignore_index=True)
        last = block.test
        figures = {
            "measured_at": datetime.now(UTC).isoformat(),
            "command": "eta backtest --mode train --protocol bayesianbahn --task arrival --walk-forward "
            f"{args.every_days}d --train-from {args.train_from} --train-until {args.train_until} "
            f"--test-from {test.label_from} --test-until {last.label_until}",
            "test_window_done": [first_tested, last.label_until],
            "from_block": args.from_block,
            "blocks_done": len(per_block),
            "blocks_planned": len(blocks(train, test, every)),
            "settings": {
                "max_train_rows": settings.model.max_train_rows,
                "interval_train_rows": settings.model.interval_train_rows,
                "median_boosters": settings.model.median_boosters,
                "n_rounds": settings.model.n_rounds,
                "retrain_window_days": settings.model.retrain_window_days,
                "retrain_test_days": settings.model.retrain_test_days,
            },
            "trainings": trainings,
            "wall_s": round(time.perf_counter() - began),
            "cpu_count": os.cpu_count(),
            "models": models,
            **{
                name: {
                    "live": bayesianbahn.scenario_block(rows[rows["scenario"] == "live"]),
                    "blind_arrivals": bayesianbahn.score(rows[rows["scenario"] == "blind"]),
                }
                for name, rows in zip(("walk_forward", "single"), done, strict=True)
            },
            "per_block": per_block,
        }
        stem.with_suffix(".json").write_text(json.dumps(figures, indent=2, default=str) + "\n")
        text = table(figures)
        stem.with_suffix(".txt").write_text(text + "\n")
        plot(figures, stem.with_suffix(".png"))
        print(text, flush=True)


def merge(paths: list[Path]) -> dict[str, Any]:
    """The figures of runs over consecutive blocks (``--from-block``) pooled into one: every score is a mean
    over events, so the pooled one is the n-weighted mean of the parts' (from their rounded figures)."""
    parts = [json.loads(path.read_text()) for path in paths]
    first, last = parts[0], parts[-1]
    figures = {
        **{key: last[key] for key in ("measured_at", "settings", "cpu_count")},
        "command": first["command"].replace(
            f"--test-until {first['test_window_done'][1]}", f"--test-until {last['test_window_done'][1]}"
        ),
        "merged_from": [path.name for path in paths],
        "test_window_done": [first["test_window_done"][0], last["test_window_done"][1]],
        "blocks_done": sum(p["blocks_done"] for p in parts),
        "blocks_planned": last["blocks_planned"],
        "trainings": [t for p in parts for t in p["trainings"]],
        "wall_s": sum(p["wall_s"] for p in parts),
        "per_block": [b for p in parts for b in p["per_block"]],
    }
    for name in ("walk_forward", "single"):
        figures[name] = {
            "live": _pooled([p[name]["live"] for p in parts]),
            "blind_arrivals": _pooled([p[name]["blind_arrivals"] for p in parts]),
        }
    return figures


def _pooled(blocks_: list[dict[str, Any]]) -> dict[str, Any]:
    """n-weighted means of the scores (nested groups pooled the same way)."""
    present = [b for b in blocks_ if b.get("n")]
    n = sum(b["n"] for b in present)
    out: dict[str, Any] = {"n": n}
    if not n:
        return out
    for key, value in present[0].items():
        if key == "n":
            continue
        if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
            out[key] = {group: _pooled([b[key].get(group, {}) for b in present]) for group in value}
        elif isinstance(value, dict):
            out[key] = {k: round(sum(b[key][k] * b["n"] for b in present) / n, 3) for k in value}
        else:
            out[key] = round(sum(b[key] * b["n"] for b in present) / n, 3)
    return out


def _scored(parts: list[pd.DataFrame], events: pd.DataFrame) -> pd.DataFrame:
    """Predictions joined with the events' outcomes and groups (as the protocol's report does)."""
    predicted = pd.concat([p for p in parts if not p.empty], ignore_index=True)
    return predicted.merge(events.drop(columns=["planned"]), on="call_id", how="inner")


def table(figures: dict[str, Any]) -> str:
    lines = [
        figures["command"],
        f"max_train_rows {figures['settings']['max_train_rows']:,}; trainings (wall s / cpu s): "
        + ", ".join(f"{t['wall_s']}/{t['cpu_s']}" for t in figures["trainings"]),
        "",
        f"{'minutes':<28}{'n':>8}{'CRPS':>8}{'MAE':>8}{'cov':>8}",
    ]

    def row(name: str, part: dict[str, Any]) -> None:
        if part.get("n"):
            lines.append(
                f"{name:<28}{part['n']:>8,}{part['crps_min']:>8.3f}{part['mae_p50_min']:>8.3f}"
                f"{part['coverage_p10_p90']:>8.3f}"
            )

    for name in ("walk_forward", "single"):
        row(f"{name} live", figures[name]["live"])
        for hop, part in figures[name]["live"].get("by_hop", {}).items():
            row(f"  hop {hop}", part)
        row(f"{name} blind arrivals", figures[name]["blind_arrivals"])
    lines.append("")
    lines.append("per block, live CRPS / MAE / coverage: walk-forward | single")
    for block in figures["per_block"]:
        w, s = block["walk_forward"]["live"], block["single"]["live"]
        if w.get("n") and s.get("n"):
            lines.append(
                f"{block['test_window'][0]} … {block['test_window'][1]}  n {w['n']:>6,}  "
                f"{w['crps_min']:.3f} / {w['mae_p50_min']:.3f} / {w['coverage_p10_p90']:.3f} | "
                f"{s['crps_min']:.3f} / {s['mae_p50_min']:.3f} / {s['coverage_p10_p90']:.3f}"
            )
    return "\n".join(lines)


def plot(figures: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [b for b in figures["per_block"] if b["walk_forward"]["live"].get("n")]
    labels = [b["test_window"][0][5:] for b in done]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, style in (("walk_forward", "o-"), ("single", "s--")):
        left.plot(labels, [b[name]["live"]["crps_min"] for b in done], style, label=name.replace("_", "-"))
        right.plot(labels, [b[name]["live"]["coverage_p10_p90"] for b in done], style, label=name)
    left.axhline(1.25, color="grey", linewidth=0.8)
    left.set_ylabel("live CRPS (min)")
    left.set_xlabel("block starting")
    left.legend()
    right.axhspan(0.77, 0.83, color="grey", alpha=0.2, linewidth=0)
    right.set_ylim(0.6, 1.0)
    right.set_ylabel("live share inside P10–P90")
    right.set_xlabel("block starting")
    fig.suptitle(
        f"walk-forward (retrained every 7 days) vs one model, max_train_rows "
        f"{figures['settings']['max_train_rows']:,}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
