"""Departure-time model: the arrival model's pipeline on the departure view (:mod:`eta.features.departures`).

Same queries, features, boosters, calibration and 19 quantiles, with "arrival" meaning "departure": the
departure delay of a call, a train's origin included, as known at t. Registered as its own artefact with
task ``departure`` (one champion per mode and task), trained by ``eta train`` and the retraining job beside
the arrival model, and backtested beside it (``departure`` in the backtest report). Trains only: a
flight's departure is its origin call, which the flight features already treat apart.

Served on demand (:func:`forecast`, for "will I make my connection?"): departures are not swept into the
predictions table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from eta._time import ensure_utc
from eta.config import Settings
from eta.features import compute_features, departures, load_frames
from eta.features.frames import Frames
from eta.features.queries import QUERY_COLUMNS
from eta.model import arrival, registry
from eta.model.artefact import Artefact
from eta.store.schema import Call, Service

TASK = "departure"
MODES = ("train",)


def train(
    frames: Frames,
    mode: str,
    start: datetime,
    end: datetime,
    settings: Settings,
    seed: int = 0,
    dask_client: Any = None,
) -> Artefact:
    """Train on departures scheduled in [start, end), calibrated on the window's most recent share."""
    if mode not in MODES:
        raise arrival.TrainingError(f"departure models exist for {', '.join(MODES)}, not {mode}")
    artefact = arrival.train(departures.view(frames), mode, start, end, settings, seed, dask_client)
    artefact.meta["task"] = TASK
    artefact.meta["target"] = "departure delay minus the latest delay known at t (s)"
    return artefact


@dataclass(frozen=True)
class DepartureForecast:
    """A call's departure as known at ``made_at``: its actual departure where it had left by then, else
    the departure model's quantiles of its delay."""

    scheduled: datetime
    made_at: datetime
    departed_at: datetime | None
    quantiles_s: np.ndarray | None  # delay (s) at distribution.LEVELS
    model_version: str | None


# Services loaded around the call: its own, whole, and the trains near it that the features look at.
AROUND = timedelta(hours=2)


def forecast(engine: Engine, call_id: int, made_at: datetime) -> DepartureForecast | None:
    """The departure of ``call_id`` as known at ``made_at``, from the serving departure model and the
    same features as training (the store as it was at ``made_at``); None where the call does not leave
    (its train ends there, or it is not a train's) or no departure model serves."""
    made_at = ensure_utc(made_at)
    with engine.connect() as conn:
        row = conn.execute(
            select(Call.scheduled_arrival, Call.scheduled_departure, Service.mode)
            .join(Service, Service.id == Call.service_id)
            .where(Call.id == call_id)
        ).first()
    if row is None or row.mode not in MODES:
        return None
    planned = ensure_utc(row.scheduled_departure or row.scheduled_arrival)
    frames = departures.view(
        load_frames(engine, row.mode, planned - AROUND, planned + AROUND, observed_until=made_at)
    )
    target = frames.calls[frames.calls["call_id"] == call_id]
    if target.empty or pd.isna(target["scheduled_arrival"].iloc[0]):
        return None
    scheduled = target["scheduled_arrival"].iloc[0].to_pydatetime()
    left = frames.observations.loc[frames.observations["call_id"] == call_id, "actual_arrival"].dropna()
    if len(left):
        return DepartureForecast(scheduled, made_at, left.iloc[0].to_pydatetime(), None, None)
    entry = registry.serving(engine, row.mode, TASK)
    if entry is None:
        return None
    artefact = registry.load(entry)
    queries = target[["call_id", "service_id", "sequence"]].assign(
        qid=0, t=pd.Timestamp(made_at), horizon="served"
    )
    queries["t"] = queries["t"].astype("datetime64[us, UTC]")
    features = compute_features(
        row.mode, frames, queries[QUERY_COLUMNS], artefact.history, artefact.meta["vocabularies"]
    )
    predictor = arrival.ArrivalPredictor(artefact)
    quantiles = predictor.quantiles(features, predictor.predict(features))[0]
    return DepartureForecast(scheduled, made_at, None, quantiles, entry.version)
