"""The retraining job: first challenger becomes champion; an equal one is not promoted; the job's schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from eta.model import registry
from eta.model.retrain import JOB_ID, register_retrain_job, retrain_once
from eta.store import open_store
from tests import slices
from tests.model.conftest import small_settings

NOW = datetime(2013, 1, 15, tzinfo=UTC)


def test_retrain_promotes_only_a_better_challenger(tmp_path: Path) -> None:
    url = slices.copy_of(slices.flights_template(), tmp_path)
    settings = small_settings(url, tmp_path, n_rounds=15, retrain_window_days=6, retrain_test_days=3)
    engine = open_store(settings)
    first = retrain_once(engine, settings, NOW)
    [decision] = first.decisions
    assert decision.promoted and decision.champion is None, decision.reason
    # The same data and seed give the same model: not better by the required margin, so not promoted.
    second = retrain_once(engine, settings, NOW)
    [again] = second.decisions
    assert not again.promoted and "not better" in again.reason
    assert again.challenger_score == again.champion_score
    champion = registry.champion(engine, "flight", "arrival")
    assert champion is not None and champion.version == decision.challenger
    # Too little data: never promoted, even with no margin required.
    strict = small_settings(
        url,
        tmp_path,
        n_rounds=15,
        retrain_window_days=6,
        retrain_test_days=3,
        min_train_rows=10**9,
        promotion_min_gain=0.0,
    )
    [refused] = retrain_once(engine, strict, NOW).decisions
    assert not refused.promoted and "fewer than" in refused.reason
    engine.dispose()


def test_the_job_is_registered_once_with_coalescing(tmp_path: Path) -> None:
    settings = small_settings(f"sqlite:///{tmp_path / 's.sqlite3'}", tmp_path, retrain_every_hours=12)
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)
    try:
        register_retrain_job(scheduler, settings)
        register_retrain_job(scheduler, settings)  # idempotent: replaces, never duplicates
        [job] = scheduler.get_jobs()
    finally:
        scheduler.shutdown(wait=False)
    assert job.id == JOB_ID
    assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time >= 600
    assert job.trigger.interval.total_seconds() == 12 * 3600
