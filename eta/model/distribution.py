"""The whole arrival distribution: 19 monotone quantiles (0.05 … 0.95) around the calibrated P10/P50/P90.

The boosters learn three quantiles; the others follow from a *shape* fitted on the same held-out
calibration window as the P10–P90 interval (:mod:`eta.model.calibration`), per bucket of that
calibration. Each outcome there is expressed relative to its own calibrated interval:

* between P10 and P90, as a fraction of the distance from the P50 to the bound on its side
  (−1 at the P10, 0 at the P50, +1 at the P90);
* beyond a bound, as a multiple of that same distance (at least :data:`FLOOR_S`, so that a bound pinned
  on the P50 — three in four trains keep their delay to the minute on the last hop — still has a tail).

The shape's value at level τ is the τ-quantile of those relative outcomes, held between the anchors
(P10, P50 and P90 stay exactly what is served, so the interval's coverage is untouched). Quantiles are
therefore monotone by construction and follow the served interval where the served calibration moves it.
Models calibrated before the shape existed get :data:`DEFAULT_SHAPE` (a normal distribution's proportions).

Served predictions keep them compactly (:func:`encode`): the 19 offsets from the P50 in whole seconds.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from eta.model.calibration import bucket_rows, min_rows, per_row

LEVELS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(1, 20))
ANCHORS = {0.1: -1.0, 0.5: 0.0, 0.9: 1.0}
# The smallest distance from the P50 a tail is scaled by (outcomes are whole minutes).
FLOOR_S = 60.0
MIN_BUCKET = 200


def _default_shape() -> list[float]:
    normal = NormalDist()
    z90 = normal.inv_cdf(0.9)
    out = []
    for level in LEVELS:
        z = normal.inv_cdf(level) / z90
        out.append(z + 1.0 if level < 0.1 else z - 1.0 if level > 0.9 else z)
    return [round(v, 4) for v in out]


DEFAULT_SHAPE = _default_shape()


def _region(level: float) -> str:
    if level < 0.1:
        return "low_tail"
    if level <= 0.5:
        return "low"
    if level <= 0.9:
        return "high"
    return "high_tail"


def _relative(
    y: np.ndarray, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per region: the outcomes relative to the interval, and the rows where that is defined."""
    down = p50 - p10
    up = p90 - p50
    with np.errstate(divide="ignore", invalid="ignore"):
        inner_low = np.where(y < p50, (y - p50) / down, np.where(y > p50, 1.0, 0.0))
        inner_high = np.where(y > p50, (y - p50) / up, np.where(y < p50, -1.0, 0.0))
    return {
        "low_tail": ((y - p10) / np.maximum(down, FLOOR_S), np.ones(len(y), dtype=bool)),
        "low": (inner_low, down > 0),
        "high": (inner_high, up > 0),
        "high_tail": ((y - p90) / np.maximum(up, FLOOR_S), np.ones(len(y), dtype=bool)),
    }


def _shape_of(y: np.ndarray, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray) -> list[float]:
    relative = _relative(y, p10, p50, p90)
    values = []
    for level in LEVELS:
        if level in ANCHORS:
            values.append(ANCHORS[level])
            continue
        region = _region(level)
        scores, rows = relative[region]
        if not rows.any():
            values.append(DEFAULT_SHAPE[LEVELS.index(level)])
            continue
        value = float(np.quantile(scores[rows], level))
        low, high = {
            "low_tail": (-np.inf, 0.0),
            "low": (-1.0, 0.0),
            "high": (0.0, 1.0),
            "high_tail": (0.0, np.inf),
        }[region]
        values.append(float(np.clip(value, low, high)))
    return _monotone(values)


def _monotone(values: list[float]) -> list[float]:
    """Non-decreasing within each region (across regions the anchors keep the order)."""
    out = list(values)
    for region in ("low_tail", "low", "high", "high_tail"):
        idx = [i for i, level in enumerate(LEVELS) if _region(level) == region]
        run = np.maximum.accumulate([out[i] for i in idx])
        for i, v in zip(idx, run, strict=True):
            out[i] = round(float(v), 4)
    return out


def fit_shape(
    y: np.ndarray, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, buckets: pd.Series
) -> dict[str, Any]:
    """The shape overall and per bucket (with at least :data:`MIN_BUCKET` held-out outcomes)."""
    y, p10, p50, p90 = (np.asarray(a, dtype="float64") for a in (y, p10, p50, p90))
    table = {}
    for label, rows in bucket_rows(buckets).items():
        if len(rows) >= max(MIN_BUCKET, min_rows(label)):
            table[label] = _shape_of(y[rows], p10[rows], p50[rows], p90[rows])
    return {"levels": list(LEVELS), "overall": _shape_of(y, p10, p50, p90), "buckets": table}


def quantiles(
    shape: dict[str, Any] | None, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, buckets: pd.Series | None
) -> np.ndarray:
    """Quantiles at :data:`LEVELS` (rows × 19), in the unit of the bounds; monotone along each row."""
    p10, p50, p90 = (np.asarray(a, dtype="float64") for a in (p10, p50, p90))
    n = len(p50)
    if shape is None:
        values = np.tile(DEFAULT_SHAPE, (n, 1))
    else:
        table = shape.get("buckets", {})
        entries, codes = per_row(buckets if buckets is not None else np.full(n, ""), table, shape["overall"])
        values = np.array(entries, dtype="float64").reshape(len(entries), len(LEVELS))[codes]
    down = np.maximum(p50 - p10, 0.0)[:, None]
    up = np.maximum(p90 - p50, 0.0)[:, None]
    out = np.empty((n, len(LEVELS)))
    for i, level in enumerate(LEVELS):
        v = values[:, i : i + 1]
        region = _region(level)
        if region == "low_tail":
            col = p10[:, None] + v * np.maximum(down, FLOOR_S)
        elif region == "low":
            col = p50[:, None] + v * down
        elif region == "high":
            col = p50[:, None] + v * up
        else:
            col = p90[:, None] + v * np.maximum(up, FLOOR_S)
        out[:, i] = col[:, 0]
    return np.maximum.accumulate(out, axis=1)


def encode(row_s: np.ndarray, p50_s: float) -> str:
    """A served prediction's quantiles as the offsets from its P50, whole seconds, comma-separated."""
    return ",".join(str(int(np.rint(v - p50_s))) for v in row_s)


def decode(text: str | None) -> list[int] | None:
    """The offsets from the P50 (s) stored by :func:`encode`; None where there are none or malformed."""
    if not text:
        return None
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        return None
    return values if len(values) == len(LEVELS) else None


def probability_at_most(row: np.ndarray, x: float) -> float:
    """P(outcome ≤ x) from one row of quantiles at :data:`LEVELS`.

    Between two quantiles the distribution function is taken linear; where several levels share a value
    (a pile of outcomes on one minute) the probability jumps there to the highest of them. Beyond the
    outer quantiles the tail tapers linearly to 0 (1) over the distance of the neighbouring step, or
    :data:`FLOOR_S` where that is zero.
    """
    q = np.asarray(row, dtype="float64")
    levels = np.asarray(LEVELS)
    if x < q[0]:
        step = max(q[1] - q[0], FLOOR_S)
        return float(max(0.0, levels[0] * (1 - (q[0] - x) / step)))
    if x >= q[-1]:
        step = max(q[-1] - q[-2], FLOOR_S)
        beyond = levels[-1] + (1 - levels[-1]) * min(1.0, (x - q[-1]) / step)
        return float(beyond if x > q[-1] else levels[-1])
    at_or_below = int(np.searchsorted(q, x, side="right")) - 1  # last quantile ≤ x
    low_q, low_level = q[at_or_below], levels[at_or_below]
    high_q, high_level = q[at_or_below + 1], levels[at_or_below + 1]
    return float(low_level + (high_level - low_level) * (x - low_q) / (high_q - low_q))


def probability_at_most_rows(rows: np.ndarray, x: np.ndarray) -> np.ndarray:
    """:func:`probability_at_most` of each row of quantiles (n, levels) at each of its points x (n, k)."""
    q = np.asarray(rows, dtype="float64")
    x = np.asarray(x, dtype="float64")
    levels = np.asarray(LEVELS)
    first, last = q[:, :1], q[:, -1:]
    low_step = np.maximum(q[:, 1:2] - first, FLOOR_S)
    high_step = np.maximum(last - q[:, -2:-1], FLOOR_S)
    below = np.maximum(0.0, levels[0] * (1 - (first - x) / low_step))
    beyond = np.where(
        x > last, levels[-1] + (1 - levels[-1]) * np.minimum(1.0, (x - last) / high_step), levels[-1]
    )
    at_or_below = np.clip((q[:, None, :] <= x[:, :, None]).sum(axis=2) - 1, 0, len(levels) - 2)
    low_q = np.take_along_axis(q, at_or_below, axis=1)
    high_q = np.take_along_axis(q, at_or_below + 1, axis=1)
    width = np.where(high_q > low_q, high_q - low_q, 1.0)
    inside = levels[at_or_below] + (levels[at_or_below + 1] - levels[at_or_below]) * (x - low_q) / width
    return np.where(x < first, below, np.where(x >= last, beyond, inside))


# Points the departure's distribution is integrated over (mid-levels of equal probability).
CONNECTION_POINTS = 200


def inverse_rows(rows: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """The outcome at each of ``levels`` (any in (0, 1)) of each row of quantiles: the inverse of
    :func:`probability_at_most` (linear between quantiles, tails tapering over the neighbouring step)."""
    q = np.asarray(rows, dtype="float64")
    known = np.asarray(LEVELS)
    first, last = q[:, :1], q[:, -1:]
    low_step = np.maximum(q[:, 1:2] - first, FLOOR_S)
    high_step = np.maximum(last - q[:, -2:-1], FLOOR_S)
    u = levels[None, :]
    segment = np.clip(np.searchsorted(known, levels, side="right") - 1, 0, len(known) - 2)
    fraction = (levels - known[segment]) / (known[segment + 1] - known[segment])
    inside = q[:, segment] + (q[:, segment + 1] - q[:, segment]) * fraction[None, :]
    below = first - low_step * (1 - u / known[0])
    beyond = last + high_step * (u - known[-1]) / (1 - known[-1])
    return np.where(u < known[0], below, np.where(u > known[-1], beyond, inside))


def connection_probability(
    arrival_rows: np.ndarray, departure_rows: np.ndarray, slack_s: np.ndarray
) -> np.ndarray:
    """P(departure delay + slack ≥ arrival delay) per row: that a connection holds, where ``arrival_rows``
    are the quantiles of the first train's arrival delay (s), ``departure_rows`` those of the second
    train's departure delay (s), and ``slack_s`` the scheduled transfer time less the minimum needed.

    The two delays are taken as independent (the second train does not wait for the first): the
    probability is the mean, over the departure's distribution, of the arrival's distribution function.
    A row whose quantiles are all equal is an event already known: exactly that value.
    """
    arrival_rows = np.asarray(arrival_rows, dtype="float64")
    departure_rows = np.asarray(departure_rows, dtype="float64")
    u = (np.arange(CONNECTION_POINTS) + 0.5) / CONNECTION_POINTS
    departure = (
        np.where(_known(departure_rows)[:, None], departure_rows[:, :1], inverse_rows(departure_rows, u))
        + np.asarray(slack_s, dtype="float64")[:, None]
    )
    chance = np.where(
        _known(arrival_rows)[:, None],
        (arrival_rows[:, :1] <= departure).astype("float64"),
        probability_at_most_rows(arrival_rows, departure),
    )
    return np.asarray(chance.mean(axis=1))


def _known(rows: np.ndarray) -> np.ndarray:
    """Rows of quantiles all on one value: an event that happened."""
    return np.asarray(rows.max(axis=1) == rows.min(axis=1))
