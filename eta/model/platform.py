"""Platform model: xgboost scores each candidate platform of a call at time t; a softmax over the call's
candidates, with a temperature fitted on the most recent share of the training window, turns the scores
into calibrated probabilities. It works before any platform is announced (the plan and the history
carry it) and after a change is announced (the announcement is a feature). The chosen platform is the
announced one unless another reaches a switch threshold fitted on the same share (see
:func:`fit_switch_threshold`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from eta.config import Settings
from eta.features import platforms
from eta.features.frames import Frames
from eta.features.history import history_folds
from eta.features.queries import QUERY_COLUMNS, TRAIN_HORIZONS, horizon_time
from eta.features.reports import delay_reports, lookup
from eta.model.arrival import HISTORY_FOLDS, TrainingError, calibration_split
from eta.model.artefact import Artefact
from eta.model.calibration import fit_temperature, grouped_log_loss, grouped_softmax

log = logging.getLogger(__name__)

RANDOM_SPAN = timedelta(hours=3)

PLATFORM_LEARNING_RATE = 0.1


@dataclass
class PlatformPredictor:
    artefact: Artefact

    def probabilities(self, pairs: pd.DataFrame) -> pd.Series:
        """Calibrated probability of each (query, candidate) row; they sum to 1 per query."""
        if pairs.empty:
            return pd.Series(dtype="float64")
        matrix = xgb.DMatrix(pairs[self.artefact.features], enable_categorical=True, missing=np.nan)
        margins = np.asarray(self.artefact.booster.predict(matrix, output_margin=True), dtype="float64")
        temperature = float(self.artefact.meta["temperature"])
        return pd.Series(grouped_softmax(margins / temperature, pairs["qid"].to_numpy()), index=pairs.index)

    def predict_queries(self, frames: Frames, queries: pd.DataFrame) -> pd.DataFrame:
        """Per query: top platform, its probability, whether it had been announced by t, all probabilities."""
        pairs = platforms.compute_features(
            frames, queries, self.artefact.history, self.artefact.meta["vocabularies"]
        )
        threshold = float(self.artefact.meta.get("switch_threshold", 0.0))
        return summarise(pairs.assign(probability=self.probabilities(pairs)), threshold)


def summarise(pairs: pd.DataFrame, switch_threshold: float = 0.0) -> pd.DataFrame:
    """Chosen platform per query with its probability, the announced flag and the probability table.

    The chosen platform is the most probable one, except that a platform other than the announced one is
    chosen only when its probability reaches ``switch_threshold`` (fitted on the calibration window).
    """
    if pairs.empty:
        return pd.DataFrame(
            columns=["platform", "platform_probability", "platform_announced", "platform_probs"]
        )
    ordered, top, announced = _ranked(pairs)
    announced = announced.reindex(top.index)
    keep_announced = (top["is_announced"] != 1) & (top["probability"] < switch_threshold)
    keep_announced &= announced["candidate"].notna()
    top = top.where(~keep_announced, announced)
    probs: dict[int, dict[str, float]] = {}
    # one pass over plain lists: a groupby per query cost more than the model on every re-prediction
    for qid, candidate, probability in zip(
        ordered["qid"].astype(int).tolist(),
        ordered["candidate"].astype(str).tolist(),
        ordered["probability"].astype("float64").round(4).tolist(),
        strict=True,
    ):
        probs.setdefault(qid, {})[candidate] = probability
    out = pd.DataFrame(
        {
            "platform": top["candidate"].astype(str),
            "platform_probability": top["probability"].astype("float64"),
            "platform_announced": top["is_announced"].astype(bool),
        }
    )
    out["platform_probs"] = pd.Series(probs)
    return out


def _ranked(pairs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The pairs most probable first per query, each query's top row, and its announced row (by qid)."""
    ordered = pairs.sort_values(["qid", "probability"], ascending=[True, False], kind="stable")
    top = ordered.drop_duplicates("qid").set_index("qid")
    announced = ordered[ordered["is_announced"] == 1].drop_duplicates("qid").set_index("qid")
    return ordered, top, announced


# How many standard errors the calls moved away from the announced platform must gain by, on the
# calibration share, before the model moves any: moves hinge on a handful of calls a day and were right
# about as often as wrong on the IRIS training days (each of 2025-09-02 … 05 predicted by a model trained
# on other days of that week: 91 queries right, 85 wrong; from one day to the next +18 to -14).
SWITCH_EVIDENCE_Z = 1.96


def fit_switch_threshold(pairs: pd.DataFrame) -> tuple[float, float]:
    """The probability a platform other than the announced one must reach to be chosen, and the top-1
    accuracy that gives on labelled ``pairs``.

    The threshold maximises a lower confidence bound of the gain over keeping the announced platform: the
    summed per-call gain (mean over the call's queries, so that a call counts once however many horizons
    it has) less :data:`SWITCH_EVIDENCE_Z` times its standard error. Where no threshold's bound is above
    zero, the threshold is 1: the model keeps the announced platform.
    """
    _, top, announced = _ranked(pairs)
    announced_right = announced["label"].reindex(top.index).fillna(0.0).to_numpy()
    top_right = top["label"].to_numpy()
    moves = (top["is_announced"] != 1).to_numpy() & announced["label"].reindex(top.index).notna().to_numpy()
    p = top["probability"].to_numpy()
    calls = top["call_id"].to_numpy() if "call_id" in top else top.index.to_numpy()
    best = (1.0, 0.0)
    for threshold in np.linspace(1.0, 0.0, 101)[1:]:
        moved = moves & (p >= threshold)
        gain = pd.Series(np.where(moved, top_right - announced_right, 0.0)).groupby(calls).mean()
        bound = float(gain.sum() - SWITCH_EVIDENCE_Z * np.sqrt(np.sum(gain.to_numpy() ** 2)))
        if bound > best[1] + 1e-12:
            best = (float(threshold), bound)
    chosen = np.where(moves & (p < best[0]), announced_right, top_right)
    return best[0], float(np.mean(chosen))


def platform_queries(
    frames: Frames, targets: pd.DataFrame, horizons: tuple[str, ...], seed: int | None = None
) -> pd.DataFrame:
    """A query per target and horizon (plus a random time in the 3 h before arrival when ``seed`` is set)."""
    parts = []
    for horizon in horizons:
        parts.append(targets.assign(t=horizon_time(frames, targets, horizon), horizon=horizon))
    if seed is not None:
        rng = np.random.default_rng(seed)
        offsets = pd.to_timedelta(rng.uniform(0, RANDOM_SPAN.total_seconds(), len(targets)), unit="s")
        parts.append(targets.assign(t=targets["scheduled_arrival"] - offsets, horizon="random"))
    queries = pd.concat(parts, ignore_index=True).dropna(subset=["t"])
    queries["t"] = pd.to_datetime(queries["t"], utc=True).astype("datetime64[us, UTC]")
    queries["qid"] = range(len(queries))
    return queries[[*QUERY_COLUMNS, "final_platform"]]


def labelled_pairs(
    frames: Frames, queries: pd.DataFrame, history: Any, vocabularies: dict[str, list[str]], reports: Any
) -> pd.DataFrame:
    pairs = platforms.compute_features(frames, queries, history, vocabularies, reports)
    final = queries.set_index("qid")["final_platform"].astype(str)
    pairs["label"] = (pairs["candidate"] == pairs["qid"].map(final)).astype("float64")
    return pairs


def sample_eventful(frames: Frames, queries: pd.DataFrame, budget: int, seed: int) -> pd.DataFrame:
    """At most ``budget`` training queries: every one whose platform changes at some point (planned,
    announced at t and final not all equal) and a random share of the rest, weighted back to their true
    frequency. Changes are rare (well under 1 % of arrivals): sampling uniformly would leave the model a
    few hundred examples of what it most needs to learn.
    """
    announced = platforms.announced_as_of(frames, queries).reindex(queries["qid"])
    final = queries["final_platform"].astype(str).to_numpy()
    said = announced["announced"].astype(str).to_numpy()
    planned = announced["planned"].astype(str).to_numpy()
    eventful = (said != final) | (planned != final) | (said != planned)
    queries = queries.assign(weight=1.0)
    calm = np.flatnonzero(~eventful)
    room = max(budget - int(eventful.sum()), budget // 10)
    if len(calm) > room:
        rng = np.random.default_rng(seed)
        kept = rng.choice(calm, size=room, replace=False)
        keep = eventful.copy()
        keep[kept] = True
        rate = room / len(calm)
        queries = queries[keep].copy()
        queries.loc[~eventful[keep], "weight"] = 1.0 / rate
    return queries.sort_values("qid")


def out_of_fold_pairs(
    frames: Frames,
    queries: pd.DataFrame,
    start: datetime,
    end: datetime,
    vocabularies: dict[str, list[str]],
    reports: pd.DataFrame,
) -> pd.DataFrame:
    """Labelled pairs whose platform history leaves out the query's own service (see history_folds): with
    a few days of data, a train's history would otherwise hold the very platform change to predict."""
    parts = []
    for in_fold, left_out in history_folds(frames.calls, queries, HISTORY_FOLDS):
        history = platforms.fit_history(frames, start, end, left_out)
        parts.append(labelled_pairs(frames, queries[in_fold], history, vocabularies, reports))
    return pd.concat(parts, ignore_index=True)


def train(frames: Frames, start: datetime, end: datetime, settings: Settings, seed: int = 0) -> Artefact:
    """Train on arrivals scheduled in [start, end); fit the temperature on the window's most recent share."""
    split = calibration_split(start, end, settings)
    reports = delay_reports(frames.calls, frames.observations)
    vocabularies = platforms.vocabularies_for(frames)
    booster, params, n_train = fit_booster(frames, start, split, settings, vocabularies, reports, seed)
    calib = calibration_pairs(
        frames, split, end, platforms.fit_history(frames, start, split), vocabularies, reports
    )
    margins = scores(booster, calib)
    groups = calib["qid"].to_numpy()
    labels = calib["label"].to_numpy()
    temperature = fit_temperature(margins, groups, labels)
    calibrated = grouped_softmax(margins / temperature, groups)
    threshold, top1 = fit_switch_threshold(calib.assign(probability=calibrated))
    meta = {
        "mode": "train",
        "task": "platform",
        "features": list(platforms.FEATURES),
        "vocabularies": vocabularies,
        "train_from": start.isoformat(),
        "train_until": end.isoformat(),
        "calibration_from": split.isoformat(),
        "n_train": n_train,
        "n_calibration": int(calib["qid"].nunique()),
        "temperature": temperature,
        "switch_threshold": threshold,
        "params": params,
        "n_rounds": settings.model.n_rounds,
        "created_at": datetime.now(UTC).isoformat(),
        "metrics": {
            "log_loss": round(grouped_log_loss(margins / temperature, groups, labels), 4),
            "top1": round(float(top1), 4),
            "nan_predictions": int(np.isnan(calibrated).sum()),
        },
    }
    return Artefact(booster=booster, history=platforms.fit_history(frames, start, end), meta=meta)


def scores(booster: xgb.Booster, pairs: pd.DataFrame) -> np.ndarray:
    """The booster's raw score (log-odds) of each (query, candidate) row."""
    matrix = xgb.DMatrix(pairs[list(platforms.FEATURES)], enable_categorical=True, missing=np.nan)
    return np.asarray(booster.predict(matrix, output_margin=True), dtype="float64")


def calibration_pairs(
    frames: Frames,
    start: datetime,
    end: datetime,
    history: Any,
    vocabularies: dict[str, list[str]],
    reports: pd.DataFrame,
) -> pd.DataFrame:
    """Labelled pairs of every arrival scheduled in [start, end) at every horizon, with an answer among
    the candidates."""
    targets = platforms.platform_targets(frames, start, end)
    queries = platform_queries(frames, targets, TRAIN_HORIZONS)
    calib = labelled_pairs(frames, queries, history, vocabularies, reports)
    calib["call_id"] = lookup(calib["qid"], queries.set_index("qid")["call_id"])
    calib = calib[calib.groupby("qid")["label"].transform("max") > 0]
    if calib.empty:
        raise TrainingError(f"no platform calibration queries between {start} and {end}")
    return calib


def fit_booster(
    frames: Frames,
    start: datetime,
    end: datetime,
    settings: Settings,
    vocabularies: dict[str, list[str]],
    reports: pd.DataFrame,
    seed: int = 0,
) -> tuple[xgb.Booster, dict[str, Any], int]:
    """The booster trained on arrivals scheduled in [start, end), its parameters and its query count."""
    fit_targets = platforms.platform_targets(frames, start, end)
    fit_q = platform_queries(frames, fit_targets, TRAIN_HORIZONS, seed)
    fit_q = sample_eventful(frames, fit_q, settings.model.platform_train_rows, seed)
    pairs = out_of_fold_pairs(frames, fit_q, start, end, vocabularies, reports)
    pairs["weight"] = lookup(pairs["qid"], fit_q.set_index("qid")["weight"])
    answerable = pairs.groupby("qid")["label"].transform("max") > 0
    pairs = pairs[answerable]
    if pairs["qid"].nunique() < 100:
        raise TrainingError(
            f"only {pairs['qid'].nunique()} platform training queries between {start} and {end}"
        )
    return fit_ranking_booster(pairs, platforms.FEATURES, settings, seed)


def fit_ranking_booster(
    pairs: pd.DataFrame, features: Sequence[str], settings: Settings, seed: int
) -> tuple[xgb.Booster, dict[str, Any], int]:
    """A platform booster on (call, candidate platform) pairs with ``label`` and ``weight``; the published and
    the unpublished models share it so that they differ only in their pairs and features."""
    params = {
        "objective": "binary:logistic",
        "tree_method": "hist",
        # The platform model's own rate: the arrival models' default (ETA_MODEL__LEARNING_RATE) was raised
        # to 0.15 on the DB runs' validation month; the platform figures were measured at 0.1.
        "learning_rate": PLATFORM_LEARNING_RATE,
        "max_depth": min(settings.model.max_depth, 6),
        "min_child_weight": 5,
        "subsample": 0.8,
        "colsample_bynode": 0.8,
        "max_bin": 128,
        "nthread": settings.model.n_threads,
        "seed": seed,
    }
    matrix = xgb.DMatrix(
        pairs[list(features)],
        label=pairs["label"].to_numpy(),
        weight=pairs["weight"].to_numpy(),
        enable_categorical=True,
        missing=np.nan,
    )
    booster = xgb.train(params, matrix, num_boost_round=settings.model.n_rounds)
    return booster, params, int(pairs["qid"].nunique())
