"""Metric definitions: benchmark bands, pinball loss, calibration error, baseline probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eta.evaluation.metrics import (
    arrival_metrics,
    average_precision,
    band_hits,
    expected_calibration_error,
    flag_precision_recall,
    log_loss,
    pinball,
)
from eta.evaluation.platform_backtest import baseline_probability
from eta.features.history import History


@pytest.mark.parametrize(
    ("to_go_min", "error_s", "inside"),
    [
        (2, -30, True),
        (2, -31, False),
        (2, 90, True),
        (2, 91, False),
        (5, -60, True),
        (5, 150, True),
        (5, 151, False),
        (8, 210, True),
        (8, -61, False),
        (12, -90, True),
        (12, 270, True),
        (12, 271, False),
        (30, 180, True),
        (30, -180, True),
        (30, 181, False),
        (30, -181, False),
    ],
)
def test_band_edges(to_go_min: float, error_s: float, inside: bool) -> None:
    # error = actual − predicted: a train arriving later than predicted is a positive error
    hit = band_hits(np.array([error_s]), np.array([0.0]), np.array([to_go_min * 60.0]))
    assert bool(hit[0]) is inside


def test_pinball_and_coverage() -> None:
    actual = np.array([0.0, 100.0, 200.0, 300.0])
    p10, p50, p90 = np.full(4, 50.0), np.full(4, 150.0), np.full(4, 250.0)
    metrics = arrival_metrics(actual, p10, p50, p90, np.full(4, 3600.0))
    assert metrics["coverage_p10_p90"] == 0.5
    assert metrics["mae_s"] == 100.0
    # pinball of a perfect point forecast is zero
    assert pinball(actual, [actual, actual, actual]) == 0.0


def test_calibration_error_and_log_loss() -> None:
    confidence = np.array([0.9] * 10)
    assert expected_calibration_error(confidence, np.array([1] * 9 + [0])) == pytest.approx(0.0)
    assert expected_calibration_error(confidence, np.array([1] * 5 + [0] * 5)) == pytest.approx(0.4)
    assert log_loss(np.array([1.0, 0.0])) == pytest.approx(-np.log(1e-6) / 2)


def test_baseline_probability_spreads_the_change_rate_over_other_platforms() -> None:
    history = History()
    station = pd.DataFrame(
        {
            "location": ["S", "S", "S"],
            "final_platform": ["1", "2", "3"],
            "share": [0.5, 0.3, 0.2],
            "count": [50.0, 30.0, 20.0],
        }
    ).set_index(["location", "final_platform"])
    history.add("station", ["location", "final_platform"], station)
    train_rows = pd.DataFrame(
        {
            "location": ["S"] * 10,
            "operator": ["RE"] * 10,
            "announced": ["1"] * 10,
            "final_platform": ["1"] * 8 + ["2", "3"],
        }
    )
    rows = pd.DataFrame(
        {
            "location": ["S", "S", "S"],
            "operator": ["RE"] * 3,
            "announced": ["1", "1", "1"],
            "final_platform": ["1", "2", "3"],
        }
    )
    p = baseline_probability(rows, "announced", train_rows, history)
    assert p.tolist() == pytest.approx([0.8, 0.2 * 30 / 50, 0.2 * 20 / 50])


def test_average_precision_ranks_the_positives() -> None:

    score = np.array([0.9, 0.8, 0.7, 0.1])
    # positives at ranks 1 and 3: (1/1 + 2/3) / 2
    assert average_precision(score, np.array([1, 0, 1, 0])) == pytest.approx(5 / 6)
    assert average_precision(score, np.array([0, 0, 0, 1])) == pytest.approx(1 / 4)
    # one score for all: the base rate, whatever the order of the rows
    assert average_precision(np.full(4, 0.5), np.array([0, 1, 0, 1])) == pytest.approx(0.5)
    assert average_precision(score, np.zeros(4)) is None


def test_the_flag_is_judged_at_its_threshold() -> None:

    score = np.array([0.9, 0.8, 0.7, 0.1])
    positive = np.array([1, 0, 1, 0])
    assert flag_precision_recall(score, positive, 0.75) == (0.5, 0.5)
    assert flag_precision_recall(score, positive, 0.7) == (pytest.approx(2 / 3), 1.0)
    assert flag_precision_recall(score, positive, 0.95) == (None, 0.0)


def test_crps_of_quantiles_is_exact_for_their_step_distribution() -> None:
    from eta.evaluation.metrics import crps_rows, distribution_metrics, level_weights
    from eta.model.distribution import LEVELS

    weights = level_weights(LEVELS)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[0] == pytest.approx(0.075) and weights[5] == pytest.approx(0.05)
    # a point forecast: the CRPS is the absolute error
    point = np.full((2, 19), 120.0)
    np.testing.assert_allclose(crps_rows(np.array([60.0, 300.0]), point, LEVELS), [60.0, 180.0])
    # against the integral of (F(z) − 1{y ≤ z})² over a fine grid
    rng = np.random.default_rng(0)
    rows = np.sort(rng.normal(0, 300, (5, 19)), axis=1)
    actual = rng.normal(0, 300, 5)
    grid = np.linspace(-3000, 3000, 600_001)
    for row, y in zip(rows, actual, strict=True):
        cdf = np.searchsorted(row, grid, side="right")
        f = np.r_[0.0, np.cumsum(weights)][cdf]
        integral = np.sum((f - (grid >= y)) ** 2) * (grid[1] - grid[0])
        assert crps_rows(np.array([y]), row[None, :], LEVELS)[0] == pytest.approx(integral, rel=1e-3)
    # a sharper distribution around the outcome scores better, and the minutes are the seconds / 60
    wide = np.linspace(-900, 900, 19)[None, :]
    sharp = np.linspace(-90, 90, 19)[None, :]
    assert crps_rows(np.zeros(1), sharp, LEVELS)[0] < crps_rows(np.zeros(1), wide, LEVELS)[0]
    scores = distribution_metrics(np.zeros(1), wide, LEVELS, scale=60.0)
    assert scores["crps"] == pytest.approx(crps_rows(np.zeros(1), wide, LEVELS)[0] / 60)
    assert scores["pinball_0.5"] == 0.0
    assert scores["pinball_0.9"] == pytest.approx(0.1 * 800 / 60)  # the 0.9 quantile of the grid is 800 s
