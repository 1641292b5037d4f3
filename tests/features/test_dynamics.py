"""The train features of how a delay moves (eta/features/dynamics.py) and the segment history, checked by
hand on the bundled DB runs (a week of March 2026), and point-in-time: the same with later reports gone."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from eta.features import dynamics, fit_history
from eta.features.frames import Frames
from eta.features.history import arrival_outcomes
from eta.features.reports import delay_reports
from eta.features.trains import SEGMENT_KEY, compute_features, segment_gains, vocabularies_for
from tests.features.conftest import START, T, queries_at, state_at


def _dynamics(frames: Frames, queries: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    ctx, latest, reports = state_at(frames, queries)
    return dynamics.compute(frames.calls, ctx, latest, reports), ctx, latest


def test_every_feature_has_values_and_none_changes_when_later_reports_are_dropped(frames: Frames) -> None:
    queries = queries_at(frames, T)
    with_future, _, _ = _dynamics(frames, queries)
    assert len(with_future) > 500
    for name in dynamics.FEATURES:
        assert with_future[name].notna().sum() > 50, name
    without_future, _, _ = _dynamics(frames.observed_until(T), queries)
    pd.testing.assert_frame_equal(with_future, without_future)
    later, _, _ = _dynamics(frames, queries.assign(t=queries["t"] + pd.Timedelta(minutes=40)))
    assert not later["overdue_s"].equals(with_future["overdue_s"])  # the comparison can see a change


def test_overdue_is_time_since_the_event_the_train_has_not_reported_yet(frames: Frames) -> None:
    out, ctx, latest = _dynamics(frames, queries_at(frames, T))
    calls = frames.calls.set_index(["service_id", "sequence"])
    started = ctx["service_start"] < ctx["t"]
    silent = latest["delay_s"].isna() & started
    assert silent.sum() > 5
    # Not reported anything although due to leave its origin: overdue by the time since the planned start.
    expected = (ctx["t"] - ctx["service_start"]).dt.total_seconds()
    np.testing.assert_allclose(out.loc[silent, "overdue_s"], expected[silent])
    departed = latest["delay_s"].notna() & (latest["is_departure"] == 1)
    assert departed.sum() > 20
    for qid in ctx.index[departed][:20]:
        next_stop = (ctx.at[qid, "service_id"], int(latest.at[qid, "report_sequence"]) + 1)
        due = calls.at[next_stop, "planned_at"] + pd.Timedelta(seconds=latest.at[qid, "delay_s"])
        assert out.at[qid, "overdue_s"] == (ctx.at[qid, "t"] - due).total_seconds()


def test_inbound_is_the_last_service_of_the_line_ending_at_the_origin(frames: Frames) -> None:
    services = dynamics.service_table(frames.calls)
    inbound = dynamics.inbound_services(services)
    assert len(inbound) > 100
    for service_id, inbound_id in inbound.iloc[:: max(1, len(inbound) // 50)].items():
        this, prior = services.loc[service_id], services.loc[inbound_id]
        assert prior["line_key"] == this["line_key"] and prior["destination"] == this["origin"]
        assert timedelta(0) <= this["start"] - prior["end"] <= dynamics.TURNAROUND_WINDOW
        rivals = services[
            (services["line_key"] == this["line_key"])
            & (services["destination"] == this["origin"])
            & (services["end"] > prior["end"])
            & (services["end"] <= this["start"])
        ]
        assert rivals.index.difference([service_id]).empty


def test_segment_gain_of_the_previous_train_by_hand(frames: Frames) -> None:
    queries = queries_at(frames, T)
    out, ctx, latest = _dynamics(frames, queries)
    reports = delay_reports(frames.calls, frames.observations)
    known = reports[reports["observed_at"] <= pd.Timestamp(T)]
    checked = 0
    for qid in out.index[out["segment_any_gain_s"].notna()][:15]:
        target, t = ctx.at[qid, "location"], ctx.at[qid, "t"]
        arrived = known[(known["location"] == target) & (known["observed_at"] > t - dynamics.SEGMENT_MAX_AGE)]
        assert len(arrived) > 0
        age = (t - arrived["observed_at"]).dt.total_seconds()
        assert out.at[qid, "segment_any_age_s"] in set(age)  # a train reported at the target before t
        row = arrived[age == out.at[qid, "segment_any_age_s"]]
        gains = []
        origin = frames.calls[
            (frames.calls["service_id"] == ctx.at[qid, "service_id"]) & (frames.calls["sequence"] == 0)
        ]["location"].iloc[0]
        start = latest.at[qid, "report_location"] if pd.notna(latest.at[qid, "report_location"]) else origin
        for _, at_target in row.iterrows():
            there = known[(known["service_id"] == at_target["service_id"]) & (known["location"] == start)]
            if len(there):
                gains.append(at_target["delay_s"] - there["delay_s"].iloc[-1])
        assert out.at[qid, "segment_any_gain_s"] in gains
        checked += 1
    assert checked >= 10


def test_segment_history_is_the_median_of_gains_over_the_runs(frames: Frames) -> None:
    outcomes = arrival_outcomes(frames.calls, frames.observations)
    table = segment_gains(outcomes)
    assert len(table) > 1000
    (operator, number, a, b), row = next(iter(table[table["count"] >= 5].iterrows()))
    runs = outcomes[(outcomes["operator"] == operator) & (outcomes["number"] == number)]
    at_a = runs[runs["location"] == a]
    at_b = runs[runs["location"] == b]
    both = at_a.merge(at_b, on="service_id", suffixes=("_a", "_b"))
    both = both[both["sequence_a"] < both["sequence_b"]]
    left = both["departure_delay_s_a"].fillna(both["arrival_delay_s_a"])
    gains = (both["arrival_delay_s_b"] - left).dropna()
    assert row["count"] == len(gains)
    assert row["median"] == pytest.approx(round(float(gains.median()), 1))


def test_segment_history_leaves_out_the_excluded_services(frames: Frames) -> None:
    queries = queries_at(frames, T)
    full = fit_history("train", frames, START, T)
    some = frozenset(frames.calls["service_id"].drop_duplicates().iloc[::2].tolist())
    partial = fit_history("train", frames, START, T, some)
    keys, whole = full.tables["train_seg"]
    assert keys == SEGMENT_KEY
    assert partial.tables["train_seg"][1]["count"].sum() < whole["count"].sum()
    vocabularies = vocabularies_for(frames)
    a = compute_features(frames, queries, full, vocabularies)
    b = compute_features(frames, queries, partial, vocabularies)
    assert a["hist_seg_gain_median_s"].notna().sum() > 100
    assert not a["hist_seg_count"].equals(b["hist_seg_count"])


def test_overdue_by_hand_with_missing_stops_and_times_to_the_microsecond() -> None:
    """overdue on a hand-made plan: each query its own t (tz-aware, microseconds), the plan's times in a
    local zone, and the event due at a stop the plan lacks or of a service it lacks left missing."""
    berlin = "Europe/Berlin"
    stops = [(0, None, "2026-03-06 08:00:00"), (1, "2026-03-06 08:10:00", "2026-03-06 08:12:00.5")]
    stops += [(3, "2026-03-06 08:30:00", None)]  # stop 2 is missing from the plan
    calls = pd.DataFrame(
        {
            "service_id": 7,
            "sequence": [sequence for sequence, _, _ in stops],
            "scheduled_arrival": pd.to_datetime([a for _, a, _ in stops], format="ISO8601").tz_localize(
                berlin
            ),
            "scheduled_departure": pd.to_datetime([d for _, _, d in stops], format="ISO8601").tz_localize(
                berlin
            ),
        }
    )
    calls["planned_at"] = calls["scheduled_arrival"].fillna(calls["scheduled_departure"])
    utc = pd.Timestamp("2026-03-06 07:00:00", tz="UTC")  # 08:00 in Berlin
    t = [
        utc + pd.Timedelta(minutes=m, microseconds=u) for m, u in ((5, 250), (11, 1), (20, 7), (3, 0), (4, 0))
    ]
    ctx = pd.DataFrame(
        {"service_id": [7, 7, 7, 7, 8], "t": pd.Series(t).astype("datetime64[us, UTC]").array},
        index=pd.Index([10, 11, 12, 13, 14], name="qid"),
    )
    # no report; arrived at 1; left 1 (due at 2, not planned); left 1 as arrival-less NaN kind; other service
    latest = pd.DataFrame(
        {
            "report_sequence": [np.nan, 1.0, 1.0, 0.0, np.nan],
            "is_departure": [np.nan, 0.0, 1.0, 1.0, np.nan],
            "delay_s": [np.nan, 30.0, 60.0, 0.0, np.nan],
        },
        index=ctx.index,
    )
    got = dynamics.overdue(calls, ctx, latest)
    expected = [
        300.00025,  # the departure from the origin (08:00) is 5 min 250 µs overdue
        -60.499999 - 30,  # the departure from stop 1 (08:12:00.5) is due in 60.499999 s, 30 s late already
        np.nan,  # the arrival at stop 2: not in the plan
        -420.0,  # the arrival at stop 1 (08:10) is due in 7 min
        np.nan,  # a service without a plan
    ]
    pd.testing.assert_series_equal(got, pd.Series(expected, index=ctx.index), check_exact=True)
