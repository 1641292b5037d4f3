"""``eta serve``: uvicorn with the limits a public HTTP server needs and uvicorn does not have.

uvicorn (httptools) buffers a request head of any size and waits for it, and for a body, forever. The
protocol here adds, per connection: the request head may be at most ``ETA_API__MAX_HEADER_BYTES`` (431
beyond), must arrive within ``ETA_API__HEADER_TIMEOUT_S`` of its first byte or of the connection (408),
and the body within ``ETA_API__BODY_TIMEOUT_S`` of the head (408). ``ETA_API__MAX_CONCURRENCY`` is
uvicorn's own ``limit_concurrency``: connections or requests beyond it are answered 503.

A reverse proxy in front (docs/security.md) does the same and TLS; these limits hold without one too.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from eta.config import Settings, get_settings

# asyncio reads at most this much at once: the most a head can exceed the limit by before it is refused
_READ_SIZE = 256 * 1024
LINGER_S = 1.0


class _RefusedError(Exception):
    """Stops the parser once the answer has been sent."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head size limit and head and body read timeouts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        api = get_settings().api  # every worker process reads the same environment
        self.max_head_bytes = api.max_header_bytes
        self.header_timeout_s = api.header_timeout_s
        self.body_timeout_s = api.body_timeout_s
        self._timer: asyncio.TimerHandle | None = None
        self._in_head = True
        self._received = 0  # bytes received while reading the head (the body may share a read)
        self._head_size = 0  # the head's size as parsed: request target and fields
        self._refused = False

    # --- connection ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_timer(self.header_timeout_s)  # a connection that sends nothing is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        if self._in_head:
            self._received += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if not self._refused:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        if self._in_head and self._received > self.max_head_bytes + _READ_SIZE:
            self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)

    # --- parser callbacks ------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_size = True, 0
        if self._timer is None:
            self._start_timer(self.header_timeout_s)

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head, self._received = False, 0
        self._start_timer(self.body_timeout_s)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._stop_timer()
        super().on_message_complete()

    # --- limits ----------------------------------------------------------------------------------

    def _count(self, size: int) -> None:
        self._head_size += size
        if self._head_size > self.max_head_bytes:
            self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
            raise _RefusedError

    def _start_timer(self, delay_s: float) -> None:
        self._stop_timer()
        self._timer = self.loop.call_later(delay_s, self._too_slow)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self._in_head and self.cycle.response_started:
            self.transport.close()  # the app is answering: it stops reading what never came
            return
        self._refuse(HTTPStatus.REQUEST_TIMEOUT)

    def _refuse(self, status: HTTPStatus) -> None:
        """Answer ``status`` (when nothing has been answered on this request yet) and hang up."""
        self._refused = True
        self._stop_timer()
        if self.cycle is not None and not self._in_head:
            self.cycle.disconnected = True  # the app's receive() now answers http.disconnect
            self.cycle.message_event.set()
            if self.cycle.response_started:
                self.transport.close()
                return
        body = status.phrase.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status.value, status.phrase.encode(), len(body), body)
        )
        if self.transport.can_write_eof():
            # closing with unread bytes would reset the connection, and the client might lose the answer:
            # end our side, drop what still comes for a moment, then close
            self.transport.write_eof()
            self.loop.call_later(LINGER_S, self.transport.close)
        else:
            self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What ``eta serve`` (and the tests of its limits) give uvicorn besides the app and the address."""
    return {
        "http": LimitedHttpToolsProtocol,
        "limit_concurrency": settings.api.max_concurrency,
        "timeout_keep_alive": 5,
        "access_log": False,  # eta logs requests itself, without client addresses
        "log_config": None,
        "proxy_headers": False,  # the app reads X-Forwarded-* itself, from trusted proxies only
        "server_header": False,
    }
