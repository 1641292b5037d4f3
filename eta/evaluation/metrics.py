"""Accuracy metrics for arrival times (seconds) and platform probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

QUANTILES = (0.1, 0.5, 0.9)
# ETA Accuracy Benchmark bands: (minutes to go up to, lowest and highest allowed error in seconds), where
# error = actual − predicted arrival (late is positive). Beyond 15 minutes: ±10 % of the time to go.
BANDS = ((3, -30, 90), (6, -60, 150), (10, -60, 210), (15, -90, 270))
ECE_BINS = 10


def point_errors(actual_s: np.ndarray, predicted_s: np.ndarray) -> dict[str, float]:
    """MAE, RMSE and the 90th percentile of the absolute error, in seconds."""
    error = np.abs(np.asarray(actual_s, dtype="float64") - np.asarray(predicted_s, dtype="float64"))
    if len(error) == 0:
        return {"mae_s": float("nan"), "rmse_s": float("nan"), "p90_abs_s": float("nan")}
    return {
        "mae_s": round(float(np.mean(error)), 1),
        "rmse_s": round(float(np.sqrt(np.mean(error**2))), 1),
        "p90_abs_s": round(float(np.quantile(error, 0.9)), 1),
    }


def pinball(actual_s: np.ndarray, quantile_preds: list[np.ndarray]) -> float:
    """Mean pinball (quantile) loss over P10, P50 and P90, in seconds."""
    losses = []
    for q, pred in zip(QUANTILES, quantile_preds, strict=True):
        diff = actual_s - pred
        losses.append(np.mean(np.maximum(q * diff, (q - 1) * diff)))
    return float(np.mean(losses))


def pinball_at(actual: np.ndarray, predicted: np.ndarray, level: float) -> float:
    """Mean pinball loss of the ``level`` quantile ``predicted`` (same unit as ``actual``)."""
    diff = np.asarray(actual, dtype="float64") - np.asarray(predicted, dtype="float64")
    return float(np.mean(np.maximum(level * diff, (level - 1) * diff)))


def level_weights(levels: tuple[float, ...]) -> np.ndarray:
    """The probability each quantile holds when the distribution is read as a step quantile function:
    every level stands for the levels nearer to it than to its neighbours (the outer ones up to 0 and 1)."""
    edges = np.r_[0.0, (np.asarray(levels[:-1]) + np.asarray(levels[1:])) / 2, 1.0]
    return np.diff(edges)


def crps_rows(actual: np.ndarray, quantile_rows: np.ndarray, levels: tuple[float, ...]) -> np.ndarray:
    """Exact CRPS per row of the distribution given by monotone quantiles at ``levels`` (one row each).

    The distribution puts :func:`level_weights` on each quantile; CRPS = E|X − y| − ½ E|X − X'|, the
    second term from the sorted points (as for any weighted empirical distribution).
    """
    x = np.sort(np.asarray(quantile_rows, dtype="float64"), axis=1)
    y = np.asarray(actual, dtype="float64")[:, None]
    w = level_weights(levels)[None, :]
    cumulative = np.cumsum(w, axis=1)
    spread = 2.0 * np.sum(w * x * ((cumulative - w) - (1.0 - cumulative)), axis=1)
    return np.sum(w * np.abs(x - y), axis=1) - 0.5 * spread


def distribution_metrics(
    actual: np.ndarray, quantile_rows: np.ndarray, levels: tuple[float, ...], scale: float = 1.0
) -> dict[str, float]:
    """CRPS and the pinball loss at 0.1, 0.5 and 0.9, divided by ``scale`` (60: minutes from seconds)."""
    rows = np.asarray(quantile_rows, dtype="float64")
    out = {"crps": float(np.mean(crps_rows(actual, rows, levels))) / scale}
    for level in QUANTILES:
        out[f"pinball_{level}"] = pinball_at(actual, rows[:, levels.index(level)], level) / scale
    return out


def band_hits(actual_s: np.ndarray, predicted_s: np.ndarray, to_go_s: np.ndarray) -> np.ndarray:
    """Whether each prediction is inside the benchmark band for its time to go (predicted arrival − t)."""
    error = np.asarray(actual_s, dtype="float64") - np.asarray(predicted_s, dtype="float64")
    to_go = np.clip(np.asarray(to_go_s, dtype="float64"), 0, None)
    low = -0.1 * to_go
    high = 0.1 * to_go
    for limit_min, band_low, band_high in reversed(BANDS):
        inside = to_go <= limit_min * 60
        low = np.where(inside, band_low, low)
        high = np.where(inside, band_high, high)
    return (error >= low) & (error <= high)


def arrival_metrics(
    actual_s: np.ndarray,
    p10: np.ndarray,
    p50: np.ndarray,
    p90: np.ndarray,
    to_go_s: np.ndarray,
    quantile_rows: np.ndarray | None = None,
    levels: tuple[float, ...] = (),
) -> dict[str, Any]:
    """The report's model block: point errors of the P50, interval coverage, pinball loss, band hits, and
    where the whole distribution is given (``quantile_rows`` at ``levels``), its CRPS and the pinball loss
    at 0.1, 0.5 and 0.9 apart."""
    out: dict[str, Any] = dict(point_errors(actual_s, p50))
    out["coverage_p10_p90"] = round(float(np.mean((actual_s >= p10) & (actual_s <= p90))), 4)
    out["pinball_s"] = round(pinball(actual_s, [p10, p50, p90]), 1)
    out["band_hit_rate"] = round(float(np.mean(band_hits(actual_s, p50, to_go_s))), 4)
    if quantile_rows is not None and len(actual_s):
        scores = distribution_metrics(actual_s, quantile_rows, levels)
        out["crps_s"] = round(scores["crps"], 1)
        out["pinball_by_level_s"] = {str(q): round(scores[f"pinball_{q}"], 1) for q in QUANTILES}
    return out


def top1(chosen_probability: np.ndarray, is_top: np.ndarray) -> float:
    return float(np.mean(is_top))


def log_loss(probability_of_actual: np.ndarray) -> float:
    """Mean negative log of the probability given to what happened (clipped at 1e-6)."""
    return float(-np.mean(np.log(np.clip(probability_of_actual, 1e-6, 1.0))))


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE of the top-1 probability: |accuracy − confidence| averaged over equal-width bins, weighted."""
    confidence = np.asarray(confidence, dtype="float64")
    correct = np.asarray(correct, dtype="float64")
    if len(confidence) == 0:
        return float("nan")
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    frame = pd.DataFrame({"bin": index, "conf": confidence, "ok": correct})
    grouped = frame.groupby("bin").agg(conf=("conf", "mean"), ok=("ok", "mean"), n=("ok", "size"))
    return float((grouped["n"] * (grouped["ok"] - grouped["conf"]).abs()).sum() / len(frame))


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> pd.DataFrame:
    """Per bin of top-1 probability: mean confidence, accuracy and count (for the calibration plot)."""
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    frame = pd.DataFrame({"bin": index, "conf": confidence, "ok": np.asarray(correct, dtype="float64")})
    return frame.groupby("bin").agg(confidence=("conf", "mean"), accuracy=("ok", "mean"), n=("ok", "size"))


def average_precision(score: np.ndarray, positive: np.ndarray) -> float | None:
    """Average precision of ``score`` for ``positive`` (the mean, over the positives, of the precision
    among the rows scored at least as high; tied scores are taken together). None without a positive."""
    score = np.asarray(score, dtype="float64")
    positive = np.asarray(positive, dtype=bool)
    n_positive = int(positive.sum())
    if n_positive == 0:
        return None
    order = np.argsort(-score, kind="stable")
    ranked_score, ranked_positive = score[order], positive[order]
    hits = np.cumsum(ranked_positive)
    # at each distinct score, the precision of everything scored at least that high
    last_of_tie = np.r_[ranked_score[1:] != ranked_score[:-1], True]
    ends = np.flatnonzero(last_of_tie)
    precision = hits[ends] / (ends + 1)
    new_hits = np.diff(np.r_[0, hits[ends]])
    return float(np.sum(precision * new_hits) / n_positive)


def flag_precision_recall(
    score: np.ndarray, positive: np.ndarray, threshold: float
) -> tuple[float | None, float | None]:
    """Precision and recall of flagging the rows whose ``score`` reaches ``threshold`` (None where
    undefined: nothing flagged, or no positive)."""
    flagged = np.asarray(score, dtype="float64") >= threshold
    positive = np.asarray(positive, dtype=bool)
    precision = float(np.mean(positive[flagged])) if flagged.any() else None
    recall = float(np.mean(flagged[positive])) if positive.any() else None
    return precision, recall
