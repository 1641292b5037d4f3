"""Interval calibration: 80 % coverage where whole-minute outcomes sit on a bound, buckets, old models."""

from __future__ import annotations

import numpy as np
import pandas as pd

from eta.model import calibration


def _tied_rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Outcomes in whole minutes, a third of them exactly on the P10 (no change from a whole-minute delay)."""
    rng = np.random.default_rng(seed)
    base = 60.0 * rng.integers(0, 5, n)
    minutes = rng.choice([-1, 0, 1, 2, 3, 6], size=n, p=[0.04, 0.34, 0.22, 0.18, 0.12, 0.10])
    y = base + 60.0 * minutes
    p10 = base.copy()
    p50 = base + rng.uniform(0.0, 120.0, n)
    p90 = base + 200.0 + rng.uniform(0.0, 20.0, n)
    return y, p10, p50, p90


def _features(n: int, stops: float | None = 1.0) -> pd.DataFrame:
    frame = pd.DataFrame({"time_to_arrival_s": np.full(n, 900.0), "has_report": np.ones(n)})
    if stops is not None:
        frame["report_stops_to_go"] = stops
    return frame


def test_coverage_lands_on_80_percent_when_outcomes_tie_on_the_bound() -> None:
    y, p10, p50, p90 = _tied_rows(20_000, seed=1)
    buckets = calibration.bucket_of(_features(len(y)))
    fitted = calibration.fit_interval_calibration(y, p10, p50, p90, buckets)
    y2, q10, q50, q90 = _tied_rows(20_000, seed=2)
    low, high = calibration.apply_interval_calibration(fitted, q10, q50, q90, buckets)
    assert abs(np.mean(y2 < low) - 0.10) < 0.01
    assert abs(np.mean((y2 >= low) & (y2 <= high)) - 0.80) < 0.01
    assert (low <= q50).all() and (q50 <= high).all()


def test_a_tie_is_split_by_moving_the_bound_past_it_only_by_the_nudge() -> None:
    y, p10, p50, p90 = _tied_rows(20_000, seed=3)
    buckets = calibration.bucket_of(_features(len(y)))
    fitted = calibration.fit_interval_calibration(y, p10, p50, p90, buckets)
    low, _ = calibration.apply_interval_calibration(fitted, p10, p50, p90, buckets)
    moved = low != p10
    assert 0 < moved.mean() < 1
    assert np.allclose(low[moved] - p10[moved], calibration.NUDGE_S)


def test_buckets_separate_reports_last_hop_and_time_to_arrival() -> None:
    features = pd.DataFrame(
        {
            "time_to_arrival_s": [-30.0, 90.0, 900.0, 7200.0],
            "has_report": [1.0, 1.0, 0.0, 1.0],
            "report_stops_to_go": [1.0, 1.0, np.nan, 4.0],
        }
    )
    labels = calibration.bucket_of(features).tolist()
    assert labels == ["r1-s1-b0", "r1-s1-b1", "r0-s0-b4", "r1-s0-b7"]
    # flights have no stops-to-go feature: never on a "last hop"
    assert calibration.bucket_of(_features(2, stops=None)).tolist() == ["r1-s0-b4"] * 2


def test_buckets_count_the_time_to_the_arrival_expected_with_the_latest_delay() -> None:
    # left 9 minutes late on a 12-minute hop: 2.5 minutes to the scheduled arrival, 11.5 to the expected one
    late = pd.DataFrame(
        {
            "time_to_arrival_s": [150.0, 150.0, 900.0],
            "latest_delay_s": [540.0, 0.0, np.nan],
            "has_report": [1.0, 1.0, 0.0],
            "report_stops_to_go": [1.0, 1.0, np.nan],
        }
    )
    assert calibration.bucket_of(late).tolist() == ["r1-s1-b4", "r1-s1-b2", "r0-s0-b4"]
    fitted = calibration.fit_interval_calibration(
        np.zeros(3), np.full(3, -60.0), np.zeros(3), np.full(3, 60.0), calibration.bucket_of(late)
    )
    assert fitted["clock"] == "expected"
    assert calibration.bucket_of(late, fitted).tolist() == ["r1-s1-b4", "r1-s1-b2", "r0-s0-b4"]
    # a model calibrated before the clock was recorded keeps the scheduled arrival's buckets
    before = {key: value for key, value in fitted.items() if key != "clock"}
    assert calibration.bucket_of(late, before).tolist() == ["r1-s1-b2", "r1-s1-b2", "r0-s0-b4"]


def test_train_buckets_split_busy_stations_and_run_ends() -> None:
    features = pd.DataFrame(
        {
            "time_to_arrival_s": [400.0] * 3,
            "latest_delay_s": [0.0] * 3,
            "has_report": [1.0] * 3,
            "report_stops_to_go": [1.0] * 3,
            "scheduled_nearby_30min": [20.0, 3.0, np.nan],
            "stops_after": [0.0, 5.0, 0.0],
        }
    )
    assert calibration.bucket_of(features).tolist() == ["r1-s1-b3-n1-e1", "r1-s1-b3-n0-e0", "r1-s1-b3-n0-e1"]
    # a model calibrated before the splits keeps its labels
    before = {"edges_s": list(calibration.BUCKET_EDGES_S), "clock": "expected"}
    assert calibration.bucket_of(features, before).tolist() == ["r1-s1-b3"] * 3
    assert calibration.coarser("r1-s1-b3-n1-e1") == "r1-s1-b3-n1"
    assert calibration.coarser("r1-s1-b3") is None


FRESH = {
    "edges_s": list(calibration.BUCKET_EDGES_S),
    "clock": "expected",
    "splits": ["fresh", "busy", "end"],
    "fresh_report_s": calibration.FRESH_REPORT_S,
}


def test_with_the_fresh_split_a_train_that_has_just_left_the_previous_stop_gets_its_own_bucket() -> None:
    features = pd.DataFrame(
        {
            "time_to_arrival_s": [400.0] * 4,
            "latest_delay_s": [0.0] * 4,
            "has_report": [1.0, 1.0, 1.0, 0.0],
            "report_stops_to_go": [1.0, 1.0, 3.0, np.nan],
            "report_age_s": [30.0, 600.0, 30.0, np.nan],
            "scheduled_nearby_30min": [20.0] * 4,
            "stops_after": [0.0] * 4,
        }
    )
    labels = calibration.bucket_of(features, FRESH).tolist()
    assert labels == ["r1-s1-b3-f1-n1-e1", "r1-s1-b3-f0-n1-e1", "r1-s0-b3-f0-n1-e1", "r0-s0-b3-f0-n1-e1"]
    # too few rows for the busy and end splits: the fresh part is the last one given up
    assert calibration.coarser(calibration.coarser("r1-s1-b3-f1-n1-e1") or "") == "r1-s1-b3-f1"
    # the default calibration (and every model calibrated with it) has no fresh part
    assert calibration.bucket_of(features).tolist()[0] == "r1-s1-b3-n1-e1"
    fitted = calibration.fit_interval_calibration(
        np.zeros(4), np.full(4, -60.0), np.zeros(4), np.full(4, 60.0), calibration.bucket_of(features)
    )
    assert calibration.bucket_of(features, fitted).tolist()[0] == "r1-s1-b3-n1-e1"


def test_with_the_fresh_split_fresh_departures_get_the_wider_interval_they_need() -> None:
    # just left: the whole hop's running time is still to come; later on the hop much less is left
    rng = np.random.default_rng(8)
    n = 6_000
    age = np.where(np.arange(n) % 2 == 0, 10.0, 400.0)
    features = pd.DataFrame(
        {
            "time_to_arrival_s": np.full(n, 400.0),
            "has_report": np.ones(n),
            "report_stops_to_go": np.ones(n),
            "report_age_s": age,
        }
    )
    y = np.where(age < 60, rng.normal(0, 240, n), rng.normal(0, 40, n))
    p10, p50, p90 = np.full(n, -60.0), np.zeros(n), np.full(n, 60.0)
    buckets = calibration.bucket_of(features, FRESH)
    fitted = calibration.fit_interval_calibration(y, p10, p50, p90, buckets)
    low, high = calibration.apply_interval_calibration(fitted, p10, p50, p90, buckets)
    inside = (y >= low) & (y <= high)
    for mask in (age < 60, age > 60):
        assert abs(inside[mask].mean() - 0.80) < 0.03


def test_a_split_with_too_few_rows_takes_its_time_buckets_adjustment_not_the_overall_one() -> None:
    rng = np.random.default_rng(6)
    n = 4_000
    wide = np.arange(n) < 3_000  # the time bucket's rows: outcomes spread over ±10 minutes
    labels = np.where(wide, "r1-s1-b3-n1-e0", "r1-s1-b5-n0-e0")
    labels[:100] = "r1-s1-b3-n1-e1"  # a split too small for its own adjustment
    y = np.where(wide, rng.normal(0, 600, n), rng.normal(0, 60, n))
    p10, p50, p90 = np.full(n, -60.0), np.zeros(n), np.full(n, 60.0)
    fitted = calibration.fit_interval_calibration(y, p10, p50, p90, pd.Series(labels))
    assert "r1-s1-b3-n1-e1" not in fitted["buckets"]
    assert fitted["buckets"]["r1-s1-b3-n1"] == fitted["buckets"]["r1-s1-b3"]  # the same 3,000 rows
    small = pd.Series(["r1-s1-b3-n1-e1"])
    low, high = calibration.apply_interval_calibration(fitted, p10[:1], p50[:1], p90[:1], small)
    parent = pd.Series(["r1-s1-b3-n1"])
    assert (low, high) == calibration.apply_interval_calibration(fitted, p10[:1], p50[:1], p90[:1], parent)
    assert high[0] > 600  # the wide time bucket's P90, not the overall one's
    unknown = pd.Series(["r1-s0-b1-n0-e0"])
    overall = calibration.apply_interval_calibration(
        {"overall": fitted["overall"], "buckets": {}}, p10[:1], p50[:1], p90[:1], unknown
    )
    assert calibration.apply_interval_calibration(fitted, p10[:1], p50[:1], p90[:1], unknown) == overall


def test_models_calibrated_with_shifts_only_keep_their_buckets_and_bounds() -> None:
    legacy = {"overall": [0.0, 0.0], "buckets": {"r1-b1": [30.0, 60.0]}, "tail": 0.1}
    features = _features(3)
    buckets = calibration.bucket_of(features, legacy)
    assert buckets.tolist() == ["r1-b1"] * 3
    p10, p50, p90 = np.array([0.0, 60.0, 120.0]), np.array([60.0, 120.0, 180.0]), np.array([120.0] * 3)
    low, high = calibration.apply_interval_calibration(legacy, p10, p50, p90, buckets)
    assert low.tolist() == [-30.0, 30.0, 90.0]
    assert high.tolist() == [180.0, 180.0, 180.0]


def _piled_on_median(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Most outcomes exactly on the P50 (the last minutes before arrival), half the intervals 10 s wide and
    half 10 min: the misses of the wide ones lie inside them, and one common shift large enough to reach
    them would pin the narrow ones on the P50 first."""
    rng = np.random.default_rng(seed)
    p50 = 60.0 * rng.integers(0, 5, n)
    narrow = rng.uniform(size=n) < 0.5
    width = np.where(narrow, 5.0, 300.0)
    on_median = rng.uniform(size=n) < np.where(narrow, 0.9, 0.6)
    minutes = rng.choice([-4, -3, -2, -1, 1, 2, 3, 4], size=n)
    y = np.where(on_median, p50, p50 + 60.0 * minutes)
    return y, p50 - width, p50, p50 + width


def test_where_outcomes_pile_on_the_p50_the_bounds_are_scaled_to_80_percent() -> None:
    y, p10, p50, p90 = _piled_on_median(20_000, seed=4)
    buckets = calibration.bucket_of(_features(len(y)))
    fitted = calibration.fit_interval_calibration(y, p10, p50, p90, buckets)
    low_scale, high_scale = fitted["buckets"][buckets.iloc[0]][4:6]
    assert low_scale is not None and high_scale is not None
    y2, q10, q50, q90 = _piled_on_median(20_000, seed=5)
    low, high = calibration.apply_interval_calibration(fitted, q10, q50, q90, buckets)
    assert abs(np.mean((y2 >= low) & (y2 <= high)) - 0.80) < 0.01
    assert (low <= q50).all() and (q50 <= high).all()
    # one common shift leaves too few outcomes below the P10: it pins the narrow intervals on the P50
    _, _, shifted_share = calibration._shifted(p10 - y, p50 - p10, 0.10)
    assert shifted_share < 0.09
