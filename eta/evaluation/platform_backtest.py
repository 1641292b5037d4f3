"""Platform backtest: the platform model against the ``announced`` and ``history`` baselines.

Baselines (top-1):
- ``announced``: the latest platform announced as of t (a change report), else the planned one.
- ``history``: the platform this train (category + number) most often ended at at this station in the
  training window, else the planned one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from eta.config import Settings
from eta.evaluation.metrics import (
    average_precision,
    expected_calibration_error,
    flag_precision_recall,
    log_loss,
)
from eta.features import platforms
from eta.features.frames import Frames
from eta.features.history import History
from eta.features.queries import TRAIN_HORIZONS
from eta.features.reports import delay_reports
from eta.model import platform as platform_model
from eta.windows import Window

BASELINE_PROBABILITIES = (
    "Each baseline gives its platform probability 1 − r, where r is the share of the training window's "
    "queries (all horizons) at the same station and category whose final platform differed from that "
    "baseline's platform (falling back to the category's rate, then the overall rate); r is spread over the "
    "station's other platforms in proportion to how often trains ended at them in the training window. "
    "A final platform the station never used in training gets probability 0, clipped to 1e-6 in the log loss."
)
BASELINES = ("announced", "history")


def run(frames: Frames, train: Window, test: Window, settings: Settings) -> pd.DataFrame | None:
    """Per test query: final, announced, model top-1 and probabilities, baseline choices and probabilities."""
    if platforms.platform_targets(frames, train.start, train.end).empty:
        return None
    test_targets = platforms.platform_targets(frames, test.start, test.end)
    if test_targets.empty:
        return None
    artefact = platform_model.train(frames, train.start, train.end, settings)
    predictor = platform_model.PlatformPredictor(artefact)
    reports = delay_reports(frames.calls, frames.observations)
    vocab = artefact.meta["vocabularies"]
    queries = platform_model.platform_queries(frames, test_targets, TRAIN_HORIZONS)
    pairs = platforms.compute_features(frames, queries, artefact.history, vocab, reports)
    pairs["probability"] = predictor.probabilities(pairs)
    summary = platform_model.summarise(pairs, float(artefact.meta.get("switch_threshold", 0.0)))
    q = queries.set_index("qid")
    rows = q[["call_id", "horizon", "t", "final_platform"]].join(summary, how="left")
    final_prob = pairs[pairs["candidate"] == pairs["qid"].map(q["final_platform"].astype(str))]
    rows["p_final"] = final_prob.set_index("qid")["probability"].reindex(rows.index).fillna(0.0)
    on_announced = pairs[pairs["is_announced"] == 1].set_index("qid")["probability"]
    rows["p_change"] = 1.0 - on_announced.reindex(rows.index).fillna(0.0)
    announced = platforms.announced_as_of(frames, queries.reset_index(drop=True)).reindex(rows.index)
    rows["announced"] = announced["announced"].astype(str)
    rows["planned"] = announced["planned"].astype(str)
    context = frames.calls.set_index("call_id")[["location", "operator", "number"]].astype(str)
    rows = rows.join(context, on="call_id")
    rows["history"] = _history_platform(artefact.history, rows)
    train_rows = _training_baseline_rows(frames, train, artefact.history)
    for name in BASELINES:
        rows[f"p_{name}"] = baseline_probability(rows, name, train_rows, artefact.history)
    rows["final_platform"] = rows["final_platform"].astype(str)
    return rows


def _history_platform(history: History, rows: pd.DataFrame) -> pd.Series:
    _, table = history.tables["train"]
    flat = table.reset_index().sort_values("count", ascending=False)
    top = flat.drop_duplicates(["operator", "number", "location"]).set_index(
        ["operator", "number", "location"]
    )
    index = pd.MultiIndex.from_frame(rows[["operator", "number", "location"]])
    chosen = top["final_platform"].reindex(index).to_numpy()
    return pd.Series(chosen, index=rows.index).fillna(rows["planned"]).astype(str)


def _training_baseline_rows(frames: Frames, train: Window, history: History) -> pd.DataFrame:
    """Training-window queries with each baseline's platform and the final one, to measure r."""
    targets = platforms.platform_targets(frames, train.start, train.end)
    queries = platform_model.platform_queries(frames, targets, TRAIN_HORIZONS)
    announced = platforms.announced_as_of(frames, queries).reindex(queries["qid"])
    rows = queries.set_index("qid")[["call_id", "final_platform"]].assign(
        announced=announced["announced"].astype(str).to_numpy(),
        planned=announced["planned"].astype(str).to_numpy(),
    )
    context = frames.calls.set_index("call_id")[["location", "operator", "number"]].astype(str)
    rows = rows.join(context, on="call_id")
    rows["history"] = _history_platform(history, rows)
    rows["final_platform"] = rows["final_platform"].astype(str)
    return rows


def _change_rate(train_rows: pd.DataFrame, name: str, rows: pd.DataFrame) -> pd.Series:
    missed = (train_rows[name] != train_rows["final_platform"]).astype("float64")
    frame = train_rows.assign(missed=missed)
    by_station = frame.groupby(["location", "operator"])["missed"].mean()
    by_category = frame.groupby("operator")["missed"].mean()
    overall = float(missed.mean())
    index = pd.MultiIndex.from_frame(rows[["location", "operator"]])
    rate = pd.Series(by_station.reindex(index).to_numpy(), index=rows.index)
    rate = rate.fillna(rows["operator"].map(by_category)).fillna(overall)
    return rate


def baseline_probability(
    rows: pd.DataFrame, name: str, train_rows: pd.DataFrame, history: History
) -> pd.Series:
    """Probability the baseline ``name`` gives to the final platform (see BASELINE_PROBABILITIES)."""
    r = _change_rate(train_rows, name, rows)
    hit = rows[name] == rows["final_platform"]
    _, station = history.tables["station"]
    counts = station["count"]
    index_final = pd.MultiIndex.from_frame(rows[["location", "final_platform"]].astype(str))
    index_base = pd.MultiIndex.from_frame(rows[["location", name]].astype(str))
    final_count = pd.Series(counts.reindex(index_final).to_numpy(), index=rows.index).fillna(0.0)
    base_count = pd.Series(counts.reindex(index_base).to_numpy(), index=rows.index).fillna(0.0)
    total = rows["location"].map(counts.groupby(level=0).sum()).fillna(0.0)
    others = (total - base_count).replace(0.0, np.nan)
    spread = (r * final_count / others).fillna(0.0)
    return pd.Series(np.where(hit, 1.0 - r, spread), index=rows.index)


def report(rows: pd.DataFrame, change_flag_probability: float = 0.15) -> dict[str, Any]:
    """Per horizon: top-1, log loss, calibration, changes caught, and how well the change probability
    (1 − the announced platform's) ranks and flags the calls whose platform changes after t."""
    out: dict[str, Any] = {}
    for horizon in [h for h in TRAIN_HORIZONS if h in set(rows["horizon"])]:
        part = rows[rows["horizon"] == horizon]
        correct = (part["platform"] == part["final_platform"]).to_numpy()
        changed = (part["final_platform"] != part["announced"]).to_numpy()
        caught = correct[changed]
        baselines = {}
        for name in BASELINES:
            baselines[name] = {
                "top1": round(float(np.mean(part[name] == part["final_platform"])), 6),
                "log_loss": round(log_loss(part[f"p_{name}"].to_numpy()), 4),
            }
        out[horizon] = {
            "n": len(part),
            "n_changed_after_t": int(changed.sum()),
            "model": {
                "top1": round(float(np.mean(correct)), 6),
                "log_loss": round(log_loss(part["p_final"].to_numpy()), 4),
                "ece": round(
                    expected_calibration_error(part["platform_probability"].fillna(0).to_numpy(), correct), 4
                ),
                "changes_caught": round(float(np.mean(caught)), 4) if len(caught) else None,
                **change_figures(part["p_change"].to_numpy(), changed, change_flag_probability),
            },
            "baselines": baselines,
        }
    return out


def change_figures(p_change: np.ndarray, changed: np.ndarray, threshold: float) -> dict[str, float | None]:
    """Average precision of the change probability over all calls (base rate: the share that changes),
    and the precision and recall of the "may change" flag at ``threshold``."""
    ap = average_precision(p_change, changed)
    precision, recall = flag_precision_recall(p_change, changed, threshold)
    return {
        "change_average_precision": None if ap is None else round(ap, 4),
        "change_base_rate": round(float(np.mean(changed)), 5) if len(changed) else None,
        "change_flag_precision": None if precision is None else round(precision, 4),
        "change_flag_recall": None if recall is None else round(recall, 4),
        "change_flagged": int(np.sum(p_change >= threshold)),
    }
