"""The collector scheduler: one well-formed job per enabled collector, after-cycle callbacks, extra jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, func, select

from eta import scheduler as eta_scheduler
from eta.collectors.runner import Cycle
from eta.config import Settings, get_settings
from eta.store import open_store
from eta.store.schema import Call
from tests.collectors.loopback import Loopback, Reply, serve
from tests.conftest import FIXTURES, REPO


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
    assert collector == "db-iris" and calls == 21 and touched > 0  # 20 planned, ICE 2956 from the change list
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


@pytest.mark.parametrize("signals", [1, 2], ids=["once", "twice"])
def test_sigterm_stops_collect_forever_cleanly(signals: int, tmp_path: Path) -> None:
    """Issue 21 §5: SIGTERM (docker stop, systemd) while a collector run is under way ends the process
    with status 0 and no traceback, also when it comes again while the run finishes."""
    with Loopback() as loopback:
        loopback.route("/v1/forecast", Reply(b"{}", content_type="application/json", delay_s=3.0))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETA_")} | {
            "ETA_DATA_DIR": str(tmp_path / "var"),
            "ETA_COLLECTORS__ENABLED": '["open-meteo"]',
            "ETA_COLLECTORS__OPEN_METEO__FORECAST_URL": f"{loopback.url}/v1/forecast",
            "PYTHONPATH": str(REPO),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "eta.cli", "collect", "--forever"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            for _ in range(1200):  # until the first run asks the source (it waits 3 s for its answer)
                if loopback.hits or process.poll() is not None:
                    break
                time.sleep(0.1)
            assert loopback.hits, "the collector never ran"
            for _ in range(signals):
                process.send_signal(signal.SIGTERM)
                time.sleep(0.3)
            _, stderr = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
    text = stderr.decode()
    assert process.returncode == 0, text[-2000:]
    assert "Traceback" not in text, text[-2000:]
