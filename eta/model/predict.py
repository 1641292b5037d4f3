"""Batch predictions for serving: the bridge between the champion models and the ``predictions`` table.

:func:`predict_calls` computes, for every call not yet arrived at ``made_at``, the features as known at
``made_at`` (the same code as training), runs the champion models and writes a ``predictions`` row with
purpose ``served`` per call whose prediction changed materially from the one in force
(:mod:`eta.model.on_change`; the others are confirmed as current). A sweep of the whole serving window is
logged in ``prediction_sweeps``. The API reads through :mod:`eta.read.predictions`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, insert, update

from eta._time import ensure_utc
from eta.config import Settings
from eta.features import compute_features, load_frames
from eta.features.frames import Frames
from eta.features.publication import Publication
from eta.features.queries import serving_queries
from eta.features.reports import delay_reports, latest_estimate, lookup
from eta.model import distribution, platform_unpublished, registry, served_calibration
from eta.model.arrival import ArrivalPredictor
from eta.model.calibration import apply_interval_calibration, bucket_of
from eta.model.explain import explain
from eta.model.on_change import material
from eta.model.platform import PlatformPredictor
from eta.read.predictions import SERVED, in_force
from eta.store.bulk import insert_ignore
from eta.store.queries import scheduled_span
from eta.store.schema import Prediction, PredictionSweep, metadata

log = logging.getLogger(__name__)

MODES = ("train", "flight")


def predict_calls(
    engine: Engine,
    settings: Settings,
    made_at: datetime,
    call_ids: list[int] | None = None,
    purpose: str = "served",
) -> int:
    """Predict, as of ``made_at``, the calls not yet arrived; returns the rows written.

    Calls considered: those scheduled to arrive within the serving window around ``made_at``
    (``ETA_MODEL__SERVE_BEHIND_HOURS`` before, ``ETA_MODEL__SERVE_AHEAD_HOURS`` after) — a sweep,
    logged per mode — or exactly ``call_ids``. Only observations with observed_at ≤ made_at are read.
    Served predictions are written where they changed materially (``ETA_STORE__WRITE_ON_CHANGE``).
    """
    made_at = ensure_utc(made_at)
    start, end = _window(engine, settings, made_at, call_ids)
    written = 0
    failed: list[Exception] = []
    for mode in MODES:
        # each mode on its own: a failure of the train models must not stop flight predictions
        try:
            written += _predict_mode(engine, settings, mode, made_at, start, end, call_ids, purpose)
        except Exception as exc:
            log.exception("predicting %s calls failed", mode)
            failed.append(exc)
    if failed:
        raise failed[0]
    return written


def _predict_mode(
    engine: Engine,
    settings: Settings,
    mode: str,
    made_at: datetime,
    start: datetime,
    end: datetime,
    call_ids: list[int] | None,
    purpose: str,
) -> int:
    """One mode's predictions (see :func:`predict_calls`); its champions, or earlier ones that load."""
    arrival_entry = registry.serving(engine, mode, "arrival")
    platform_entry = registry.serving(engine, mode, "platform") if mode == "train" else None
    unpublished = _unpublished(engine, settings) if mode == "train" else None
    if arrival_entry is None and platform_entry is None and unpublished is None:
        return 0
    # The whole window even for a few calls: their features look at the other trains and flights
    # (at the station, on the line, at the platforms) exactly as the sweep sees them.
    frames = load_frames(engine, mode, start, end, observed_until=made_at)
    served = None
    if arrival_entry is not None and settings.model.served_calibration:
        served = served_calibration.latest(engine, arrival_entry.version, made_at)
    rows = predict_frames(
        frames,
        mode,
        arrival_entry,
        platform_entry,
        made_at,
        call_ids,
        purpose,
        served_interval=served,
        unpublished=unpublished,
    )
    with engine.begin() as conn:
        n = _store(conn, settings, rows, made_at) if not rows.empty else 0
        if call_ids is None and purpose == SERVED:
            conn.execute(
                insert(PredictionSweep).values(mode=mode, swept_at=made_at, n_calls=len(rows), n_written=n)
            )
    return n


CONFIRM_CHUNK = 2_000


def _store(conn: Connection, settings: Settings, rows: pd.DataFrame, made_at: datetime) -> int:
    """Write ``rows``; served ones only where they changed, confirming the others' rows in force."""
    rows = rows.assign(confirmed_at=pd.Timestamp(made_at))
    table = metadata.tables["predictions"]
    if not settings.store.write_on_change or (rows["purpose"] != SERVED).any():
        return insert_ignore(conn, table, rows, settings.db_batch_size)
    current = {}
    ids = rows["call_id"].astype("int64").tolist()
    for start in range(0, len(ids), CONFIRM_CHUNK):
        current.update(in_force(conn, ids[start : start + CONFIRM_CHUNK], made_at))
    changed = material(rows, current, settings.store)
    unchanged = [current[int(c)].id for c in rows.loc[~changed, "call_id"]]
    for start in range(0, len(unchanged), CONFIRM_CHUNK):
        conn.execute(
            update(Prediction)
            .where(
                Prediction.id.in_(unchanged[start : start + CONFIRM_CHUNK]),
                (Prediction.confirmed_at < made_at) | Prediction.confirmed_at.is_(None),
            )
            .values(confirmed_at=made_at)
        )
    return insert_ignore(conn, table, rows[changed], settings.db_batch_size)


@dataclass(frozen=True)
class Unpublished:
    """Stations that announce platforms late, and the champion that predicts them there (None: no
    platform is served there before the announcement)."""

    entry: registry.Entry | None
    publication: Publication


def _unpublished(engine: Engine, settings: Settings) -> Unpublished | None:
    publication = Publication.from_settings(settings.platforms)
    if not publication.any:
        return None
    return Unpublished(registry.serving(engine, "train", platform_unpublished.TASK), publication)


def _window(
    engine: Engine, settings: Settings, made_at: datetime, call_ids: list[int] | None
) -> tuple[datetime, datetime]:
    """The serving window around ``made_at``, widened to reach ``call_ids``' scheduled times."""
    start = made_at - timedelta(hours=settings.model.serve_behind_hours)
    end = made_at + timedelta(hours=settings.model.serve_ahead_hours)
    if call_ids:
        first, last = scheduled_span(engine, call_ids)
        if first is not None and last is not None:
            start, end = min(start, first), max(end, last + timedelta(seconds=1))
    return start, end


PLATFORM_COLUMNS = ("platform", "platform_probability", "platform_announced", "platform_probs")
ARRIVAL_COLUMNS = (
    "p10_arrival",
    "p50_arrival",
    "p90_arrival",
    "model_p10_arrival",
    "model_p90_arrival",
    "interval_bucket",
    "arrival_quantiles",
    "explanation",
)


def predict_frames(
    frames: Frames,
    mode: str,
    arrival_entry: registry.Entry | None,
    platform_entry: registry.Entry | None,
    made_at: datetime,
    call_ids: list[int] | None = None,
    purpose: str = "served",
    served_interval: dict[str, Any] | None = None,
    unpublished: Unpublished | None = None,
) -> pd.DataFrame:
    """Prediction rows (the ``predictions`` table's columns) for the calls in ``frames`` not yet arrived.

    ``model_version`` is the arrival champion's version, or the platform champion's where there is no
    arrival champion. ``served_interval``: a re-calibration of the arrival champion's interval fitted on
    its served predictions (:mod:`eta.model.served_calibration`), applied on top of the model's own.
    ``unpublished``: at those stations, before the announcement, the platform columns come from the
    unpublished-platform champion (or stay empty).
    """
    queries = serving_queries(frames, made_at, call_ids)
    entry = arrival_entry or platform_entry or (unpublished.entry if unpublished else None)
    if queries.empty or entry is None:
        return pd.DataFrame()
    calls = frames.calls.set_index("call_id")
    q = queries.set_index("qid")
    sched = lookup(q["call_id"], calls["scheduled_arrival"])
    estimate = latest_estimate(queries, frames.observations, "estimated_arrival").reindex(q.index)
    rows = pd.DataFrame(
        {
            "call_id": q["call_id"].astype("int64"),
            "made_at": pd.Timestamp(made_at),
            "model_version": entry.version,
            "purpose": purpose,
            "horizon_s": (sched - pd.Timestamp(made_at)).dt.total_seconds().round().astype("int64"),
            "operator_estimate": estimate["estimated_arrival"],
        },
        index=q.index,
    )
    if arrival_entry is not None:
        rows = rows.join(_arrival_columns(frames, mode, arrival_entry, queries, served_interval))
    if platform_entry is not None:
        predictor = PlatformPredictor(registry.load(platform_entry))
        rows = rows.join(predictor.predict_queries(frames, queries))
    if unpublished is not None:
        artefact = registry.load(unpublished.entry) if unpublished.entry is not None else None
        rows = platform_unpublished.serve_unannounced(
            frames, queries, rows, artefact, unpublished.publication
        )
    for column in (*ARRIVAL_COLUMNS, *PLATFORM_COLUMNS):
        if column not in rows:
            rows[column] = None
    return rows.reset_index(drop=True)


def _arrival_columns(
    frames: Frames,
    mode: str,
    entry: registry.Entry,
    queries: pd.DataFrame,
    served_interval: dict[str, Any] | None,
) -> pd.DataFrame:
    """P10/P50/P90 arrival times (served, and the model's own bounds), the served distribution's quantiles
    (around the served interval) and the plain-words explanation."""
    model = registry.load(entry)
    predictor = ArrivalPredictor(model)
    reports = delay_reports(frames.calls, frames.observations)
    features = compute_features(mode, frames, queries, model.history, model.meta["vocabularies"], reports)
    predicted = predictor.predict(features)
    contributions, bias = predictor.contributions(features)
    sched = features["scheduled_arrival"]
    # the model's own buckets (its edges and clock): its shape, and the served interval's labels, follow them
    buckets = bucket_of(features, model.meta["calibration"])
    p10, p50, p90 = (predicted[f"p{q}_delay_s"].to_numpy() for q in (10, 50, 90))
    low, high = p10, p90
    if served_interval is not None:
        low, high = apply_interval_calibration(served_interval, p10, p50, p90, buckets)
    spread = distribution.quantiles(model.meta["calibration"].get("shape"), low, p50, high, buckets)
    encoded = [distribution.encode(row, centre) for row, centre in zip(spread, p50, strict=True)]

    def at(delay_s: Any) -> pd.Series:
        return sched + pd.to_timedelta(pd.Series(delay_s, index=features.index).round(), unit="s")

    return pd.DataFrame(
        {
            "p10_arrival": at(low),
            "p50_arrival": at(p50),
            "p90_arrival": at(high),
            "model_p10_arrival": at(p10),
            "model_p90_arrival": at(p90),
            "interval_bucket": buckets,
            "arrival_quantiles": pd.Series(encoded, index=features.index, dtype="object"),
            "explanation": explain(mode, features, contributions, bias, frames.names),
        },
        index=features.index,
    )
