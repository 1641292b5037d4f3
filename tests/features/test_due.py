"""Trains due but not yet reported (eta/features/due.py), checked against a per-query loop on the bundled DB
runs, and point-in-time: the same with later reports gone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from eta.features import due
from eta.features.frames import Frames
from eta.features.reports import delay_reports
from tests.features.conftest import END, START, T, queries_at, state_at


def _due(frames: Frames, queries: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    ctx, latest, reports = state_at(frames, queries)
    return due.compute(frames.calls, frames.observations, reports, ctx, latest), ctx, latest


def test_every_feature_has_values_and_none_changes_when_later_reports_are_dropped(frames: Frames) -> None:
    queries = queries_at(frames, T)
    with_future, _, _ = _due(frames, queries)
    assert len(with_future) > 500
    assert list(with_future.columns) == due.FEATURES
    for name in due.FEATURES:
        assert with_future[name].notna().sum() > 20, name
    without_future, _, _ = _due(frames.observed_until(T), queries)
    pd.testing.assert_frame_equal(with_future, without_future)
    later, _, _ = _due(frames, queries.assign(t=queries["t"] + pd.Timedelta(minutes=20)))
    assert not later["due_origin_dep_30min_missing"].equals(with_future["due_origin_dep_30min_missing"])


def _by_loop(
    frames: Frames, location: str, t: pd.Timestamp, window: timedelta, event: str
) -> dict[str, float]:
    """The stats of one place and time the slow way: every call scheduled there, one by one."""
    calls = frames.calls
    reports = delay_reports(calls, frames.observations)
    reports = reports[reports["observed_at"] <= t]
    if event == "departure":
        last = calls["sequence"] == calls.groupby("service_id")["sequence"].transform("max")
        sched = calls["scheduled_departure"].fillna(calls["planned_at"]).where(~last)
        reports = reports[reports["is_departure"] == 1]
    else:
        sched = calls["scheduled_arrival"]
    obs = frames.observations
    told_cancelled = obs["cancelled"].fillna(False).astype(bool) & (obs["observed_at"] <= t)
    cancelled = set(obs.loc[told_cancelled, "call_id"])
    n, missing, overdue, delays = 0, 0, [], []
    here = calls[(calls["location"].astype(str) == location) & (sched >= t - window) & (sched < t)]
    for call_id, planned in zip(here["call_id"], sched[here.index], strict=True):
        if call_id in cancelled:
            continue
        n += 1
        told = reports[reports["call_id"] == call_id].sort_values("observed_at", kind="stable")
        if told.empty:
            missing += 1
            overdue.append((t - planned).total_seconds())
            delays.append((t - planned).total_seconds())
        else:
            delays.append(float(told["delay_s"].iloc[0]))
    return {
        "n": n,
        "missing": missing,
        "overdue_s": float(np.mean(overdue)) if overdue else np.nan,
        "delay_s": float(np.mean(delays)) if delays else np.nan,
    }


@pytest.mark.parametrize("when", [T, datetime(2026, 3, 5, 16, 10, tzinfo=UTC)])
def test_values_match_a_loop_over_the_calls_due(frames: Frames, when: datetime) -> None:
    assert START < when < END
    out, ctx, latest = _due(frames, queries_at(frames, when))
    first = frames.calls.sort_values(["service_id", "sequence"]).drop_duplicates("service_id")
    origin = first.set_index("service_id")["location"].astype(str)
    sample = ctx.sample(40, random_state=1)
    seen_missing = 0
    for qid, row in sample.iterrows():
        place = origin[row["service_id"]]
        expected = _by_loop(frames, place, row["t"], timedelta(minutes=30), "departure")
        got = out.loc[qid]
        assert got["due_origin_dep_30min_n"] == expected["n"]
        assert got["due_origin_dep_30min_missing"] == expected["missing"]
        np.testing.assert_allclose(got["due_origin_dep_30min_overdue_s"], expected["overdue_s"], atol=1)
        np.testing.assert_allclose(got["due_origin_dep_30min_delay_s"], expected["delay_s"], atol=1)
        seen_missing += expected["missing"] > 0
        report_place = latest.loc[qid, "report_location"]
        if isinstance(report_place, str):
            expected = _by_loop(frames, report_place, row["t"], timedelta(minutes=30), "departure")
            assert out.loc[qid, "due_report_dep_30min_n"] == expected["n"]
            assert out.loc[qid, "due_report_dep_30min_missing"] == expected["missing"]
        else:
            assert out.loc[qid, "due_report_dep_30min_n"] == 0
    assert seen_missing >= 3  # the check covers trains that had gone silent


def test_next_stop_is_the_one_after_the_latest_report_and_never_beyond_the_target(frames: Frames) -> None:
    out, ctx, latest = _due(frames, queries_at(frames, T))
    by_stop = frames.calls.set_index(["service_id", "sequence"])["location"].astype(str)
    for qid in ctx.sample(30, random_state=2).index:
        row = ctx.loc[qid]
        reported = latest.loc[qid, "report_sequence"]
        sequence = 1 if pd.isna(reported) else int(reported) + 1
        place = by_stop[(row["service_id"], min(sequence, int(row["sequence"])))]
        expected = _by_loop(frames, place, row["t"], timedelta(minutes=30), "arrival")
        assert out.loc[qid, "due_next_arr_30min_n"] == expected["n"]
        assert out.loc[qid, "due_next_arr_30min_missing"] == expected["missing"]
