"""The service's notion of "now": the real clock, or a replay of recorded data at real speed.

Served predictions, readiness and alerts read the time through a :class:`Clock` so that a store filled
with historical data can be served as if it were live (``ETA_API__REPLAY_FROM``), and tests can set it.
Webhook signatures always use the real time (receivers check it against their own clock).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from eta._time import ensure_utc


class Clock(Protocol):
    def __call__(self) -> datetime: ...


def system_clock() -> datetime:
    return datetime.now(UTC)


class ReplayClock:
    """Starts at ``start`` and advances with the real (monotonic) clock."""

    def __init__(self, start: datetime) -> None:
        self._start = ensure_utc(start)
        self._t0 = time.monotonic()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)


class ManualClock:
    """A clock that only moves when told to (tests, simulations)."""

    def __init__(self, start: datetime) -> None:
        self.now = ensure_utc(start)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def clock_from(replay_from: datetime | None) -> Clock:
    return ReplayClock(replay_from) if replay_from is not None else system_clock
