"""Connection probabilities scored on held-out days of the bundled DB runs (a week of March 2026): which
pairs are connections, whether each held, and the Brier score against each station's base rate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eta.config import Settings
from eta.evaluation import connections
from eta.features import load_frames
from eta.store.engine import make_engine
from eta.windows import window
from tests import slices
from tests.model.conftest import quick_env, small_settings

TRAIN = window("2026-03-02", "2026-03-05", "training")
TEST = window("2026-03-06", "2026-03-08", "test")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    directory = tmp_path_factory.mktemp("connections")
    return small_settings(slices.copy_of(slices.trains_template(), directory), directory, n_rounds=20)


def test_pairs_are_changes_at_one_station_within_the_window(settings: Settings) -> None:
    engine = make_engine(settings.resolved_database_url)
    frames = load_frames(engine, "train", TRAIN.start, TEST.end)
    engine.dispose()
    pairs = connections.connection_pairs(frames, TEST, 300, 600, 10**9)
    assert len(pairs) > 2_000
    calls = frames.calls.set_index("call_id")
    first, second = calls.loc[pairs["arrival_call_id"]], calls.loc[pairs["departure_call_id"]]
    assert (first["location"].to_numpy() == second["location"].to_numpy()).all()
    assert (first["service_id"].to_numpy() != second["service_id"].to_numpy()).all()
    leaves = second["scheduled_departure"].fillna(second["scheduled_arrival"]).to_numpy()
    gap = (leaves - first["scheduled_arrival"].to_numpy()) / np.timedelta64(1, "s")
    assert gap.min() >= 300 and gap.max() <= 900
    np.testing.assert_array_equal(pairs["slack_s"].to_numpy(), gap - 300)
    # held: the second train's actual departure at least 5 min after the first's actual arrival
    obs = frames.observations
    arrived = obs.dropna(subset=["actual_arrival"]).groupby("call_id")["actual_arrival"].first()
    left = obs.dropna(subset=["actual_departure"]).groupby("call_id")["actual_departure"].first()
    transfer = (
        left.reindex(pairs["departure_call_id"]).to_numpy()
        - arrived.reindex(pairs["arrival_call_id"]).to_numpy()
    ) / np.timedelta64(1, "s")
    np.testing.assert_array_equal(pairs["held"].to_numpy(), transfer >= 300)
    assert 0.5 < pairs["held"].mean() < 0.99  # most hold, not all
    # every change at a station in the test days with both events known is there, once
    assert not pairs.duplicated(["arrival_call_id", "departure_call_id"]).any()
    sample = connections.connection_pairs(frames, TEST, 300, 600, 500, seed=1)
    assert len(sample) == 500 and sample["arrival_call_id"].isin(pairs["arrival_call_id"]).all()


def test_the_backtest_scores_probabilities_against_the_stations_base_rate(
    settings: Settings, tmp_path: Path
) -> None:
    report = tmp_path / "connections.json"
    env = {
        **os.environ,
        "ETA_DATABASE_URL": settings.resolved_database_url,
        "ETA_DATA_DIR": str(settings.data_dir),
        **quick_env(n_rounds=20),
    }
    done = subprocess.run(
        [
            sys.executable, "-m", "eta.cli", "backtest", "--mode", "train", "--task", "connection",
            "--train-from", TRAIN.label_from, "--train-until", TRAIN.label_until,
            "--test-from", TEST.label_from, "--test-until", TEST.label_until, "--report", str(report),
        ],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    assert data["task"] == "connection" and data["min_transfer_s"] == 300
    assert set(data["horizons"]) == {"blind", "30min"}
    for name, block in data["horizons"].items():
        assert block["n"] > 1_000, name
        assert 0 <= block["brier"] < block["brier_station_base_rate"], name
        assert block["calibration_error"] < 0.1, name
        assert sum(row["n"] for row in block["reliability"]) == block["n"]
    # half an hour before, the trains' own reports tell more than the day before
    assert data["horizons"]["30min"]["brier_skill"] > data["horizons"]["blind"]["brier_skill"]
    assert "30min" in done.stdout and "skill" in done.stdout
