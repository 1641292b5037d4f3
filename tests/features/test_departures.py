"""The departure view: every call's departure where its arrival was, on a week of the bundled DB runs; what
serving frames (hours plus ``Frames.past``) compute there equals what the whole week's frames compute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from eta.features import (
    compute_features,
    departures,
    fit_history,
    load_frames,
    previous_days,
    vocabularies_for,
)
from eta.features.queries import QUERY_COLUMNS, target_calls
from eta.features.reports import first_event
from eta.store.engine import make_engine
from tests import slices

T = datetime(2026, 3, 7, 8, 30, tzinfo=UTC)
WEEK_FROM = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return slices.copy_of(slices.trains_template(), tmp_path_factory.mktemp("departures"))


def test_the_views_targets_are_the_departures_origins_included(store: str) -> None:
    engine = make_engine(store)
    frames = load_frames(engine, "train", WEEK_FROM, WEEK_FROM + timedelta(days=2))
    engine.dispose()
    view = departures.view(frames)
    assert departures.view(view) is view
    targets = target_calls(view).set_index("call_id")
    calls = frames.calls.set_index("call_id")
    departed = first_event(frames.observations, "actual_departure")["actual_departure"]
    # every call with an actual departure, its origin too, never a last stop; a stop with one planned
    # time (the DB runs give origins alone a planned departure) is planned to leave at that time
    last = calls.groupby("service_id")["sequence"].transform("max") == calls["sequence"]
    assert set(targets.index) == set(calls.index[~last].intersection(departed.index))
    planned = calls["scheduled_departure"].fillna(calls["scheduled_arrival"])
    origins = calls.index[calls["sequence"] == 0]
    assert targets.index.isin(origins).sum() > 100
    assert (targets["scheduled_arrival"] == planned.reindex(targets.index)).all()
    assert (targets["actual_arrival"] == departed.reindex(targets.index)).all()


def _departures_by_call(url: str, start: datetime, past_days: int | None = None) -> pd.DataFrame:
    engine = make_engine(url)
    frames = load_frames(
        engine, "train", start, T + timedelta(hours=2), observed_until=T, past_days=past_days
    )
    engine.dispose()
    view = departures.view(frames)
    calls = view.calls
    stamp = pd.Timestamp(T)
    soon = calls[
        (calls["scheduled_arrival"] >= stamp) & (calls["scheduled_arrival"] < stamp + timedelta(hours=2))
    ]
    queries = (
        soon[["call_id", "service_id", "sequence"]].assign(t=stamp, horizon="test").reset_index(drop=True)
    )
    queries["t"] = queries["t"].astype("datetime64[us, UTC]")
    queries["qid"] = range(len(queries))
    queries = queries[QUERY_COLUMNS]
    history = fit_history("train", view, WEEK_FROM, WEEK_FROM + timedelta(days=2))
    features = compute_features("train", view, queries, history, vocabularies_for("train", view))
    call_of = queries.set_index("qid")["call_id"]
    out = features[[*previous_days.FEATURES, "hist_train_mean_s", "latest_delay_s"]]
    out = out.set_axis(call_of.reindex(features.index).to_numpy()).sort_index()
    return out.assign(origin=calls.set_index("call_id").loc[out.index, "sequence"].eq(0).to_numpy())


def test_serving_frames_compute_the_departures_features_training_frames_do(store: str) -> None:
    week = _departures_by_call(store, WEEK_FROM)
    serving = _departures_by_call(store, T - timedelta(hours=2))  # hours, plus the earlier days' runs
    assert len(week) > 300 and week["origin"].sum() > 30
    # trains leaving their origin ran there on the days before: their departures are the previous days
    assert (week.loc[week["origin"], "prev_days_count"] >= 3).mean() > 0.5
    pd.testing.assert_frame_equal(serving, week)
    without_past = _departures_by_call(store, T - timedelta(hours=2), past_days=0)
    assert (without_past["prev_days_count"] < week["prev_days_count"]).mean() > 0.5
