"""The features of the stops still ahead (eta/features/ahead.py), checked by hand on the bundled DB runs (a
week of March 2026), and point-in-time: the same with later reports gone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from eta.features import ahead, load_frames
from eta.features.common import query_context
from eta.features.frames import Frames
from eta.features.queries import QUERY_COLUMNS
from eta.features.reports import RECENT_WINDOW, delay_reports, latest_report
from eta.store.engine import make_engine
from tests import slices

START = datetime(2026, 3, 2, tzinfo=UTC)
T = datetime(2026, 3, 6, 7, 40, tzinfo=UTC)
END = datetime(2026, 3, 7, tzinfo=UTC)


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Frames:
    url = slices.copy_of(slices.trains_template(), tmp_path_factory.mktemp("ahead"))
    engine = make_engine(url)
    loaded = load_frames(engine, "train", START, END)
    engine.dispose()
    return loaded


def _queries(frames: Frames, t: datetime) -> pd.DataFrame:
    stamp = pd.Timestamp(t)
    calls = frames.calls
    mask = (
        (calls["scheduled_arrival"] >= stamp)
        & (calls["scheduled_arrival"] < stamp + timedelta(hours=3))
        & (calls["sequence"] > 0)
    )
    queries = calls.loc[mask, ["call_id", "service_id", "sequence"]].assign(t=stamp, horizon="test")
    queries = queries.reset_index(drop=True)
    queries["t"] = queries["t"].astype("datetime64[us, UTC]")
    queries["qid"] = range(len(queries))
    return queries[QUERY_COLUMNS]


def _state(frames: Frames, queries: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    reports = delay_reports(frames.calls, frames.observations)
    ctx = query_context(frames, queries)
    return ctx, latest_report(queries, reports).reindex(ctx.index), reports


def _ahead(frames: Frames, queries: pd.DataFrame, chunk: int = ahead.CHUNK) -> pd.DataFrame:
    ctx, latest, reports = _state(frames, queries)
    return ahead.compute(frames.calls, ctx, latest, reports, chunk)


def test_every_feature_has_values_and_none_changes_when_later_reports_are_dropped(frames: Frames) -> None:
    queries = _queries(frames, T)
    with_future = _ahead(frames, queries)
    assert len(with_future) > 500
    for name in ahead.FEATURES:
        assert with_future[name].notna().sum() > 50, name
    pd.testing.assert_frame_equal(with_future, _ahead(frames.observed_until(T), queries))
    later = _ahead(frames, queries.assign(t=queries["t"] + pd.Timedelta(minutes=40)))
    assert not later["ahead_gain_mean_s"].equals(
        with_future["ahead_gain_mean_s"]
    )  # the check can see a change


def test_stops_ahead_start_after_the_latest_report_and_end_at_the_target(frames: Frames) -> None:
    queries = _queries(frames, T)
    ctx, latest, _ = _state(frames, queries)
    rows = ahead.stops_ahead(ctx, latest, frames.calls.set_index(["service_id", "sequence"])["location"])
    reported = np.flatnonzero(latest["report_sequence"].notna().to_numpy())
    silent = np.flatnonzero(latest["report_sequence"].isna().to_numpy())
    assert len(reported) and len(silent)
    for position in (*reported[:20], *silent[:20]):
        query = ctx.iloc[position]
        route = frames.calls[frames.calls["service_id"] == query["service_id"]].set_index("sequence")[
            "location"
        ]
        report = latest["report_sequence"].iloc[position]
        first = 0 if np.isnan(report) else int(report) + 1
        first = max(first, int(query["sequence"]) - ahead.MAX_STOPS + 1)
        expected = [route[s] for s in range(first, int(query["sequence"]) + 1) if s in route.index]
        assert rows.loc[rows["owner"] == position, "location"].tolist() == expected


def test_gain_sum_is_the_sum_over_the_stops_of_their_last_hour_mean_gain(frames: Frames) -> None:
    queries = _queries(frames, T)
    ctx, latest, reports = _state(frames, queries)
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
    queries = _queries(frames, T)
    pd.testing.assert_frame_equal(_ahead(frames, queries, chunk=97), _ahead(frames, queries))
