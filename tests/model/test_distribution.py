"""The arrival distribution: 19 monotone quantiles around the calibrated P10/P50/P90, from a shape fitted
on held-out outcomes; their compact form; the probability of arriving by a time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eta.model import distribution
from eta.model.distribution import LEVELS


def _skewed(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Outcomes from a right-skewed distribution (a delay), with its true P10/P50/P90 as the interval."""
    rng = np.random.default_rng(seed)
    scale = rng.uniform(60, 600, n)
    y = scale * rng.gamma(2.0, 1.0, n)
    ref = np.random.default_rng(99).gamma(2.0, 1.0, 400_000)
    p10, p50, p90 = (scale * np.quantile(ref, q) for q in (0.1, 0.5, 0.9))
    return y, p10, p50, p90


def test_fitted_quantiles_hold_their_share_of_new_outcomes_and_keep_the_interval() -> None:
    y, p10, p50, p90 = _skewed(20_000)
    buckets = pd.Series(np.where(np.arange(len(y)) % 2 == 0, "a", "b"))
    shape = distribution.fit_shape(y, p10, p50, p90, buckets)
    assert set(shape["buckets"]) == {"a", "b"}
    new_y, n10, n50, n90 = _skewed(20_000, seed=1)
    q = distribution.quantiles(shape, n10, n50, n90, buckets)
    assert q.shape == (20_000, 19)
    assert (np.diff(q, axis=1) >= 0).all()
    np.testing.assert_allclose(q[:, LEVELS.index(0.1)], n10)
    np.testing.assert_allclose(q[:, LEVELS.index(0.5)], n50)
    np.testing.assert_allclose(q[:, LEVELS.index(0.9)], n90)
    shares = (new_y[:, None] <= q).mean(axis=0)
    np.testing.assert_allclose(shares, LEVELS, atol=0.015)
    # the shape learnt the skew: the upper tail reaches further beyond the P90 than the normal's
    assert shape["overall"][-1] > distribution.DEFAULT_SHAPE[-1]


def test_a_bound_pinned_on_the_p50_still_gets_a_tail_from_the_held_out_outcomes() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    # three in four keep their delay to the minute; the rest arrive up to 5 minutes later
    y = np.where(rng.uniform(size=n) < 0.75, 0.0, 60.0 * rng.integers(1, 6, n))
    zeros = np.zeros(n)
    shape = distribution.fit_shape(y, zeros, zeros, zeros + 60.0, pd.Series(["x"] * n))
    q = distribution.quantiles(shape, zeros[:3], zeros[:3], zeros[:3] + 60.0, pd.Series(["x"] * 3))
    assert (q[:, : LEVELS.index(0.75)] == 0.0).all()  # the pile of "no change" up to its share
    assert q[0, -1] > 60.0  # the 0.95 quantile lies beyond the P90
    assert (np.diff(q, axis=1) >= 0).all()


def test_a_split_bucket_with_too_few_rows_takes_its_time_buckets_shape() -> None:
    y, p10, p50, p90 = _skewed(6_000)
    labels = np.where(np.arange(len(y)) < 3_000, "r1-s1-b3-n1-e0", "r1-s1-b5-n0-e0")
    labels[:100] = "r1-s1-b3-n1-e1"
    y = np.where(np.arange(len(y)) < 3_000, y, p50)  # the other time bucket: every outcome on the P50
    shape = distribution.fit_shape(y, p10, p50, p90, pd.Series(labels))
    assert "r1-s1-b3-n1-e1" not in shape["buckets"]
    assert shape["buckets"]["r1-s1-b3-n1"] == shape["buckets"]["r1-s1-b3"] != shape["overall"]
    row = (np.array([-60.0]), np.array([0.0]), np.array([120.0]))
    small = distribution.quantiles(shape, *row, pd.Series(["r1-s1-b3-n1-e1"]))
    np.testing.assert_array_equal(small, distribution.quantiles(shape, *row, pd.Series(["r1-s1-b3"])))


def test_a_model_without_a_shape_gets_a_normal_distributions_proportions() -> None:
    q = distribution.quantiles(None, np.array([-128.16]), np.array([0.0]), np.array([128.16]), None)
    assert q[0, LEVELS.index(0.05)] == pytest.approx(-164.5, abs=0.5)
    assert q[0, LEVELS.index(0.75)] == pytest.approx(67.4, abs=0.5)


def test_encoded_quantiles_are_whole_second_offsets_from_the_p50() -> None:
    row = np.array([600.0 + 30.4 * i for i in range(19)])
    text = distribution.encode(row, p50_s=600.0 + 30.4 * 9)
    offsets = distribution.decode(text)
    assert offsets is not None and len(offsets) == 19
    assert offsets[9] == 0 and offsets[0] == -274 and offsets[-1] == 274
    assert len(text) < 120
    assert distribution.decode("1,2,x") is None
    assert distribution.decode("1,2,3") is None
    assert distribution.decode(None) is None


def test_probability_of_arriving_by_a_time_reads_the_quantiles() -> None:
    row = np.array([60.0 * i for i in range(19)])  # the 0.05 quantile at 0 s, the 0.95 at 18 min
    assert distribution.probability_at_most(row, 0.0) == pytest.approx(0.05)
    assert distribution.probability_at_most(row, 540.0) == pytest.approx(0.5)
    assert distribution.probability_at_most(row, 570.0) == pytest.approx(0.525)
    assert distribution.probability_at_most(row, 1080.0) == pytest.approx(0.95)
    assert distribution.probability_at_most(row, -30.0) == pytest.approx(0.025)
    assert distribution.probability_at_most(row, -3600.0) == 0.0
    assert distribution.probability_at_most(row, 7200.0) == 1.0
    piled = np.array([0.0] * 15 + [60.0, 120.0, 180.0, 240.0])  # up to 0.75 on the P50
    assert distribution.probability_at_most(piled, 0.0) == pytest.approx(0.75)
    assert distribution.probability_at_most(piled, -1.0) < 0.05


def test_the_rows_probability_is_the_single_rows_and_the_inverse_undoes_it() -> None:
    rng = np.random.default_rng(5)
    rows = np.sort(rng.normal(0, 240, (40, len(LEVELS))), axis=1) + np.linspace(-600, 900, len(LEVELS))
    rows[:5, 3:9] = rows[:5, 3:4]  # piles of outcomes on one value
    x = rng.normal(100, 900, (40, 9))
    got = distribution.probability_at_most_rows(rows, x)
    one = [[distribution.probability_at_most(rows[i], x[i, j]) for j in range(9)] for i in range(40)]
    np.testing.assert_allclose(got, one, atol=1e-12)
    levels = np.array([0.01, 0.05, 0.2, 0.5, 0.73, 0.95, 0.995])
    at = distribution.inverse_rows(rows[5:], levels)
    np.testing.assert_allclose(distribution.probability_at_most_rows(rows[5:], at), np.tile(levels, (35, 1)))


def test_a_connection_holds_with_the_chance_the_departure_stays_after_the_arrival() -> None:
    """Against a sampled truth: two independent delays, each given by its quantiles."""
    rng = np.random.default_rng(7)
    arrival = rng.gamma(2.0, 150.0, 400_000)  # minutes late, right-skewed
    leaving = rng.normal(60.0, 90.0, 400_000)
    rows_a = np.quantile(arrival, LEVELS)[None, :]
    rows_d = np.quantile(leaving, LEVELS)[None, :]
    for slack in (-300.0, 0.0, 240.0, 600.0):
        truth = float(np.mean(leaving + slack >= arrival))
        got = distribution.connection_probability(rows_a, rows_d, np.array([slack]))[0]
        assert got == pytest.approx(truth, abs=0.03), slack
    # certain events: a point mass each; the connection holds exactly when the slack covers the gap
    point = np.zeros((1, len(LEVELS)))
    assert distribution.connection_probability(point + 120, point, np.array([150.0]))[0] == 1.0
    assert distribution.connection_probability(point + 120, point, np.array([90.0]))[0] == 0.0
    chances = distribution.connection_probability(
        np.repeat(rows_a, 5, axis=0), np.repeat(rows_d, 5, axis=0), np.array([-600.0, 0, 300, 900, 3600])
    )
    assert (np.diff(chances) > 0).all() and chances[-1] > 0.99
