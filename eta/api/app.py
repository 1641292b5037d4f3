"""The FastAPI application: traveller API, operator API and dashboard, GTFS-RT feed, health and metrics."""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import Engine

from eta.api import shares
from eta.api.accuracy_view import AccuracyView
from eta.api.cache import AnswerCache
from eta.api.deps import AppState
from eta.api.lookup import Lookup
from eta.api.metrics import ApiMetrics
from eta.api.middleware import BodyLimit, Observe, SecurityHeaders
from eta.api.problems import install_problem_handlers
from eta.api.proxies import TrustedProxies
from eta.api.ratelimit import TokenBuckets
from eta.api.readiness import Readiness
from eta.api.store_health import StoreGuard, StoreHealth
from eta.api.trip_cache import StoreGeneration, TripAnswers
from eta.clock import Clock, clock_from
from eta.config import Settings
from eta.features.publication import Publication
from eta.parking import ParkingReference
from eta.store import open_store

log = logging.getLogger("eta.api")


# The operator accuracy's precomputed join covers its default window (7 days) and the dashboard's, and,
# on a replayed store, the rest of the served day beyond the clock.
ACCURACY_SPAN = timedelta(days=7)
ACCURACY_AHEAD = timedelta(days=1)


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
    freeze_gc: bool = False,
) -> FastAPI:
    """Build the app for ``settings``; ``engine`` and ``clock`` may be given (tests, replay).

    ``freeze_gc`` (``eta serve``): once started, keep everything made until then out of the garbage
    collector's full passes (:func:`gc.freeze`), and collect less often (:data:`SERVING_GC_THRESHOLDS`).
    The process's modules, app and caches are some 200,000 objects that live as long as it does; walking
    them made full collections take 100-300 ms under load, the slowest 1 % of answers. A test process,
    which starts many apps, does neither.
    """
    engine = engine or open_store(settings, service=True)
    clock = clock or clock_from(settings.api.replay_from)
    metrics = ApiMetrics()
    readiness = Readiness(engine, settings, clock)
    readiness.store_health = StoreHealth(engine, settings.database)
    state = AppState(
        settings=settings,
        engine=engine,
        clock=clock,
        lookup=Lookup(
            ParkingReference.load(settings.reference_dir / "parking"),
            settings.api.timetable_ttl_s,
            Publication.from_settings(settings.platforms),
            settings.platforms.change_flag_probability,
            settings.model.serve_behind_hours * 3600,
            settings.model.serve_ahead_hours * 3600,
        ),
        metrics=metrics,
        readiness=readiness,
        buckets=TokenBuckets(settings.api.rate_limit_per_minute, settings.api.rate_limit_burst),
        answers=AnswerCache(settings.api.cache_ttl_s),
        creations=TokenBuckets(settings.alerts.create_per_hour / 60, settings.alerts.create_burst),
        login_failures=TokenBuckets(
            settings.api.login_failures_per_hour / 60, settings.api.login_failures_burst
        ),
        scrapes=TokenBuckets(settings.api.rate_limit_per_minute, settings.api.rate_limit_burst),
        accuracy=AccuracyView(
            engine, span=ACCURACY_SPAN, ahead=ACCURACY_AHEAD, stale_s=settings.api.accuracy_stale_s
        ),
        trips=(
            TripAnswers(StoreGeneration(engine, settings.api.store_poll_s))
            if settings.api.cache_ttl_s > 0
            else None
        ),
    )
    app = FastAPI(
        title="eta",
        version="1",
        summary="When will a flight or train really arrive, and at which platform or gate?",
        lifespan=_lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,  # served offline by eta.api.routes.docs (FastAPI's own pages load a CDN)
        redoc_url=None,
    )
    app.state.eta = state
    app.state.freeze_gc = freeze_gc
    install_problem_handlers(app)
    from eta.api.routes import (
        boards,
        connections,
        docs,
        feeds,
        health,
        operators,
        search,
        shares,
        subscriptions,
        trips,
    )

    for module in (health, trips, boards, connections, search, subscriptions, shares, operators, feeds, docs):
        app.include_router(module.router)
    from eta.api.dashboard import routes as dashboard
    from eta.web import routes as web

    app.include_router(dashboard.router)
    if state.accuracy is not None:
        view = state.accuracy
        view.after_kept = lambda kept: dashboard.predraw(state, kept.now)
    app.include_router(web.router)
    app.add_middleware(StoreGuard, health=readiness.store_health)
    app.add_middleware(BodyLimit, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(Observe, metrics=metrics)
    if settings.api.trust_forwarded_for:
        app.add_middleware(TrustedProxies, trusted=settings.api.trusted_proxies)
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, the app's and the middlewares'
    return app


def _operation_id(route: APIRoute) -> str:
    """Operation ids are the route functions' names unless a route sets one: stable across versions."""
    return route.name


# Under load, the objects of the requests in flight survive the young collections and pile up until a full
# one: with CPython's (700, 10, 10) that came every 2-3 s, 25-80 ms each, freeing nothing (measured at 64
# clients). Young collections 30 times rarer keep full ones to every few minutes; each young one stays < 2 ms.
SERVING_GC_THRESHOLDS = (20_000, 50, 100)
# Share links past their latest life are deleted this often (opening or making one also deletes them).
SHARE_PURGE_INTERVAL_S = 3_600.0
# Rows and bytes per table (eta_store_rows, eta_store_bytes) are measured this often: SQLite's dbstat reads
# every page of the file, seconds on a large store, so never on a scrape.
STORE_SIZES_INTERVAL_S = 600.0
# The background tasks get this long to end at shutdown; one still running then is logged and left.
SHUTDOWN_TASKS_S = 10.0


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: AppState = app.state.eta
    await asyncio.to_thread(state.readiness.refresh)
    if state.accuracy is not None and state.settings.api.accuracy_stale_s > 0:
        state.accuracy.warm(state.clock())  # so that the first operator request is answered from memory
    health = state.readiness.store_health
    loop = asyncio.get_running_loop()
    tasks = []
    if health is not None:
        # back from an outage: check readiness again now, not at the next interval
        health.on_recovered = lambda: _refresh_soon(loop, state.readiness.refresh)
        tasks.append(asyncio.create_task(health.run()))
    tasks += [
        asyncio.create_task(_every(state.settings.api.refresh_interval_s, state.readiness.refresh)),
        asyncio.create_task(
            _every(SHARE_PURGE_INTERVAL_S, lambda: shares.purge_expired(state.engine, state.clock()))
        ),
        asyncio.create_task(_store_sizes(state)),
    ]
    if state.trips is not None:
        state.trips.generation.start()
    if app.state.freeze_gc:
        gc.collect()
        gc.freeze()
        gc.set_threshold(*SERVING_GC_THRESHOLDS)
    if state.settings.alerts.cycle_interval_s > 0:
        from eta.alerts.cycle import AlertCycle

        cycle = AlertCycle(state.engine, state.settings, state.clock, state.metrics)
        tasks.append(asyncio.create_task(_every(state.settings.alerts.cycle_interval_s, cycle.run_once)))
    try:
        yield
    finally:
        if state.trips is not None:
            state.trips.generation.stop()
        await cancel_all(tasks)
        if health is not None:
            health.close()
        if state.accuracy is not None:
            await asyncio.to_thread(state.accuracy.close)


async def cancel_all(tasks: list[asyncio.Task[None]], timeout_s: float = SHUTDOWN_TASKS_S) -> None:
    """Cancel the tasks until they have ended, for at most ``timeout_s``. On Python 3.11
    ``asyncio.wait_for`` swallows a cancellation that arrives as its inner future completes (CPython
    gh-86296): the store probe's loop then went on probing and the shutdown waited for ever, so a task is
    asked again until it ends. One that still runs after ``timeout_s`` is left, logged with its stack: a
    shutdown that never ends is worse (a test run or a deployment waits on it)."""
    pending = set(tasks)
    deadline = time.monotonic() + timeout_s
    while pending and (left_s := deadline - time.monotonic()) > 0:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(1.0, left_s))
    for task in pending:
        stack = io.StringIO()
        task.print_stack(file=stack)
        log.error(
            "background task %s still runs %g s after shutdown began; left\n%s",
            task.get_name(),
            timeout_s,
            stack.getvalue(),
        )
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("background task failed at shutdown", exc_info=task.exception())


def _refresh_soon(loop: asyncio.AbstractEventLoop, work: Callable[[], object]) -> None:
    task = loop.create_task(asyncio.to_thread(work))
    _background.add(task)
    task.add_done_callback(_background.discard)


_background: set[asyncio.Task[object]] = set()


async def _store_sizes(state: AppState) -> None:
    """The store's rows and bytes per table as gauges: at start, then every ``STORE_SIZES_INTERVAL_S``."""
    from eta.store.sizes import table_sizes

    while True:
        try:
            state.metrics.record_store_sizes(await asyncio.to_thread(table_sizes, state.engine))
        except Exception:
            log.exception("measuring the store's size failed")
        await asyncio.sleep(STORE_SIZES_INTERVAL_S)


async def _every(interval_s: float, work: Callable[[], object]) -> None:
    """Run ``work`` in a thread every ``interval_s``; a failure is logged and retried next time."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await asyncio.to_thread(work)
        except Exception:
            log.exception("background task %s failed", getattr(work, "__qualname__", work))
