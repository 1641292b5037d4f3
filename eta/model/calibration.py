"""Calibration on a recent held-out window.

Arrival intervals: split conformal adjustment of the P10 and P90 quantiles, per horizon bucket (how far
ahead, and whether the service has reported a delay yet), so that each tail holds 10 % of the held-out
arrivals. Platform probabilities: temperature scaling of the model's scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

TAIL = 0.10
# Time to the scheduled arrival, in seconds, separating the buckets.
BUCKET_EDGES_S = (600, 1200, 2700, 5400, 10800)
MIN_BUCKET = 200


def bucket_of(time_to_arrival_s: pd.Series, has_report: pd.Series) -> pd.Series:
    """A label per query: e.g. ``r1-b2`` = reported, 20–45 min to the scheduled arrival."""
    bins = np.searchsorted(
        np.asarray(BUCKET_EDGES_S, dtype="float64"), time_to_arrival_s.fillna(0).to_numpy()
    )
    reported = has_report.fillna(0).astype(int).to_numpy()
    labels = [f"r{r}-b{b}" for r, b in zip(reported, bins, strict=True)]
    return pd.Series(labels, index=time_to_arrival_s.index)


def _adjustments(lower_gap: np.ndarray, upper_gap: np.ndarray) -> tuple[float, float]:
    """How far to move P10 down and P90 up so that 10 % of the outcomes fall beyond each."""
    return _closest_tail(lower_gap), _closest_tail(upper_gap)


def _closest_tail(gap: np.ndarray) -> float:
    """The shift whose share of gaps beyond it is closest to :data:`TAIL`.

    Outcomes reported in whole minutes pile up on single values (a train keeping its delay to the minute),
    so the usual conservative conformal quantile, which counts a tie as covered, over-covers by several
    points; of the two sides of a tie, the one nearer the target share is taken.
    """
    at = float(np.quantile(gap, 1 - TAIL))
    beyond = float(np.mean(gap > at))
    from_tie = float(np.mean(gap >= at))
    if abs(from_tie - TAIL) < abs(beyond - TAIL):
        below = gap[gap < at]
        return float(below.max()) if len(below) else at
    return at


def fit_interval_calibration(
    y: np.ndarray, p10: np.ndarray, p90: np.ndarray, buckets: pd.Series
) -> dict[str, Any]:
    """Per-bucket (and overall) conformal adjustments from held-out outcomes ``y``."""
    lower_gap = p10 - y  # > 0: the outcome fell below P10
    upper_gap = y - p90
    overall = _adjustments(lower_gap, upper_gap)
    table: dict[str, list[float]] = {}
    labels = buckets.to_numpy()
    for label in np.unique(labels):
        mask = labels == label
        if mask.sum() >= MIN_BUCKET:
            table[str(label)] = list(_adjustments(lower_gap[mask], upper_gap[mask]))
    return {"overall": list(overall), "buckets": table, "tail": TAIL}


def apply_interval_calibration(
    calibration: dict[str, Any], p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, buckets: pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted P10 and P90 (never crossing P50)."""
    overall = calibration["overall"]
    table = calibration["buckets"]
    adjust = np.array([table.get(label, overall) for label in buckets.to_numpy()], dtype="float64")
    if len(adjust) == 0:
        return p10, p90
    low = np.minimum(p10 - adjust[:, 0], p50)
    high = np.maximum(p90 + adjust[:, 1], p50)
    return low, high


def fit_temperature(scores: np.ndarray, groups: np.ndarray, chosen: np.ndarray) -> float:
    """The temperature T minimising the log loss of softmax(scores / T) within each group."""
    candidates = np.exp(np.linspace(np.log(0.2), np.log(5.0), 61))
    losses = [grouped_log_loss(scores / t, groups, chosen) for t in candidates]
    return float(candidates[int(np.argmin(losses))])


def grouped_softmax(scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Softmax of ``scores`` within each group (rows sharing a group id)."""
    frame = pd.DataFrame({"g": groups, "s": scores})
    shifted = frame["s"] - frame.groupby("g")["s"].transform("max")
    expo = pd.Series(np.exp(shifted.to_numpy()), index=frame.index)
    return (expo / expo.groupby(frame["g"]).transform("sum")).to_numpy()


def grouped_log_loss(scores: np.ndarray, groups: np.ndarray, chosen: np.ndarray) -> float:
    probs = grouped_softmax(scores, groups)
    picked = probs[chosen.astype(bool)]
    return float(-np.mean(np.log(np.clip(picked, 1e-6, 1.0))))
