"""The scheduled retraining job: train a challenger on a rolling window, compare it with the champion on the
same recent held-out window, and promote it only if it is better.

Never promoted: a model whose files fail their integrity check, that outputs NaN (on its calibration or the
comparison window), or that was trained on fewer rows than ``ETA_MODEL__MIN_TRAIN_ROWS``. The comparison
window is the ``retrain_test_days`` before ``now``; the challenger trains on the ``retrain_window_days``
before that, so it is always scored on days it has not seen (the champion may have seen them, which only
makes promotion harder).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine

from eta._time import ensure_utc, utcnow
from eta.config import Settings
from eta.errors import EtaError
from eta.features import compute_features, departures, load_frames, unpublished
from eta.features import platforms as platform_features
from eta.features.frames import Frames
from eta.features.publication import Publication
from eta.features.queries import HORIZONS, horizon_queries, target_calls
from eta.features.reports import delay_reports, seconds
from eta.model import arrival, departure, platform_unpublished, registry
from eta.model import platform as platform_model
from eta.model.artefact import Artefact

log = logging.getLogger(__name__)

JOB_ID = "eta-model-retrain"
MISFIRE_GRACE_S = 3600
LOWER_IS_BETTER = {"mae_s": True, "log_loss": True}


@dataclass
class Decision:
    """What the job decided for one (mode, task)."""

    mode: str
    task: str
    challenger: str | None
    champion: str | None
    promoted: bool
    reason: str
    challenger_score: float | None = None
    champion_score: float | None = None


@dataclass
class RetrainResult:
    """Every decision of one run of the job."""

    now: datetime
    decisions: list[Decision] = field(default_factory=list)

    @property
    def promoted(self) -> list[str]:
        return [d.challenger for d in self.decisions if d.promoted and d.challenger]


def retrain_once(engine: Engine, settings: Settings, now: datetime) -> RetrainResult:
    """One run of the job, for every mode with data in the window."""
    now = ensure_utc(now)
    test_start = now - timedelta(days=settings.model.retrain_test_days)
    train_start = test_start - timedelta(days=settings.model.retrain_window_days)
    result = RetrainResult(now=now)
    times = (train_start, test_start, now)
    for mode in HORIZONS:
        frames = load_frames(engine, mode, train_start, now, observed_until=now)
        if target_calls(frames, train_start, test_start).empty:
            continue
        result.decisions.append(
            _retrain_arrival(engine, settings, frames, mode, train_start, test_start, now)
        )
        if mode in departure.MODES:
            result.decisions.append(
                _retrain_arrival(engine, settings, frames, mode, train_start, test_start, now, departure.TASK)
            )
        if mode == "train" and not platform_features.platform_targets(frames, train_start, test_start).empty:
            result.decisions.append(_retrain_platform(engine, settings, frames, times, platform_model))
        if mode == "train" and Publication.from_settings(settings.platforms).any:
            result.decisions.append(_retrain_platform(engine, settings, frames, times, platform_unpublished))
    for decision in result.decisions:
        log.info("retrain %s/%s: %s", decision.mode, decision.task, decision.reason)
    return result


def _retrain_arrival(
    engine: Engine,
    settings: Settings,
    frames: Frames,
    mode: str,
    train_start: datetime,
    test_start: datetime,
    now: datetime,
    task: str = "arrival",
) -> Decision:
    """The arrival model, or (``task`` departure) the departure model on the departure view, trained on
    [train_start, test_start) and promoted where its MAE on [test_start, now) beats the champion's."""
    kind = departure if task == departure.TASK else arrival
    scored = departures.view(frames) if task == departure.TASK else frames
    try:
        model = kind.train(frames, mode, train_start, test_start, settings)
    except EtaError as exc:
        return Decision(mode, task, None, None, False, f"training failed: {exc}")
    entry = registry.register(engine, settings, model, arrival.version_for(model.meta))
    return _decide(
        engine, settings, entry, lambda a: arrival_score(scored, mode, a, test_start, now), "mae_s"
    )


def _retrain_platform(
    engine: Engine,
    settings: Settings,
    frames: Frames,
    times: tuple[datetime, datetime, datetime],
    kind: Any,
) -> Decision:
    """A platform model (``kind``: ``platform_model``, or ``platform_unpublished`` for the stations that
    announce late) trained on [train_start, test_start), registered, and promoted where its log loss on the
    recent days [test_start, now) is better than the champion's."""
    train_start, test_start, now = times
    if kind is platform_model:
        task, score = "platform", platform_score
    else:
        task, score = platform_unpublished.TASK, unpublished_score
    try:
        model = kind.train(frames, train_start, test_start, settings)
    except EtaError as exc:
        return Decision("train", task, None, None, False, f"training failed: {exc}")
    entry = registry.register(engine, settings, model, arrival.version_for(model.meta))
    return _decide(engine, settings, entry, lambda a: score(frames, a, test_start, now), "log_loss")


def _decide(engine: Engine, settings: Settings, entry: registry.Entry, score: Any, metric: str) -> Decision:
    champion = registry.champion(engine, entry.mode, entry.task)
    current = champion.version if champion else None
    decision = Decision(entry.mode, entry.task, entry.version, current, False, "")
    try:
        challenger_model = registry.check_promotable(entry, settings)
    except registry.PromotionRefusedError as exc:
        decision.reason = f"not promoted: {exc}"
        return decision
    challenger_score = score(challenger_model)
    decision.challenger_score = challenger_score
    if not np.isfinite(challenger_score):
        decision.reason = f"not promoted: {entry.version} outputs NaN on the comparison window"
        return decision
    if champion is not None:
        try:
            champion_score = score(registry.load(champion))
        except EtaError as exc:  # a broken champion is replaced
            champion_score = float("inf")
            log.warning("champion %s cannot be scored: %s", champion.version, exc)
        decision.champion_score = champion_score
        needed = champion_score * (1 - settings.model.promotion_min_gain)
        if not challenger_score < needed:
            decision.reason = (
                f"not promoted: {metric} {challenger_score:.4g} is not better than the champion's "
                f"{champion_score:.4g} by {settings.model.promotion_min_gain:.0%}"
            )
            return decision
    registry.promote(engine, settings, entry.version)
    decision.promoted = True
    decision.reason = f"promoted {entry.version} ({metric} {challenger_score:.4g})" + (
        f" over {champion.version} ({decision.champion_score:.4g})" if champion else " (no champion yet)"
    )
    return decision


def arrival_score(frames: Frames, mode: str, model: Artefact, start: datetime, end: datetime) -> float:
    """MAE (s) of the model's P50 over every call and horizon in [start, end); NaN if any output is NaN."""
    targets = target_calls(frames, start, end)
    queries = horizon_queries(frames, targets, HORIZONS[mode])
    if queries.empty:
        return float("nan")
    reports = delay_reports(frames.calls, frames.observations)
    features = compute_features(mode, frames, queries, model.history, model.meta["vocabularies"], reports)
    predicted = arrival.ArrivalPredictor(model).predict(features)
    if predicted.isna().to_numpy().any():
        return float("nan")
    actual = seconds(
        queries.set_index("qid")["actual_arrival"].reindex(features.index) - features["scheduled_arrival"]
    )
    return float(np.mean(np.abs(actual.to_numpy() - predicted["p50_delay_s"].to_numpy())))


def platform_score(frames: Frames, model: Artefact, start: datetime, end: datetime) -> float:
    """Log loss of the final platform over the platform queries in [start, end)."""
    targets = platform_features.platform_targets(frames, start, end)
    queries = platform_model.platform_queries(frames, targets, HORIZONS["train"])
    if queries.empty:
        return float("nan")
    predictor = platform_model.PlatformPredictor(model)
    pairs = platform_features.compute_features(frames, queries, model.history, model.meta["vocabularies"])
    probability = predictor.probabilities(pairs)
    if probability.isna().to_numpy().any():
        return float("nan")
    final = queries.set_index("qid")["final_platform"].astype(str)
    hit = pairs["candidate"] == pairs["qid"].map(final)
    p_final = probability[hit].groupby(pairs.loc[hit, "qid"]).sum().reindex(final.index).fillna(0.0)
    return float(-np.mean(np.log(np.clip(p_final.to_numpy(), 1e-6, 1.0))))


def unpublished_score(frames: Frames, model: Artefact, start: datetime, end: datetime) -> float:
    """Log loss of the final platform over the unpublished-mode queries in [start, end) (every station
    announcing at the model's own lead)."""
    targets = unpublished.platform_targets(frames, start, end)
    lead_s = int(model.meta["announce_lead_s"])
    queries = platform_unpublished.queries_for(frames, targets, unpublished.HORIZONS, lead_s)
    if queries.empty:
        return float("nan")
    predictor = platform_unpublished.UnpublishedPlatformPredictor(model, Publication.all_stations(lead_s))
    pairs = predictor.pairs(frames, queries)
    if pairs["probability"].isna().to_numpy().any():
        return float("nan")
    final = queries.set_index("qid")["final_platform"].astype(str)
    hit = pairs["candidate"] == pairs["qid"].map(final)
    p_final = pairs.loc[hit].groupby("qid")["probability"].sum().reindex(final.index).fillna(0.0)
    return float(-np.mean(np.log(np.clip(p_final.to_numpy(), 1e-6, 1.0))))


def _run_job(settings: Settings) -> RetrainResult:
    from eta.store import open_store

    engine = open_store(settings)
    try:
        return retrain_once(engine, settings, utcnow())
    finally:
        engine.dispose()


def register_retrain_job(scheduler: Any, settings: Settings) -> Any:
    """Add the retraining job to an APScheduler 3.x scheduler (every ``retrain_every_hours``)."""
    return scheduler.add_job(
        _run_job,
        trigger="interval",
        hours=settings.model.retrain_every_hours,
        args=[settings],
        id=JOB_ID,
        name="train a challenger, compare it with the champion, promote if better",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=MISFIRE_GRACE_S,
        replace_existing=True,
    )
