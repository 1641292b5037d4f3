"""A ZeroMQ SUB subscription as NDOV Loket publishes: multipart messages ``[envelope, body]``, the body
gzip-compressed XML (taken as is when it is not compressed).

The socket is opened on first use and read without blocking: ZeroMQ queues what the publisher sends
between two runs (up to the high-water mark), and :meth:`Subscription.drain` takes it, stamping each
message with the clock when it is taken — never earlier than eta had it. Messages over the size bound are
dropped by ZeroMQ itself (``MAXMSGSIZE``), so a publisher cannot make eta hold more than that per message.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import zmq


@dataclass(frozen=True)
class Message:
    envelope: str
    body: bytes
    received_at: datetime


class Subscription:
    def __init__(self, endpoint: str, envelopes: Sequence[str], high_water_mark: int) -> None:
        self.endpoint = endpoint
        self.envelopes = list(envelopes)
        self.high_water_mark = high_water_mark
        self._context: zmq.Context[zmq.Socket[bytes]] | None = None
        self._socket: zmq.Socket[bytes] | None = None

    def _open(self, max_bytes: int) -> zmq.Socket[bytes]:
        if self._socket is None:
            self._context = zmq.Context()
            socket = self._context.socket(zmq.SUB)
            socket.setsockopt(zmq.RCVHWM, self.high_water_mark)
            socket.setsockopt(zmq.MAXMSGSIZE, max_bytes)
            socket.setsockopt(zmq.LINGER, 0)
            for envelope in self.envelopes:
                socket.setsockopt(zmq.SUBSCRIBE, envelope.encode())
            socket.connect(self.endpoint)
            self._socket = socket
        return self._socket

    def drain(
        self, clock: Callable[[], datetime], max_messages: int, max_bytes: int, wait_s: float = 0.0
    ) -> list[Message]:
        """What the publisher sent since the last call, at most ``max_messages``; waits up to ``wait_s``
        for a first message (just after subscribing nothing can have arrived yet), else never."""
        socket = self._open(max_bytes)
        if wait_s > 0:
            socket.poll(int(wait_s * 1000), zmq.POLLIN)
        out: list[Message] = []
        while len(out) < max_messages:
            try:
                parts = socket.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                break
            if len(parts) < 2:
                continue  # not an NDOV message: no envelope and body
            envelope = parts[0].decode("utf-8", "replace")
            out.append(Message(envelope, _inflate(b"".join(parts[1:]), max_bytes), clock()))
        return out

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
        if self._context is not None:
            self._context.term()
            self._context = None


def _inflate(body: bytes, max_bytes: int) -> bytes:
    """The XML of a gzip body (bounded: a small bomb cannot inflate past ``max_bytes``), or the body."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        xml = inflater.decompress(body, max_bytes + 1)
    except zlib.error:
        return body  # parse() quarantines it
    if len(xml) > max_bytes:
        return xml[: max_bytes + 1]  # longer than allowed: quarantined as unparsable, not held whole
    return xml
