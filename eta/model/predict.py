"""Batch predictions for serving: the bridge between the champion models and the ``predictions`` table.

:func:`predict_calls` computes, for every call not yet arrived at ``made_at``, the features as known at
``made_at`` (the same code as training), runs the champion models and writes one ``predictions`` row per
call with purpose ``served``. The API reads those rows.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine

from eta._time import ensure_utc
from eta.config import Settings
from eta.features import compute_features, load_frames
from eta.features.frames import Frames
from eta.features.queries import serving_queries
from eta.features.reports import delay_reports
from eta.model import registry
from eta.model.arrival import ArrivalPredictor
from eta.model.explain import explain
from eta.store.bulk import insert_ignore
from eta.store.schema import metadata

log = logging.getLogger(__name__)

MODES = ("train", "flight")


def predict_calls(
    engine: Engine,
    settings: Settings,
    made_at: datetime,
    call_ids: list[int] | None = None,
    purpose: str = "served",
) -> int:
    """Write champion predictions made at ``made_at`` for calls not yet arrived; returns rows written.

    Calls considered: those scheduled to arrive within the serving window around ``made_at``
    (``ETA_MODEL__SERVE_BEHIND_HOURS`` before, ``ETA_MODEL__SERVE_AHEAD_HOURS`` after), or exactly
    ``call_ids``. Only observations with observed_at ≤ made_at are read.
    """
    made_at = ensure_utc(made_at)
    written = 0
    for mode in MODES:
        entry = registry.champion(engine, mode, "arrival")
        if entry is None:
            continue
        frames = load_frames(
            engine,
            mode,
            made_at - timedelta(hours=settings.model.serve_behind_hours),
            made_at + timedelta(hours=settings.model.serve_ahead_hours),
            observed_until=made_at,
            call_ids=call_ids,
        )
        rows = predict_frames(engine, frames, mode, entry, made_at, call_ids, purpose)
        if rows.empty:
            continue
        with engine.begin() as conn:
            written += insert_ignore(conn, metadata.tables["predictions"], rows, settings.db_batch_size)
    return written


def predict_frames(
    engine: Engine,
    frames: Frames,
    mode: str,
    entry: registry.Entry,
    made_at: datetime,
    call_ids: list[int] | None = None,
    purpose: str = "served",
) -> pd.DataFrame:
    """Prediction rows (the ``predictions`` table's columns) for the calls in ``frames``."""
    queries = serving_queries(frames, made_at, call_ids)
    if queries.empty:
        return pd.DataFrame()
    model = registry.load(entry)
    predictor = ArrivalPredictor(model)
    reports = delay_reports(frames.calls, frames.observations)
    features = compute_features(mode, frames, queries, model.history, model.meta["vocabularies"], reports)
    predicted = predictor.predict(features)
    contributions, bias = predictor.contributions(features)
    explanations = explain(mode, features, contributions, bias, frames.names)
    sched = features["scheduled_arrival"]
    q = queries.set_index("qid").reindex(features.index)
    rows = pd.DataFrame(
        {
            "call_id": q["call_id"].astype("int64"),
            "made_at": pd.Timestamp(made_at),
            "model_version": entry.version,
            "purpose": purpose,
            "horizon_s": (sched - pd.Timestamp(made_at)).dt.total_seconds().round().astype("int64"),
            "p10_arrival": sched + pd.to_timedelta(predicted["p10_delay_s"].round(), unit="s"),
            "p50_arrival": sched + pd.to_timedelta(predicted["p50_delay_s"].round(), unit="s"),
            "p90_arrival": sched + pd.to_timedelta(predicted["p90_delay_s"].round(), unit="s"),
            "operator_estimate": features["operator_estimate"],
            "explanation": explanations,
        }
    )
    platforms = _platform_columns(engine, frames, mode, queries, features, made_at)
    rows = rows.join(platforms)
    for column in ("platform", "platform_probability", "platform_announced", "platform_probs"):
        if column not in rows:
            rows[column] = None
    return rows.reset_index(drop=True)


def _platform_columns(
    engine: Engine,
    frames: Frames,
    mode: str,
    queries: pd.DataFrame,
    features: pd.DataFrame,
    made_at: datetime,
) -> pd.DataFrame:
    """Platform, its probability, whether it had been announced, and every candidate's probability."""
    if mode != "train":
        return pd.DataFrame(index=features.index)
    entry = registry.champion(engine, mode, "platform")
    if entry is None:
        return pd.DataFrame(index=features.index)
    from eta.model.platform import PlatformPredictor

    predictor = PlatformPredictor(registry.load(entry))
    predicted: pd.DataFrame = predictor.predict_queries(frames, queries, features["time_to_arrival_s"])
    return predicted.reindex(features.index)
