"""Every feature function on sparse live data: no reports at all, one service, one call, no queries.

Issue 21 §5: the prediction sweep crashed with no reports in the serving window (``IndexError`` in
``dynamics._segment``) and with no inbound service (``TypeError`` in ``dynamics._inbound``). A property
test draws small slices of a real week (empty and one-row frames included) and asks each mode's features
of them: one row per query, the feature columns, never an exception.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eta.features import compute_features, feature_names, fit_history, platforms, vocabularies_for
from eta.features.frames import Frames
from tests.features.conftest import START, T, queries_at

SPARSE = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def history_and_vocabularies(frames: Frames) -> tuple[object, dict[str, list[str]]]:
    return fit_history("train", frames, START, T), vocabularies_for("train", frames)


def _slice(frames: Frames, services: int, observations: str) -> Frames:
    """``services`` services asked about at T (0: none) and all, the first, or none of their reports."""
    kept = queries_at(frames, T)["service_id"].drop_duplicates().iloc[:services]
    calls = frames.calls[frames.calls["service_id"].isin(kept)].reset_index(drop=True)
    obs = frames.observations[frames.observations["call_id"].isin(calls["call_id"])]
    obs = {"all": obs, "one": obs.iloc[:1], "none": obs.iloc[:0]}[observations]
    return replace(frames, calls=calls, observations=obs.reset_index(drop=True))


@SPARSE
@given(
    services=st.sampled_from([0, 1, 2, 5]),
    observations=st.sampled_from(["all", "one", "none"]),
    queries=st.sampled_from([0, 1, 3]),
)
def test_train_features_of_sparse_frames(
    frames: Frames,
    history_and_vocabularies: tuple[object, dict[str, list[str]]],
    services: int,
    observations: str,
    queries: int,
) -> None:
    history, vocabularies = history_and_vocabularies
    sparse = _slice(frames, services, observations)
    asked = queries_at(frames, T)
    asked = asked[asked["call_id"].isin(sparse.calls["call_id"])].iloc[:queries]
    asked = asked.assign(qid=range(len(asked)))
    out = compute_features("train", sparse, asked, history, vocabularies)  # type: ignore[arg-type]
    assert len(out) == len(asked)
    assert set(feature_names("train")) <= set(out.columns)


def test_no_reports_in_the_window_and_no_inbound_service(
    frames: Frames, history_and_vocabularies: tuple[object, dict[str, list[str]]]
) -> None:
    """The two crashes as they were seen: queries on a service of which nothing was reported yet, whose
    line brings no other service into its origin."""
    history, vocabularies = history_and_vocabularies
    asked = queries_at(frames, T).iloc[:1]
    one = frames.calls[frames.calls["service_id"] == asked["service_id"].iloc[0]].reset_index(drop=True)
    sparse = replace(frames, calls=one, observations=frames.observations.iloc[:0])
    out = compute_features("train", sparse, asked, history, vocabularies)  # type: ignore[arg-type]
    assert len(out) == 1 and out.index.tolist() == asked["qid"].tolist()
    assert pd.isna(out.at[asked["qid"].iloc[0], "inbound_delay_s"])


@pytest.fixture(scope="module")
def platform_history(frames: Frames) -> tuple[object, dict[str, list[str]]]:
    return platforms.fit_history(frames, START, T), platforms.vocabularies_for(frames)


@SPARSE
@given(
    services=st.sampled_from([0, 1, 5]),
    observations=st.sampled_from(["all", "none"]),
    queries=st.sampled_from([0, 1, 3]),
)
def test_platform_features_of_sparse_frames(
    frames: Frames,
    platform_history: tuple[object, dict[str, list[str]]],
    services: int,
    observations: str,
    queries: int,
) -> None:
    """The week of DB runs names no platforms: every query has no candidate (scheduled_nearby crashed on
    the empty column); one row per query and candidate, of the queries asked only."""
    history, vocabularies = platform_history
    sparse = _slice(frames, services, observations)
    asked = queries_at(frames, T)
    asked = asked[asked["call_id"].isin(sparse.calls["call_id"])].iloc[:queries]
    asked = asked.assign(qid=range(len(asked)))
    out = platforms.compute_features(sparse, asked, history, vocabularies)  # type: ignore[arg-type]
    assert set(out["qid"]) <= set(asked["qid"]) if "qid" in out else out.index.isin(asked["qid"]).all()
