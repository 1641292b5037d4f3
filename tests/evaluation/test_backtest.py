"""The arrival backtest scores the interval as served: re-calibrated on the model's own predictions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eta.config import Settings
from eta.evaluation.backtest import OWN_COLUMNS, arrival_backtest, arrival_report
from eta.features import load_frames
from eta.features.frames import Frames
from eta.store import open_store
from eta.windows import window
from tests import slices
from tests.model.conftest import small_settings

TRAIN = window("2013-01-01", "2013-01-10", "training")
TEST = window("2013-01-11", "2013-01-14", "test")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Frames]]:
    directory = tmp_path_factory.mktemp("backtest")
    settings = small_settings(slices.copy_of(slices.flights_template(), directory), directory, n_rounds=10)
    engine = open_store(settings)
    yield settings, load_frames(engine, "flight", TRAIN.start, TEST.end)
    engine.dispose()


def test_the_backtest_scores_the_interval_serving_would_have_given(
    store: tuple[Settings, Frames], tmp_path: Path
) -> None:
    settings, frames = store
    rows = arrival_backtest(frames, "flight", TRAIN, TEST, settings).rows
    made = pd.to_datetime(rows["t"], utc=True)
    own_p10, own_p90 = rows["own_p10_delay_s"].to_numpy(), rows["own_p90_delay_s"].to_numpy()
    p10, p50, p90 = (rows[f"p{q}_delay_s"].to_numpy() for q in (10, 50, 90))
    # nothing had arrived when the model was deployed: its first predictions carry its own bounds
    first = (made < pd.Timestamp(TEST.start) + pd.Timedelta(hours=1)).to_numpy()
    assert first.sum() > 100
    assert np.array_equal(p10[first], own_p10[first]) and np.array_equal(p90[first], own_p90[first])
    # later, the re-calibration moves them, never across the model's P50
    later = (made >= pd.Timestamp(TEST.start) + pd.Timedelta(days=1)).to_numpy()
    assert np.mean((p10[later] != own_p10[later]) | (p90[later] != own_p90[later])) > 0.5
    assert (p10 <= p50).all() and (p50 <= p90).all()
    # the quantiles follow the served interval (the 0.1 and 0.9 levels are its bounds)
    assert np.allclose(rows["q10_delay_s"], p10) and np.allclose(rows["q90_delay_s"], p90)
    report = arrival_report(rows)
    for horizon, block in report.items():
        part = rows[rows["horizon"] == horizon]
        y = part["actual_s"].to_numpy()
        served = np.mean((y >= part["p10_delay_s"]) & (y <= part["p90_delay_s"]))
        own = np.mean((y >= part["own_p10_delay_s"]) & (y <= part["own_p90_delay_s"]))
        assert block["model"]["coverage_p10_p90"] == round(float(served), 4)
        assert block["model_own_interval"]["coverage_p10_p90"] == round(float(own), 4)
        assert block["model_own_interval"]["crps_s"] > 0


def test_without_served_calibration_the_backtest_scores_the_model_interval(
    store: tuple[Settings, Frames],
) -> None:
    settings, frames = store
    off = settings.model_copy(
        update={"model": settings.model.model_copy(update={"served_calibration": False})}
    )
    rows = arrival_backtest(frames, "flight", TRAIN, TEST, off).rows
    assert not set(OWN_COLUMNS) & set(rows.columns)
    assert "model_own_interval" not in next(iter(arrival_report(rows).values()))
