"""A real HTTP server on loopback that records webhook POSTs and answers with scripted statuses."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order; 204 once exhausted
    delay_s: float = 0.0  # how long each answer takes


@contextmanager
def webhook_receiver(host: str = "127.0.0.1", port: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            receiver.received.append(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            status = receiver.statuses.pop(0) if receiver.statuses else 204
            time.sleep(receiver.delay_s)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    receiver.url = f"http://{host}:{server.server_address[1]}/hooks/eta?token=secret-of-the-receiver"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class RawServer:
    """A TCP server on loopback whose ``respond(conn, request_head)`` writes whatever answer a test needs."""

    host: str
    port: int
    requests: list[bytes] = field(default_factory=list)  # each request's head (request line and headers)
    bytes_sent: int = 0
    done: threading.Event = field(default_factory=threading.Event)  # set once an answer has ended


@contextmanager
def raw_server(
    respond: Callable[[socket.socket, RawServer], None], host: str = "127.0.0.1", port: int = 0
) -> Iterator[RawServer]:
    """Accept connections one after another, read each request head, and let ``respond`` answer."""
    listener = socket.create_server((host, port))
    listener.settimeout(0.2)
    server = RawServer(host, listener.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                server.requests.append(head)
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(body) < length:  # read it all, or closing would reset the connection
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                try:
                    respond(conn, server)
                except OSError:
                    pass  # the client went away: what the tests look for
                finally:
                    server.done.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=15)
        listener.close()
