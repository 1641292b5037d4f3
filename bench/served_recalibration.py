"""Benchmark: BayesianBahn's live protocol as served, with the served re-calibration replayed.

Serving re-calibrates the champion's P10–P90 interval every ``served_calibration_every_s`` on its own
served predictions of calls that have arrived (:mod:`eta.model.served_calibration`: the last
``served_calibration_window_s`` of scheduled arrivals, ``served_calibration_settle_s`` back, aiming higher
where the served interval fell short). The protocol's backtest scores the model's own interval only. Here
the arrival model is trained once (as ``bench.bayesianbahn_live``) and predicts every arrival at Augsburg
Hbf and München Hbf from the start of its calibration share to the end of the test window, once, at the
protocol's live query (the train has left the previous stop). The re-calibration is then replayed on
those predictions in time order, with serving's own functions: every step fits on the predictions made by
then of calls scheduled in the window and arrived by then, and applies to the predictions made until the
next step. Variants (the window; from deployment or in shadow) are scored on the test window's live
events.

The sample differs from serving's in one way: serving fits on every call it served (every station, every
sweep), here only on the two stations' arrivals at their live query.

    python -m bench.served_recalibration --train-from 2026-03-01 --train-until 2026-03-23 \\
        --test-from 2026-03-24 --test-until 2026-04-02 --dump var/served_recalibration_validation.pkl
    python -m bench.served_recalibration --load var/served_recalibration_validation.pkl

Writes ``bench/results/served_recalibration_<test-from>_<test-until>.{json,txt}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench._windows import VALIDATION, add_window_arguments
from eta.config import get_settings
from eta.evaluation import bayesianbahn
from eta.features import compute_features, load_frames
from eta.features.queries import target_calls
from eta.features.reports import delay_reports
from eta.model import arrival, distribution, served_calibration
from eta.model.calibration import bucket_of
from eta.store import open_store
from eta.windows import window

RESULTS = Path(__file__).resolve().parent / "results"


def dump(args: argparse.Namespace) -> dict[str, Any]:
    """Train once; the model's calibrated P10/P50/P90 of every arrival at the two stations, at its live
    query, from the calibration share's start to the test window's end."""
    settings = get_settings()
    train = window(args.train_from, args.train_until, "training")
    test = window(args.test_from, args.test_until, "test")
    engine = open_store(settings)
    found = bayesianbahn.events(*bayesianbahn.station_calls(engine))
    frames = load_frames(engine, "train", train.start, test.end)
    split = arrival.calibration_split(train.start, train.end, settings)
    chosen = found[
        (found["planned"] >= pd.Timestamp(split))
        & (found["planned"] < pd.Timestamp(test.end))
        & ~found["is_departure"]
    ]
    artefact = arrival.train(frames, "train", train.start, train.end, settings)
    predictor = arrival.ArrivalPredictor(artefact)
    reports = delay_reports(frames.calls, frames.observations)
    targets = target_calls(frames)
    targets = targets[targets["call_id"].isin(chosen["call_id"])]
    queries = bayesianbahn.scenario_queries(frames, targets, "live")
    features = compute_features(
        "train", frames, queries, artefact.history, artefact.meta["vocabularies"], reports
    )
    predicted = predictor.predict(features)
    calibration = artefact.meta["calibration"]
    q = queries.set_index("qid").reindex(features.index)
    rows = pd.DataFrame(
        {
            "call_id": q["call_id"],
            "t": q["t"],
            "known_at": q["arrival_known_at"],
            "bucket": bucket_of(features, calibration),
            "p10_s": predicted["p10_delay_s"],
            "p50_s": predicted["p50_delay_s"],
            "p90_s": predicted["p90_delay_s"],
        }
    ).reset_index(drop=True)
    rows = rows.merge(
        chosen[["call_id", "planned", "y_min", "hop_min", "category", "local_date", "eligible"]],
        on="call_id",
        how="inner",
    )
    data = {
        "windows": {"train": train.as_list(), "test": test.as_list()},
        "test_start": pd.Timestamp(test.start),
        "shape": calibration.get("shape"),
        "rows": rows.sort_values("t", kind="stable").reset_index(drop=True),
    }
    Path(args.dump).parent.mkdir(parents=True, exist_ok=True)
    with Path(args.dump).open("wb") as handle:
        pickle.dump(data, handle)
    return data


def replay(data: dict[str, Any], window_s: int | None, shadow: bool) -> tuple[np.ndarray, np.ndarray]:
    """The served P10/P90 (s) of every row: serving's re-calibration with a ``window_s`` window (None:
    the model's own bounds), from the model's deployment at the test window's start (``shadow``: from the
    calibration share's start, as if it had served in shadow before)."""
    rows = data["rows"]
    if window_s is None:
        return rows["p10_s"].to_numpy(), rows["p90_s"].to_numpy()
    settings = get_settings()
    settings = settings.model_copy(
        update={"model": settings.model.model_copy(update={"served_calibration_window_s": window_s})}
    )
    predictions = rows.rename(columns={"t": "made_at", "planned": "scheduled"}).assign(
        actual_s=rows["y_min"] * 60
    )
    deployed = rows["t"].min() if shadow else data["test_start"]
    return served_calibration.replay(predictions, settings, pd.Timestamp(deployed).to_pydatetime())


def evaluate(data: dict[str, Any], window_s: int | None, shadow: bool = False) -> dict[str, Any]:
    rows = data["rows"]
    low, high = replay(data, window_s, shadow)
    scored = (pd.to_datetime(rows["planned"], utc=True) >= data["test_start"]).to_numpy() & rows[
        "eligible"
    ].to_numpy(dtype=bool)
    spread = distribution.quantiles(
        data["shape"], low[scored], rows["p50_s"].to_numpy()[scored], high[scored], rows["bucket"][scored]
    )
    spread = np.clip(spread / 60, *bayesianbahn.CLIP_MIN)
    out = pd.DataFrame(spread, columns=[f"q{round(level * 100):02d}" for level in distribution.LEVELS])
    kept = rows.loc[scored, ["y_min", "hop_min", "category"]].reset_index(drop=True)
    return bayesianbahn.scenario_block(pd.concat([kept, out], axis=1))


DAY_S = 86_400
VARIANTS: dict[str, tuple[int | None, bool]] = {
    "model": (None, False),
    "served_1d": (DAY_S, False),
    "served_3d": (3 * DAY_S, False),
    "served_7d": (7 * DAY_S, False),
    "served_7d_shadow": (7 * DAY_S, True),
}


def table(results: dict[str, dict[str, Any]]) -> str:
    hops = [name for name, _ in bayesianbahn.HOP_BUCKETS]
    lines = [
        f"{'variant':<24} {'n':>6} {'crps':>6} {'mae':>6} {'cov':>6} " + " ".join(f"{h:>6}" for h in hops)
    ]
    for name, r in results.items():
        by_hop = " ".join(f"{r['by_hop'][h]['coverage_p10_p90']:>6.3f}" for h in hops)
        lines.append(
            f"{name:<24} {r['n']:>6} {r['crps_min']:>6.3f} {r['mae_p50_min']:>6.3f} "
            f"{r['coverage_p10_p90']:>6.3f} {by_hop}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_window_arguments(parser, VALIDATION)
    parser.add_argument("--dump", help="train, predict and keep the predictions in this pickle")
    parser.add_argument("--load", help="replay the variants on a pickle written by --dump")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.load:
        with Path(args.load).open("rb") as handle:
            data = pickle.load(handle)
    else:
        data = dump(args)
    results = {name: evaluate(data, *variant) for name, variant in VARIANTS.items()}
    test_from, test_until = data["windows"]["test"]
    stem = RESULTS / f"served_recalibration_{test_from}_{test_until}"
    report = {
        "windows": data["windows"],
        "variants": {
            name: {"window_s": window_s, "shadow": shadow, **results[name]}
            for name, (window_s, shadow) in VARIANTS.items()
        },
    }
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    text = table(results)
    stem.with_suffix(".txt").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
