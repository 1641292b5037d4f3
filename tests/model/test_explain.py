"""Plain-words explanations: the largest contributions first, in words a traveller understands."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from eta.model.explain import explain

NAMES = pd.Series({"8011160": "Berlin Hbf", "8000261": "München Hbf"})


def _one(features: dict[str, object], contributions: dict[str, float]) -> list[dict[str, object]]:
    frame = pd.DataFrame([{"latest_delay_s": math.nan, **features}])
    contribs = pd.DataFrame([{"latest_delay_s": 0.0, **contributions}])
    return explain("train", frame, contribs, np.array([60.0]), NAMES)[0]["top"]  # type: ignore[no-any-return]


def test_the_largest_contributions_come_first_in_words() -> None:
    top = _one(
        {"latest_delay_s": 420.0, "report_location": "8000261", "since_start_s": 5400.0, "weekday": 0.0},
        {"latest_delay_s": 90.0, "since_start_s": -200.0, "weekday": 61.0},
    )
    # the latest delay's own value comes first (the model predicts the change from it), and what the model
    # makes of it apart: 420 s as stated, 90 s more
    assert [item["text"] for item in top] == [
        "+7 min: the train was 7 min late at München Hbf",
        "-3 min: it was scheduled to set off 90 min ago",
        "+2 min: trains 7 min late at München Hbf usually lose more time on the way here",
    ]
    assert [item["contribution_s"] for item in top] == [420, -200, 90]


def test_an_unknown_value_is_said_in_words() -> None:
    top = _one(
        {"report_stops_to_go": math.nan, "operator_delay_s": math.nan, "hist_train_mean_s": math.nan},
        {"report_stops_to_go": 300.0, "operator_delay_s": -240.0, "hist_train_mean_s": 120.0},
    )
    assert [item["text"] for item in top] == [
        "+5 min: no report from it yet",
        "-4 min: no estimate from the operator yet",
        "+2 min: no history of it here",
    ]


def test_a_feature_whose_own_value_is_unknown_is_not_described_by_its_sentence() -> None:
    (item,) = _one({"overdue_s": math.nan}, {"overdue_s": 540.0})
    assert item["text"] == "+9 min: no report from it yet"  # not "its next report is not due yet"


def test_contributions_under_half_a_second_are_left_out() -> None:
    top = _one({"weekday": 2.0, "hour": 8.5}, {"weekday": 0.3, "hour": -0.2})
    assert top == []


def test_every_train_and_flight_feature_is_described_in_words() -> None:
    """A feature added without a sentence would be explained as 'feature name = value'."""
    from eta.features import feature_names
    from eta.model.explain import _texts

    for mode in ("train", "flight"):
        texts = _texts(mode, NAMES)
        missing = [f for f in feature_names(mode) if f not in texts]
        assert missing == [], f"{mode}: no sentence for {missing}"


def test_a_stated_delay_is_said_as_stated_and_what_eta_makes_of_it_apart() -> None:
    """IC 147 in the demo: no report yet, the operator expects it 36 min late, eta's P50 adds 58 min for
    it: not "+58 min: the operator expects it 36 min late" (issue 15)."""
    top = _one({"operator_delay_s": 2160.0, "weekday": 0.0}, {"operator_delay_s": 3480.0, "weekday": 61.0})
    assert [item["text"] for item in top] == [
        "+36 min: the operator expects it 36 min late",
        "+22 min: trains the operator expects 36 min late usually arrive later still",
        "+1 min: on a Monday",
    ]
    assert sum(item["contribution_s"] for item in top) == 3480 + 61  # the parts still add up


def test_the_operator_estimate_moves_the_prediction_from_the_latest_delay() -> None:
    top = _one(
        {"latest_delay_s": 1200.0, "report_location": "8011160", "operator_delay_s": 600.0},
        {"latest_delay_s": 0.0, "operator_delay_s": -300.0},
    )
    assert [item["text"] for item in top] == [
        "+20 min: the train was 20 min late at Berlin Hbf",
        "-10 min: the operator expects it 10 min late (it was 20 min late)",
        "+5 min: trains the operator expects 10 min late usually arrive later still",
    ]


def test_no_stated_delay_is_said_against_its_own_words() -> None:
    """Whatever the model's contributions, an item about a stated delay never moves the prediction further,
    or the other way, than the delay it states (from the latest one, for the operator's)."""
    rng = np.random.default_rng(7)
    latest = rng.choice([math.nan, 0.0, 300.0, 1500.0, -120.0], 200)
    operator = rng.choice([math.nan, 0.0, 900.0, 2160.0, 3600.0], 200)
    frame = pd.DataFrame(
        {"latest_delay_s": latest, "operator_delay_s": operator, "report_location": "8011160"}
    )
    contribs = pd.DataFrame(
        {"latest_delay_s": rng.normal(0, 600, 200), "operator_delay_s": rng.normal(0, 2400, 200)}
    )
    out = explain("train", frame, contribs, np.zeros(200), NAMES)
    for row, explanation in zip(frame.itertuples(), out, strict=True):
        base = 0.0 if math.isnan(row.latest_delay_s) else row.latest_delay_s
        said = {"latest_delay_s": row.latest_delay_s, "operator_delay_s": row.operator_delay_s - base}
        for item in explanation["top"]:
            if item["text"].split(": ", 1)[1].startswith(("the train was", "the operator expects")):
                assert item["contribution_s"] == round(said[item["feature"]]), item
