"""Accuracy metrics for arrival times (seconds) and platform probabilities."""

from __future__ import annotations

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
    actual_s: np.ndarray, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, to_go_s: np.ndarray
) -> dict[str, float]:
    """The report's model block: point errors of the P50, interval coverage, pinball loss, band hits."""
    out = point_errors(actual_s, p50)
    out["coverage_p10_p90"] = round(float(np.mean((actual_s >= p10) & (actual_s <= p90))), 4)
    out["pinball_s"] = round(pinball(actual_s, [p10, p50, p90]), 1)
    out["band_hit_rate"] = round(float(np.mean(band_hits(actual_s, p50, to_go_s))), 4)
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
