"""Arrival-time model: xgboost quantile regression (P10/P50/P90) of the change from the latest known delay.

Two boosters predict, for a call and a prediction time t, how much the arrival delay will differ from the
latest delay the service reported by t (zero where none yet): one the P50, one the P10 and P90. The
P10–P90 interval is then widened or narrowed per horizon bucket on the most recent part of the training
window (split conformal), so that it covers 80 % of arrivals there.

Whole minutes: most sources report times to the minute, so a third of outcomes are exactly "no change" and
the rest sit on a lattice of minutes. A quantile fitted to such a target jumps between lattice points
from one tree to the next, and the P50 varied by several points of MAE with the sample of training rows.
As for quantiles of counts (Machado and Santos Silva, 2005), the training target is jittered uniformly
within its resolution, which makes its quantiles smooth, and the predicted P50 is rounded back to the
resolution; the P50 booster also grows several trees per round, each on its own sample of rows, and
averages them (``median_parallel_trees``). The P50 may also be the mean of ``median_boosters`` boosters,
each fitted on its own disjoint share of the training rows with its own seed (bagging; two by default, fewer
where a share would fall below ``median_share_min_rows``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from eta.config import Settings
from eta.errors import EtaError
from eta.features import FoldHistories, compute_features, feature_names, fit_history, vocabularies_for
from eta.features.frames import Frames
from eta.features.history import history_folds
from eta.features.queries import HORIZONS, TRAINING_EXTRA, horizon_queries, target_calls
from eta.features.reports import delay_reports, lookup, seconds
from eta.model import distribution
from eta.model.artefact import Artefact
from eta.model.calibration import apply_interval_calibration, bucket_of, fit_interval_calibration

log = logging.getLogger(__name__)

QUANTILES = (0.1, 0.5, 0.9)
MEDIAN = (0.5,)
BOUNDS = (0.1, 0.9)
# Outcomes all in whole minutes are fitted and predicted at that resolution (s); others to the second.
MINUTE_S = 60
RANDOM_HORIZON = "random"
# Calibration rows sampled at most: the conformal shifts of a few dozen buckets need far fewer than the
# ~1,000,000 queries of a 9-day calibration share, and each costs features and a prediction.
MAX_CALIBRATION_ROWS = 250_000
HISTORY_FOLDS = 5
# A random prediction time per call between this long before its service starts and its arrival, so the
# model also knows times between the named horizons (serving predicts at any time).
RANDOM_LEAD = timedelta(hours=2)


class TrainingError(EtaError):
    """Not enough data, or data the model cannot learn from."""


@dataclass
class ArrivalPredictor:
    """A trained arrival model, ready to predict from a feature frame."""

    artefact: Artefact

    @property
    def mode(self) -> str:
        return str(self.artefact.meta["mode"])

    def matrix(self, features: pd.DataFrame) -> xgb.DMatrix:
        return xgb.DMatrix(features[self.artefact.features], enable_categorical=True, missing=np.nan)

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Calibrated P10/P50/P90 arrival delays in seconds, indexed like ``features``."""
        if features.empty:
            return pd.DataFrame(columns=["p10_delay_s", "p50_delay_s", "p90_delay_s"], dtype="float64")
        raw = self.raw_quantiles(self.matrix(features))
        base = base_delay(features).to_numpy()
        p10, p50, p90 = (raw[:, i] + base for i in range(3))
        shift = very_late_shift(self.artefact.meta, features, p50)
        p10, p50, p90 = p10 + shift, p50 + shift, p90 + shift
        resolution = float(self.artefact.meta.get("resolution_s", 1))
        p50 = np.round(p50 / resolution) * resolution
        calibration = self.artefact.meta["calibration"]
        buckets = bucket_of(features, calibration)
        low, high = apply_interval_calibration(calibration, p10, p50, p90, buckets)
        return pd.DataFrame(
            {"p10_delay_s": low, "p50_delay_s": p50, "p90_delay_s": high}, index=features.index
        )

    def quantiles(self, features: pd.DataFrame, predicted: pd.DataFrame) -> np.ndarray:
        """The arrival delay (s) at :data:`distribution.LEVELS`, one row per query, around the calibrated
        interval of ``predicted`` (this predictor's :meth:`predict` of ``features``)."""
        calibration = self.artefact.meta["calibration"]
        return distribution.quantiles(
            calibration.get("shape"),
            predicted["p10_delay_s"].to_numpy(),
            predicted["p50_delay_s"].to_numpy(),
            predicted["p90_delay_s"].to_numpy(),
            bucket_of(features, calibration),
        )

    @property
    def median_boosters(self) -> list[xgb.Booster]:
        """The boosters whose mean is the P50 (of all three quantiles, for models before 2026-12)."""
        return [self.artefact.booster, *self.artefact.extra_median_boosters]

    def raw_quantiles(self, matrix: xgb.DMatrix) -> np.ndarray:
        """The boosters' P10, P50 and P90 of the change from the latest delay, one row per query."""
        n = matrix.num_row()
        medians = [booster.predict(matrix) for booster in self.median_boosters]
        median = np.mean(medians, axis=0, dtype="float64")
        if self.artefact.interval_booster is None:  # one booster for all three (models before 2026-12)
            return np.sort(median.reshape(n, len(QUANTILES)), axis=1)
        bounds = np.asarray(self.artefact.interval_booster.predict(matrix), dtype="float64").reshape(n, 2)
        return np.sort(np.column_stack([bounds[:, 0], median.reshape(n), bounds[:, 1]]), axis=1)

    def contributions(self, features: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Per-feature contributions (seconds) to the P50 and the bias, from xgboost's pred_contribs.

        Saabas's path attribution (``approx_contribs``), not exact TreeSHAP: on the bundled models exact
        values cost 10–80 ms per row (all three quantile outputs are attributed), about 100× the
        approximation, too slow to explain every call again after each collector cycle. The two are
        additive over the same features but share credit differently: the top factor agreed on about
        two rows in three when measured (docs/architecture.md, "Explanations").
        """
        matrix = self.matrix(features)
        contribs = np.mean(
            [
                np.asarray(booster.predict(matrix, pred_contribs=True, approx_contribs=True))
                for booster in self.median_boosters
            ],
            axis=0,
        )
        if contribs.ndim == 3:  # (rows, quantiles, features + bias)
            contribs = contribs[:, QUANTILES.index(0.5), :]
        names = self.artefact.features
        frame = pd.DataFrame(contribs[:, : len(names)], columns=names, index=features.index)
        return frame, contribs[:, len(names)]


# Calls the operator expects very late are rare in training (the Berlin IRIS training days of the demo's
# model: about 1,850 of 162,000 arrivals 15 minutes late or more), and there the model's P50 can stray
# far from the operator's own estimate (issue 15: IC 147's P50 19-25 min off where DB's was 9-15 min off).
# Where the operator's estimate is at least this late, a model that has not shown on its held-out
# calibration rows that it beats that estimate there serves the estimate as its P50, its interval moved
# with it (``meta["very_late"]``; models trained before the rule have not shown it).
VERY_LATE_S = 900
VERY_LATE_MIN_ROWS = 200


def very_late_shift(meta: dict[str, Any], features: pd.DataFrame, p50: np.ndarray) -> np.ndarray:
    """Seconds to move each prediction by: to the operator's estimate where it is very late and the model
    defers to it there, else 0."""
    rule = meta.get("very_late", {"threshold_s": VERY_LATE_S, "defer": True})
    if not rule.get("defer") or "operator_delay_s" not in features:
        return np.zeros(len(p50))
    operator = features["operator_delay_s"].to_numpy(dtype="float64")
    late = ~np.isnan(operator) & (operator >= float(rule["threshold_s"]))
    return np.where(late, np.nan_to_num(operator) - p50, 0.0)


def very_late_rule(truth: np.ndarray, p50: np.ndarray, operator: np.ndarray) -> dict[str, Any]:
    """Whether the model's P50 beats the operator's estimate on the held-out rows where that estimate is
    very late (it defers to the estimate unless it does, on enough rows)."""
    late = ~np.isnan(operator) & (operator >= VERY_LATE_S)
    n = int(late.sum())
    model = float(np.mean(np.abs(p50[late] - truth[late]))) if n else None
    estimate = float(np.mean(np.abs(operator[late] - truth[late]))) if n else None
    beats = n >= VERY_LATE_MIN_ROWS and model is not None and estimate is not None and model < estimate
    return {
        "threshold_s": VERY_LATE_S,
        "n": n,
        "model_mae_s": model,
        "operator_mae_s": estimate,
        "defer": not beats,
    }


def base_delay(features: pd.DataFrame) -> pd.Series:
    """What the model adds its prediction to: the latest delay known at t (zero where none)."""
    return features["latest_delay_s"].fillna(0.0)


def training_queries(
    frames: Frames, mode: str, start: datetime, end: datetime, seed: int = 0
) -> pd.DataFrame:
    """Queries at every named horizon, the day before (trains), and one random time per call, for calls
    that arrived before ``end``."""
    targets = target_calls(frames, start, end)
    targets = targets[targets["arrival_known_at"] < pd.Timestamp(end)]
    queries = horizon_queries(frames, targets, HORIZONS[mode] + TRAINING_EXTRA.get(mode, ()))
    rng = np.random.default_rng(seed)
    start_of = frames.calls.groupby("service_id")["planned_at"].min()
    earliest = lookup(targets["service_id"], start_of) - RANDOM_LEAD
    span = seconds(targets["scheduled_arrival"] - earliest).clip(lower=0).to_numpy()
    offsets = pd.to_timedelta(rng.uniform(0, 1, len(targets)) * span, unit="s")
    random_t = (earliest + offsets).astype("datetime64[us, UTC]")
    extra = targets.assign(t=random_t, horizon=RANDOM_HORIZON)
    extra = extra[extra["t"] < extra["arrival_known_at"]]
    queries = pd.concat([queries, extra[queries.columns.drop("qid")]], ignore_index=True)
    queries["qid"] = range(len(queries))
    return queries


def training_set(
    frames: Frames,
    mode: str,
    queries: pd.DataFrame,
    history: Any,
    vocabularies: dict[str, list[str]],
    reports: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.Series]:
    """Features and the target (final delay minus base delay) for ``queries``."""
    features = compute_features(mode, frames, queries, history, vocabularies, reports)
    actual = queries.set_index("qid")["actual_arrival"].reindex(features.index)
    delay = seconds(actual - features["scheduled_arrival"])
    target = delay - base_delay(features)
    keep = target.notna()
    return features[keep], target[keep]


def out_of_fold_training_set(
    frames: Frames,
    mode: str,
    queries: pd.DataFrame,
    start: datetime,
    end: datetime,
    vocabularies: dict[str, list[str]],
    reports: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.Series]:
    """Training features whose history aggregates leave out the row's own service (and its fold).

    Otherwise a row's own outcome would be inside "this train's usual delay" and the model would learn
    to trust history more than it deserves on unseen days. The other features are computed once for all
    folds.
    """
    folds = tuple(
        (pd.Index(queries.loc[in_fold, "qid"]), fit_history(mode, frames, start, end, left_out))
        for in_fold, left_out in history_folds(frames.calls, queries, HISTORY_FOLDS)
    )
    return training_set(frames, mode, queries, FoldHistories(folds), vocabularies, reports)


def xgb_params(settings: Settings, seed: int = 0, quantiles: tuple[float, ...] = QUANTILES) -> dict[str, Any]:
    model = settings.model
    return {
        "objective": "reg:quantileerror",
        "quantile_alpha": np.array(quantiles),
        "tree_method": "hist",
        "learning_rate": model.learning_rate,
        "max_depth": model.max_depth,
        "min_child_weight": model.min_child_weight,
        "subsample": 0.8,
        "colsample_bynode": 0.8,
        "max_bin": 128,
        "max_cat_to_onehot": 1,
        "nthread": model.n_threads,
        "seed": seed,
    }


def median_params(settings: Settings, seed: int = 0) -> dict[str, Any]:
    """The P50 booster's: several trees per round, each on its own sample of rows, averaged."""
    return xgb_params(settings, seed, MEDIAN) | {
        "num_parallel_tree": settings.model.median_parallel_trees,
        "subsample": settings.model.median_subsample,
    }


def outcome_resolution_s(delays: np.ndarray) -> int:
    """60 where every known delay is a whole number of minutes, else 1."""
    known = delays[np.isfinite(delays)]
    return MINUTE_S if len(known) and bool(np.all(np.mod(known, MINUTE_S) == 0)) else 1


def jittered(target: pd.Series, resolution_s: int, seed: int) -> pd.Series:
    """``target`` plus uniform noise within ±half its resolution (unchanged at 1 s)."""
    if resolution_s <= 1:
        return target
    noise = np.random.default_rng(seed).uniform(-resolution_s / 2, resolution_s / 2, len(target))
    return target + noise


def interval_rows(n_rows: int, most: int, seed: int) -> np.ndarray:
    """Positions of the training rows the P10/P90 booster learns from: all, or ``most`` sampled."""
    if n_rows <= most:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, most, replace=False))


def median_booster_count(n_rows: int, settings: Settings) -> int:
    """How many P50 boosters to bag: as configured, fewer where each would get too few rows."""
    fit = n_rows // settings.model.median_share_min_rows
    return max(1, min(settings.model.median_boosters, fit))


def median_shares(n_rows: int, n_boosters: int, seed: int) -> list[np.ndarray]:
    """Positions of the training rows each P50 booster learns from: disjoint random shares, sorted."""
    order = np.random.default_rng(seed).permutation(n_rows)
    return [np.sort(order[i::n_boosters]) for i in range(n_boosters)]


def rows_at(frame: pd.DataFrame | pd.Series, positions: np.ndarray) -> Any:
    """``frame.iloc[positions]``, without a copy of the whole training frame where they are all its rows."""
    return frame if len(positions) == len(frame) else frame.iloc[positions]


def fit_booster(
    params: dict[str, Any],
    features: pd.DataFrame,
    target: pd.Series,
    names: list[str],
    n_rounds: int,
    dask_client: Any = None,
) -> xgb.Booster:
    """Train the booster locally, or on a Dask cluster when ``dask_client`` is given."""
    if dask_client is not None:
        from eta.model.distributed import fit_on_dask

        return fit_on_dask(dask_client, params, features[names], target, n_rounds)
    matrix = xgb.DMatrix(features[names], label=target.to_numpy(), enable_categorical=True, missing=np.nan)
    return xgb.train(params, matrix, num_boost_round=n_rounds)


def train(
    frames: Frames,
    mode: str,
    start: datetime,
    end: datetime,
    settings: Settings,
    seed: int = 0,
    dask_client: Any = None,
) -> Artefact:
    """Train on calls scheduled in [start, end) and calibrate on the window's most recent share."""
    split = calibration_split(start, end, settings)
    reports = delay_reports(frames.calls, frames.observations)
    vocabularies = vocabularies_for(mode, frames)
    names = feature_names(mode)
    fit_q = training_queries(frames, mode, start, split, seed)
    if len(fit_q) > settings.model.max_train_rows:
        fit_q = fit_q.sample(settings.model.max_train_rows, random_state=seed).sort_values("qid")
    if len(fit_q) < 100:
        raise TrainingError(f"only {len(fit_q)} training rows for {mode} between {start} and {split}")
    clock = time.perf_counter()
    features, target = out_of_fold_training_set(frames, mode, fit_q, start, split, vocabularies, reports)
    log.info("features for %d %s training rows in %.0f s", len(features), mode, time.perf_counter() - clock)
    resolution = outcome_resolution_s((target + base_delay(features)).to_numpy(dtype="float64"))
    label = jittered(target, resolution, seed)
    clock = time.perf_counter()
    medians = [
        fit_booster(
            median_params(settings, seed + number),
            rows_at(features, share),
            rows_at(label, share),
            names,
            settings.model.n_rounds,
            dask_client,
        )
        for number, share in enumerate(
            median_shares(len(features), median_booster_count(len(features), settings), seed)
        )
    ]
    params = median_params(settings, seed)
    interval_params = xgb_params(settings, seed, BOUNDS)
    few = interval_rows(len(features), settings.model.interval_train_rows, seed)
    interval = fit_booster(
        interval_params,
        rows_at(features, few),
        rows_at(label, few),
        names,
        settings.model.n_rounds,
        dask_client,
    )
    log.info("trained the %s arrival boosters in %.0f s", mode, time.perf_counter() - clock)
    fit_hist = fit_history(mode, frames, start, split)
    _, calib_x, calib_t = calibration_set(frames, mode, split, end, seed, fit_hist, vocabularies, reports)
    if len(calib_x) < 50:
        raise TrainingError(f"only {len(calib_x)} calibration rows for {mode} between {split} and {end}")
    meta = {
        "mode": mode,
        "task": "arrival",
        "features": names,
        "vocabularies": vocabularies,
        "quantiles": list(QUANTILES),
        "target": "arrival delay minus the latest delay known at t (s)",
        "train_from": start.isoformat(),
        "train_until": end.isoformat(),
        "calibration_from": split.isoformat(),
        "n_train": len(features),
        "n_train_interval": len(few),
        "n_median_boosters": len(medians),
        "n_calibration": len(calib_x),
        "params": _plain(params),
        "interval_params": _plain(interval_params),
        "resolution_s": resolution,
        "n_rounds": settings.model.n_rounds,
        "created_at": datetime.now(UTC).isoformat(),
        "calibration": {"overall": [0.0, 0.0], "buckets": {}},
    }
    artefact = Artefact(
        booster=medians[0],
        history=fit_hist,
        meta=meta,
        interval_booster=interval,
        extra_median_boosters=medians[1:],
    )
    predictor = ArrivalPredictor(artefact)
    truth = (calib_t + base_delay(calib_x)).to_numpy()
    meta["very_late"] = {"threshold_s": VERY_LATE_S, "defer": False}
    own = predictor.predict(calib_x)["p50_delay_s"].to_numpy()
    operator = (
        calib_x["operator_delay_s"].to_numpy(dtype="float64") if "operator_delay_s" in calib_x else None
    )
    meta["very_late"] = very_late_rule(
        truth, own, operator if operator is not None else np.full(len(own), np.nan)
    )
    raw = predictor.predict(calib_x)
    buckets = bucket_of(calib_x)
    calibration = fit_interval_calibration(
        truth,
        raw["p10_delay_s"].to_numpy(),
        raw["p50_delay_s"].to_numpy(),
        raw["p90_delay_s"].to_numpy(),
        buckets,
    )
    meta["calibration"] = calibration
    low, high = apply_interval_calibration(
        calibration,
        raw["p10_delay_s"].to_numpy(),
        raw["p50_delay_s"].to_numpy(),
        raw["p90_delay_s"].to_numpy(),
        buckets,
    )
    calibrated = raw.assign(p10_delay_s=low, p90_delay_s=high)
    # The other quantiles, on the same held-out rows, relative to the calibrated interval.
    calibration["shape"] = distribution.fit_shape(truth, low, raw["p50_delay_s"].to_numpy(), high, buckets)
    meta["metrics"] = calibration_metrics(truth, calibrated)
    # Serve with aggregates over the whole training window (the calibration share included).
    artefact.history = fit_history(mode, frames, start, end)
    return artefact


def calibration_split(start: datetime, end: datetime, settings: Settings) -> datetime:
    """Where the training window's held-out calibration share begins."""
    return end - (end - start) * settings.model.calibration_fraction


def calibration_set(
    frames: Frames,
    mode: str,
    split: datetime,
    end: datetime,
    seed: int,
    history: Any,
    vocabularies: dict[str, list[str]],
    reports: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """The calibration share's queries (at most :data:`MAX_CALIBRATION_ROWS`), their features and target."""
    queries = training_queries(frames, mode, split, end, seed + 1)
    # The random-time rows stay: serving predicts at any time to arrival, also beyond the named horizons.
    if len(queries) > MAX_CALIBRATION_ROWS:
        queries = queries.sample(MAX_CALIBRATION_ROWS, random_state=seed).sort_values("qid")
    features, target = training_set(frames, mode, queries, history, vocabularies, reports)
    return queries, features, target


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in params.items()}


def calibration_metrics(truth: np.ndarray, predicted: pd.DataFrame) -> dict[str, float]:
    """Accuracy on the calibration window: MAE of the P50, interval coverage, and whether it has NaN."""
    p50 = predicted["p50_delay_s"].to_numpy()
    inside = (truth >= predicted["p10_delay_s"].to_numpy()) & (truth <= predicted["p90_delay_s"].to_numpy())
    return {
        "mae_s": float(np.mean(np.abs(p50 - truth))),
        "coverage_p10_p90": float(np.mean(inside)),
        "n": len(truth),
        "nan_predictions": int(np.isnan(predicted.to_numpy()).sum()),
    }


def version_for(meta: dict[str, Any]) -> str:
    """A readable unique version: mode, task, training end and creation time, and a short digest."""
    stamp = datetime.fromisoformat(meta["created_at"]).strftime("%Y%m%dT%H%M%S")
    digest = hashlib.sha256(repr(sorted(meta.items())).encode()).hexdigest()[:6]
    return f"{meta['mode']}-{meta['task']}-{stamp}-{digest}"
