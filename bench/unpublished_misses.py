"""Where the unpublished platform model misses the trains other than S-Bahn (the backtest's rows).

Usage: ``python -m bench.unpublished_misses --train-from 2025-09-02 --train-until 2025-09-04 --test-from
2025-09-05 --test-until 2025-09-05`` (the validation split; the test split is 09-02 … 05 / 09-06 … 08) on a
store holding the Berlin IRIS week. Trains and scores the model as ``eta backtest --platforms unpublished``
does, then splits the misses at ``--horizon`` of the trains other than S-Bahn by what the call's final
platform was against its published plan (which the model never sees) and against its usual platform (the
``history`` baseline's), by category, station and whether its number was seen at the station in training,
and looks at the run's earlier stops announced by t. Writes ``bench/results/unpublished_misses_<test>.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eta._time import utc_micros
from eta.config import get_settings
from eta.evaluation import unpublished_backtest
from eta.features import unpublished
from eta.features.frames import Frames, load_frames
from eta.features.platforms import platform_number
from eta.features.publication import Publication
from eta.store import open_store
from eta.windows import Window, window

RESULTS = Path(__file__).parent / "results"
# the final platform against the plan and the usual one; the last kind no signal at t was found for
KINDS = {
    "plan right, usual": "final == plan == usual",
    "plan right, unusual": "final == plan != usual (the day's plan moved the train)",
    "plan wrong, usual": "final != plan, final == usual (the plan changed back)",
    "plan wrong, unusual": "final != plan, final != usual (a change to a platform neither names)",
}


def misses(frames: Frames, train: Window, rows: pd.DataFrame, horizon: str) -> dict[str, Any]:
    calls = frames.calls.set_index("call_id")
    r = rows[(rows["horizon"] == horizon) & (rows["operator"].astype(str) != unpublished_backtest.S_BAHN)]
    r = r.assign(
        plan=r["call_id"].map(calls["planned_platform"]).astype("string").str.strip(),
        hit=r["platform"] == r["final_platform"],
        station=r["location"].map(frames.names).fillna(r["location"]),
    )
    usual = r["history"].astype("string")
    plan_right = (r["plan"] == r["final_platform"]).fillna(False).to_numpy(dtype=bool)
    final_usual = (r["final_platform"] == usual).fillna(False).to_numpy(dtype=bool)
    kind = np.select(
        [plan_right & final_usual, plan_right, final_usual],
        list(KINDS)[:3],
        list(KINDS)[3],
    )
    r = r.assign(kind=np.where(r["plan"].isna(), "no plan", kind))
    history = unpublished.fit_history(frames, train.start, train.end)
    seen = unpublished._key_count(history, "train", r) > 0

    def block(part: pd.DataFrame) -> dict[str, Any]:
        return {
            "n": len(part),
            "model_misses": int((~part["hit"]).sum()),
            "model": _share(part["hit"]),
            "history": _share(part["history"] == part["final_platform"]),
            "plan": _share(part["plan"] == part["final_platform"]),
        }

    def top(column: str, n: int = 8) -> dict[str, Any]:
        counts = r.loc[~r["hit"], column].astype(str).value_counts().head(n)
        return {name: block(r[r[column].astype(str) == name]) for name in counts.index}

    changes = r[r["kind"] == "plan wrong, unusual"]
    distance = (
        platform_number(changes["final_platform"].astype("string")) - platform_number(usual[changes.index])
    ).abs()
    missed = r[~r["hit"]]
    return {
        "other_trains": block(r),
        "by_kind": {name: block(r[r["kind"] == name]) for name in [*KINDS, "no plan"]},
        "kinds": KINDS,
        "ceiling_without_changes": _share(r["hit"] | (r["kind"] != "plan wrong, unusual")),
        "changes_to_a_neighbour": int((distance == 1).sum()),
        "misses_final_second": _share(missed["second"] == missed["final_platform"]),
        "number_seen_at_station": block(r[seen]),
        "number_not_seen": block(r[~seen]),
        "by_category": top("operator"),
        "by_station": top("station"),
        "earlier_stops": earlier_stops(frames, history, r),
        "changes_first_reported_min_before_arrival": first_reported(frames, r),
    }


def first_reported(frames: Frames, r: pd.DataFrame) -> dict[str, Any]:
    """For the arrivals whose plan was wrong: when their final platform was first reported, in minutes
    before the scheduled arrival (negative: after it), quantiles per kind."""
    wrong = r[r["kind"].str.startswith("plan wrong")]
    obs = frames.observations[["call_id", "observed_at", "platform"]]
    obs = obs[obs["call_id"].isin(wrong["call_id"])].merge(wrong[["call_id", "final_platform"]], on="call_id")
    obs = obs[obs["platform"].astype("string").str.strip() == obs["final_platform"]]
    first = obs.groupby("call_id")["observed_at"].min()
    scheduled = frames.calls.set_index("call_id")["scheduled_arrival"].reindex(first.index)
    lead = (scheduled - first).dt.total_seconds() / 60
    out = {}
    for name, part in wrong.groupby("kind"):
        minutes = lead.reindex(part["call_id"]).dropna()
        out[str(name)] = {
            "n": len(minutes),
            **{f"q{int(q * 100)}": round(float(minutes.quantile(q)), 1) for q in (0.1, 0.5, 0.9)},
            "share_before_20min": round(float((minutes > 20).mean()), 4),
        }
    return out


def _share(hits: pd.Series) -> float | None:
    """The share of True (missing counts as False), None for no rows."""
    return round(float(hits.fillna(False).astype(bool).mean()), 4) if len(hits) else None


def earlier_stops(frames: Frames, history: Any, r: pd.DataFrame) -> dict[str, Any]:
    """Per kind: how many arrivals had an earlier stop of their run announced by t (as the backtest
    announces: 20 min before), and of those, how many had one announced off its plan or off its usual."""
    keys = unpublished.call_keys(frames.calls)
    revealed = unpublished.revealed_platforms(frames, Publication.all_stations(20 * 60), keys)
    calls = frames.calls.set_index("call_id")
    revealed = revealed.assign(
        usual=unpublished.history_platform(history, revealed).astype("string"),
        plan=revealed["call_id"].map(calls["planned_platform"]).astype("string").str.strip(),
        service_id=revealed["call_id"].map(calls["service_id"]),
        sequence=revealed["call_id"].map(calls["sequence"]),
    )
    q = r.assign(
        t_us=utc_micros(r["t"]),
        service_id=r["call_id"].map(calls["service_id"]),
        sequence=r["call_id"].map(calls["sequence"]),
    )
    pairs = q[["call_id", "service_id", "sequence", "t_us"]].merge(
        revealed[["service_id", "sequence", "revealed", "platform", "usual", "plan"]],
        on="service_id",
        suffixes=("", "_earlier"),
    )
    pairs = pairs[(pairs["sequence_earlier"] < pairs["sequence"]) & (pairs["revealed"] < pairs["t_us"])]
    per_call = (
        pairs.assign(
            off_plan=pairs["platform"] != pairs["plan"], off_usual=pairs["platform"] != pairs["usual"]
        )
        .groupby("call_id")[["off_plan", "off_usual"]]
        .any()
    )
    out = {}
    for name, part in q.groupby("kind"):
        known = per_call.reindex(part["call_id"]).dropna()
        out[str(name)] = {
            "n": len(part),
            "with_an_earlier_stop_announced": len(known),
            "one_off_its_plan": int(known["off_plan"].astype(bool).sum()),
            "one_off_its_usual": int(known["off_usual"].astype(bool).sum()),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--train-from", "--train-until", "--test-from", "--test-until"):
        parser.add_argument(name, required=True)
    parser.add_argument("--horizon", default="30min", choices=unpublished.HORIZONS)
    args = parser.parse_args()
    settings = get_settings()
    train = window(args.train_from, args.train_until, "train")
    test = window(args.test_from, args.test_until, "test")
    frames = load_frames(open_store(settings), "train", train.start, test.end)
    rows = unpublished_backtest.run(frames, train, test, settings)
    if rows is None:
        raise SystemExit("no arrivals with a platform in both windows; import the Berlin IRIS week first")
    out = {
        "train_window": train.as_list(),
        "test_window": test.as_list(),
        "horizon": args.horizon,
        **misses(frames, train, rows, args.horizon),
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"unpublished_misses_{args.test_from}_{args.test_until}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
