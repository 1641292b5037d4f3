"""A week of the bundled DB runs (March 2026) for the train feature tests, and queries on it at one t."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from eta.features import load_frames
from eta.features.common import query_context
from eta.features.frames import Frames
from eta.features.queries import QUERY_COLUMNS
from eta.features.reports import delay_reports, latest_report
from eta.store.engine import make_engine
from tests import slices

START = datetime(2026, 3, 2, tzinfo=UTC)
T = datetime(2026, 3, 6, 7, 40, tzinfo=UTC)
END = datetime(2026, 3, 7, tzinfo=UTC)


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Frames:
    url = slices.copy_of(slices.trains_template(), tmp_path_factory.mktemp("train-week"))
    engine = make_engine(url)
    loaded = load_frames(engine, "train", START, END)
    engine.dispose()
    return loaded


def queries_at(frames: Frames, t: datetime, span: timedelta = timedelta(hours=3)) -> pd.DataFrame:
    """A query at ``t`` for every call (not an origin) scheduled to arrive in [t, t + span)."""
    stamp = pd.Timestamp(t)
    calls = frames.calls
    mask = (
        (calls["scheduled_arrival"] >= stamp)
        & (calls["scheduled_arrival"] < stamp + span)
        & (calls["sequence"] > 0)
    )
    queries = calls.loc[mask, ["call_id", "service_id", "sequence"]].assign(t=stamp, horizon="test")
    queries = queries.reset_index(drop=True)
    queries["t"] = queries["t"].astype("datetime64[us, UTC]")
    queries["qid"] = range(len(queries))
    return queries[QUERY_COLUMNS]


def state_at(frames: Frames, queries: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The queries' context, each one's latest report by its t, and all delay reports."""
    reports = delay_reports(frames.calls, frames.observations)
    ctx = query_context(frames, queries)
    return ctx, latest_report(queries, reports).reindex(ctx.index), reports
