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
    # the latest delay's own value counts in its contribution (the model predicts the change from it),
    # so it comes first here: 420 + 90 s
    assert [item["feature"] for item in top] == ["latest_delay_s", "since_start_s", "weekday"]
    assert top[0]["contribution_s"] == 510
    assert top[0]["text"] == "+8 min: the train was 7 min late at München Hbf"
    assert top[1]["text"] == "-3 min: it was scheduled to set off 90 min ago"
    assert top[2]["text"] == "+1 min: on a Monday"


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
