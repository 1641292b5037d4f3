"""Benchmark: the live scenario of BayesianBahn's protocol alone, with phase timings.

Trains the arrival model once on the training window and scores its live events (eta's ``next_stop``
query, the interval as served) with the protocol's own functions (:mod:`eta.evaluation.bayesianbahn`):
the live figures of ``eta backtest --mode train --protocol bayesianbahn`` on the same windows (the
departure model, which only the blind scenario uses, is not trained). Run after ``eta import db-runs``:

    python -m bench.bayesianbahn_live --train-from 2026-03-01 --train-until 2026-04-06 \\
        --test-from 2026-04-07 --test-until 2026-05-31

Writes ``bench/results/bayesianbahn_live_<test-from>_<test-until>.{json,txt,png}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from bench._windows import add_window_arguments
from eta.config import get_settings
from eta.evaluation import bayesianbahn
from eta.features import load_frames
from eta.features.reports import delay_reports
from eta.model import arrival
from eta.store import open_store
from eta.windows import window

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_window_arguments(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = get_settings()
    train = window(args.train_from, args.train_until, "training")
    test = window(args.test_from, args.test_until, "test")
    engine = open_store(settings)
    clock = time.perf_counter()
    found = bayesianbahn.events(*bayesianbahn.station_calls(engine))
    frames = load_frames(engine, "train", train.start, test.end)
    read_s = time.perf_counter() - clock
    in_test = found[
        (found["planned"] >= pd.Timestamp(test.start)) & (found["planned"] < pd.Timestamp(test.end))
    ]
    scored = in_test[in_test["eligible"] & ~in_test["is_departure"]]
    clock, cpu = time.perf_counter(), time.process_time()
    artefact = arrival.train(frames, "train", train.start, train.end, settings)
    train_s, train_cpu_s = time.perf_counter() - clock, time.process_time() - cpu
    clock = time.perf_counter()
    reports = delay_reports(frames.calls, frames.observations)
    # as served: re-calibrated on every arrival there, as the protocol command does
    arrivals = in_test[~in_test["is_departure"]]
    predicted = bayesianbahn.predict_events(
        frames, artefact, arrivals, "live", reports, (settings, test.start)
    )
    both = predicted.merge(scored.drop(columns=["planned"]), on="call_id", how="inner")
    rows = both[both["scenario"] == "live"]
    live = bayesianbahn.scenario_block(rows)
    live["model_interval"] = bayesianbahn.score(both[both["scenario"] == "live_model"])
    month = pd.to_datetime(rows["local_date"]).dt.month
    live["by_month"] = {name: bayesianbahn.score(rows[month == n]) for name, n in (("april", 4), ("may", 5))}
    live["n_arrivals_without_query"] = len(scored) - len(rows)
    report = {
        "protocol": bayesianbahn.PROTOCOL,
        "measured_at": datetime.now(UTC).isoformat(),
        "train_window": train.as_list(),
        "test_window": test.as_list(),
        "walk_forward_days": None,
        "live": live,
        "baselines": {
            "persistence_mae_min": round(float((rows["y_min"] - rows["persistence_min"]).abs().mean()), 3)
        },
        "model": {
            k: artefact.meta[k] for k in ("n_train", "n_train_interval", "n_median_boosters", "n_calibration")
        },
        "read_s": round(read_s),
        "train_wall_s": round(train_s),
        "train_cpu_s": round(train_cpu_s),
        "predict_s": round(time.perf_counter() - clock),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load_1m_at_end": round(os.getloadavg()[0], 1),
        "cpu_count": os.cpu_count(),
        "reference_bayesianbahn": bayesianbahn.REFERENCE["live"],
    }
    stem = RESULTS / f"bayesianbahn_live_{test.label_from}_{test.label_until}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    text = table(report)
    stem.with_suffix(".txt").write_text(text + "\n")
    bayesianbahn.plot(report, stem).replace(stem.with_suffix(".png"))
    print(text)


def table(report: dict) -> str:
    live = report["live"]
    lines = [
        f"live, trained {report['train_window'][0]} … {report['train_window'][1]}, tested "
        f"{report['test_window'][0]} … {report['test_window'][1]} (minutes); training "
        f"{report['train_wall_s']} s wall, {report['train_cpu_s']} s CPU",
        f"{'group':<12}{'n':>8}{'CRPS':>8}{'MAE':>8}{'cov':>8}",
    ]
    groups = [("all", live)] + [(f"hop {k}", v) for k, v in live["by_hop"].items()]
    groups += list(live["by_month"].items())
    groups.append(("model's own", live["model_interval"]))
    for name, part in groups:
        lines.append(
            f"{name:<12}{part['n']:>8,}{part['crps_min']:>8.3f}{part['mae_p50_min']:>8.3f}"
            f"{part['coverage_p10_p90']:>8.3f}"
        )
    lines.append(f"persistence MAE {report['baselines']['persistence_mae_min']:.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
