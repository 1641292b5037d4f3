"""How many IRIS training queries count another run's stop added after their t (issue 15's leftover).

Usage: ``python -m bench.iris_cross_run_added`` on a store holding the Berlin IRIS week (``eta import
iris-archive``). Frames read whole (training, backtests) hold the stops change lists added to runs later
(:func:`eta.features.frames.added_later`); a query's own run is computed without those added after its t
(:func:`eta.features.compute_features`), but cross-run counts such as ``scheduled_nearby_30min`` (calls
scheduled at the station within ±30 min) still count other runs' stops added after t, which the sweep at t
does not hold. Counts, per horizon, the training queries (the train horizons and ``day_before``) with such a
stop in that window, and by how many the count is off. Writes ``bench/results/iris_cross_run_added.json``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from eta.config import get_settings
from eta.features import load_frames
from eta.features.frames import added_later
from eta.features.queries import HORIZONS, TRAINING_EXTRA, horizon_queries, target_calls
from eta.store import open_store

RESULTS = Path(__file__).parent / "results"
WINDOW = (datetime(2025, 9, 1, tzinfo=UTC), datetime(2025, 9, 10, tzinfo=UTC))
HALF = pd.Timedelta(minutes=30).to_timedelta64()


def main() -> None:
    frames = load_frames(open_store(get_settings()), "train", *WINDOW)
    calls = frames.calls
    added = calls[added_later(calls)].dropna(subset=["scheduled_arrival"])
    targets = target_calls(frames)
    if targets.empty:
        raise SystemExit("no IRIS arrivals in 1-9 Sep 2025: import the Berlin IRIS week first")
    queries = horizon_queries(frames, targets, HORIZONS["train"] + TRAINING_EXTRA["train"])
    by_call = calls.set_index("call_id")
    queries = queries.assign(
        scheduled=queries["call_id"].map(by_call["scheduled_arrival"]),
        location=queries["call_id"].map(by_call["location"]),
    )
    off = np.zeros(len(queries), dtype=int)
    for location, index in queries.groupby("location").indices.items():
        here = added[added["location"] == location]
        if here.empty:
            continue
        mine = queries.iloc[index]
        near = (
            np.abs(mine["scheduled"].to_numpy()[:, None] - here["scheduled_arrival"].to_numpy()[None, :])
            <= HALF
        )
        later = here["known_since"].to_numpy()[None, :] > mine["t"].to_numpy()[:, None]
        other_run = mine["service_id"].to_numpy()[:, None] != here["service_id"].to_numpy()[None, :]
        off[index] = (near & later & other_run).sum(axis=1)
    by_horizon = queries.assign(off=off > 0).groupby("horizon")["off"].agg(["size", "sum"])
    out = {
        "window": [WINDOW[0].isoformat(), WINDOW[1].isoformat()],
        "calls": len(calls),
        "calls_added_later": int(added_later(calls).sum()),
        "queries": len(queries),
        "queries_counting_another_runs_stop_added_after_t": int((off > 0).sum()),
        "off_by": {str(k): int(v) for k, v in enumerate(np.bincount(off)) if k and v},
        "by_horizon": {
            h: {"queries": int(r["size"]), "off": int(r["sum"])} for h, r in by_horizon.iterrows()
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "iris_cross_run_added.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
