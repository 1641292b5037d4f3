"""Closes the connection of a PostgreSQL statement that waits far past its statement timeout.

The server cancels a slow statement itself (``statement_timeout``). A statement still waiting well after
that means the server cannot answer us: the network path dropped our packets (a black-holed connection
through a proxy or a firewall whose TCP keepalives are still answered). The client would then wait for
ever, holding its pooled connection and its thread. Shutting the socket down ends the wait with an error:
the connection is discarded by the pool, the caller sees a store error, and the service recovers by itself
once the database is reachable again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event

log = logging.getLogger("eta.store")
CHECK_EVERY_S = 0.5

# id(DBAPI connection) -> (monotonic start of its statement, its socket's file descriptor, limit in s)
_running: dict[int, tuple[float, int, float]] = {}
_limits: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_thread: threading.Thread | None = None
_closed = 0


def watch(engine: Engine, limit_s: float) -> None:
    """Watch every statement ``engine`` runs; close the connection of one running over ``limit_s``."""
    _limits[engine] = limit_s

    @event.listens_for(engine, "before_cursor_execute")
    def _started(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        driver = conn.connection.driver_connection
        fd = _socket_of(driver)
        if fd is not None:
            _running[id(driver)] = (time.monotonic(), fd, limit_s)
        _start()

    # The round trips that are not a cursor's statement would wait for ever on a silent connection as well:
    # the pool's pre-ping, and a transaction's end (a rollback sent as the path went silent held its thread,
    # and with it the app's shutdown and the process's exit). The pool's reset on return is a rollback too.
    dialect = engine.dialect
    for name in ("do_ping", "do_rollback", "do_commit"):
        setattr(dialect, name, _watched(getattr(dialect, name), limit_s))

    @event.listens_for(engine, "after_cursor_execute")
    def _finished(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        _running.pop(id(conn.connection.driver_connection), None)

    @event.listens_for(engine, "handle_error")
    def _failed(context: Any) -> None:
        conn = context.connection
        if conn is not None and not conn.invalidated:
            driver = getattr(conn.connection, "driver_connection", None)
            if driver is not None:
                _running.pop(id(driver), None)


def _watched(call: Callable[[Any], Any], limit_s: float) -> Callable[[Any], Any]:
    """``call`` (a dialect's method taking a DBAPI connection or the pool's proxy of one), watched."""

    def watched_call(dbapi_connection: Any) -> Any:
        driver = getattr(dbapi_connection, "driver_connection", dbapi_connection)
        fd = _socket_of(driver)
        if fd is not None:
            _running[id(driver)] = (time.monotonic(), fd, limit_s)
            _start()
        try:
            return call(dbapi_connection)
        finally:
            _running.pop(id(driver), None)

    return watched_call


@contextmanager
def watched(conn: Connection) -> Iterator[None]:
    """Watch what runs on ``conn``'s driver connection directly (a COPY), not through SQLAlchemy."""
    limit_s = _limits.get(conn.engine)
    driver = conn.connection.driver_connection
    fd = _socket_of(driver) if limit_s is not None else None
    if fd is None or limit_s is None:
        yield
        return
    _running[id(driver)] = (time.monotonic(), fd, limit_s)
    _start()
    try:
        yield
    finally:
        _running.pop(id(driver), None)


def closed_count() -> int:
    """Connections closed by the watchdog since the process started."""
    return _closed


def _socket_of(driver: Any) -> int | None:
    try:
        return int(driver.pgconn.socket)
    except Exception:  # not psycopg, or already closed: nothing to watch
        return None


def _start() -> None:
    global _thread
    if _thread is not None:
        return
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_loop, name="eta-statement-watchdog", daemon=True)
            _thread.start()


def _loop() -> None:
    while True:
        time.sleep(CHECK_EVERY_S)
        now = time.monotonic()
        for key, (started, fd, limit_s) in list(_running.items()):
            if now - started > limit_s and _running.get(key) == (started, fd, limit_s):
                _running.pop(key, None)
                _shut_down(fd, now - started)


def _shut_down(fd: int, waited_s: float) -> None:
    global _closed
    try:
        # a duplicate of the descriptor: shutting it down ends the socket for the original as well
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return  # closed meanwhile
    _closed += 1
    log.error("a store statement waited %.0f s with no answer: its connection was closed", waited_s)
