"""The collector scheduler: one well-formed job per enabled collector, after-cycle callbacks, extra jobs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, func, select

from eta import scheduler as eta_scheduler
from eta.collectors.runner import Cycle
from eta.config import Settings, get_settings
from eta.store import open_store
from eta.store.schema import Call
from tests.collectors.loopback import Loopback, Reply, serve
from tests.conftest import FIXTURES


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    yield from serve()


@pytest.fixture
def iris(settings: Settings, loopback: Loopback, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ETA_COLLECTORS__ENABLED", '["db-iris"]')
    monkeypatch.setenv("ETA_COLLECTORS__DB_IRIS__BASE_URL", loopback.url)
    monkeypatch.setenv("ETA_COLLECTORS__DB_IRIS__STATIONS", '["8000001"]')
    monkeypatch.setenv("ETA_COLLECTORS__DB_IRIS__PLAN_HOURS_AHEAD", "0")
    monkeypatch.setenv("ETA_COLLECTORS__DB_IRIS__INTERVAL_S", "45")
    get_settings.cache_clear()
    loopback.route("/plan/8000001/*", Reply((FIXTURES / "db_iris" / "08000001_plan_10.xml").read_bytes()))
    loopback.route(
        "/fchg/8000001", Reply((FIXTURES / "db_iris" / "08000001_fchg_10_EXCERPT.xml").read_bytes())
    )
    return get_settings()


def test_each_enabled_collector_is_one_coalescing_single_instance_job(store: Engine, iris: Settings) -> None:
    scheduler = BackgroundScheduler(timezone=UTC)
    ids = eta_scheduler.add_collector_jobs(scheduler, iris, store)
    assert ids == ["collect:db-iris"]
    job = scheduler.get_job("collect:db-iris")
    assert job.coalesce is True and job.max_instances == 1
    assert job.misfire_grace_time == 45
    assert job.trigger.interval.total_seconds() == 45


def test_a_cycle_runs_the_collector_then_the_callbacks(store: Engine, iris: Settings) -> None:
    """A real callback (count the calls the cycle touched, as re-prediction would) runs after the job."""
    done = threading.Event()
    seen: list[tuple[str, int, int, datetime]] = []

    def count_touched(cycle: Cycle) -> None:
        with cycle.engine.connect() as conn:
            calls = conn.execute(select(func.count()).select_from(Call)).scalar_one()
        seen.append((cycle.collector, len(cycle.call_ids), calls, cycle.made_at))
        done.set()

    def broken(cycle: Cycle) -> None:
        raise RuntimeError("a failing callback must not stop the others")

    scheduler = BackgroundScheduler(timezone=UTC)
    eta_scheduler.add_collector_jobs(scheduler, iris, store, callbacks=[broken, count_touched])
    scheduler.start()
    try:
        assert done.wait(30), "the job did not run"
    finally:
        scheduler.shutdown(wait=True)
    (collector, touched, calls, made_at) = seen[0]
    assert collector == "db-iris" and calls == 20 and touched > 0
    assert made_at.tzinfo is not None


def test_the_scheduler_repredicts_after_each_cycle_and_retrains_on_its_own_job(iris: Settings) -> None:
    scheduler = BackgroundScheduler(timezone=UTC)
    eta_scheduler.register_extra_jobs(scheduler, iris)
    (callback,) = eta_scheduler.after_cycle_callbacks(iris)
    assert isinstance(callback, eta_scheduler.Repredictor)
    assert callback.sweep_every.total_seconds() == iris.model.sweep_every_s
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"eta-model-retrain", eta_scheduler.STATISTICS_JOB_ID, eta_scheduler.RETENTION_JOB_ID}
    assert all(job.coalesce is True and job.max_instances == 1 for job in jobs.values())
    assert (
        jobs[eta_scheduler.RETENTION_JOB_ID].trigger.interval.total_seconds()
        == 3600 * iris.store.prune_every_hours
    )
    open_store(iris).dispose()
    eta_scheduler.refresh_store_statistics(iris)  # the jobs' functions run against the configured store
    eta_scheduler.run_retention(iris)
