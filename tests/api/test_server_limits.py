"""``eta serve``'s limits on a real uvicorn on loopback, configured as ``eta serve`` configures it: the
request head's size, the time to send a head and a body, and the connections in flight."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eta.api.app import create_app
from eta.api.server import uvicorn_options
from eta.clock import ManualClock
from eta.config import get_settings
from tests.api.conftest import api_settings
from tests.live import serving

LIMITS = {
    "ETA_API__MAX_HEADER_BYTES": "8192",
    "ETA_API__HEADER_TIMEOUT_S": "0.5",
    "ETA_API__BODY_TIMEOUT_S": "0.5",
    "ETA_API__MAX_CONCURRENCY": "3",
}


@pytest.fixture
def server(
    seeded_url: str, clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, int]]:
    for name, value in LIMITS.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    settings = api_settings(seeded_url, tmp_path / "var")
    app = create_app(settings, clock=clock)
    with serving(app, **(uvicorn_options(get_settings()) | {"log_level": "warning"})) as base:
        yield "127.0.0.1", int(base.rsplit(":", 1)[1])


def _answer(sock: socket.socket, timeout_s: float = 5.0) -> tuple[bytes, float]:
    """What the server sends until it closes (or ``timeout_s``), and after how many seconds."""
    sock.settimeout(timeout_s)
    start, data = time.monotonic(), b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        pass
    except ConnectionResetError:
        pass
    return data, time.monotonic() - start


def _connect(server: tuple[str, int]) -> socket.socket:
    return socket.create_connection(server, timeout=5)


def test_an_oversized_head_is_refused(server: tuple[str, int]) -> None:
    with _connect(server) as sock:
        head = b"GET /livez HTTP/1.1\r\nHost: eta\r\nX-Padding: " + b"a" * (1 << 20) + b"\r\n\r\n"
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused before all was sent
            sock.sendall(head)
        answer, _ = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_a_head_of_normal_size_is_answered(server: tuple[str, int]) -> None:
    with _connect(server) as sock:
        sock.sendall(
            b"GET /livez HTTP/1.1\r\nHost: eta\r\nX-Padding: "
            + b"a" * 4000
            + b"\r\nConnection: close\r\n\r\n"
        )
        answer, _ = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # connects and says nothing
        b"GET /livez HTTP/1.1\r\nHost: eta\r\n",  # a head that never ends
        b"POST /api/v1/subscriptions HTTP/1.1\r\nHost: eta\r\nContent-Type: application/json\r\n"
        b'Content-Length: 200\r\n\r\n{"trip": ',  # a body that never ends
    ],
)
def test_a_client_too_slow_is_hung_up_on(server: tuple[str, int], sent: bytes) -> None:
    with _connect(server) as sock:
        sock.sendall(sent)
        answer, after_s = _answer(sock)
    assert after_s < 3, f"the server waited {after_s:.1f} s with 0.5 s timeouts"
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_connections_beyond_the_limit_are_answered_503(server: tuple[str, int]) -> None:
    idle = [_connect(server) for _ in range(3)]
    time.sleep(0.1)
    with _connect(server) as sock:
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: eta\r\nConnection: close\r\n\r\n")
        answer, _ = _answer(sock)
    for sock in idle:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 503 ")
