"""Trip answers rendered once and reused until the store changes, exact at every request's ``now``.

A trip answer depends on the time it is asked in two ways only:

* which stored rows it reads: the newest served prediction and the status reports of its calls with
  ``made_at`` / ``observed_at`` ≤ now. That changes when rows are written for one of its calls (seen
  by :class:`StoreGeneration`, polled every ``ETA_API__STORE_POLL_S``), or, when the clock replays
  recorded data, when ``now`` reaches the next stored row (:func:`eta.read.changes.next_change`); and
  when ``now`` reaches a call's due time, after which it is shown passed (:mod:`eta.read.passage`);
* ``as_of`` and the ages in ``freshness``, which are filled in per request into the pre-rendered JSON.

So a :class:`RenderedTrip` is reused while no write since it was built touched its calls, ``now`` has
not reached its next stored row, and its timetable part (kept 30-60 s by
:class:`eta.api.lookup.Lookup`) has not run out; every answer is then byte for byte what a fresh
lookup at that ``now`` returns (tests/api/test_trip_cache.py checks it).
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

import anyio
import anyio.to_thread
from pydantic import TypeAdapter
from sqlalchemy import Connection, Engine, bindparam, func, select

from eta.api import schemas
from eta.api._single_flight import SingleFlight
from eta.read.predictions import SERVED
from eta.store.schema import Observation, Prediction

Generation = tuple[int, int]
T = TypeVar("T")
# builds the trip again as known at a time; True: with its timetable read again
Rebuild = Callable[[datetime, bool], "RenderedTrip | None"]
log = logging.getLogger("eta.api")

_GENERATION = select(
    select(func.max(Prediction.id)).scalar_subquery(), select(func.max(Observation.id)).scalar_subquery()
)
_NEW_PREDICTIONS = (
    select(Prediction.call_id)
    .where(Prediction.id > bindparam("low"), Prediction.id <= bindparam("high"), Prediction.purpose == SERVED)
    .distinct()
    .limit(bindparam("limit"))
)
_NEW_OBSERVATIONS = (
    select(Observation.call_id)
    .where(Observation.id > bindparam("low"), Observation.id <= bindparam("high"))
    .distinct()
    .limit(bindparam("limit"))
)


class StoreGeneration:
    """What was written to the store: the newest prediction and status-report ids (both tables are
    append-only), and per change of them, which calls got new served predictions or reports.

    Read every ``poll_s`` by a thread of its own (:meth:`start`), not the worker pool that builds
    answers: under load the pool's queue would delay it. Each change gets a number (``seq``); an answer
    built at ``seq`` s stays exact while no change after s touches one of its calls. A poll older than
    two intervals is not trusted (the thread stalled or is not running): answers are rebuilt instead.

    On PostgreSQL a transaction may commit rows with ids below a newer id already seen (ids are taken
    when rows are written, not when they commit); such rows are missed here, and shown once the answer
    is rebuilt with its timetable part, within ``Lookup.skeleton_ttl_s`` (60 s).
    """

    MAX_CHANGES = 256  # changes remembered; an answer older than all of them is rebuilt
    MAX_CALLS = 200_000  # a change touching more calls than this counts as touching all

    def __init__(self, engine: Engine, poll_s: float) -> None:
        self.engine = engine
        self.poll_s = poll_s
        self.value: Generation | None = None
        self.seq = 0
        # (seq, calls it touched; None: any call), oldest first; replaced whole, never changed in place
        self.changes: tuple[tuple[int, frozenset[int] | None], ...] = ()
        self.read_at = -math.inf  # time.monotonic() just before the value was read
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, name="eta-store-generation", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            if self._thread.is_alive():  # a read on a store gone silent: its connection's watchdog ends it
                log.error("the store generation's thread still runs 10 s after it was stopped; left")
            self._thread = None

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:
                log.exception("reading the store generation failed; trip answers are rebuilt meanwhile")
            self._stop.wait(self.poll_s)

    def refresh(self) -> int:
        """Read the store's newest ids (and what changed since the last read); the current ``seq``."""
        # The store is read without the lock: a read that never returns (a database gone silent) must not
        # hold up the builds that read the generation themselves meanwhile (issue 21).
        started = time.monotonic()
        before = self.value
        touched: frozenset[int] | None = None
        with self.engine.connect() as conn:
            predictions, observations = conn.execute(_GENERATION).one()
            value = (int(predictions or 0), int(observations or 0))
            if value != before:
                touched = _touched(conn, before, value, self.MAX_CALLS)
        with self._lock:
            if value != self.value:
                if self.value != before:
                    touched = None  # another read moved the generation meanwhile: any call may have changed
                self.changes = (*self.changes[-(self.MAX_CHANGES - 1) :], (self.seq + 1, touched))
                self.seq += 1  # after `changes`: a reader that sees the new seq finds its change
                self.value = value
            self.read_at = max(self.read_at, started)
            return self.seq

    def current(self) -> int | None:
        """The last ``seq`` read, if it was read within two polls."""
        if time.monotonic() - self.read_at > 2 * self.poll_s:
            return None
        return self.seq

    def unchanged(self, calls: frozenset[int], since: int, until: int) -> bool:
        """No change after ``since`` up to ``until`` touched any of ``calls``."""
        if since == until:
            return True
        changes = self.changes
        if since < until and changes and changes[0][0] <= since + 1:
            return all(
                touched is not None and touched.isdisjoint(calls)
                for seq, touched in changes
                if since < seq <= until
            )
        return False


def _touched(
    conn: Connection, before: Generation | None, after: Generation, limit: int
) -> frozenset[int] | None:
    """Calls with served predictions or reports written between two readings; None: maybe any."""
    if before is None or after[0] < before[0] or after[1] < before[1]:
        return None  # the first reading, or rows were deleted
    calls: set[int] = set()
    for statement, low, high in (
        (_NEW_PREDICTIONS, before[0], after[0]),
        (_NEW_OBSERVATIONS, before[1], after[1]),
    ):
        if high > low:
            calls.update(conn.execute(statement, {"low": low, "high": high, "limit": limit + 1}).scalars())
    return frozenset(calls) if len(calls) <= limit else None


# Placeholders written where the per-request values go, then cut out: no answer contains them.
_AS_OF_MARK = datetime(1, 1, 1, 0, 0, 1, 1, tzinfo=UTC)
_AGE_MARK = -7_316_459_283_000_000
_DATETIME = TypeAdapter(datetime)
_MARKS = re.compile(rb'"0001-01-01T00:00:01\.000001Z"|-7316459283\d{6}')


@dataclass(frozen=True)
class RenderedTrip:
    """A trip's JSON cut at its per-request values: ``as_of`` (slot ``None``) and ages since an instant."""

    parts: tuple[bytes, ...]
    slots: tuple[datetime | None, ...]
    service_date: date
    calls: frozenset[int]  # its calls' ids: a write touching one of them replaces it
    seq: int  # the store's change number it was built at (StoreGeneration.seq)
    built_for: datetime  # the ``now`` it was read at
    next_change: datetime | None  # the first stored row (or a call's due time) after built_for
    expires: float  # time.monotonic() when its timetable part is read again
    rebuild: Rebuild | None = field(default=None, compare=False, repr=False)
    # reads its timetable part again: the new expiry if it is unchanged, else None
    recheck: Callable[[], float | None] | None = field(default=None, compare=False, repr=False)

    def current_at(self, now: datetime) -> bool:
        """Nothing it does not show has become visible by ``now``, and its timetable part is kept."""
        return (
            self.built_for <= now
            and (self.next_change is None or now < self.next_change)
            and time.monotonic() < self.expires
        )

    def render(self, now: datetime) -> bytes:
        out = [self.parts[0]]
        for slot, part in zip(self.slots, self.parts[1:], strict=True):
            if slot is None:
                out.append(_DATETIME.dump_json(now))
            else:
                out.append(b"%d" % round((now - slot).total_seconds()))
            out.append(part)
        return b"".join(out)


def render_template(
    trip: schemas.Trip,
    *,
    calls: frozenset[int],
    seq: int,
    built_for: datetime,
    next_change: datetime | None,
    expires: float,
    rebuild: Rebuild | None = None,
    recheck: Callable[[], float | None] | None = None,
) -> RenderedTrip | None:
    """Cut ``trip`` (built at ``built_for``; changed here) at its per-request values; None if it cannot."""
    slots: list[datetime | None] = [None]
    trip.as_of = _AS_OF_MARK
    for call in trip.calls:
        fresh = call.freshness
        if fresh.prediction_made_at is not None and fresh.prediction_age_s is not None:
            fresh.prediction_age_s = _AGE_MARK - len(slots)
            slots.append(fresh.prediction_made_at)
        if fresh.latest_report_at is not None and fresh.latest_report_age_s is not None:
            fresh.latest_report_age_s = _AGE_MARK - len(slots)
            slots.append(fresh.latest_report_at)
    body = trip.model_dump_json().encode()
    marks = list(_MARKS.finditer(body))
    expected = [b'"0001-01-01T00:00:01.000001Z"'] + [b"%d" % (_AGE_MARK - i) for i in range(1, len(slots))]
    found = [m.group() for m in marks]
    # the JSON follows the model's field order: as_of comes before the calls
    if sorted(found) != sorted(expected) or len(found) != len(slots):
        return None
    order = {mark: i for i, mark in enumerate(expected)}
    parts, cut, ordered = [], 0, []
    for m in marks:
        parts.append(body[cut : m.start()])
        slot = slots[order[m.group()]]
        # in UTC: subtracting from a UTC ``now`` then needs no time-zone rules (ages are the same)
        ordered.append(None if slot is None else slot.astimezone(UTC))
        cut = m.end()
    parts.append(body[cut:])
    return RenderedTrip(
        parts=tuple(parts),
        slots=tuple(ordered),
        service_date=trip.service.service_date,
        calls=calls,
        seq=seq,
        built_for=built_for,
        next_change=next_change,
        expires=expires,
        rebuild=rebuild,
        recheck=recheck,
    )


class TripAnswers:
    """Rendered trips by request (path and query string); builds run in a worker thread, one per key.

    Answers asked for are rebuilt before they run out, in the background, so that travellers seldom
    wait for a build (1-4 ms of work alone, much longer under load, when the worker thread waits for
    the GIL while the event loop answers others):

    * when the clock replays stored data, an answer's next stored row is known before the clock reaches
      it: in the last ``ahead_s`` before that, a request that reuses the answer also starts building
      its successor *as of* that time (trips that change on the same minute are not all rebuilt while
      travellers wait);
    * in the last ``ahead_s`` of its timetable part, a request that reuses it also starts building it
      again with the timetable read again; the new one replaces it.

    What only the store's next write can tell (new predictions after a collector cycle) is rebuilt when
    it is next asked for.
    """

    def __init__(
        self,
        generation: StoreGeneration,
        max_entries: int = 20_000,
        max_builds: int = 4,
        ahead_s: float = 10.0,
    ) -> None:
        self.generation = generation
        self.max_entries = max_entries
        self.ahead = timedelta(seconds=ahead_s)  # before the next stored row
        self.reread_ahead_s = ahead_s  # before the timetable part runs out
        self._ahead: dict[Hashable, RenderedTrip] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # a burst of misses (new predictions for every trip at once) queues here instead of taking every
        # worker thread and more store connections than the pool keeps (each new one starts cold)
        self._builds = anyio.CapacityLimiter(max_builds)
        self._entries: dict[Hashable, RenderedTrip] = {}
        self._building: SingleFlight[RenderedTrip | None] = SingleFlight()
        self._building_ahead: set[Hashable] = set()

    def get(self, key: Hashable, now: datetime) -> RenderedTrip | None:
        """The rendered trip for ``key`` if it is exact at ``now`` (on the event loop: no store reads)."""
        seq = self.generation.current()
        if seq is None:
            return None
        successor = self._ahead.get(key)
        if successor is not None:
            if not self._unchanged(successor, seq):
                del self._ahead[key]  # built before a write it does not show
            elif successor.current_at(now):
                del self._ahead[key]
                self._put(key, successor)
        found = self._entries.get(key)
        if found is None or not found.current_at(now):
            return None
        if found.seq != seq:
            if not self._unchanged(found, seq):
                return None
            found = replace(found, seq=seq)  # checked against the changes once, not on every request
            self._entries[key] = found
        if found.rebuild is not None and key not in self._ahead and key not in self._building_ahead:
            upcoming = found.next_change
            if upcoming is not None and now >= upcoming - self.ahead:
                self._build_ahead(key, found.rebuild, upcoming, False)
            elif found.expires - time.monotonic() < self.reread_ahead_s:
                self._build_ahead(key, found.rebuild, now, True, found)
        return found

    def _build_ahead(
        self, key: Hashable, rebuild: Rebuild, at: datetime, reread: bool, kept: RenderedTrip | None = None
    ) -> None:
        """Build ``key``'s answer as of ``at`` in the background; ``reread``: its timetable part is read
        again, and where it is unchanged, ``kept`` is kept longer instead (no rebuild)."""
        self._building_ahead.add(key)

        async def build() -> None:
            try:
                if kept is not None and kept.recheck is not None:
                    expires = await self._run(kept.recheck)
                    if expires is not None:
                        self._keep_longer(key, kept, expires)
                        return
                built = await self._run(lambda: rebuild(at, reread))
            except Exception:  # a request that needs it builds it again, and sees the error
                log.debug("building the answer for %s ahead failed", key, exc_info=True)
            else:
                if built is not None:
                    self._ahead[key] = built
            finally:
                self._building_ahead.discard(key)

        task = asyncio.get_running_loop().create_task(build())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _keep_longer(self, key: Hashable, kept: RenderedTrip, expires: float) -> None:
        current = self._entries.get(key)
        # the same answer (its seq may have moved on); one built since then stays as it is
        if current is not None and (current.built_for, current.expires) == (kept.built_for, kept.expires):
            self._entries[key] = replace(current, expires=expires)

    def _unchanged(self, rendered: RenderedTrip, seq: int) -> bool:
        return self.generation.unchanged(rendered.calls, rendered.seq, seq)

    def current_seq(self) -> int:
        """For a build, before it reads the trip: the polled ``seq``, else a fresh read (worker thread)."""
        found = self.generation.current()
        return self.generation.refresh() if found is None else found

    async def get_or_build(
        self, key: Hashable, now: datetime, build: Callable[[], RenderedTrip | None]
    ) -> tuple[RenderedTrip | None, bool]:
        """A rendered trip exact at ``now`` and whether it was reused; None if it could not be cut.

        Concurrent misses on one key wait for a single build (many travellers, one new prediction).
        """
        found = self.get(key, now)
        if found is not None:
            return found, True
        pending = self._building.pending(key)
        if pending is not None:
            shared = await asyncio.shield(pending)
            if shared is not None and shared.current_at(now):  # just built: the store as it is
                return shared, True
            return await self._run(build), False
        built = await self._building.run(key, lambda: self._run(build))
        if built is not None:
            self._put(key, built)
        return built, False

    async def _run(self, build: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(build, limiter=self._builds)

    def _put(self, key: Hashable, rendered: RenderedTrip) -> None:
        if len(self._entries) >= self.max_entries:
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if v.expires > now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._ahead.clear()
        self._entries[key] = rendered

    def clear(self) -> None:
        self._entries.clear()
        self._ahead.clear()
