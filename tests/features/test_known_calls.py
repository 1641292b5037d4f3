"""Knowledge at t for calls: the frames as the store held them at t list only the calls eta knew by then
(``known_since``), so that a backtest at t and the sweep at t see the same trains (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import update

from eta.config import Settings
from eta.features import load_frames
from eta.store import open_store
from eta.store.schema import Call
from tests import slices

T = datetime(2013, 1, 12, 15, 0, tzinfo=UTC)


def test_calls_fetched_after_t_are_not_in_the_frames_at_t(tmp_path: Path) -> None:
    url = slices.copy_of(slices.flights_template(), tmp_path)
    engine = open_store(Settings(database_url=url, data_dir=tmp_path))
    start, end = T - timedelta(hours=6), T + timedelta(hours=6)
    everything = load_frames(engine, "flight", start, end)
    later = everything.calls["call_id"].iloc[::3].tolist()  # a third of them listed by a later fetch
    with engine.begin() as conn:
        conn.execute(update(Call).where(Call.id.in_(later)).values(known_since=T + timedelta(minutes=1)))
    served = load_frames(engine, "flight", start, end, observed_until=T)
    rebuilt = load_frames(engine, "flight", start, end).observed_until(pd.Timestamp(T))
    for frames in (served, rebuilt):
        assert not frames.calls["call_id"].isin(later).any()
        assert not frames.observations["call_id"].isin(later).any()
        assert len(frames.calls) == len(everything.calls) - len(later)
    assert sorted(served.calls["call_id"]) == sorted(rebuilt.calls["call_id"])
    then = load_frames(engine, "flight", start, end, observed_until=T + timedelta(minutes=1))
    assert set(later) <= set(then.calls["call_id"])
    engine.dispose()
