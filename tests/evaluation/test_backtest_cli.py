"""``eta backtest`` / ``train`` / ``promote`` / ``rollback`` / ``models`` from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import slices
from tests.model.conftest import quick_env

QUICK = quick_env(n_rounds=10)
ARRIVAL_MODEL_KEYS = {
    "mae_s",
    "rmse_s",
    "p90_abs_s",
    "coverage_p10_p90",
    "pinball_s",
    "band_hit_rate",
    "crps_s",
    "pinball_by_level_s",
}
POINT_KEYS = {"mae_s", "rmse_s", "p90_abs_s"}


def eta(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eta.cli", *args], capture_output=True, text=True, env={**os.environ, **env}
    )


@pytest.fixture(scope="module")
def flights_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("cli")
    url = slices.copy_of(slices.flights_template(), directory)
    return {"ETA_DATABASE_URL": url, "ETA_DATA_DIR": str(directory), **QUICK}


def test_flight_backtest_report_shape_table_and_plots(flights_env: dict[str, str], tmp_path: Path) -> None:
    report = tmp_path / "out" / "flights.json"
    done = eta(
        "backtest",
        "--mode",
        "flight",
        "--train-from",
        "2013-01-01",
        "--train-until",
        "2013-01-10",
        "--test-from",
        "2013-01-11",
        "--test-until",
        "2013-01-14",
        "--report",
        str(report),
        env=flights_env,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    assert data["mode"] == "flight"
    assert data["train_window"] == ["2013-01-01", "2013-01-10"]
    assert data["test_window"] == ["2013-01-11", "2013-01-14"]
    assert list(data["arrival"]) == ["dep_minus_2h", "at_departure"]
    for block in data["arrival"].values():
        assert block["n"] > 1000
        assert set(block["model"]) == ARRIVAL_MODEL_KEYS
        assert set(block["model"]["pinball_by_level_s"]) == {"0.1", "0.5", "0.9"}
        assert 0 < block["model"]["crps_s"] < block["model"]["mae_s"]
        assert set(block["baselines"]) == {"timetable", "persistence", "historical_mean"}
        for baseline in block["baselines"].values():
            assert set(baseline) >= POINT_KEYS
    at_departure = data["arrival"]["at_departure"]
    assert at_departure["model"]["mae_s"] < at_departure["baselines"]["timetable"]["mae_s"]
    assert data["platform"] == {}
    assert "at_departure" in done.stdout and "persistence" in done.stdout and "CRPS" in done.stdout
    assert "as served" in done.stdout and "model's own interval: cov" in done.stdout
    assert (tmp_path / "out" / "flights.arrival.png").stat().st_size > 1000


def test_platform_backtest_report_shape(tmp_path: Path) -> None:
    env = {
        "ETA_DATABASE_URL": slices.copy_of(slices.iris_template(), tmp_path),
        "ETA_DATA_DIR": str(tmp_path),
        **QUICK,
        "ETA_MODEL__MIN_TRAIN_ROWS": "10",
        "ETA_MODEL__CALIBRATION_FRACTION": "0.3",
    }
    report = tmp_path / "iris.json"
    done = eta(
        "backtest",
        "--mode",
        "train",
        "--task",
        "platform",
        "--platforms",
        "unpublished",
        "--train-from",
        "2025-09-03T13:00:00+00:00",
        "--train-until",
        "2025-09-03T15:30:00+00:00",
        "--test-from",
        "2025-09-03T15:30:00+00:00",
        "--test-until",
        "2025-09-03T17:30:00+00:00",
        "--report",
        str(report),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    assert data["arrival"] == {}
    assert {"15min", "30min", "60min", "120min"} <= set(data["platform"])
    for block in data["platform"].values():
        assert {"n", "n_changed_after_t", "model", "baselines"} == set(block)
        assert set(block["model"]) == {
            "top1",
            "log_loss",
            "ece",
            "changes_caught",
            "change_average_precision",
            "change_base_rate",
            "change_flag_precision",
            "change_flag_recall",
            "change_flagged",
        }
        assert block["model"]["change_base_rate"] == round(block["n_changed_after_t"] / block["n"], 5)
        assert set(block["baselines"]) == {"announced", "history"}
        assert set(block["baselines"]["announced"]) == {"top1", "log_loss"}
    assert "spread over the station's other platforms" in data["platform_baseline_probabilities"]
    assert data["platform_change_flag_probability"] == 0.15
    assert (tmp_path / "iris.platform.png").exists()
    # beside it, the platforms as if announced only 20 min before arrival
    unpublished = data["platform_unpublished"]
    assert list(unpublished) == ["120min", "60min", "30min", "20min"]
    figures = {"n", "model", "baselines"}
    for block in unpublished.values():
        assert set(block) == {*figures, "by_category", "s_bahn_or_not"}
        assert block["n"] > 20
        assert set(block["model"]) == {"top1", "top2", "log_loss", "ece"}
        assert block["model"]["top2"] >= block["model"]["top1"]
        assert set(block["baselines"]) == {"history"}
        assert set(block["baselines"]["history"]) == {"top1", "log_loss"}
        assert {"RE", "ICE", "RB"} <= set(block["by_category"])
        assert sum(c["n"] for c in block["by_category"].values()) == block["n"]
        assert all(set(c) == figures for c in block["by_category"].values())
    assert data["platform_unpublished_announce_lead_min"] == 20
    assert "else the station's most used platform" in data["platform_unpublished_baseline"]
    assert "unpublished until 20 min" in done.stdout
    assert (tmp_path / "iris.platform_unpublished.png").stat().st_size > 1000


def test_train_promote_rollback_and_list(flights_env: dict[str, str]) -> None:
    first = eta("train", "--mode", "flight", "--from", "2013-01-01", "--until", "2013-01-07", env=flights_env)
    assert first.returncode == 0, first.stderr
    second = eta(
        "train", "--mode", "flight", "--from", "2013-01-02", "--until", "2013-01-08", env=flights_env
    )
    assert second.returncode == 0, second.stderr
    listed = json.loads(eta("models", "--json", env=flights_env).stdout)
    versions = [m["version"] for m in listed]
    assert len(versions) == 2 and {m["role"] for m in listed} == {"challenger"}
    for version in versions:
        assert eta("promote", version, env=flights_env).returncode == 0
    back = eta("rollback", env=flights_env)
    assert back.returncode == 0 and versions[0] in back.stdout
    roles = {m["version"]: m["role"] for m in json.loads(eta("models", "--json", env=flights_env).stdout)}
    assert roles == {versions[0]: "champion", versions[1]: "rolled_back"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (
                "--train-from",
                "2013-01-01",
                "--train-until",
                "2013-01-10",
                "--test-from",
                "2013-01-05",
                "--test-until",
                "2013-01-14",
            ),
            "must start after the training window ends",
        ),
        (
            (
                "--train-from",
                "2013-13-01",
                "--train-until",
                "2013-01-10",
                "--test-from",
                "2013-01-11",
                "--test-until",
                "2013-01-14",
            ),
            "is not a date",
        ),
        (
            (
                "--train-from",
                "2013-01-10",
                "--train-until",
                "2013-01-01",
                "--test-from",
                "2013-01-11",
                "--test-until",
                "2013-01-14",
            ),
            "ends (2013-01-01) before it starts",
        ),
        (
            (
                "--train-from",
                "2020-01-01",
                "--train-until",
                "2020-01-10",
                "--test-from",
                "2020-01-11",
                "--test-until",
                "2020-01-14",
            ),
            "import data for these periods first",
        ),
    ],
)
def test_backtest_mistakes_are_one_line(
    flights_env: dict[str, str], tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = eta("backtest", "--mode", "flight", *args, "--report", str(tmp_path / "r.json"), env=flights_env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("promote", "nope"), "no model 'nope'"),
        (("rollback",), "no champion to roll back"),
        (
            ("train", "--mode", "bus", "--from", "2013-01-01", "--until", "2013-01-02"),
            "'bus' is not one of 'train', 'flight'",
        ),
        (("train", "--mode", "flight", "--from", "2020-01-01", "--until", "2020-01-02"), "import data"),
    ],
)
def test_registry_mistakes_are_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    env = {"ETA_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}", "ETA_DATA_DIR": str(tmp_path)}
    done = eta(*args, env=env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr


def test_help_lists_the_model_commands() -> None:
    done = eta("--help", env={})
    assert done.returncode == 0
    for command in ("train", "backtest", "models", "promote", "rollback"):
        assert command in done.stdout
    assert "--test-until" in eta("backtest", "--help", env={"COLUMNS": "200"}).stdout


def test_walk_forward_retrains_the_arrival_model_for_each_block(
    flights_env: dict[str, str], tmp_path: Path
) -> None:
    report = tmp_path / "wf.json"
    done = eta(
        "backtest", "--mode", "flight", "--task", "arrival", "--walk-forward", "4d",
        "--train-from", "2013-01-01", "--train-until", "2013-01-07",
        "--test-from", "2013-01-08", "--test-until", "2013-01-14",
        "--report", str(report),
        env=flights_env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    assert data["walk_forward_days"] == 4
    # the readable table says the test window was not predicted by the one model its first line names
    assert "retrained every 4 days (last trained 2013-01-05 … 2013-01-11)" in done.stdout
    assert [(m["train_window"], m["test_window"]) for m in data["arrival_models"]] == [
        (["2013-01-01", "2013-01-07"], ["2013-01-08", "2013-01-11"]),
        (["2013-01-05", "2013-01-11"], ["2013-01-12", "2013-01-14"]),
    ]
    # every test day is predicted once, by the model of its block
    assert data["arrival"]["at_departure"]["n"] > 3000
    assert data["arrival_model"]["calibration_from"] > "2013-01-10"  # the last block's model
    bad = eta(
        "backtest", "--mode", "flight", "--walk-forward", "1w",
        "--train-from", "2013-01-01", "--train-until", "2013-01-07",
        "--test-from", "2013-01-08", "--test-until", "2013-01-14",
        "--report", str(report),
        env=flights_env,
    )  # fmt: skip
    assert bad.returncode != 0 and "whole days" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
