"""Point-in-time correctness: features at t are the same with or without data observed after t."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import delete

from eta.features import compute_features, fit_history, load_frames, platforms, vocabularies_for
from eta.features.queries import QUERY_COLUMNS
from eta.store.engine import make_engine
from eta.store.schema import Observation, Weather
from tests import slices

CASES = {
    # mode: (store, history window, prediction time t, calls scheduled to arrive in [t, t + span))
    "train": (
        slices.trains_template,
        datetime(2026, 3, 2, tzinfo=UTC),
        datetime(2026, 3, 5, 7, 40, tzinfo=UTC),
    ),
    "flight": (
        slices.flights_template,
        datetime(2013, 1, 1, tzinfo=UTC),
        datetime(2013, 1, 8, 18, 5, tzinfo=UTC),
    ),
}
SPAN = timedelta(hours=4)


def _queries(frames_calls: pd.DataFrame, t: datetime) -> pd.DataFrame:
    stamp = pd.Timestamp(t)
    calls = frames_calls[
        (frames_calls["scheduled_arrival"] >= stamp - timedelta(hours=1))
        & (frames_calls["scheduled_arrival"] < stamp + SPAN)
        & (frames_calls["sequence"] > 0)
    ]
    queries = (
        calls[["call_id", "service_id", "sequence"]].assign(t=stamp, horizon="test").reset_index(drop=True)
    )
    queries["t"] = queries["t"].astype("datetime64[us, UTC]")
    queries["qid"] = range(len(queries))
    return queries[QUERY_COLUMNS]


def _features(url: str, mode: str, history_from: datetime, t: datetime) -> pd.DataFrame:
    engine = make_engine(url)
    frames = load_frames(engine, mode, history_from, t + SPAN)
    history = fit_history(mode, frames, history_from, history_from + timedelta(days=2))
    vocabularies = vocabularies_for(mode, frames)
    out = compute_features(mode, frames, _queries(frames.calls, t), history, vocabularies)
    engine.dispose()
    return out.sort_index()


def _forget_after(url: str, t: datetime) -> int:
    engine = make_engine(url)
    with engine.begin() as conn:
        gone = conn.execute(delete(Observation).where(Observation.observed_at > t)).rowcount
        conn.execute(delete(Weather).where(Weather.observed_at > t))
    engine.dispose()
    return int(gone)


@pytest.mark.parametrize("mode", ["train", "flight"])
def test_features_at_t_ignore_everything_observed_after_t(mode: str, tmp_path: Path) -> None:
    template, history_from, t = CASES[mode]
    url = slices.copy_of(template(), tmp_path)
    with_future = _features(url, mode, history_from, t)
    assert len(with_future) > 200
    assert with_future["has_report"].sum() > 50  # services already under way at t
    later = _features(url, mode, history_from, t + timedelta(minutes=45))
    assert not later["latest_delay_s"].equals(with_future["latest_delay_s"])  # the test can see a change
    assert _forget_after(url, t) > 1000
    without_future = _features(url, mode, history_from, t)
    pd.testing.assert_frame_equal(with_future, without_future)


def test_platform_features_ignore_announcements_after_t(tmp_path: Path) -> None:
    url = slices.copy_of(slices.iris_template(), tmp_path)
    start = datetime(2025, 9, 3, 14, tzinfo=UTC)
    t = datetime(2025, 9, 3, 15, 10, tzinfo=UTC)

    engine = make_engine(url)
    # The history is part of the trained model: fixed before predicting, the same in both runs.
    history = platforms.fit_history(load_frames(engine, "train", start, t + SPAN), start, t)
    engine.dispose()

    def features() -> pd.DataFrame:
        engine = make_engine(url)
        frames = load_frames(engine, "train", start, t + SPAN)
        queries = _queries(frames.calls[frames.calls["planned_platform"].notna()], t)
        out = platforms.compute_features(frames, queries, history, platforms.vocabularies_for(frames))
        engine.dispose()
        return out.sort_values(["qid", "candidate"]).reset_index(drop=True)

    before = features()
    assert before["qid"].nunique() > 50
    assert _forget_after(url, t) > 10
    pd.testing.assert_frame_equal(before, features())
