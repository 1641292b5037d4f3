"""Point-in-time features: one code path for training, backtests and serving.

``compute_features(mode, frames, queries, history, vocabularies)`` returns, per query ``(call_id, t)``, the
features known at ``t``; ``fit_history`` learns the historical aggregates from a training window only.
"""

from __future__ import annotations

from datetime import datetime
from types import ModuleType

import pandas as pd

from eta.errors import InputError
from eta.features import flights, trains
from eta.features.frames import Frames, load_frames
from eta.features.history import FoldHistories, History

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
    frames read whole may be computed on the frames as the store held them at its t."""
    positions = frames.calls.set_index("call_id")["sequence"]
    on_frames = queries["call_id"].map(positions).fillna(queries["sequence"]).astype("int64")
    queries = queries.assign(sequence=on_frames)
    return feature_module(mode).compute_features(frames, queries, history, vocabularies, reports)


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
