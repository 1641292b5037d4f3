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


def _by_call(url: str, start: datetime, past_days: int | None = None, read: str = "at_t") -> pd.DataFrame:
    """The features at T of the calls due in the next two hours, on frames read at T (``at_t``: serving),
    read whole and cut at T (``cut``: :meth:`Frames.observed_until`, serving replayed), or read whole
    (``whole``: training and backtests, each query at its own t)."""
    engine = make_engine(url)
    end = T + timedelta(hours=2)
    known = T if read == "at_t" else None
    frames = load_frames(engine, "train", start, end, observed_until=known, past_days=past_days)
    if read == "cut":
        frames = frames.observed_until(T)
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


def test_previous_days_are_the_same_whether_read_at_t_cut_at_t_or_read_whole(store: str) -> None:
    """The gains are measured from the earlier runs' departures (their arrivals where none was reported)
    at this run's report location, often their origin, where no arrival is ever reported: the runs read
    into ``Frames.past`` and cut at t keep those departures known by t, as the runs read at t do."""
    serving = _by_call(store, T - timedelta(hours=2))
    assert serving["prev_days_gain_median_s"].notna().mean() > 0.5
    for read in ("cut", "whole"):
        for start in (T - timedelta(hours=2), HISTORY_FROM):  # the earlier runs in Frames.past, or own
            got = _by_call(store, start, read=read)
            pd.testing.assert_frame_equal(got, serving, obj=f"{read} from {start}")


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


def test_a_run_counts_from_the_microsecond_it_was_known() -> None:
    """Each query compares its own tz-aware t with when the earlier runs' arrivals were known: a run known
    at t counts, one known a microsecond later or never (NaT) does not."""
    known = pd.Timestamp("2026-03-06 08:00:00", tz="UTC")
    outcomes = previous_days.no_outcomes()
    runs = [
        (1, 101, 60.0, known),  # the day before
        (2, 102, 120.0, known + pd.Timedelta(microseconds=1)),  # two days before, known a µs later
        (3, 103, 240.0, pd.NaT),  # three days before: when it was known is not recorded
    ]
    day = int(previous_days.day_number(pd.Series(["2026-03-07"])).iloc[0])
    outcomes = pd.concat(
        [
            outcomes,
            pd.DataFrame(
                {
                    "call_id": [call for _, call, _, _ in runs],
                    "service_id": [call for _, call, _, _ in runs],
                    "operator": "DB",
                    "number": "ICE 1",
                    "location": "B",
                    "service_date": [day - back for back, _, _, _ in runs],
                    "arrival_delay_s": [delay for _, _, delay, _ in runs],
                    "arrival_known_at": pd.Series([k for _, _, _, k in runs]).astype("datetime64[us, UTC]"),
                    "departure_delay_s": np.nan,
                    "departure_known_at": pd.Series(pd.NaT, index=range(3), dtype="datetime64[us, UTC]"),
                }
            ),
        ],
        ignore_index=True,
    )
    t = pd.Series([known, known + pd.Timedelta(microseconds=1), known - pd.Timedelta(microseconds=1)])
    ctx = pd.DataFrame(
        {
            "operator": "DB",
            "number": "ICE 1",
            "location": "B",
            "service_date": "2026-03-07",
            "t": t.dt.tz_convert("Europe/Berlin").astype("datetime64[us, Europe/Berlin]").array,
        },
        index=pd.Index([1, 2, 3], name="qid"),
    )
    got = previous_days.compute(outcomes, ctx, pd.Series("A", index=ctx.index))
    assert got["prev_days_count"].tolist() == [1.0, 2.0, 0.0]
    assert got["prev_days_delay_mean_s"].tolist()[:2] == [60.0, 90.0]
    assert np.isnan(got.loc[3, "prev_days_delay_mean_s"])


def test_a_gain_is_measured_from_what_was_known_at_the_start_by_t() -> None:
    """Each query measures an earlier run's gain from its departure at the report location known by the
    query's t, else its arrival there known by t, else not at all; the run's own departure known later
    (a frame read whole, as training and backtests read it) is not used before it was known."""
    t = pd.Timestamp("2026-03-07 08:00", tz="UTC")
    later, before = t + pd.Timedelta(minutes=1), t - pd.Timedelta(hours=20)
    day = int(previous_days.day_number(pd.Series(["2026-03-07"])).iloc[0])
    # three runs of the day before: at A, departure known (1) later, (2) by t, (3) nothing known by t
    calls = [
        # call, service, location, arrival delay, known, departure delay, known
        (11, 1, "A", 60.0, before, 300.0, later),
        (12, 1, "B", 120.0, before, np.nan, pd.NaT),
        (21, 2, "A", 60.0, before, 90.0, before),
        (22, 2, "B", 240.0, before, np.nan, pd.NaT),
        (31, 3, "A", 60.0, later, 90.0, later),
        (32, 3, "B", 360.0, before, np.nan, pd.NaT),
    ]
    columns = ["call_id", "service_id", "location", "arrival_delay_s", "arrival_known_at"]
    columns += ["departure_delay_s", "departure_known_at"]
    outcomes = pd.DataFrame(calls, columns=columns)
    outcomes = outcomes.assign(operator="DB", number="ICE 1", service_date=day - 1)
    for side in ("arrival_known_at", "departure_known_at"):
        outcomes[side] = pd.to_datetime(outcomes[side], utc=True).astype("datetime64[us, UTC]")
    outcomes = outcomes[previous_days.OUTCOME_COLUMNS]
    ctx = pd.DataFrame(
        {"operator": "DB", "number": "ICE 1", "location": "B", "service_date": "2026-03-07", "t": [t]},
        index=pd.Index([1], name="qid"),
    ).astype({"t": "datetime64[us, UTC]"})
    got = previous_days.compute(outcomes, ctx, pd.Series("A", index=ctx.index))
    assert got.loc[1, "prev_days_count"] == 3.0
    gains = [120.0 - 60.0, 240.0 - 90.0]  # run 1 from its arrival at A, run 2 from its departure, run 3 none
    assert got.loc[1, "prev_days_gain_mean_s"] == pytest.approx(np.mean(gains))
    assert got.loc[1, "prev_days_gain_max_s"] == max(gains)
    # the frames cut at t hold the same (Frames.observed_until), and so give the same
    cut = previous_days.compute(previous_days.as_of(outcomes, t), ctx, pd.Series("A", index=ctx.index))
    pd.testing.assert_frame_equal(cut, got)
