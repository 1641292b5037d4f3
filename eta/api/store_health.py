"""Whether the store answers, checked every second in the background, and 503 while it does not.

A database that stops answering (a network partition, a black-holed connection, a full disk) must not
hang requests: :class:`StoreHealth` runs ``SELECT 1`` on a fresh connection every
``ETA_DATABASE__PROBE_INTERVAL_S``; one that takes longer than ``probe_timeout_s`` or fails marks the
store unavailable. :class:`StoreGuard` then answers requests still waiting on the store, and new ones
that do not finish within a second, with 503, ``Retry-After`` and an RFC 9457 body; ``/livez``,
``/readyz`` and ``/metrics`` are answered as always (``/readyz`` says 503). The work of an answered
request goes on in its thread and ends when the store answers or the statement watchdog
(:mod:`eta.store.watchdog`) closes its connection; the first probe that succeeds ends the outage.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from contextlib import suppress

from sqlalchemy import Engine, text
from sqlalchemy.pool import NullPool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eta.api.problems import PROBLEM_JSON
from eta.config import DatabaseSettings

log = logging.getLogger("eta.api")
EXEMPT = frozenset({"/livez", "/readyz", "/metrics"})
# An answer that needs no store (a page's assets, a cached answer) still comes while the store is away.
GRACE_S = 1.0
MAX_PROBES_WAITING = 3  # probes stuck on an unanswered connection; no more are started meanwhile


class StoreHealth:
    """The store's availability as the latest probes saw it (``available``; ``down`` is set while not)."""

    def __init__(self, engine: Engine, settings: DatabaseSettings) -> None:
        self.settings = settings
        self.engine = _probe_engine(engine, settings)
        self._own_engine = self.engine is not engine
        self.available = True
        self.reason: str | None = None
        self.down_since: float | None = None  # time.monotonic()
        self.down = asyncio.Event()
        self.on_recovered: Callable[[], None] | None = None
        self._waiting = 0
        self._lock = threading.Lock()

    async def run(self) -> None:
        """Probe for ever (a task of the app's lifespan)."""
        while True:
            await self.probe_once()
            await asyncio.sleep(self.settings.probe_interval_s)

    async def probe_once(self) -> bool:
        """Run one probe; whether the store answered within ``probe_timeout_s``."""
        if self._waiting >= MAX_PROBES_WAITING:
            self._mark(False, "the store has not answered earlier checks")
            return False
        with self._lock:
            self._waiting += 1
        probe = asyncio.ensure_future(asyncio.to_thread(self._select_one))
        probe.add_done_callback(lambda _: self._done_waiting())
        try:
            await asyncio.wait_for(asyncio.shield(probe), self.settings.probe_timeout_s)
        except TimeoutError:
            probe.add_done_callback(_retrieve)
            self._mark(False, f"the store did not answer within {self.settings.probe_timeout_s:g} s")
            return False
        except Exception as exc:
            self._mark(False, f"the store is unreachable ({type(exc).__name__})")
            return False
        self._mark(True, None)
        return True

    def _select_one(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def _done_waiting(self) -> None:
        with self._lock:
            self._waiting -= 1

    def _mark(self, available: bool, reason: str | None) -> None:
        was = self.available
        self.available, self.reason = available, reason
        if not available and was:
            self.down_since = time.monotonic()
            self.down.set()
            log.error("store unavailable: %s; answering 503 until it is back", reason)
        elif available and not was:
            lasted = time.monotonic() - (self.down_since or time.monotonic())
            self.down_since = None
            self.down.clear()
            log.warning("store available again after %.0f s", lasted)
            if self.on_recovered is not None:
                self.on_recovered()

    def close(self) -> None:
        if self._own_engine:
            self.engine.dispose()


def _probe_engine(engine: Engine, settings: DatabaseSettings) -> Engine:
    """A fresh connection per probe on PostgreSQL (a pooled one may be the stuck one); SQLite's own."""
    if engine.dialect.name != "postgresql":
        return engine
    from eta.store.engine import make_engine

    url = engine.url.render_as_string(hide_password=False)
    return make_engine(url, service=True, database=settings, poolclass=NullPool)


def _retrieve(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()


def unavailable_body(path: str | None, retry_after_s: int, reason: str | None = None) -> bytes:
    """The RFC 9457 problem answered while the store is unavailable."""
    detail = "the database does not answer"
    detail += f" ({reason})" if reason else ""
    detail += f"; try again in {retry_after_s} s"
    return json.dumps(
        {
            "type": "/problems/store-unavailable",
            "title": "Store unavailable",
            "status": 503,
            "detail": detail,
            "instance": path,
        }
    ).encode()


class StoreGuard:
    """Answers 503 for requests that wait on a store that has stopped answering (see the module)."""

    def __init__(self, app: ASGIApp, health: StoreHealth) -> None:
        self.app = app
        self.health = health
        self._abandoned: set[asyncio.Future[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in EXEMPT:
            await self.app(scope, receive, send)
            return
        started = abandoned = False

        async def guarded(message: Message) -> None:
            nonlocal started
            if abandoned:
                return  # answered 503 already
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded))
        try:
            while not await self._finished_or_down(task):
                with suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(task), GRACE_S)
                if task.done() or started:
                    await task
                    return
                abandoned = True
                self._abandon(task)
                await self._unavailable(scope, send)
                return
        except asyncio.CancelledError:
            task.cancel()
            raise
        task.result()

    async def _finished_or_down(self, task: asyncio.Future[None]) -> bool:
        """Wait for the request or for the store to be found unavailable; True: the request finished."""
        if task.done():
            return True
        down: asyncio.Future[object] = asyncio.ensure_future(self.health.down.wait())
        waiting: set[asyncio.Future[object]] = {down, task}  # type: ignore[arg-type]
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            down.cancel()
        return task.done()

    def _abandon(self, task: asyncio.Future[None]) -> None:
        self._abandoned.add(task)

        def done(finished: asyncio.Future[None]) -> None:
            self._abandoned.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                log.debug("a request answered 503 failed later", exc_info=finished.exception())

        task.add_done_callback(done)

    async def _unavailable(self, scope: Scope, send: Send) -> None:
        retry = self.health.settings.retry_after_s
        body = unavailable_body(scope.get("path"), retry, self.health.reason)
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
