"""A short-lived cache of serialised answers: many travellers ask about the same trip at once.

Predictions change once per collector cycle (minutes), so an answer reused for a few seconds
(``ETA_API__CACHE_TTL_S``) is as good as a fresh one; each answer carries the ``as_of`` it describes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Hashable

from starlette.concurrency import run_in_threadpool

from eta.api._single_flight import SingleFlight


class AnswerCache:
    def __init__(self, ttl_s: float, max_entries: int = 20_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, bytes]] = {}
        self._building: SingleFlight[bytes] = SingleFlight()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        if self.ttl_s <= 0:
            return None
        found = self._entries.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: Hashable, body: bytes) -> None:
        if self.ttl_s <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries = {k: v for k, v in self._entries.items() if v[0] >= now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[key] = (now + self.ttl_s, body)

    async def get_or_build(self, key: Hashable, build: Callable[[], bytes]) -> tuple[bytes, bool]:
        """The cached body and True, or one built in a worker thread (then stored) and False.

        A hit stays on the event loop: no thread hand-off, no database. Concurrent misses on one key
        wait for a single build instead of each reading the store (a popular trip expiring under load).
        """
        body = self.get(key)
        if body is not None:
            return body, True
        if self.ttl_s <= 0:
            return await run_in_threadpool(build), False
        pending = self._building.pending(key)
        if pending is not None:
            return await asyncio.shield(pending), True
        body = await self._building.run(key, lambda: run_in_threadpool(build))
        self.put(key, body)
        return body, False

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
