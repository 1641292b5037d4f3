"""A real HTTP server on 127.0.0.1 that serves recorded payloads, and misbehaves on request.

Routes map a path (or a path prefix ending in ``*``) to a queue of :class:`Reply`; each request takes the
next reply, the last one repeats. A route ``path?k=v&…`` takes only requests to ``path`` whose query has
those parameters (a later page's cursor or offset), before the routes without a query. A reply can be
slow (a timeout), reset the connection, send fewer bytes than its Content-Length says (a truncated
transfer), or carry any status, headers and body.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


@dataclass
class Reply:
    body: bytes = b""
    status: int = 200
    content_type: str | None = "application/xml"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    reset: bool = False
    send_bytes: int | None = None  # send only this many body bytes, then close (Content-Length stays full)


class Loopback:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.hits: list[str] = []
        self.queries: list[dict[str, str]] = []  # each request's query parameters, in order
        self.headers_seen: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(self, path: str, *replies: Reply) -> None:
        self.routes[path] = list(replies)

    def _next(self, path: str, query: dict[str, str] | None = None) -> Reply | None:
        query = query or {}
        with self._lock:
            self.hits.append(path)
            self.queries.append(query)
            queue = self._with_query(path, query)
            if queue is None:
                queue = self.routes.get(path)
            if queue is None:
                prefixes = [p for p in self.routes if p.endswith("*") and path.startswith(p[:-1])]
                queue = self.routes[max(prefixes, key=len)] if prefixes else None
            if not queue:
                return None
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def _with_query(self, path: str, query: dict[str, str]) -> list[Reply] | None:
        for route, queue in self.routes.items():
            route_path, _, route_query = route.partition("?")
            if route_query and route_path == path and dict(parse_qsl(route_query)).items() <= query.items():
                return queue
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        loopback = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                loopback.headers_seen.append(dict(self.headers.items()))
                reply = loopback._next(path, dict(parse_qsl(query)))
                if reply is None:
                    self._send(Reply(b"not found", status=404, content_type="text/plain"))
                    return
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.reset:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                try:
                    self.send_response(reply.status)
                    if reply.content_type:
                        self.send_header("Content-Type", reply.content_type)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if reply.send_bytes is not None:
                        self.wfile.write(reply.body[: reply.send_bytes])
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self.wfile.write(reply.body)
                except OSError:
                    self.close_connection = True

        return Handler

    def __enter__(self) -> Loopback:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve() -> Iterator[Loopback]:
    with Loopback() as server:
        yield server
