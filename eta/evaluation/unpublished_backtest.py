"""Backtest of the unpublished mode: every test station is treated as announcing its platforms only
``ETA_PLATFORMS__ANNOUNCE_LEAD_MIN`` before the scheduled arrival, and the model is scored at
120, 60, 30 and 20 minutes before it (20: just before the announcement) against the ``history`` baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from eta.config import Settings
from eta.evaluation.metrics import expected_calibration_error, log_loss
from eta.features import unpublished
from eta.features.frames import Frames
from eta.features.history import History, history_folds
from eta.features.publication import Publication
from eta.features.reports import delay_reports
from eta.model import platform_unpublished as model
from eta.windows import Window

BASELINE = "history"
BASELINE_DEFINITION = (
    "history: the platform this train (category + number) most often ended at at this station in the "
    "training window, else the one its line (category + line) most often ended at there, else the "
    "station's most used platform; it does not depend on the horizon. Its probability for the log loss is "
    "1 − r on its platform, where r is the share of the training window's arrivals at the same station "
    "and category where it missed (each training day judged by the history of the other days), and r "
    "spread over the station's other platforms in proportion to their use in the training window."
)
# The group the targets name apart: S-Bahn against every other category.
S_BAHN = "S"


def run(frames: Frames, train: Window, test: Window, settings: Settings) -> pd.DataFrame | None:
    """Per test query: horizon, category, final platform, the model's top-1 and top-2 and the
    probabilities it gave them and the final platform, and the baseline's platform and probability."""
    test_targets = unpublished.platform_targets(frames, test.start, test.end)
    if test_targets.empty or unpublished.platform_targets(frames, train.start, train.end).empty:
        return None
    lead_s = settings.platforms.announce_lead_min * 60
    artefact = model.train(frames, train.start, train.end, settings, lead_s)
    predictor = model.UnpublishedPlatformPredictor(artefact, Publication.all_stations(lead_s))
    cached = {
        "reports": delay_reports(frames.calls, frames.observations),
        "keys": unpublished.call_keys(frames.calls),
    }
    context = cached["keys"][["location", "operator", "number", "line_key"]]
    rates = miss_rates(frames, train, cached["keys"])
    parts = []
    for horizon in unpublished.HORIZONS:
        queries = model.queries_for(frames, test_targets, (horizon,), lead_s)
        pairs = predictor.pairs(frames, queries, **cached)
        rows = scored(pairs, queries).join(context, on="call_id")
        rows["history"] = unpublished.history_platform(artefact.history, rows)
        rows["p_history"] = baseline_probability(rows, rates, artefact.history)
        parts.append(rows)
    return pd.concat(parts, ignore_index=True)


def scored(pairs: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    """Per query: the top two platforms with their probabilities and the final platform's probability."""
    q = queries.set_index("qid")
    final = q["final_platform"].astype(str)
    ordered = pairs.sort_values(["qid", "probability"], ascending=[True, False], kind="stable")
    rank = ordered.groupby("qid").cumcount()
    first = ordered[rank == 0].set_index("qid")
    second = ordered[rank == 1].set_index("qid")
    on_final = pairs[pairs["candidate"] == pairs["qid"].map(final)].set_index("qid")["probability"]
    rows = q[["call_id", "horizon", "t"]].assign(final_platform=final)
    rows["platform"] = first["candidate"].reindex(rows.index).astype("object")
    rows["platform_probability"] = first["probability"].reindex(rows.index).fillna(0.0)
    rows["second"] = second["candidate"].reindex(rows.index).astype("object")
    rows["p_final"] = on_final.reindex(rows.index).fillna(0.0)
    return rows


def miss_rates(frames: Frames, train: Window, keys: pd.DataFrame) -> pd.DataFrame:
    """Per training arrival: station, category and whether the baseline missed it, each service day
    judged by the history of the training window's other days."""
    targets = unpublished.platform_targets(frames, train.start, train.end)
    parts = []
    for in_fold, left_out in history_folds(frames.calls, targets, 5):
        history = unpublished.fit_history(frames, train.start, train.end, left_out, keys=keys)
        rows = targets[in_fold].join(keys, on="call_id")
        chosen = unpublished.history_platform(history, rows)
        missed = chosen != rows["final_platform"].astype(str)
        parts.append(rows[["location", "operator"]].assign(missed=missed))
    out = pd.concat(parts, ignore_index=True)
    return out.assign(missed=out["missed"].astype("float64"))


def baseline_probability(rows: pd.DataFrame, rates: pd.DataFrame, history: History) -> pd.Series:
    """The probability the ``history`` baseline gives the final platform (see BASELINE_DEFINITION)."""
    by_station = rates.groupby(["location", "operator"])["missed"].mean()
    by_category = rates.groupby("operator")["missed"].mean()
    index = pd.MultiIndex.from_frame(rows[["location", "operator"]].astype(str))
    r = pd.Series(by_station.reindex(index).to_numpy(), index=rows.index)
    r = r.fillna(rows["operator"].map(by_category)).fillna(float(rates["missed"].mean()))
    _, station = history.tables["station"]
    counts = station["count"]
    final = pd.MultiIndex.from_frame(rows[["location", "final_platform"]].astype(str))
    chosen = pd.MultiIndex.from_frame(rows[["location", BASELINE]].astype(str))
    final_count = pd.Series(counts.reindex(final).to_numpy(), index=rows.index).fillna(0.0)
    chosen_count = pd.Series(counts.reindex(chosen).to_numpy(), index=rows.index).fillna(0.0)
    total = rows["location"].map(counts.groupby(level=0).sum()).fillna(0.0)
    spread = (r * final_count / (total - chosen_count).replace(0.0, np.nan)).fillna(0.0)
    hit = rows[BASELINE].astype(str) == rows["final_platform"]
    return pd.Series(np.where(hit, 1.0 - r, spread), index=rows.index)


def report(rows: pd.DataFrame) -> dict[str, Any]:
    """Per horizon: the figures over all test arrivals, by category, and S-Bahn against the rest."""
    out: dict[str, Any] = {}
    for horizon in [h for h in unpublished.HORIZONS if h in set(rows["horizon"])]:
        part = rows[rows["horizon"] == horizon]
        block = figures(part)
        block["by_category"] = {
            str(name): figures(group) for name, group in part.groupby("operator", sort=True)
        }
        s_bahn = part["operator"].astype(str) == S_BAHN
        block["s_bahn_or_not"] = {"S-Bahn": figures(part[s_bahn]), "other": figures(part[~s_bahn])}
        out[horizon] = block
    return out


def figures(part: pd.DataFrame) -> dict[str, Any]:
    correct = (part["platform"] == part["final_platform"]).to_numpy()
    in_two = correct | (part["second"] == part["final_platform"]).to_numpy()
    baseline = part[BASELINE] == part["final_platform"]
    return {
        "n": len(part),
        "model": {
            "top1": _share(correct),
            "top2": _share(in_two),
            "log_loss": round(log_loss(part["p_final"].to_numpy()), 4) if len(part) else None,
            "ece": round(expected_calibration_error(part["platform_probability"].to_numpy(), correct), 4)
            if len(part)
            else None,
        },
        "baselines": {
            BASELINE: {
                "top1": _share(baseline.to_numpy()),
                "log_loss": round(log_loss(part[f"p_{BASELINE}"].to_numpy()), 4) if len(part) else None,
            }
        },
    }


def _share(hits: np.ndarray) -> float | None:
    return round(float(np.mean(hits)), 6) if len(hits) else None


def minutes_before(horizon: str) -> int:
    return int(horizon.removesuffix("min"))
