"""Benchmark: calibration variants for the live hops of BayesianBahn's protocol, boosters fixed.

Trains the arrival model once on ``--train-from`` … ``--train-until`` and keeps, for its calibration rows
and for the protocol's live events in ``--test-from`` … ``--test-until``, the features the calibration
buckets use and the uncalibrated P10/P50/P90 (``--dump``). Each variant of the calibration buckets is then
fitted on the same calibration rows and scored on the events (``--load``: seconds, no training), by hop.
``busy_end`` is the default calibration (eta.model.calibration.SPLITS); ``fresh_first_120s`` the one chosen
on the validation split below, which did worse on the test months (docs/models.md) and is not the default:

    python -m bench.calibration_hop --train-from 2026-03-01 --train-until 2026-03-23 \\
        --test-from 2026-03-24 --test-until 2026-04-02 --dump var/calibration_hop_validation.pkl
    python -m bench.calibration_hop --load var/calibration_hop_validation.pkl

Writes ``bench/results/calibration_hop_<test-from>_<test-until>.{json,txt}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench._windows import VALIDATION, add_window_arguments
from eta.config import get_settings
from eta.evaluation import bayesianbahn
from eta.features import compute_features, fit_history, load_frames, vocabularies_for
from eta.features.queries import target_calls
from eta.features.reports import delay_reports
from eta.model import arrival, calibration
from eta.store import open_store
from eta.windows import window

RESULTS = Path(__file__).resolve().parent / "results"
KEPT = [
    "has_report",
    "report_stops_to_go",
    "time_to_arrival_s",
    "latest_delay_s",
    "scheduled_nearby_30min",
    "stops_after",
    "report_age_s",
]


def raw_predictions(predictor: arrival.ArrivalPredictor, features: pd.DataFrame) -> pd.DataFrame:
    """P10/P50/P90 (s) before the interval calibration (the very-late rule and rounding applied)."""
    meta = predictor.artefact.meta
    fitted = meta["calibration"]
    meta["calibration"] = {"overall": [0.0, 0.0], "buckets": {}}
    try:
        return predictor.predict(features)
    finally:
        meta["calibration"] = fitted


def dump(args: argparse.Namespace) -> dict[str, Any]:
    settings = get_settings()
    train = window(args.train_from, args.train_until, "training")
    test = window(args.test_from, args.test_until, "test")
    engine = open_store(settings)
    found = bayesianbahn.events(*bayesianbahn.station_calls(engine))
    frames = load_frames(engine, "train", train.start, test.end)
    in_test = found[
        (found["planned"] >= pd.Timestamp(test.start)) & (found["planned"] < pd.Timestamp(test.end))
    ]
    scored = in_test[in_test["eligible"] & ~in_test["is_departure"]]
    artefact = arrival.train(frames, "train", train.start, train.end, settings)
    predictor = arrival.ArrivalPredictor(artefact)
    reports = delay_reports(frames.calls, frames.observations)
    # the calibration rows, as arrival.train draws them
    split = arrival.calibration_split(train.start, train.end, settings)
    fit_hist = fit_history("train", frames, train.start, split)
    vocabularies = vocabularies_for("train", frames)
    calib_q, calib_x, calib_t = arrival.calibration_set(
        frames, "train", split, train.end, 0, fit_hist, vocabularies, reports
    )
    history, artefact.history = artefact.history, fit_hist
    calib_raw = raw_predictions(predictor, calib_x)
    artefact.history = history
    horizon = calib_q.set_index("qid")["horizon"].reindex(calib_x.index)
    calib = calib_x[KEPT].assign(
        truth_s=(calib_t + arrival.base_delay(calib_x)).to_numpy(), horizon=horizon.to_numpy(), **calib_raw
    )
    # the live events
    targets = target_calls(frames)
    targets = targets[targets["call_id"].isin(scored["call_id"])]
    queries = bayesianbahn.scenario_queries(frames, targets, "live")
    features = compute_features("train", frames, queries, artefact.history, vocabularies, reports)
    live_raw = raw_predictions(predictor, features)
    call_id = queries.set_index("qid")["call_id"].reindex(features.index).to_numpy()
    live = features[KEPT].assign(call_id=call_id, **live_raw)
    live = live.merge(scored[["call_id", "y_min", "hop_min", "category"]], on="call_id", how="inner")
    data = {"windows": {"train": train.as_list(), "test": test.as_list()}, "calib": calib, "live": live}
    Path(args.dump).parent.mkdir(parents=True, exist_ok=True)
    with Path(args.dump).open("wb") as handle:
        pickle.dump(data, handle)
    return data


def labels_with(
    splits: list[str], fresh_report_s: float = calibration.FRESH_REPORT_S
) -> Callable[[pd.DataFrame], pd.Series]:
    """The buckets of :func:`eta.model.calibration.bucket_of` with these splits (the fresh part right after
    the time bucket, where bucket_of puts it)."""
    settings = {
        "edges_s": list(calibration.BUCKET_EDGES_S),
        "clock": calibration.CLOCK,
        "splits": splits,
        "busy_nearby": calibration.BUSY_NEARBY,
        "fresh_report_s": fresh_report_s,
    }
    return lambda frame: calibration.bucket_of(frame, settings)


def fresh_last(age_s: float) -> Callable[[pd.DataFrame], pd.Series]:
    """The fresh part after the busy and end splits: a bucket short of rows gives it up first."""

    def label(frame: pd.DataFrame) -> pd.Series:
        base = labels_with(["busy", "end"])(frame)
        fresh = calibration.just_left(frame, age_s)
        return pd.Series([f"{b}-f{int(f)}" for b, f in zip(base, fresh, strict=True)], index=frame.index)

    return label


def variants() -> dict[str, Callable[[pd.DataFrame], pd.Series]]:
    return {
        "busy_end": labels_with(["busy", "end"]),
        "fresh_last_60s": fresh_last(60),
        "fresh_last_120s": fresh_last(120),
        "fresh_first_60s": labels_with(["fresh", "busy", "end"], 60),
        "fresh_first_120s": labels_with(["fresh", "busy", "end"], 120),
    }


def evaluate(data: dict[str, Any], label_of: Callable[[pd.DataFrame], pd.Series]) -> dict[str, Any]:
    calib, live = data["calib"], data["live"]
    buckets = label_of(calib)
    fitted = calibration.fit_interval_calibration(
        calib["truth_s"].to_numpy(),
        calib["p10_delay_s"].to_numpy(),
        calib["p50_delay_s"].to_numpy(),
        calib["p90_delay_s"].to_numpy(),
        buckets,
    )
    low, high = calibration.apply_interval_calibration(
        fitted,
        live["p10_delay_s"].to_numpy(),
        live["p50_delay_s"].to_numpy(),
        live["p90_delay_s"].to_numpy(),
        label_of(live),
    )
    lo, hi = (np.clip(v / 60, *bayesianbahn.CLIP_MIN) for v in (low, high))
    y = live["y_min"].to_numpy(dtype="float64")
    inside = (y >= lo) & (y <= hi)
    hops = live["hop_min"].map(bayesianbahn.hop_bucket)
    by_hop = {
        name: round(float(inside[(hops == name).to_numpy()].mean()), 3)
        for name, _ in bayesianbahn.HOP_BUCKETS
    }
    width = float(np.mean(hi - lo))
    return {
        "n": len(live),
        "coverage": round(float(inside.mean()), 3),
        "by_hop": by_hop,
        "width_min": round(width, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_window_arguments(parser, VALIDATION)
    parser.add_argument("--dump")
    parser.add_argument("--load")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.load:
        with Path(args.load).open("rb") as handle:
            data = pickle.load(handle)
    else:
        data = dump(args)
    results = {name: evaluate(data, label_of) for name, label_of in variants().items()}
    test_from, test_until = data["windows"]["test"]
    stem = RESULTS / f"calibration_hop_{test_from}_{test_until}"
    report = {"windows": data["windows"], "variants": results}
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"{'variant':<18} {'cov':>6} " + " ".join(f"{h:>6}" for h, _ in bayesianbahn.HOP_BUCKETS) + "  width"
    ]
    for name, r in results.items():
        hops = " ".join(f"{r['by_hop'][h]:>6.3f}" for h, _ in bayesianbahn.HOP_BUCKETS)
        lines.append(f"{name:<18} {r['coverage']:>6.3f} {hops}  {r['width_min']:.2f}")
    text = "\n".join(lines)
    stem.with_suffix(".txt").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
