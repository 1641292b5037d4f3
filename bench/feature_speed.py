"""Benchmark: point-in-time train arrival features (``compute_features``) on a fixed set of queries.

The queries are the train arrival model's training queries (:func:`eta.model.arrival.training_queries`,
seed 0) of a one-week window of the DB runs, sampled to ``--rows`` with a fixed seed; the history is fitted
on the same week. Only ``compute_features`` is timed (best of ``--repeat``), its CPU time beside the wall
time. Run after ``eta import db-runs``:

    ETA_DATA_DIR=var python -m bench.feature_speed --label after [--save var/features.pkl | --check ...]

``--save`` writes the feature frame (pickle), ``--check`` compares it with a saved one exactly
(``pandas.testing.assert_frame_equal``, ``check_exact``) and fails on any difference. To time an older
checkout, put its ``eta`` first on ``PYTHONPATH`` (``git archive main eta | tar -x -C var/base``, then
``PYTHONPATH=var/base:.``) and give it another ``--label``; both runs land in the same results file.
``--profile N`` prints the N functions with the most cumulative time (``--sort tottime``: own time;
cProfile, one extra run).

Writes ``bench/results/feature_speed.json`` (one entry per label).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

import eta
from eta.config import get_settings
from eta.features import compute_features, fit_history, load_frames, vocabularies_for
from eta.features.reports import delay_reports
from eta.model.arrival import training_queries
from eta.store import open_store
from eta.windows import window

RESULTS = Path(__file__).resolve().parent / "results" / "feature_speed.json"
MODE = "train"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="start", default="2026-05-04")
    parser.add_argument("--until", default="2026-05-10")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--label", default="current")
    parser.add_argument("--save", type=Path, help="write the feature frame here (pickle)")
    parser.add_argument("--check", type=Path, help="compare the feature frame with this pickle exactly")
    parser.add_argument("--profile", type=int, default=0, help="print this many functions by --sort")
    parser.add_argument("--sort", default="cumulative", help="cProfile order: cumulative, tottime, ...")
    args = parser.parse_args()
    span = window(args.start, args.until, "training")
    frames = load_frames(open_store(get_settings()), MODE, span.start, span.end)
    queries = training_queries(frames, MODE, span.start, span.end, args.seed)
    if len(queries) > args.rows:
        queries = queries.sample(args.rows, random_state=args.seed).sort_values("qid")
    history = fit_history(MODE, frames, span.start, span.end)
    vocabularies = vocabularies_for(MODE, frames)
    reports = delay_reports(frames.calls, frames.observations)

    def run() -> pd.DataFrame:
        return compute_features(MODE, frames, queries, history, vocabularies, reports)

    walls, cpus = [], []
    features = pd.DataFrame()
    for _ in range(args.repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        features = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        features.to_pickle(args.save)
    if args.check:
        pd.testing.assert_frame_equal(features, pd.read_pickle(args.check), check_exact=True)
        print(f"identical to {args.check}: {features.shape}")
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(run)
        pstats.Stats(profile).sort_stats(args.sort).print_stats(args.profile)
    figures = {
        "measured_at": datetime.now(UTC).isoformat(),
        "eta_package": str(Path(eta.__file__).parent),
        "window": span.as_list(),
        "calls": len(frames.calls),
        "observations": len(frames.observations),
        "rows": len(features),
        "columns": features.shape[1],
        "compute_features_wall_s": [round(s, 2) for s in walls],
        "compute_features_cpu_s": [round(s, 2) for s in cpus],
        "best_wall_s": round(min(walls), 2),
        "best_cpu_s": round(min(cpus), 2),
        "checked_identical_to": str(args.check) if args.check else None,
        "cpu_count": os.cpu_count(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "pandas": pd.__version__,
    }
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[args.label] = figures
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
