"""Replay recorded payloads as if they were live, on a simulated clock, through the collectors' own path.

The IRIS replay reads DB IRIS snapshot archives (hourly plans, 15-minute change lists) and feeds them,
in the order they were downloaded, to the live IRIS adapter's ``parse`` and the shared runner's
``ingest`` (reference resolution, unchanged-report dropping, one transaction per cycle). Each cycle is
the set of snapshots fetched at one moment; ``observed_at`` is that moment on the simulated clock, so
the observation history shows when each change became known.

A replay is idempotent: run it again over a store it has partly filled (it was killed, say) and it ends
with exactly the rows of an uninterrupted run. Speed: ``speed`` simulated seconds per real second
(0 = as fast as the store takes it).
"""

from __future__ import annotations

import heapq
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from itertools import groupby
from pathlib import Path

from sqlalchemy import Engine
from tqdm import tqdm

from eta._time import parse_date
from eta.collectors import archive
from eta.collectors.base import Adapter, Payload, Request, Rows
from eta.collectors.kind import SourceSettings
from eta.collectors.runner import AfterCycle, Cycle, Runner, RunResult
from eta.collectors.sources.db import iris as db_iris
from eta.collectors.sources.db import iris_snapshots
from eta.config import Settings
from eta.errors import InputError
from eta.store.bulk import write_batch
from eta.store.schema import UTCDateTime, metadata

BUNDLED_DAY = "iris-berlin-day/raw"


class SimClock:
    """Simulated time from ``start``, ``speed`` times faster than real time; speed 0 jumps, never waits."""

    def __init__(
        self,
        start: datetime,
        speed: float = 0.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if speed < 0:
            raise InputError("speed must be 0 (as fast as possible) or positive")
        self.start = start
        self.speed = speed
        self._monotonic = monotonic
        self._sleep = sleep
        self._t0 = monotonic()
        self._now = start

    def now(self) -> datetime:
        if self.speed == 0:
            return self._now
        return max(self._now, self.start + timedelta(seconds=(self._monotonic() - self._t0) * self.speed))

    def advance_to(self, when: datetime) -> None:
        """Wait (in real time, scaled) until the simulated clock reaches ``when``."""
        if self.speed > 0:
            ahead_s = (when - self.now()).total_seconds()
            if ahead_s > 0:
                self._sleep(ahead_s / self.speed)
        self._now = max(self._now, when)


@dataclass(frozen=True)
class ReplayCycle:
    at: datetime
    payloads: list[Payload]


@dataclass
class ReplaySummary:
    source: str
    cycles: int = 0
    payloads: int = 0
    written: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    skipped_files: list[str] = field(default_factory=list)
    first: datetime | None = None
    last: datetime | None = None
    elapsed_s: float = 0.0
    pending_at_end: int = 0

    def add(self, result: RunResult) -> None:
        self.cycles += 1
        self.payloads += result.fetched
        for table, n in result.written.items():
            self.written[table] = self.written.get(table, 0) + n
        self.quarantined += sum(result.quarantined.values())
        self.pending_at_end = result.pending

    @property
    def observations_per_s(self) -> float:
        return self.written.get("observations", 0) / self.elapsed_s if self.elapsed_s else 0.0

    def line(self) -> str:
        span = (
            f"{self.first.isoformat()} → {self.last.isoformat()}" if self.first and self.last else "nothing"
        )
        tables = ", ".join(f"{n:,} {t}" for t, n in sorted(self.written.items()) if n) or "no new rows"
        text = (
            f"replayed {self.cycles:,} cycles ({self.payloads:,} payloads, {span}) "
            f"in {self.elapsed_s:.1f} s: "
            f"{tables}; {self.observations_per_s:,.0f} observations/s"
        )
        if self.quarantined:
            text += f"; {self.quarantined} payloads quarantined"
        if self.skipped_files:
            text += f"; {len(self.skipped_files)} files skipped ({self.skipped_files[0]} …)"
        return text


# ---- the IRIS snapshot source ----------------------------------------------------------------------

_STATION = re.compile(rb'<timetable[^>]*\bstation="([^"]*)"')


def iris_cycles(
    folder: Path, day: date | None = None, skipped: list[str] | None = None
) -> Iterator[ReplayCycle]:
    """The snapshots of ``folder`` grouped by download time, plans before changes, oldest first."""
    plans, changes = iris_snapshots.archives(folder)
    evas = iris_snapshots.station_evas(changes)
    evas_by_name = iris_snapshots.main_evas_by_name(folder.parent / "station_data.json")
    skipped = skipped if skipped is not None else []

    def stream(paths: list[Path], order: int) -> Iterator[tuple[datetime, int, Payload]]:
        clock = iris_snapshots.SnapshotClock()
        for path in paths:
            for name, body in iris_snapshots.iter_xml(path):
                try:
                    at = clock(name)
                except db_iris.IrisParseError:
                    skipped.append(name)
                    continue
                if day is not None and at.astimezone(db_iris.TZ).date() != day:
                    continue
                request = _request(name, body, at, order, evas, evas_by_name)
                if request is None:
                    if b"<s " in body:  # an empty plan of a quiet hour names no station and needs none
                        skipped.append(f"{name} (station without EVA)")
                    continue
                yield at, order, Payload(db_iris.SOURCE, request, at, body, None, f"{path.name}:{name}")

    merged = heapq.merge(stream(plans, 0), stream(changes, 1), key=lambda item: (item[0], item[1]))
    for at, items in groupby(merged, key=lambda item: item[0]):
        yield ReplayCycle(at, [payload for _, _, payload in items])


def _request(
    name: str, body: bytes, at: datetime, order: int, evas: dict[str, str], evas_by_name: dict[str, str]
) -> Request | None:
    eva = evas.get(iris_snapshots.station_key(name))
    if eva is None and (match := _STATION.search(body, 0, 512)):
        eva = evas_by_name.get(match.group(1).decode("utf-8", "replace"))
    if eva is None:
        return None
    if order == 1:
        return Request.of("fchg", eva=eva)
    folder = (at - iris_snapshots.DOWNLOAD_DELAY).astimezone(db_iris.TZ)
    return Request.of("plan", eva=eva, date=folder.strftime("%y%m%d"), hour=folder.strftime("%H"))


# ---- recorded payloads of any collector (its raw archive) -------------------------------------------


def archive_cycles(
    raw_root: Path, source: str, since: datetime | None = None, until: datetime | None = None
) -> Iterator[ReplayCycle]:
    """Payloads a collector archived under ``raw_root/<source>/``, grouped by fetch time, oldest first.

    ``raw_root`` is a data directory's ``raw`` folder (of this or another installation): what the live
    collectors recorded replays through the same adapter, e.g. a day of flights into a demo store.
    """
    base = raw_root / source
    if not base.is_dir():
        raise InputError(f"no archived payloads of {source!r} under {raw_root}")
    data_dir = raw_root.parent
    paths = archive.archived_paths(data_dir, source, date.min)
    timed = [(archive.parse_name(path), path) for path in paths]
    selected = [
        (at, request, path)
        for (at, request), path in timed
        if (since is None or at >= since) and (until is None or at < until)
    ]
    for at, items in groupby(selected, key=lambda item: item[0]):
        yield ReplayCycle(
            at,
            [
                Payload(source, request, at, archive.read(data_dir, path), None, path)
                for _, request, path in items
            ],
        )


def replay_archive(
    engine: Engine,
    settings: Settings,
    adapter: Adapter,
    raw_root: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    speed: float = 0.0,
    after_cycle: Sequence[AfterCycle] = (),
    progress: bool = True,
) -> ReplaySummary:
    """Replay a collector's raw payload archive into the store through ``adapter``."""
    runner = Runner(adapter, engine, settings)
    summary = ReplaySummary(adapter.source)
    cycles = archive_cycles(raw_root, adapter.source, since, until)
    return replay(runner, cycles, speed=speed, after_cycle=after_cycle, summary=summary, progress=progress)


# ---- a dataset already in a store ------------------------------------------------------------------

STORE_TABLES = ("locations", "services", "calls", "observations", "weather")
_TIME_COLUMNS = {  # every time column of the replayed tables (flights' runway times included)
    column.name
    for table in STORE_TABLES
    for column in metadata.tables[table].columns
    if isinstance(column.type, UTCDateTime)
}


class StoreReplaySettings(SourceSettings):
    """A store replayed as a source has nothing to configure: the replay decides when it runs."""

    interval_s: int = 300


class StoreRowsAdapter(Adapter[StoreReplaySettings]):
    """Parses the payloads :func:`store_cycles` makes (rows as JSON) back into rows: a store replayed as
    a source goes through the same resolve-and-write path as the live collectors."""

    name = "store-replay"
    source = "store-replay"
    content_types = ("application/json",)
    extension = "json"

    def __init__(self) -> None:
        super().__init__(StoreReplaySettings())

    def requests(self, now: datetime, view: object) -> list[Request]:
        return []

    def url(self, request: Request) -> tuple[str, Mapping[str, str]]:
        raise InputError("a store replay fetches nothing")

    def parse(self, payload: Payload) -> Rows:
        data = json.loads(payload.body)
        rows = Rows()
        for table, table_rows in data.items():
            rows.add(table, [_decode(table, row) for row in table_rows])
        return rows


def _decode(table: str, row: dict[str, object]) -> dict[str, object]:
    out = dict(row)
    for key, value in row.items():
        if isinstance(value, str) and key in _TIME_COLUMNS:
            out[key] = datetime.fromisoformat(value)
        elif key == "service_date" and isinstance(value, str):
            out[key] = date.fromisoformat(value)
    return out


def _encode(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    return value


def store_cycles(
    source: Engine, start: datetime, end: datetime, step_s: int = 900, mode: str | None = None
) -> Iterator[ReplayCycle]:
    """A store's services and calls of [start, end) known at ``start``, then its observations and weather
    in steps of ``step_s`` as they became known (each row keeps its own ``observed_at``)."""
    from sqlalchemy import select

    from eta.store.schema import Call, Location, Observation, Service, Weather

    with source.connect() as conn:
        services_q = select(Service).where(
            Service.service_date >= (start - timedelta(days=1)).date(),
            Service.service_date < end.date() + timedelta(days=1),
        )
        if mode is not None:
            services_q = services_q.where(Service.mode == mode)
        services = [dict(r._mapping) for r in conn.execute(services_q)]
        service_ids = [s["id"] for s in services]
        calls = [
            dict(r._mapping)
            for chunk in _chunked(service_ids, 500)
            for r in conn.execute(select(Call).where(Call.service_id.in_(chunk)))
        ]
        call_ids = {c["id"] for c in calls}
        locations = [dict(r._mapping) for r in conn.execute(select(Location))]
        observations = [
            {k: v for k, v in r._mapping.items() if k != "id"}
            for r in conn.execute(
                select(Observation)
                .where(Observation.observed_at >= start, Observation.observed_at < end)
                .order_by(Observation.observed_at)
            )
            if r.call_id in call_ids
        ]
        weather = [
            {k: v for k, v in r._mapping.items() if k != "id"}
            for r in conn.execute(
                select(Weather)
                .where(Weather.observed_at >= start, Weather.observed_at < end)
                .order_by(Weather.observed_at)
            )
        ]
    timetable: dict[str, list[dict[str, object]]] = {
        "locations": locations,
        "services": services,
        "calls": calls,
    }
    step = timedelta(seconds=step_s)
    by_cycle: dict[datetime, dict[str, list[dict[str, object]]]] = {start: timetable}
    for table, rows in (("observations", observations), ("weather", weather)):
        for row in rows:
            observed = row["observed_at"]
            assert isinstance(observed, datetime)
            # the first cycle at or after it: a row observed at a cycle's time exactly is known to the
            # predictions made after that cycle, as a backtest at that time knows it
            at = start + step * math.ceil((observed - start) / step)
            by_cycle.setdefault(at, {}).setdefault(table, []).append(row)
    for at in sorted(by_cycle):
        yield ReplayCycle(at, [_rows_payload(by_cycle[at], at, "timetable" if at == start else "status")])


def _rows_payload(tables: dict[str, list[dict[str, object]]], at: datetime, kind: str) -> Payload:
    body = json.dumps(
        {t: [{k: _encode(v) for k, v in r.items()} for r in rows] for t, rows in tables.items()}
    )
    return Payload(
        StoreRowsAdapter.source,
        Request.of(kind, at=at.isoformat()),
        at,
        body.encode(),
        None,
        f"store:{kind}:{at.isoformat()}",
    )


def _chunked(items: list[int], size: int) -> Iterator[list[int]]:
    for begin in range(0, len(items), size):
        yield items[begin : begin + size]


def replay_store(
    source: Engine,
    engine: Engine,
    settings: Settings,
    start: datetime,
    end: datetime,
    *,
    step_s: int = 900,
    mode: str | None = None,
    speed: float = 0.0,
    after_cycle: Sequence[AfterCycle] = (),
    progress: bool = True,
    desc: str | None = None,
) -> ReplaySummary:
    """Replay the window [start, end) of the ``source`` store into ``engine`` as if it were happening."""
    parts = store_replay(source, engine, settings, start, end, step_s=step_s, mode=mode)
    return parts.until(after_cycle=after_cycle, speed=speed, progress=progress, desc=desc)


def store_replay(
    source: Engine,
    engine: Engine,
    settings: Settings,
    start: datetime,
    end: datetime,
    *,
    step_s: int = 900,
    mode: str | None = None,
) -> Replay:
    """The window [start, end) of the ``source`` store as a :class:`Replay` to drive in parts (its
    rows are read at once: a window of a store, not a whole one)."""
    runner = Runner(StoreRowsAdapter(), engine, settings)
    cycles = list(store_cycles(source, start, end, step_s, mode))
    return Replay(runner, cycles, times=[cycle.at for cycle in cycles])


# ---- driving a replay ------------------------------------------------------------------------------


def replay(
    runner: Runner,
    cycles: Iterator[ReplayCycle],
    *,
    speed: float = 0.0,
    after_cycle: Sequence[AfterCycle] = (),
    summary: ReplaySummary | None = None,
    progress: bool = True,
    desc: str | None = None,
    total: int | None = None,
    tz: tzinfo | None = None,
) -> ReplaySummary:
    """Feed ``cycles`` through ``runner.ingest`` on a simulated clock; call ``after_cycle`` after each.

    ``desc`` names the progress bar (default: ``replay <collector>``), ``total`` is the number of cycles
    where it is known beforehand, ``tz`` the zone of the replayed clock the bar shows (default: Berlin,
    IRIS's)."""
    summary = summary or ReplaySummary(runner.adapter.source)
    clock: SimClock | None = None
    started = time.monotonic()
    with tqdm(
        desc=desc or f"replay {runner.name}",
        total=total,
        unit="cycle",
        disable=None if progress else True,
        leave=desc is not None,
    ) as bar:
        for cycle in cycles:
            if clock is None:
                clock = SimClock(cycle.at, speed)
                runner.clock = clock.now
                if summary.first is None:
                    summary.first = cycle.at
            clock.advance_to(cycle.at)
            result = runner.ingest(cycle.payloads, cycle.at)
            summary.add(result)
            summary.last = cycle.at
            for callback in after_cycle:
                callback(Cycle(runner.name, result, runner.engine, runner.settings))
            bar.update(1)
            bar.set_postfix_str(f"{cycle.at.astimezone(tz or db_iris.TZ):%Y-%m-%d %H:%M}", refresh=False)
        if total is not None and bar.n != total:  # a cycle announced but empty (no payload kept)
            bar.total = bar.n
            bar.refresh()
    summary.elapsed_s += time.monotonic() - started
    return summary


class Replay:
    """A replay driven in parts: up to a time, then on — one runner (its reports waiting for their
    call included), one stream of cycles, one summary — so that a replay cut at a time ends exactly as
    one run straight through. ``times``: the cycles' times where known beforehand (progress totals).

    The demo replays a day up to the time it serves, serves, and replays the rest while serving."""

    def __init__(
        self,
        runner: Runner,
        cycles: Iterable[ReplayCycle],
        summary: ReplaySummary | None = None,
        times: Sequence[datetime] | None = None,
    ) -> None:
        self.runner = runner
        self.summary = summary or ReplaySummary(runner.adapter.source)
        self.times = sorted(times) if times is not None else None
        self._cycles = iter(cycles)
        self._next: ReplayCycle | None = None

    @property
    def next_at(self) -> datetime | None:
        """When the next cycle not yet replayed was fetched (None: the replay is over)."""
        if self._next is None:
            self._next = next(self._cycles, None)
        return None if self._next is None else self._next.at

    def cycles_left(self, end: datetime | None = None) -> int | None:
        """Cycles still to replay before ``end`` (None where the times are not known beforehand)."""
        if self.times is None:
            return None
        first = self.next_at
        if first is None:
            return 0
        return sum(1 for at in self.times if at >= first and (end is None or at < end))

    def until(
        self,
        end: datetime | None = None,
        *,
        after_cycle: Sequence[AfterCycle] = (),
        speed: float = 0.0,
        progress: bool = True,
        desc: str | None = None,
        tz: tzinfo | None = None,
    ) -> ReplaySummary:
        """Replay the cycles fetched before ``end`` (all that are left where ``end`` is None); the
        progress bar shows the replayed clock in ``tz``."""
        total = self.cycles_left(end)
        replay(
            self.runner,
            self._take(end),
            speed=speed,
            after_cycle=after_cycle,
            summary=self.summary,
            progress=progress,
            desc=desc,
            total=total,
            tz=tz,
        )
        return self.summary

    def _take(self, end: datetime | None) -> Iterator[ReplayCycle]:
        while (at := self.next_at) is not None and (end is None or at < end):
            cycle, self._next = self._next, None
            assert cycle is not None
            yield cycle


def replay_iris(
    engine: Engine,
    settings: Settings,
    folder: Path,
    *,
    day: date | None = None,
    speed: float = 0.0,
    after_cycle: Sequence[AfterCycle] = (),
    progress: bool = True,
    desc: str | None = None,
) -> ReplaySummary:
    """Replay an IRIS snapshot folder (or one local day of it) into the store."""
    parts = iris_replay(engine, settings, folder, day=day, count=progress)
    return parts.until(after_cycle=after_cycle, speed=speed, progress=progress, desc=desc)


def iris_replay(
    engine: Engine, settings: Settings, folder: Path, *, day: date | None = None, count: bool = True
) -> Replay:
    """An IRIS snapshot folder (or one local day of it) as a :class:`Replay` to drive in parts;
    ``count`` reads the archives' names first so that progress bars have totals."""
    from eta.collectors.registry import make_adapter  # the registry imports the sources, which import this

    runner = Runner(make_adapter("db-iris", settings), engine, settings)
    summary = ReplaySummary(db_iris.SOURCE)
    _write_station_coordinates(engine, settings, folder)  # first: plan rows name stations only
    times = None
    if count:
        plans, changes = iris_snapshots.archives(folder)
        fetched = iris_snapshots.snapshot_times(plans + changes)
        times = [at for at in fetched if day is None or at.astimezone(db_iris.TZ).date() == day]
    return Replay(runner, iris_cycles(folder, day, summary.skipped_files), summary, times)


def _write_station_coordinates(engine: Engine, settings: Settings, folder: Path) -> None:
    """Fill in coordinates of the replayed stations from DB's station data, where it is at hand."""
    reference = folder.parent / "station_data.json"
    if not reference.exists():
        return
    names = {
        str(eva["number"]): str(station["name"])
        for station in iris_snapshots._stations(reference)
        for eva in station.get("evaNumbers", [])  # type: ignore[attr-defined]
    }
    frame = iris_snapshots.locations_frame(names, reference)
    frame["source"] = db_iris.SOURCE
    write_batch(engine, {"locations": frame}, settings.db_batch_size)


def bundled_day(settings: Settings) -> Path:
    path = settings.reference_dir / BUNDLED_DAY
    if not path.is_dir():
        raise InputError(f"no bundled IRIS day at {path}; give the snapshot folder as PATH")
    return path


def parse_day(text: str) -> date:
    try:
        return parse_date(text)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
