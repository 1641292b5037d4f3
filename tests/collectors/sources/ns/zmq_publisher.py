"""An NDOV-style ZeroMQ publisher on 127.0.0.1: multipart ``[envelope, gzip(xml)]`` messages.

It is an XPUB socket, so it sees the subscriber's subscriptions arrive and publishes only after them
(a plain PUB drops what it sends before a subscriber has joined).
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Sequence

import zmq


class Publisher:
    def __init__(self) -> None:
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.socket = self.context.socket(zmq.XPUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.sent = 0
        self.error: BaseException | None = None

    def wait_for(self, envelopes: Sequence[str], timeout_s: float = 120.0) -> None:
        """Block until the subscriber has subscribed to every envelope."""
        wanted = {e.encode() for e in envelopes}
        while wanted:
            if not self.socket.poll(int(timeout_s * 1000)):
                raise TimeoutError(f"no subscription to {sorted(wanted)}")
            frame = self.socket.recv()
            if frame[:1] == b"\x01":
                wanted.discard(frame[1:])

    def publish(self, envelope: str, xml: bytes, *, compress: bool = True) -> None:
        self.socket.send_multipart([envelope.encode(), gzip.compress(xml) if compress else xml])
        self.sent += 1

    def publish_when_subscribed(
        self, envelopes: Sequence[str], messages: Sequence[tuple[str, bytes]]
    ) -> threading.Thread:
        """In a thread: wait for the subscriptions, then publish ``messages`` (envelope, xml) in order."""

        def run() -> None:
            try:
                self.wait_for(envelopes)
                for envelope, xml in messages:
                    self.publish(envelope, xml)
            except BaseException as exc:  # reported by the test, not lost in the thread
                self.error = exc

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.socket.close(linger=0)
        self.context.term()
