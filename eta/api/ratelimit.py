"""Per-client-IP token buckets for the public traveller endpoints.

The buckets live in the process: behind several workers or replicas each keeps its own, so the
effective limit is the setting times the number of processes a client's requests are spread over.
"""

from __future__ import annotations

import math
import threading
import time


class TokenBuckets:
    """``rate_per_minute`` tokens refill continuously up to ``burst``; a request takes one."""

    MAX_CLIENTS = 100_000

    def __init__(self, rate_per_minute: float, burst: int) -> None:
        self.rate_per_s = rate_per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str, now: float | None = None) -> float:
        """0.0 if the request may go ahead, else the seconds until a token is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate_per_s)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[client] = (tokens, now)
                wait = (1.0 - tokens) / self.rate_per_s
            if len(self._buckets) > self.MAX_CLIENTS:
                self._forget_idle(now)
        return wait

    def peek(self, client: str, now: float | None = None) -> float:
        """What :meth:`take` would answer, without taking a token."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate_per_s)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate_per_s

    def retry_after_s(self, wait: float) -> int:
        return max(1, math.ceil(wait))

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that have refilled completely: forgetting them changes nothing."""
        full_after = self.burst / self.rate_per_s
        for client, (_, last) in list(self._buckets.items()):
            if now - last >= full_after:
                del self._buckets[client]
