"""Unpublished-mode platform features on the Berlin IRIS slice: nothing about a platform is read before its
announcement, nothing observed after t is read, and other trains count as announced only once they are."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pandas as pd
import pytest

from eta.features import load_frames, unpublished
from eta.features.frames import Frames
from eta.features.history import History
from eta.features.publication import Publication
from eta.model import platform_unpublished
from eta.store import open_store
from tests import slices
from tests.model.conftest import small_settings

START = datetime(2025, 9, 3, 13, tzinfo=UTC)
SPLIT = datetime(2025, 9, 3, 15, 30, tzinfo=UTC)
END = datetime(2025, 9, 3, 17, 30, tzinfo=UTC)
LEAD_S = 1200
PUBLICATION = Publication.all_stations(LEAD_S)


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> tuple[Frames, History]:
    directory = tmp_path_factory.mktemp("iris-unpublished")
    engine = open_store(small_settings(slices.copy_of(slices.iris_template(), directory), directory))
    frames = load_frames(engine, "train", START, END)
    engine.dispose()
    return frames, unpublished.fit_history(frames, START, SPLIT)


def _queries(frames: Frames, t: pd.Timestamp) -> pd.DataFrame:
    """A query at ``t`` for every call due between the announcement lead and two hours after ``t``."""
    targets = unpublished.platform_targets(frames, START, END)
    due = targets["scheduled_arrival"] - t
    targets = targets[(due > pd.Timedelta(seconds=LEAD_S)) & (due <= pd.Timedelta(hours=2))]
    queries = targets.assign(t=t, horizon="fixed").reset_index(drop=True)
    queries["t"] = queries["t"].astype("datetime64[us, UTC]")
    return queries.assign(qid=range(len(queries)))


def _features(frames: Frames, queries: pd.DataFrame, history: History) -> pd.DataFrame:
    pairs = unpublished.compute_features(
        frames, queries, history, unpublished.vocabularies_for(frames), PUBLICATION
    )
    return pairs.sort_values(["qid", "candidate"]).reset_index(drop=True)


def _unannounced_scrambled(frames: Frames, t: pd.Timestamp) -> Frames:
    """Every call not announced by t moved to a platform of its own in the plan and in every report."""
    announced_at = PUBLICATION.announced_at(frames.calls)
    hidden = frames.calls.loc[~(announced_at < t), "call_id"]
    calls = frames.calls.copy()
    calls.loc[calls["call_id"].isin(hidden), "planned_platform"] = "99"
    observations = frames.observations.copy()
    observations.loc[observations["call_id"].isin(hidden), "platform"] = "98"
    return replace(frames, calls=calls, observations=observations)


def test_features_never_read_a_platform_before_it_is_announced(iris: tuple[Frames, History]) -> None:
    frames, history = iris
    t = pd.Timestamp("2025-09-03 15:40", tz="UTC")
    queries = _queries(frames, t)
    assert len(queries) > 20
    before = _features(frames, queries, history)
    after = _features(_unannounced_scrambled(frames, t), queries, history)
    assert "99" not in set(after["candidate"]) and "98" not in set(after["candidate"])
    pd.testing.assert_frame_equal(before, after)


def test_features_use_only_what_was_observed_by_t(iris: tuple[Frames, History]) -> None:
    frames, history = iris
    t = pd.Timestamp("2025-09-03 16:10", tz="UTC")
    queries = _queries(frames, t)
    full = _features(frames, queries, history)
    as_of_t = _features(frames.observed_until(t), queries, history)
    pd.testing.assert_frame_equal(full, as_of_t)


def test_other_trains_count_as_announced_once_their_lead_has_passed(iris: tuple[Frames, History]) -> None:
    frames, _ = iris
    revealed = unpublished.revealed_platforms(frames, PUBLICATION, unpublished.call_keys(frames.calls))
    calls = frames.calls.set_index("call_id")
    sched = calls.loc[revealed["call_id"], "scheduled_arrival"].reset_index(drop=True)
    assert (
        pd.to_datetime(revealed["revealed"], unit="us", utc=True) == sched - pd.Timedelta(seconds=LEAD_S)
    ).all()
    # the platform announced is the one reported by then (a change), else the plan
    final = revealed.set_index("call_id")["platform"]
    planned = calls["planned_platform"].reindex(final.index).astype(str)
    assert (final != planned).sum() >= 1
    assert (final == planned).mean() > 0.9


def test_history_baseline_falls_back_from_train_to_line_to_station(iris: tuple[Frames, History]) -> None:
    frames, history = iris
    keys = unpublished.call_keys(frames.calls)
    row = keys.iloc[[0]].copy()
    by_train = unpublished.history_platform(history, row).iloc[0]
    stranger = row.assign(number="no-such-train")
    by_line = unpublished.top_platform(history, "line", stranger).iloc[0]
    assert unpublished.history_platform(history, stranger).iloc[0] == by_line
    nowhere = stranger.assign(line_key="no-such-line")
    by_station = unpublished.top_platform(history, "station", nowhere).iloc[0]
    assert unpublished.history_platform(history, nowhere).iloc[0] == by_station
    assert by_train is not None and by_station is not None
    assert pd.isna(unpublished.history_platform(history, nowhere.assign(location="0")).iloc[0])


def test_training_queries_fall_between_three_hours_and_the_announcement(iris: tuple[Frames, History]) -> None:
    frames, _ = iris
    targets = unpublished.platform_targets(frames, START, END)
    queries = platform_unpublished.queries_for(frames, targets, unpublished.HORIZONS, LEAD_S, seed=1)
    random = queries[queries["horizon"] == "random"]
    sched = random["call_id"].map(targets.set_index("call_id")["scheduled_arrival"])
    lead = (sched - random["t"]).dt.total_seconds()
    assert len(random) == len(targets)
    assert lead.min() >= LEAD_S and lead.max() <= 3 * 3600
    assert set(queries["horizon"]) == {*unpublished.HORIZONS, "random"}


def _renumbered(frames: Frames, call_id: int, like: int) -> Frames:
    """``call_id`` made a run of the same train as ``like`` (same operator and number)."""
    calls = frames.calls.copy()
    source = calls.loc[calls["call_id"] == like].iloc[0]
    for column in ("operator", "number", "line"):
        calls.loc[calls["call_id"] == call_id, column] = source[column]
    return replace(frames, calls=calls)


def _moved(frames: Frames, call_id: int, platform: str) -> Frames:
    """``call_id`` planned and reported on ``platform``."""
    calls = frames.calls.copy()
    calls.loc[calls["call_id"] == call_id, "planned_platform"] = platform
    observations = frames.observations.copy()
    observations.loc[observations["call_id"] == call_id, "platform"] = platform
    return replace(frames, calls=calls, observations=observations)


def test_the_trains_earlier_run_counts_only_once_announced(iris: tuple[Frames, History]) -> None:
    frames, history = iris
    t = pd.Timestamp("2025-09-03 16:00", tz="UTC")
    queries = _queries(frames, t).sort_values("scheduled_arrival", kind="stable")
    query = queries.iloc[[-1]].assign(qid=0)
    calls = frames.calls.set_index("call_id")
    station = calls.loc[query["call_id"].iloc[0], "location"]
    same_station = calls[(calls["location"] == station) & calls["planned_platform"].notna()]
    announced_at = same_station["scheduled_arrival"] - pd.Timedelta(seconds=LEAD_S)
    before = same_station[(announced_at < t) & (announced_at > t - pd.Timedelta(hours=2))].index[0]
    after = same_station[(announced_at > t) & (same_station.index != query["call_id"].iloc[0])].index[0]
    like = int(query["call_id"].iloc[0])
    plain = _features(frames, query, history)
    assert plain["is_prev_run"].isna().all()
    # an earlier run of this train, announced after t, changes nothing
    later = _features(_renumbered(frames, int(after), like), query, history)
    pd.testing.assert_frame_equal(plain, later)
    # the same announced before t: its platform is the train's latest run's, announced that long ago
    earlier = _features(_moved(_renumbered(frames, int(before), like), int(before), "77"), query, history)
    marked = earlier.loc[earlier["is_prev_run"] == 1, "candidate"].tolist()
    assert marked == ["77"]
    expected_age = (t - announced_at[before]).total_seconds()
    assert earlier["prev_run_age_s"].iloc[0] == pytest.approx(expected_age)


def test_where_the_stations_trains_were_announced_counts_only_once_announced(
    iris: tuple[Frames, History],
) -> None:
    frames, history = iris
    t = pd.Timestamp("2025-09-03 16:00", tz="UTC")
    queries = _queries(frames, t)
    plain = _features(frames, queries, history)
    keys = unpublished.call_keys(frames.calls)
    revealed = unpublished.revealed_platforms(frames, PUBLICATION, keys)
    revealed["usual"] = unpublished.history_platform(history, revealed)
    t_us = int(t.value // 1000)
    stayed = revealed[
        (revealed["usual"] == revealed["platform"])
        & revealed["location"].isin(keys.loc[queries["call_id"], "location"])
    ]
    before = stayed[(stayed["revealed"] < t_us) & (stayed["revealed"] > t_us - 3600 * 10**6)].iloc[0]
    after = stayed[stayed["revealed"] > t_us].iloc[0]
    # a train announced after t moved off its usual platform changes nothing
    later = _features(_moved(frames, int(after["call_id"]), "77"), queries, history)
    pd.testing.assert_frame_equal(plain, later)
    # the same move announced before t lowers the share kept on that platform at that station
    earlier = _features(_moved(frames, int(before["call_id"]), "77"), queries, history)
    at_station = queries.set_index("qid")["call_id"].map(keys["location"]) == before["location"]
    on = plain["qid"].map(at_station) & (plain["candidate"] == before["usual"])
    assert on.any()
    assert (earlier.loc[on, "usual_kept_share"] < plain.loc[on, "usual_kept_share"]).all()
    assert (
        earlier.loc[~on, "usual_kept_share"].fillna(-1) == plain.loc[~on, "usual_kept_share"].fillna(-1)
    ).all()
