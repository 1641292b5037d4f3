"""The statement watchdog ends every wait on a PostgreSQL connection that went silent, not only a
statement's: a rollback or commit sent just as the network path starts dropping packets waited for ever,
holding its thread, and with it the app's shutdown and the process's exit (asyncio and
concurrent.futures join their worker threads without a limit)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from eta.config import DatabaseSettings
from eta.store.engine import make_engine
from tests.store.blackhole import blackhole_proxy

LIMIT_S = 2  # statement_timeout_s + connect_timeout_s below
WITHIN_S = 30.0  # the watchdog checks every 0.5 s; generous for a loaded machine


def _ends(work: Callable[[], object]) -> bool:
    """Whether ``work`` (in a thread) returns or raises within ``WITHIN_S``."""
    thread = threading.Thread(target=lambda: _ignore_errors(work), daemon=True)
    thread.start()
    thread.join(WITHIN_S)
    return not thread.is_alive()


def _ignore_errors(work: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):  # the store error the caller sees: what matters is that it ended
        work()


@pytest.mark.postgres
@pytest.mark.parametrize("end", ["rollback", "commit", "close"])
def test_ending_a_transaction_on_a_silent_connection_does_not_wait_for_ever(
    postgres_url: str, tmp_path: Path, end: str
) -> None:
    database = DatabaseSettings(statement_timeout_s=1, connect_timeout_s=1)
    with blackhole_proxy(postgres_url) as (proxy, url):
        engine = make_engine(url, service=True, database=database)
        try:
            conn = engine.connect()
            conn.execute(text("SELECT 1"))  # the transaction is open
            proxy.black_hole()
            ending: dict[str, Callable[[Connection], object]] = {
                "rollback": Connection.rollback,
                "commit": Connection.commit,
                "close": Connection.close,  # returns the connection to the pool, which rolls it back
            }
            assert _ends(lambda: ending[end](conn)), f"{end} still waits after {WITHIN_S:g} s"
        finally:
            proxy.resume()
            engine.dispose()


def test_closing_the_blackhole_proxy_ends_its_connections() -> None:
    """The proxy, closed, ends its connections for both ends, the silent ones too: PostgreSQL then ends a
    session left in a transaction (whose locks would hold up the test's DROP SCHEMA for ever) and a client
    waiting on it gets an error. Closing a socket that another thread waits on in recv() does neither."""
    upstream = socket.create_server(("127.0.0.1", 0))
    port = upstream.getsockname()[1]
    with blackhole_proxy(f"postgresql://u@127.0.0.1:{port}/db") as (proxy, _):
        client = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        server, _ = upstream.accept()
        server.settimeout(5)
        client.sendall(b"ping")
        assert server.recv(4) == b"ping"
        proxy.black_hole()
        client.sendall(b"lost")  # this connection is silent for ever now; both pumps wait in recv()
        proxy.close()
        assert server.recv(4) == b""  # end of stream, not a timeout
        assert client.recv(4) == b""
    client.close()
    server.close()
    upstream.close()
