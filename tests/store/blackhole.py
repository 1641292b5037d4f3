"""A TCP proxy on loopback in front of PostgreSQL that can black-hole its connections, then resume.

While black-holed, it accepts connections and reads what either side sends but delivers nothing: both
ends see a connection that is open and silent (the kernel still acknowledges, so TCP keepalives do not
find it dead), as behind a firewall that drops a flow's packets. Connections that lost bytes stay
silent for ever after ``resume()``; new ones are forwarded again.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit, urlunsplit


class BlackholeProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._holed = threading.Event()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="blackhole-accept").start()

    def black_hole(self) -> None:
        self._holed.set()

    def resume(self) -> None:
        self._holed.clear()

    def url(self, url: str) -> str:
        """``url`` (of the upstream PostgreSQL) pointed at this proxy."""
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                # close() alone neither wakes a pump waiting in recv() on it nor ends the connection (the
                # pending recv keeps the socket open): a silent connection's PostgreSQL session stayed in
                # its transaction, and its locks held up the test's DROP SCHEMA for ever
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            dead = threading.Event()  # this connection lost bytes: silent for ever
            if self._holed.is_set():
                dead.set()
                server = None
            else:
                server = socket.create_connection(self.upstream)
            with self._lock:
                self._sockets += [s for s in (client, server) if s is not None]
            threading.Thread(target=self._pump, args=(client, server, dead), daemon=True).start()
            if server is not None:
                threading.Thread(target=self._pump, args=(server, client, dead), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket | None, dead: threading.Event) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                if target is not None and not dead.is_set():
                    target.close()
                return
            if self._holed.is_set():
                dead.set()
            if target is None or dead.is_set():
                continue  # swallowed
            try:
                target.sendall(data)
            except OSError:
                return


@contextmanager
def blackhole_proxy(postgres_url: str) -> Iterator[tuple[BlackholeProxy, str]]:
    """A proxy to the PostgreSQL of ``postgres_url``, and the URL through it."""
    parts = urlsplit(postgres_url)
    proxy = BlackholeProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    try:
        yield proxy, proxy.url(postgres_url)
    finally:
        proxy.close()
