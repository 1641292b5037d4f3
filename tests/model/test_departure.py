"""The departure model on a week of the bundled DB runs: the arrival model's pipeline on the departure
view, registered as its own task, trained by ``eta train``, the retraining job and the backtest beside the
arrival model."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from eta.config import Settings
from eta.errors import EtaError
from eta.evaluation import backtest
from eta.features import load_frames
from eta.model import departure, registry
from eta.model.retrain import _retrain_arrival
from eta.model.training import train_and_register
from eta.store import open_store
from eta.windows import window
from tests import slices
from tests.model.conftest import small_settings

TRAIN = window("2026-03-02", "2026-03-06", "training")
TEST = window("2026-03-07", "2026-03-08", "test")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    directory = tmp_path_factory.mktemp("departure-model")
    return small_settings(slices.copy_of(slices.trains_template(), directory), directory, n_rounds=20)


def test_backtest_reports_departures_beside_arrivals(settings: Settings) -> None:
    engine = open_store(settings)
    report, arrivals, _ = backtest.run(engine, settings, "train", TRAIN, TEST, tasks=("arrival", "departure"))
    engine.dispose()
    assert arrivals is not None and report["arrival"] and report["departure_model"]["n_train"] > 10_000
    assert set(report["departure"]) == set(report["arrival"])
    for horizon in ("15min", "60min"):
        block = report["departure"][horizon]
        model, timetable = block["model"], block["baselines"]["timetable"]
        assert block["n"] > 5_000
        # departures are foreseen better than the timetable, with an interval that covers ~80 %
        assert model["mae_s"] < timetable["mae_s"]
        assert 0.65 < model["coverage_p10_p90"] < 0.95
        assert 0 < model["crps_s"] < model["mae_s"]
    # a departure is nearer its origin than the arrival at the same stop: the smaller error
    assert report["departure"]["60min"]["model"]["mae_s"] < report["arrival"]["60min"]["model"]["mae_s"]


def test_eta_train_registers_a_departure_model_and_the_job_promotes_it(settings: Settings) -> None:
    engine = open_store(settings)
    [entry] = train_and_register(engine, settings, "train", TRAIN, ("departure",))
    assert (
        entry.task == "departure" and entry.mode == "train" and entry.version.startswith("train-departure-")
    )
    loaded = registry.load(entry)
    assert loaded.meta["task"] == "departure" and "departure delay" in loaded.meta["target"]
    assert np.isfinite(entry.metrics["mae_s"]) and Path(entry.path).is_dir()
    frames = load_frames(engine, "train", TRAIN.start, TEST.end)
    now = datetime(2026, 3, 9, tzinfo=UTC)
    decision = _retrain_arrival(engine, settings, frames, "train", TRAIN.start, TEST.start, now, "departure")
    assert decision.task == "departure" and decision.promoted, decision.reason
    champion = registry.champion(engine, "train", "departure")
    assert champion is not None and champion.version == decision.challenger
    assert registry.champion(engine, "train", "arrival") is None  # its own champion, per task
    engine.dispose()
    with pytest.raises(EtaError, match="departure models exist for train"):
        departure.train(frames, "flight", TRAIN.start, TRAIN.end, settings)
