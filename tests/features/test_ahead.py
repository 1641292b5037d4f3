"""The features of the stops still ahead (eta/features/ahead.py), checked by hand on the bundled DB runs (a
week of March 2026), and point-in-time: the same with later reports gone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eta.features import ahead
from eta.features.frames import Frames
from eta.features.reports import RECENT_WINDOW
from tests.features.conftest import T, queries_at, state_at


def _ahead(frames: Frames, queries: pd.DataFrame, chunk: int = ahead.CHUNK) -> pd.DataFrame:
    ctx, latest, reports = state_at(frames, queries)
    return ahead.compute(frames.calls, ctx, latest, reports, chunk)


def test_every_feature_has_values_and_none_changes_when_later_reports_are_dropped(frames: Frames) -> None:
    queries = queries_at(frames, T)
    with_future = _ahead(frames, queries)
    assert len(with_future) > 500
    for name in ahead.FEATURES:
        assert with_future[name].notna().sum() > 50, name
    pd.testing.assert_frame_equal(with_future, _ahead(frames.observed_until(T), queries))
    later = _ahead(frames, queries.assign(t=queries["t"] + pd.Timedelta(minutes=40)))
    # the comparison can see a change
    assert not later["ahead_gain_mean_s"].equals(with_future["ahead_gain_mean_s"])


def test_stops_ahead_start_after_the_latest_report_and_end_at_the_target(frames: Frames) -> None:
    queries = queries_at(frames, T)
    ctx, latest, _ = state_at(frames, queries)
    rows = ahead.stops_ahead(ctx, latest, frames.calls.set_index(["service_id", "sequence"])["location"])
    reported = np.flatnonzero(latest["report_sequence"].notna().to_numpy())
    silent = np.flatnonzero(latest["report_sequence"].isna().to_numpy())
    assert len(reported) and len(silent)
    for position in (*reported[:20], *silent[:20]):
        query = ctx.iloc[position]
        own = frames.calls[frames.calls["service_id"] == query["service_id"]]
        route = own.set_index("sequence")["location"]
        report = latest["report_sequence"].iloc[position]
        first = 0 if np.isnan(report) else int(report) + 1
        first = max(first, int(query["sequence"]) - ahead.MAX_STOPS + 1)
        expected = [route[s] for s in range(first, int(query["sequence"]) + 1) if s in route.index]
        assert rows.loc[rows["owner"] == position, "location"].tolist() == expected


def test_gain_sum_is_the_sum_over_the_stops_of_their_last_hour_mean_gain(frames: Frames) -> None:
    queries = queries_at(frames, T)
    ctx, latest, reports = state_at(frames, queries)
    features = ahead.compute(frames.calls, ctx, latest, reports)
    rows = ahead.stops_ahead(ctx, latest, frames.calls.set_index(["service_id", "sequence"])["location"])
    gains = reports.assign(gain_s=reports["delay_s"] - reports["previous_delay_s"]).dropna(subset=["gain_s"])
    t = pd.Timestamp(T)
    checked = 0
    for position in np.flatnonzero(features["ahead_count"].to_numpy() > 0)[:25]:
        means, count = [], 0
        for location in rows.loc[rows["owner"] == position, "location"]:
            here = gains[(gains["location"] == location) & (gains["observed_at"] <= t)]
            if here.empty or t - here["observed_at"].max() > RECENT_WINDOW:
                continue
            # the window ends at the stop's last report before t
            window = here[here["observed_at"] > here["observed_at"].max() - RECENT_WINDOW]
            means.append(window["gain_s"].mean())
            count += len(window)
        row = features.iloc[position]
        assert row["ahead_gain_sum_s"] == pytest.approx(sum(means))
        assert row["ahead_gain_max_s"] == pytest.approx(max(means))
        assert row["ahead_count"] == count
        checked += 1
    assert checked == 25


def test_chunks_do_not_change_the_features(frames: Frames) -> None:
    queries = queries_at(frames, T)
    pd.testing.assert_frame_equal(_ahead(frames, queries, chunk=97), _ahead(frames, queries))


def test_stops_ahead_carry_their_own_querys_time_to_the_microsecond() -> None:
    """Each row keeps the (tz-aware) t of its own query, also where a stop is missing from the plan."""
    location_of = pd.Series(
        ["A", "B", "D", "X", "Y"],
        index=pd.MultiIndex.from_tuples(
            [(1, 0), (1, 1), (1, 3), (2, 0), (2, 1)], names=["service_id", "sequence"]
        ),
    )
    t = pd.Series(
        pd.to_datetime(
            ["2026-03-06 07:00:00.000001", "2026-03-06 09:30:00.5", "2026-03-06 12:00:00"], format="ISO8601"
        )
    ).dt.tz_localize("Europe/Berlin")
    ctx = pd.DataFrame(
        {"service_id": [1, 2, 1], "sequence": [3, 1, 1], "t": t.array}, index=pd.Index([5, 6, 7], name="qid")
    )
    latest = pd.DataFrame({"report_sequence": [0.0, np.nan, np.nan]}, index=ctx.index)
    rows = ahead.stops_ahead(ctx, latest, location_of)
    assert rows["location"].tolist() == ["B", "D", "X", "Y", "A", "B"]  # stop 2 of service 1 is not planned
    assert rows["owner"].tolist() == [0, 0, 1, 1, 2, 2]
    assert rows["t"].dtype == t.dtype
    pd.testing.assert_series_equal(rows["t"], t.iloc[rows["owner"]].reset_index(drop=True), check_names=False)
