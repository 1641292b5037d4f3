"""``eta backtest --protocol bayesianbahn``: BayesianBahn's events at Augsburg and München Hbf, live and
blind, on three weeks of the bundled DB runs (2026-03-02 … 03-22), with quick models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eta.config import Settings
from eta.errors import InputError
from eta.evaluation import bayesianbahn, walk_forward
from eta.features import load_frames
from eta.features.queries import target_calls
from eta.importers import db_runs
from eta.store import open_store
from eta.windows import window
from tests.model.conftest import quick_env

QUICK = quick_env(n_rounds=15)
FIRST, LAST = "2026-03-02", "2026-03-22"
SCORE_KEYS = {"n", "crps_min", "mae_p50_min", "pinball_min", "coverage_p10_p90"}


@pytest.fixture(scope="module")
def csv_rows() -> pd.DataFrame:
    rows = pd.read_csv(db_runs.bundled_path(Settings()), dtype={"eva": str, "line": str})
    dates = pd.to_datetime(rows["service_date"])
    return rows[(dates >= FIRST) & (dates <= LAST)]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, csv_rows: pd.DataFrame) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("bayesianbahn")
    csv = directory / "runs.csv"
    csv_rows.to_csv(csv, index=False)
    url = f"sqlite:///{directory / 'eta.sqlite3'}"
    settings = Settings(database_url=url, data_dir=directory)
    engine = open_store(settings)
    db_runs.run(engine, settings, csv)
    engine.dispose()
    return {"ETA_DATABASE_URL": url, "ETA_DATA_DIR": str(directory), **QUICK}


def eta(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eta.cli", *args], capture_output=True, text=True, env={**os.environ, **env}
    )


def _expected_events(rows: pd.DataFrame, test_from: str, test_until: str) -> int:
    """The issue's rule, written again on the CSV itself: eligible events in the test days."""
    at = rows[rows["eva"].isin(bayesianbahn.STATIONS) & ~rows["cancelled"].astype(str).str.lower().eq("true")]
    y = at["arrival_delay_min"].fillna(at["departure_delay_min_raw"])
    at = at[y.notna()].assign(
        number=lambda f: f["train"].str.split(" ").str[-1], day=lambda f: pd.to_datetime(f["service_date"])
    )
    n = 0
    for _, group in at.groupby(["eva", "train_type", "number"]):
        if len(group) < 15:
            continue
        for _, event in group[(group["day"] >= test_from) & (group["day"] <= test_until)].iterrows():
            earlier = group[
                (group["day"] < event["day"])
                & ((group["planned_minute_of_day"] - event["planned_minute_of_day"]).abs() <= 20)
            ]
            n += len(earlier) >= 10
    return n


def test_protocol_report_shape_events_table_and_plot(
    store: dict[str, str], csv_rows: pd.DataFrame, tmp_path: Path
) -> None:
    report = tmp_path / "bb.json"
    done = eta(
        "backtest", "--mode", "train", "--protocol", "bayesianbahn",
        "--train-from", FIRST, "--train-until", "2026-03-15",
        "--test-from", "2026-03-16", "--test-until", LAST,
        "--report", str(report),
        env=store,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    assert data["protocol"] == "bayesianbahn"
    assert data["test_window"] == ["2026-03-16", LAST]
    assert data["events"]["eligible"] == pytest.approx(
        _expected_events(csv_rows, "2026-03-16", LAST), rel=0.01
    )
    live, blind = data["live"], data["blind"]
    for block in (live, blind):
        assert set(block) >= SCORE_KEYS | {"by_category", "by_hop"}
        assert set(block["pinball_min"]) == {"0.1", "0.5", "0.9"}
        assert set(block["by_hop"]) == {"<=5", "5-10", "10-20", "20-40", ">40"}
        assert set(block["by_category"]) == {"long_distance", "regional", "sbahn"}
        assert 0 < block["crps_min"] < block["mae_p50_min"]
        assert sum(part["n"] for part in block["by_category"].values()) == block["n"]
        # the median's pinball loss is half its absolute error
        assert block["pinball_min"]["0.5"] == pytest.approx(block["mae_p50_min"] / 2, abs=0.002)
    # every event has a blind prediction (departures of trains starting there by the departure model);
    # the live ones are the arrivals that left their previous stop
    by_event = blind["by_event"]
    assert live["n"] > 2000 and by_event["arrival"]["n"] >= live["n"]
    assert by_event["departure"]["n"] > 500
    assert by_event["arrival"]["n"] + by_event["departure"]["n"] == blind["n"]
    assert data["departure"]["blind"] == by_event["departure"]
    assert data["arrival"]["blind"] == by_event["arrival"]
    assert (
        blind["n"] + blind["n_departures_without_query"] + blind["n_arrivals_without_query"]
        == (data["events"]["eligible"])
    )
    assert blind["n_arrivals_without_query"] + blind["n_departures_without_query"] <= 0.005 * blind["n"]
    assert live["n"] + live["n_arrivals_without_query"] == data["events"]["arrivals"]
    assert sum(part["n"] for part in live["by_hop"].values()) == live["n"]
    # a train leaving its origin is far easier to foresee than one arriving after a long run
    assert by_event["departure"]["crps_min"] < 0.6 * by_event["arrival"]["crps_min"]
    # the connection's own earlier days, scored on the same blind events
    history = data["baselines"]["connection_history"]
    assert 0.9 * blind["n"] <= history["n"] <= blind["n"] and history["crps_min"] > 0
    # knowing the previous stop's delay is worth a lot, and the model beats carrying it forward
    assert live["crps_min"] < 0.6 * by_event["arrival"]["crps_min"]
    assert live["mae_p50_min"] < data["baselines"]["persistence"]["mae_min"]
    # live is scored as served (the interval re-calibrated as serving does); beside it the model's own
    # interval, with the same events and the same P50
    own = data["live_model_interval"]
    assert own["n"] == live["n"] and own["mae_p50_min"] == live["mae_p50_min"]
    assert own["coverage_p10_p90"] != live["coverage_p10_p90"]
    assert "live" in done.stdout and "hop >40" in done.stdout and "persistence" in done.stdout
    assert "the model's own interval" in done.stdout
    assert "blind departures" in done.stdout and "connection history" in done.stdout
    assert (tmp_path / "bb.bayesianbahn.png").stat().st_size > 1000


def test_walk_forward_retrains_on_the_window_moved_forward(store: dict[str, str], tmp_path: Path) -> None:
    """With ``--task arrival``, each block trains the arrival model alone (half the trainings): live is
    scored in full, the departures of trains starting there are left without a prediction."""
    report = tmp_path / "wf.json"
    done = eta(
        "backtest", "--mode", "train", "--protocol", "bayesianbahn", "--walk-forward", "4d",
        "--task", "arrival",
        "--train-from", "2026-03-05", "--train-until", "2026-03-14",
        "--test-from", "2026-03-15", "--test-until", "2026-03-22",
        "--report", str(report),
        env=store,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    assert data["walk_forward_days"] == 4
    assert [m["train_window"] for m in data["models"]] == [
        ["2026-03-05", "2026-03-14"],
        ["2026-03-09", "2026-03-18"],
    ]
    assert [m["test_window"] for m in data["models"]] == [["2026-03-15", "2026-03-18"], ["2026-03-19", LAST]]
    assert data["live"]["n"] > 1000
    assert data["tasks"] == ["arrival"]
    assert all(set(m) == {"train_window", "test_window", "n_train"} for m in data["models"])
    departures = data["blind"]["by_event"]["departure"]
    assert (
        departures["n"] == 0
        and data["blind"]["n_departures_without_query"] == data["events"]["departures"] > 0
    )
    assert data["blind"]["by_event"]["arrival"]["n"] >= data["live"]["n"]
    refused = eta(
        "backtest", "--mode", "train", "--protocol", "bayesianbahn", "--task", "platform",
        "--train-from", "2026-03-05", "--train-until", "2026-03-14",
        "--test-from", "2026-03-15", "--test-until", "2026-03-22", "--report", str(tmp_path / "no.json"),
        env=store,
    )  # fmt: skip
    assert refused.returncode != 0 and "--task platform" in refused.stderr + refused.stdout


def test_blocks_and_periods() -> None:
    train, test = window("2026-03-01", "2026-04-06", "training"), window("2026-04-07", "2026-04-20", "test")
    assert walk_forward.blocks(train, test, None)[0].test == test
    blocks = walk_forward.blocks(train, test, timedelta(days=7))
    assert [(b.test.label_from, b.test.label_until) for b in blocks] == [
        ("2026-04-07", "2026-04-13"),
        ("2026-04-14", "2026-04-20"),
    ]
    assert blocks[1].train.start == datetime(2026, 3, 8, tzinfo=UTC)
    assert blocks[1].train.end == datetime(2026, 4, 14, tzinfo=UTC)  # ends where its test days begin
    assert walk_forward.parse_period("7d") == timedelta(days=7)
    for bad in ("7", "0d", "1w", "-3d"):
        with pytest.raises(InputError):
            walk_forward.parse_period(bad)
    assert [bayesianbahn.hop_bucket(m) for m in (5, 5.5, 10, 19, 40, 41, np.nan)] == [
        "<=5", "5-10", "5-10", "10-20", "20-40", ">40", None,
    ]  # fmt: skip


def test_live_and_blind_queries_know_only_what_was_known(store: dict[str, str]) -> None:
    engine = open_store(
        Settings(database_url=store["ETA_DATABASE_URL"], data_dir=Path(store["ETA_DATA_DIR"]))
    )
    frames = load_frames(
        engine, "train", datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 12, tzinfo=UTC)
    )
    found = bayesianbahn.events(*bayesianbahn.station_calls(engine))
    engine.dispose()
    targets = target_calls(frames)
    targets = targets[targets["call_id"].isin(found["call_id"])]
    calls = frames.calls.set_index("call_id")
    blind = bayesianbahn.scenario_queries(frames, targets, "blind")
    planned = frames.calls["scheduled_arrival"].fillna(frames.calls["scheduled_departure"])
    first_stop = planned.groupby(frames.calls["service_id"]).min()
    assert len(blind) == len(targets)
    # before the run's first stop, at a local midnight
    assert (blind["t"].to_numpy() <= blind["service_id"].map(first_stop).to_numpy()).all()
    assert set(blind["t"].dt.tz_convert("Europe/Berlin").dt.strftime("%H:%M")) == {"00:00"}
    live = bayesianbahn.scenario_queries(frames, targets, "live")
    assert 0 < len(live) <= len(targets)
    # when the previous stop's departure was reported, before the arrival was
    obs = frames.observations.dropna(subset=["actual_departure"]).set_index("call_id")["observed_at"]
    previous = calls.reset_index().set_index(["service_id", "sequence"])["call_id"]
    prev_ids = [previous[(s, q - 1)] for s, q in zip(live["service_id"], live["sequence"], strict=True)]
    assert (live["t"].to_numpy() == obs.groupby(level=0).min().reindex(prev_ids).to_numpy()).all()
    assert (live["t"] < live["arrival_known_at"]).all()
