"""``eta collect --forever``: one APScheduler 3 job per enabled collector, in its own process.

Each job has an explicit id (``collect:<name>``), ``coalesce=True`` (missed runs collapse into one),
``max_instances=1`` (a slow run is never overlapped by the next) and a misfire grace of one interval.
Two hooks let other parts join the same process without editing this file's logic:

* ``after_cycle`` callbacks run after every collector run with a :class:`Cycle` (e.g. re-predict the
  calls that just got new observations); :func:`after_cycle_callbacks` returns the ones wired in.
* :func:`register_extra_jobs` adds jobs beside the collectors (e.g. the scheduled retraining).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import Engine

from eta.collectors.registry import make_adapter
from eta.collectors.runner import AfterCycle, Cycle, Runner, RunResult
from eta.config import Settings

log = logging.getLogger("eta.scheduler")


ExtraJobs = Callable[[BaseScheduler, Settings], None]


def repredict(cycle: Cycle) -> None:
    """Predict again, as of the cycle's time, every call of the services that just got news."""
    from eta.model.predict import predict_calls
    from eta.store.queries import calls_of_same_services

    if cycle.call_ids:
        # calls beyond the serving window get their predictions from the sweep that reaches them
        model = cycle.settings.model
        window = (
            cycle.made_at - timedelta(hours=model.serve_behind_hours),
            cycle.made_at + timedelta(hours=model.serve_ahead_hours),
        )
        calls = calls_of_same_services(cycle.engine, cycle.call_ids, arriving_between=window)
        written = predict_calls(cycle.engine, cycle.settings, cycle.made_at, calls)
        log.info("%s: %d predictions after the cycle", cycle.collector, written)


def recalibrate(cycle: Cycle) -> None:
    """Re-fit each arrival champion's served interval on its served predictions, as of the cycle's time."""
    from eta.model import registry, served_calibration
    from eta.model.predict import MODES

    for mode in MODES:
        entry = registry.champion(cycle.engine, mode, "arrival")
        if entry is not None:
            served_calibration.refresh(cycle.engine, cycle.settings, entry.version, cycle.made_at)


class Repredictor:
    """After each cycle: re-predict what got news; and, once per ``sweep_every_s`` of the cycles' own
    clock, every call in the serving window, so that predictions follow the clock (the horizon shrinks)
    even for trains and flights nothing new was heard about. Before a sweep, once per
    ``served_calibration_every_s``, the served interval is re-calibrated (:func:`recalibrate`)."""

    def __init__(self, sweep_every_s: int, recalibrate_every_s: int | None = None) -> None:
        self.sweep_every = timedelta(seconds=sweep_every_s)
        self.recalibrate_every = (
            None if recalibrate_every_s is None else timedelta(seconds=recalibrate_every_s)
        )
        self.last_sweep: datetime | None = None
        self.last_recalibration: datetime | None = None
        self._lock = threading.Lock()

    def __call__(self, cycle: Cycle) -> None:
        from eta.model.predict import predict_calls

        with self._lock:
            due = self.last_sweep is None or cycle.made_at - self.last_sweep >= self.sweep_every
            if due:
                self.last_sweep = cycle.made_at
            recalibration_due = due and self._recalibration_due(cycle.made_at)
        if recalibration_due:
            recalibrate(cycle)
        if due:
            written = predict_calls(cycle.engine, cycle.settings, cycle.made_at)
            log.info("%s: swept the serving window, %d predictions", cycle.collector, written)
        else:
            repredict(cycle)

    def _recalibration_due(self, now: datetime) -> bool:
        if self.recalibrate_every is None:
            return False
        if self.last_recalibration is not None and now - self.last_recalibration < self.recalibrate_every:
            return False
        self.last_recalibration = now
        return True


def repredictor(settings: Settings) -> Repredictor:
    """The after-cycle re-prediction of ``settings``, re-calibrating the served interval where enabled."""
    model = settings.model
    every = model.served_calibration_every_s if model.served_calibration else None
    return Repredictor(model.sweep_every_s, every)


def after_cycle_callbacks(settings: Settings) -> list[AfterCycle]:
    """Callbacks run after each collector cycle of ``eta collect --forever``: re-prediction."""
    return [repredictor(settings)]


STATISTICS_JOB_ID = "store-statistics"
RETENTION_JOB_ID = "store-retention"


def register_extra_jobs(scheduler: BaseScheduler, settings: Settings) -> None:
    """Jobs beside the collectors: the scheduled retraining (train, compare with the champion, promote),
    and hourly planner statistics as the collectors grow the store."""
    from eta.model.retrain import register_retrain_job

    register_retrain_job(scheduler, settings)
    scheduler.add_job(
        run_retention,
        trigger="interval",
        hours=settings.store.prune_every_hours,
        args=[settings],
        id=RETENTION_JOB_ID,
        name="apply the store's retentions (roll up old predictions, prune payloads, runs, deliveries)",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=600,
        next_run_time=datetime.now(UTC) + timedelta(minutes=5),
        replace_existing=True,
    )
    scheduler.add_job(
        refresh_store_statistics,
        trigger="interval",
        hours=1,
        args=[settings],
        id=STATISTICS_JOB_ID,
        name="refresh the store's query planner statistics",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=600,
        replace_existing=True,
    )


def prune_store(engine: Engine, settings: Settings, now: datetime, *, dry_run: bool = False) -> list[Any]:
    """Every retention as of ``now``: served predictions rolled up then deleted, then the plain tables
    (raw payloads and their files, collector runs, finished deliveries, old calibrations, aggregates),
    then old models (rows and files)."""
    from eta.api.rollup import roll_up_predictions
    from eta.model.retention import prune_models
    from eta.store.retention import prune_tables

    return [
        *roll_up_predictions(engine, settings, now, dry_run=dry_run),
        *prune_tables(engine, settings, now, dry_run=dry_run),
        prune_models(engine, settings, now, dry_run=dry_run),
    ]


def run_retention(settings: Settings) -> None:
    """The scheduler's retention job, on the real clock."""
    from eta.store.engine import make_engine

    engine = make_engine(settings.resolved_database_url)
    try:
        for pruned in prune_store(engine, settings, datetime.now(UTC)):
            if pruned.rows:
                log.info(
                    "retention: %s %d rows before %s", pruned.table, pruned.rows, pruned.cutoff.isoformat()
                )
    finally:
        engine.dispose()


def refresh_store_statistics(settings: Settings) -> None:
    from eta.store.engine import make_engine, refresh_statistics

    engine = make_engine(settings.resolved_database_url)
    try:
        refresh_statistics(engine)
    finally:
        engine.dispose()


def run_cycle(runner: Runner, settings: Settings, callbacks: Sequence[AfterCycle]) -> RunResult:
    """One collector run, then every callback; a failing callback is logged and does not stop the others."""
    result = runner.run_once()
    if result.skipped:
        return result
    cycle = Cycle(runner.name, result, runner.engine, settings)
    for callback in callbacks:
        try:
            callback(cycle)
        except Exception:
            log.exception("after-cycle callback %r failed for %s", callback, runner.name)
    return result


def add_collector_jobs(
    scheduler: BaseScheduler,
    settings: Settings,
    engine: Engine,
    *,
    session: requests.Session | None = None,
    callbacks: Sequence[AfterCycle] = (),
    names: Sequence[str] | None = None,
) -> list[str]:
    """One interval job per collector (default: ``settings.collectors.enabled``); returns the job ids."""
    ids = []
    wanted = list(names if names is not None else settings.collectors.enabled)
    adapters = [make_adapter(name, settings) for name in wanted]  # a misconfigured one fails before any job
    for name, adapter in zip(wanted, adapters, strict=True):
        runner = Runner(adapter, engine, settings, session=session or requests.Session())
        job_id = f"collect:{name}"
        scheduler.add_job(
            run_cycle,
            "interval",
            args=(runner, settings, list(callbacks)),
            seconds=adapter.interval_s,
            id=job_id,
            name=f"collect {name}",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=adapter.interval_s,
            next_run_time=datetime.now(UTC),
            replace_existing=True,
        )
        ids.append(job_id)
    return ids


def run_forever(settings: Settings, engine: Engine) -> None:
    """Block, running every enabled collector on its interval (and the extra jobs) until interrupted."""
    if not settings.collectors.enabled:
        from eta.errors import InputError

        raise InputError('no collectors enabled; set ETA_COLLECTORS__ENABLED, e.g. ["db-iris"]')
    if settings.collectors.metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(settings.collectors.metrics_port)
        log.info("metrics on :%d/metrics", settings.collectors.metrics_port)
    scheduler = BlockingScheduler(timezone=UTC)
    add_collector_jobs(scheduler, settings, engine, callbacks=after_cycle_callbacks(settings))
    register_extra_jobs(scheduler, settings)
    log.info("scheduling %s", ", ".join(job.id for job in scheduler.get_jobs()))
    # docker stop / systemd send SIGTERM: finish the running batch's transaction, then stop
    signal.signal(signal.SIGTERM, _on_sigterm(scheduler))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("stopped")
    finally:
        for job in scheduler.get_jobs():  # push subscriptions are closed, not left to the process's end
            runner = job.args[0] if job.args else None
            if isinstance(runner, Runner):
                runner.adapter.close()


def _on_sigterm(scheduler: BlockingScheduler) -> Callable[..., None]:
    """SIGTERM: stop scheduling; the run under way finishes its batch. A second SIGTERM while it does is
    only logged (it raised SchedulerNotRunningError); one before the scheduler runs just exits."""
    stopping: list[bool] = []

    def stop(*_: object) -> None:
        if stopping:
            log.info("SIGTERM: already stopping; the runs under way finish their batch")
        elif scheduler.running:
            stopping.append(True)
            log.info("SIGTERM: stopping after the runs under way")
            scheduler.shutdown(wait=False)
        else:
            raise SystemExit(0)

    return stop
