"""Point-in-time features: one code path for training, backtests and serving.

``compute_features(mode, frames, queries, history, vocabularies)`` returns, per query ``(call_id, t)``, the
features known at ``t``; ``fit_history`` learns the historical aggregates from a training window only.
"""

from __future__ import annotations

from datetime import datetime
from types import ModuleType

import numpy as np
import pandas as pd

from eta.errors import InputError
from eta.features import flights, previous_days, trains
from eta.features.frames import Frames, added_later, load_frames
from eta.features.history import FoldHistories, History
from eta.features.reports import lookup

MODES: dict[str, ModuleType] = {"train": trains, "flight": flights}


def feature_module(mode: str) -> ModuleType:
    try:
        return MODES[mode]
    except KeyError:
        raise InputError(f"unknown mode {mode!r}; choose one of {sorted(MODES)}") from None


def feature_names(mode: str) -> list[str]:
    return list(feature_module(mode).FEATURES)


def fit_history(
    mode: str,
    frames: Frames,
    start: datetime,
    end: datetime,
    exclude_services: frozenset[int] = frozenset(),
) -> History:
    return feature_module(mode).fit_history(frames, start, end, exclude_services)


def vocabularies_for(mode: str, frames: Frames) -> dict[str, list[str]]:
    return feature_module(mode).vocabularies_for(frames)


def compute_features(
    mode: str,
    frames: Frames,
    queries: pd.DataFrame,
    history: History | FoldHistories,
    vocabularies: dict[str, list[str]],
    reports: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Features per query (index qid) as known at each query's t; see the mode's module.

    A query's position on its run is taken from ``frames``, not from the query: positions depend on which
    calls the frames hold (a stop added to a run later moves the stops after it on), and a query built on
    frames read whole may be computed on the frames as the store held them at its t.

    Frames read whole (training, backtests) hold the stops added to a run after some queries' t (a call
    known only after a call that comes after it on the run: a stop an IRIS change list adds). A query
    whose run has one not yet known at its t is computed on the frames without the stops added after its
    t (:meth:`Frames.without_added_after`), so that such a stop neither counts in its run (positions,
    ``stops_after``, the previous stop, the origin) nor beside it, as in the frames the sweep reads at t;
    the queries whose t see the same added stops share one cut, read on the services around them
    (:meth:`Frames.near`, as the sweep reads a window).
    Every other query is computed on ``frames``, as is one for a call not yet known itself at its t
    (serving never makes one), and there a run's stops known later in their order (IRIS: each station's
    plan for the hour) still count.
    """
    module = feature_module(mode)
    found = _run_known_later(frames, queries)
    if found is None:
        return _on_frames(module, frames, queries, history, vocabularies, reports)
    late, added_known_since = found
    parts = []
    if not late.all():
        parts.append(_on_frames(module, frames, queries[~late], history, vocabularies, reports))
    # the stops added by t change only where one becomes known: one cut per such span of t, read on the
    # services around its queries (as the sweep's window; a cut of the whole frames costs as much as all
    # the queries)
    became_known = np.sort(added_known_since.unique())
    cut = np.searchsorted(became_known, queries.loc[late, "t"].to_numpy(), side="right")
    arrival = frames.calls.set_index("call_id")["scheduled_arrival"]
    outcomes = previous_days.run_outcomes(frames.calls, frames.observations)
    for _, group in queries[late].groupby(cut, sort=True):
        end = pd.concat([group["t"], lookup(group["call_id"], arrival)]).max()
        around = frames.of_services(frames.near(group["t"].min(), end), outcomes)
        known = around.without_added_after(group["t"].max())
        parts.append(_on_frames(module, known, group, history, vocabularies, None))
    return pd.concat(parts).reindex(pd.Index(queries["qid"], name=parts[0].index.name))


def _on_frames(
    module: ModuleType,
    frames: Frames,
    queries: pd.DataFrame,
    history: History | FoldHistories,
    vocabularies: dict[str, list[str]],
    reports: pd.DataFrame | None,
) -> pd.DataFrame:
    positions = frames.calls.set_index("call_id")["sequence"]
    on_frames = queries["call_id"].map(positions).fillna(queries["sequence"]).astype("int64")
    return module.compute_features(frames, queries.assign(sequence=on_frames), history, vocabularies, reports)


def _run_known_later(frames: Frames, queries: pd.DataFrame) -> tuple[pd.Series, pd.Series] | None:
    """Per query, whether its call was known by its t and its run has a stop added after t, with the
    added stops' ``known_since`` (None where no query's run has one: no call known after the first t, as in
    every store but IRIS's)."""
    if "known_since" not in frames.calls or queries.empty:
        return None
    calls = frames.calls
    if not (calls["known_since"] > queries["t"].min()).any():  # NaT: known before anything stored
        return None
    added = calls[added_later(calls)]
    last = added.groupby("service_id")["known_since"].max()
    own = calls.set_index("call_id")["known_since"]
    late = lookup(queries["service_id"], last) > queries["t"]
    late &= ~(lookup(queries["call_id"], own) > queries["t"])
    return (late, added["known_since"]) if late.any() else None


__all__ = [
    "FoldHistories",
    "Frames",
    "History",
    "compute_features",
    "feature_names",
    "fit_history",
    "load_frames",
    "vocabularies_for",
]
