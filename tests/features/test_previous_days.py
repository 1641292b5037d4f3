"""The same train's previous days: what they hold, and that serving (frames of a few hours plus
``Frames.past``) computes what training (frames of the whole week) computes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from eta.features import compute_features, fit_history, load_frames, previous_days, vocabularies_for
from eta.features.queries import QUERY_COLUMNS
from eta.store.engine import make_engine
from tests import slices

T = datetime(2026, 3, 7, 8, 30, tzinfo=UTC)  # Saturday morning: five service days of the slice before it
HISTORY_FROM = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return slices.copy_of(slices.trains_template(), tmp_path_factory.mktemp("previous-days"))


def _queries(calls: pd.DataFrame, t: datetime) -> pd.DataFrame:
    stamp = pd.Timestamp(t)
    soon = calls[
        (calls["scheduled_arrival"] >= stamp)
        & (calls["scheduled_arrival"] < stamp + timedelta(hours=2))
        & (calls["sequence"] > 0)
    ]
    queries = soon[["call_id", "service_id", "sequence"]].assign(t=stamp, horizon="test")
    queries = queries.reset_index(drop=True)
    queries["t"] = queries["t"].astype("datetime64[us, UTC]")
    queries["qid"] = range(len(queries))
    return queries[QUERY_COLUMNS]


def _by_call(url: str, start: datetime, past_days: int | None = None) -> pd.DataFrame:
    engine = make_engine(url)
    end = T + timedelta(hours=2)
    frames = load_frames(engine, "train", start, end, observed_until=T, past_days=past_days)
    queries = _queries(frames.calls, T)
    history = fit_history("train", frames, HISTORY_FROM, HISTORY_FROM + timedelta(days=2))
    features = compute_features("train", frames, queries, history, vocabularies_for("train", frames))
    engine.dispose()
    call_of = queries.set_index("qid")["call_id"]
    return features[previous_days.FEATURES].set_axis(call_of.reindex(features.index).to_numpy()).sort_index()


def test_serving_frames_read_the_previous_days_that_training_frames_hold(store: str) -> None:
    week = _by_call(store, HISTORY_FROM)
    serving = _by_call(store, T - timedelta(hours=2))  # the serving window: hours, plus Frames.past
    assert len(week) > 300
    assert (week["prev_days_count"] >= 3).mean() > 0.5  # most trains ran on the days before
    pd.testing.assert_frame_equal(serving, week)
    without_past = _by_call(store, T - timedelta(hours=2), past_days=0)
    assert (without_past["prev_days_count"] < week["prev_days_count"]).mean() > 0.5  # the test can fail


def test_previous_days_are_the_same_trains_arrivals_known_by_t(store: str) -> None:
    engine = make_engine(store)
    frames = load_frames(engine, "train", HISTORY_FROM, T + timedelta(hours=2), past_days=0)
    engine.dispose()
    outcomes = previous_days.run_outcomes(frames.calls, frames.observations)
    queries = _queries(frames.calls, T)
    calls = frames.calls.set_index("call_id")
    ctx = calls.loc[queries["call_id"], ["service_id", "operator", "number", "location", "service_date"]]
    ctx = ctx.set_axis(queries["qid"]).assign(t=pd.Timestamp(T))
    origin = frames.calls.drop_duplicates("service_id").set_index("service_id")["location"].astype(str)
    from_origin = pd.Series(origin.reindex(ctx["service_id"]).to_numpy(), index=ctx.index)
    got = previous_days.compute(outcomes, ctx, from_origin)

    checked = 0
    for qid, row in ctx.sample(40, random_state=3).iterrows():
        day = pd.Timestamp(str(row["service_date"]))
        same = outcomes[
            (outcomes["number"] == str(row["number"]))
            & (outcomes["operator"] == str(row["operator"]))
            & (outcomes["location"] == str(row["location"]))
            & outcomes["arrival_delay_s"].notna()
            & (outcomes["arrival_known_at"] <= pd.Timestamp(T))
        ]
        lag = (day - pd.to_datetime(same["service_date"], unit="D")).dt.days
        runs = same[(lag >= 1) & (lag <= previous_days.PAST_DAYS)]
        assert got.loc[qid, "prev_days_count"] == len(runs)
        if runs.empty:
            assert np.isnan(got.loc[qid, "prev_days_delay_mean_s"])
            continue
        checked += 1
        assert got.loc[qid, "prev_days_delay_mean_s"] == pytest.approx(runs["arrival_delay_s"].mean())
        start = outcomes[
            outcomes["service_id"].isin(runs["service_id"]) & (outcomes["location"] == from_origin[qid])
        ].set_index("service_id")["departure_delay_s"]
        gains = runs.set_index("service_id")["arrival_delay_s"] - start.reindex(runs["service_id"])
        assert got.loc[qid, "prev_days_gain_median_s"] == pytest.approx(gains.median(), nan_ok=True)
    assert checked > 20
    # today's own run never counts, however early it arrived
    assert (got["prev_days_count"] <= previous_days.PAST_DAYS).all()


def _ctx_and_outcomes(store: str, t: datetime) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    engine = make_engine(store)
    frames = load_frames(engine, "train", HISTORY_FROM, t + timedelta(days=1), past_days=0)
    engine.dispose()
    outcomes = previous_days.run_outcomes(frames.calls, frames.observations)
    queries = _queries(frames.calls, t)
    calls = frames.calls.set_index("call_id")
    ctx = calls.loc[queries["call_id"], ["service_id", "operator", "number", "location", "service_date"]]
    ctx = ctx.set_axis(queries["qid"]).assign(t=pd.Timestamp(t))
    origin = frames.calls.drop_duplicates("service_id").set_index("service_id")["location"].astype(str)
    return ctx, outcomes, pd.Series(origin.reindex(ctx["service_id"]).to_numpy(), index=ctx.index)


def test_the_long_window_is_the_same_trains_earlier_days_known_by_t(store: str) -> None:
    """The slice holds a week: its queries are moved 10 days on (date and t), so that the runs before them
    lie 6 to 15 days back, beyond the week of the ``prev_days_*`` features."""
    ctx, outcomes, from_origin = _ctx_and_outcomes(store, T)
    shift = timedelta(days=10)
    dates = pd.to_datetime(ctx["service_date"].astype(str)) + shift
    ctx = ctx.assign(service_date=dates.dt.date, t=pd.Timestamp(T + shift))
    got = previous_days.compute(outcomes, ctx, from_origin)
    checked = 0
    for qid, row in ctx.sample(60, random_state=5).iterrows():
        day = pd.Timestamp(str(row["service_date"]))
        same = outcomes[
            (outcomes["number"] == str(row["number"]))
            & (outcomes["operator"] == str(row["operator"]))
            & (outcomes["location"] == str(row["location"]))
            & outcomes["arrival_delay_s"].notna()
            & (outcomes["arrival_known_at"] <= pd.Timestamp(T + shift))
        ]
        lag = (day - pd.to_datetime(same["service_date"], unit="D")).dt.days
        runs = same[(lag >= 1) & (lag <= previous_days.LONG_DAYS)]
        assert got.loc[qid, "prev_28d_count"] == len(runs)
        if len(runs) < 2:
            continue
        checked += 1
        delays = runs["arrival_delay_s"]
        assert got.loc[qid, "prev_28d_delay_p10_s"] == pytest.approx(delays.quantile(0.1))
        assert got.loc[qid, "prev_28d_delay_median_s"] == pytest.approx(delays.median())
        assert got.loc[qid, "prev_28d_delay_p90_s"] == pytest.approx(delays.quantile(0.9))
        assert got.loc[qid, "prev_28d_late_share"] == pytest.approx((delays > previous_days.LATE_S).mean())
        yesterday = runs.loc[lag[runs.index] == 1, "arrival_delay_s"]
        assert got.loc[qid, "prev_day_delay_s"] == pytest.approx(yesterday.mean(), nan_ok=True)
    assert checked > 20
    assert (got["prev_28d_count"] > got["prev_days_count"]).mean() > 0.5  # wider than the week
    assert got["prev_day_delay_s"].isna().all()  # no run 1 day before the moved queries


def test_the_features_at_t_do_not_change_when_later_data_is_added(store: str) -> None:
    """Point in time: runs known after t change nothing, however many are added; the same runs known by
    t do (the test can fail). Queries at the local midnight starting 7 March about the runs of 8 March,
    so that 7 March's runs, known after t, are the day before them."""
    blind = T.replace(hour=0, minute=0) - timedelta(hours=1)  # local midnight of 7 March (CET)
    ctx, outcomes, from_origin = _ctx_and_outcomes(store, T)
    dates = pd.to_datetime(ctx["service_date"].astype(str)) + timedelta(days=1)
    ctx = ctx.assign(service_date=dates.dt.date, t=pd.Timestamp(blind))
    known = outcomes[~(outcomes["arrival_known_at"] > pd.Timestamp(blind))]
    before = previous_days.compute(known, ctx, from_origin)
    after = previous_days.compute(outcomes, ctx, from_origin)
    pd.testing.assert_frame_equal(after, before)
    assert len(outcomes) > len(known) + 1000  # later data was there to leak
    assert before["prev_28d_count"].mean() > 2
    # the same later outcomes made known before t: features change
    early = outcomes.assign(arrival_known_at=pd.Timestamp(blind) - timedelta(seconds=1))
    leaked = previous_days.compute(early, ctx, from_origin)
    assert not leaked["prev_28d_count"].equals(before["prev_28d_count"])
