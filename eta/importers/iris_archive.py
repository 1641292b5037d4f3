"""``eta import iris-archive PATH``: raw DB IRIS snapshot archives → calls and observations.

PATH is a folder with ``timetables/*.tar.gz`` (hourly ``plan`` snapshots, inner layout
``YYMMDDHHMM/<station>_timetable.xml``) and ``timetable_changes/*.tar.gz`` (15-minute ``fchg``
snapshots, ``YYMMDDHHMM/<station>_change.xml``), as collected by TU Berlin's DAMS Lab. Each snapshot
was downloaded one minute after the time its folder is named for, which becomes ``observed_at``, so
the store knows what was announced when. Parsing is :mod:`eta.collectors.sources.db.iris`, shared with the
live collector.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar, cast

import pandas as pd
from sqlalchemy import Engine, Table, bindparam, update
from tqdm import tqdm

from eta.collectors.sources.db import iris as db_iris
from eta.collectors.sources.db.iris_snapshots import (
    SnapshotClock,
    archives,
    iter_xml,
    locations_frame,
    main_evas_by_name,
    station_evas,
    station_key,
)
from eta.config import Settings
from eta.importers._write import ImportSummary, write_batch
from eta.store.engine import refresh_statistics
from eta.store.schema import Call

SOURCE = "iris-archive"
_Parsed = TypeVar("_Parsed")
PLAN_FILES_PER_BATCH = 500
OBSERVATIONS_PER_BATCH = 50_000


@dataclass
class _Progress:
    call_of_ref: dict[str, int] = field(default_factory=dict)
    known_since: dict[int, datetime] = field(default_factory=dict)  # call id → first plan's fetch
    earlier: dict[int, datetime] = field(default_factory=dict)  # calls a change list named before a plan
    added: int = 0  # calls only change lists name (additional trains)
    # reports of stops no call is known for yet, in snapshot order, for at most pending_max_age_s: a
    # later change that carries the stop's planned times names its call, as the live runner's pending
    waiting: dict[str, list[tuple[datetime, db_iris.ChangeStop, str]]] = field(default_factory=dict)
    last_state: dict[int, db_iris.ReportedState] = field(default_factory=dict)
    unmatched: set[str] = field(default_factory=set)
    bad_files: list[str] = field(default_factory=list)


def run(engine: Engine, settings: Settings, path: Path) -> ImportSummary:
    plans, changes = archives(path)
    reference = path.parent / "station_data.json"
    summary = ImportSummary(SOURCE)
    progress = _Progress()
    evas = station_evas(changes)
    names = _import_plans(engine, settings, plans, evas, main_evas_by_name(reference), summary, progress)
    _import_changes(engine, settings, changes, evas, names, summary, progress)
    summary.add(write_batch(engine, {"locations": locations_frame(names, reference)}, settings.db_batch_size))
    summary.read["locations"] += len(names)
    if progress.added:
        summary.notes.append(f"{progress.added:,} calls only change lists name (additional trains)")
    if progress.unmatched:
        summary.notes.append(
            f"{len(progress.unmatched):,} changed stops match no planned stop "
            "(their plan hour is not in the archive)"
        )
    if progress.bad_files:
        summary.notes.append(
            f"{len(progress.bad_files)} unreadable XML files skipped: {progress.bad_files[:3]}"
        )
    refresh_statistics(engine)
    return summary


def _import_plans(
    engine: Engine,
    settings: Settings,
    plans: list[Path],
    evas: dict[str, str],
    evas_by_name: dict[str, str],
    summary: ImportSummary,
    progress: _Progress,
) -> dict[str, str]:
    names: dict[str, str] = {}
    pending = db_iris.PlanRows()
    files = 0
    for _, name, fetched_at, parsed in _parsed_snapshots(plans, db_iris.parse_plan, "plan", progress):
        if not parsed.stops:
            continue  # stations publish empty plans for quiet hours
        eva = evas.get(station_key(name)) or evas_by_name.get(parsed.station or "")
        if eva is None:
            progress.bad_files.append(f"{name} (station without EVA)")
            continue
        names.setdefault(eva, parsed.station or eva)
        rows = db_iris.plan_rows(parsed.stops, eva, parsed.station)
        for call in rows.calls:  # as the live collector: known from the plan's fetch on
            call["known_since"] = fetched_at
            progress.known_since.setdefault(int(call["id"]), fetched_at)  # type: ignore[call-overload]
        for ref in rows.call_refs:
            progress.call_of_ref.setdefault(str(ref["ref"]), int(ref["call_id"]))  # type: ignore[call-overload]
        pending.extend(rows)
        files += 1
        if files % PLAN_FILES_PER_BATCH == 0:
            _write_plan_batch(engine, settings, pending, summary)
            pending = db_iris.PlanRows()
    _write_plan_batch(engine, settings, pending, summary)
    return names


def _parsed_snapshots(
    archives: list[Path], parse: Callable[[bytes, datetime], _Parsed], kind: str, progress: _Progress
) -> Iterator[tuple[Path, str, datetime, _Parsed]]:
    """Each snapshot of ``archives`` in the order taken, parsed at its fetch time; unreadable ones are
    counted in ``progress.bad_files`` and skipped."""
    clock = SnapshotClock()
    with tqdm(desc=f"{kind} snapshots", unit="file", disable=None, leave=False) as bar:
        for archive in archives:
            for name, payload in iter_xml(archive):
                bar.update(1)
                try:
                    at = clock(name)
                    parsed = parse(payload, at)
                except db_iris.IrisParseError as exc:
                    progress.bad_files.append(f"{name} ({exc})")
                    continue
                yield archive, name, at, parsed


def _write_plan_batch(
    engine: Engine, settings: Settings, pending: db_iris.PlanRows, summary: ImportSummary
) -> None:
    if not pending.calls:
        return
    frames = pending.frames()
    for table, frame in frames.items():
        summary.read[table] += len(frame)
    summary.add(write_batch(engine, frames, settings.db_batch_size))


def _import_changes(
    engine: Engine,
    settings: Settings,
    changes: list[Path],
    evas: dict[str, str],
    names: dict[str, str],
    summary: ImportSummary,
    progress: _Progress,
) -> None:
    pending: list[db_iris.Row] = []
    max_age = timedelta(seconds=settings.collectors.pending_max_age_s)
    for archive, name, observed_at, parsed in _parsed_snapshots(
        changes, db_iris.parse_changes, "change", progress
    ):
        eva = evas.get(station_key(name)) or parsed.eva
        if eva is not None:
            added = _add_changed_calls(engine, settings, parsed, eva, observed_at, names, summary, progress)
            for ref in added:
                for at, stop, raw_ref in progress.waiting.pop(ref, []):
                    if observed_at - at <= max_age:
                        pending += db_iris.change_rows(
                            [stop], progress.call_of_ref, at, progress.last_state, raw_ref
                        )[0]
                progress.unmatched.discard(ref)
        raw_ref = f"{archive.name}:{name}"
        rows, unmatched = db_iris.change_rows(
            parsed.stops, progress.call_of_ref, observed_at, progress.last_state, raw_ref
        )
        progress.unmatched.update(unmatched)
        by_id = {stop.stop_id: stop for stop in parsed.stops} if unmatched else {}
        for ref in unmatched:
            waiting = progress.waiting.setdefault(ref, [])
            waiting[:] = [w for w in waiting if observed_at - w[0] <= max_age]
            waiting.append((observed_at, by_id[ref], raw_ref))
        pending += rows
        if len(pending) >= OBSERVATIONS_PER_BATCH:
            _write_observations(engine, settings, pending, summary)
            pending = []
    _write_observations(engine, settings, pending, summary)
    _write_earlier(engine, progress.earlier)


def _add_changed_calls(
    engine: Engine,
    settings: Settings,
    parsed: db_iris.ChangePayload,
    eva: str,
    observed_at: datetime,
    names: dict[str, str],
    summary: ImportSummary,
    progress: _Progress,
) -> list[str]:
    """As the live collector: a change that carries its planned times names its call from this snapshot
    on. A call no plan lists (an additional train) is created; one a later plan snapshot lists is known
    from this snapshot on instead of the plan's (all plans are read first here). Returns the stop ids of
    the calls it created."""
    rows = db_iris.change_plan_rows(parsed.stops, eva, parsed.station)
    new = db_iris.PlanRows()
    for call, ref, service in zip(rows.calls, rows.call_refs, rows.services, strict=True):
        call_id = progress.call_of_ref.get(str(ref["ref"]))
        if call_id is None:
            call["known_since"] = observed_at
            progress.call_of_ref[str(ref["ref"])] = int(call["id"])  # type: ignore[call-overload]
            progress.known_since[int(call["id"])] = observed_at  # type: ignore[call-overload]
            new.calls.append(call)
            new.call_refs.append(ref)
            new.services.append(service)
        elif progress.known_since.get(call_id, observed_at) > observed_at:
            progress.known_since[call_id] = progress.earlier[call_id] = observed_at
    if new.calls:
        names.setdefault(eva, parsed.station or eva)
        progress.added += len(new.calls)
        _write_plan_batch(engine, settings, new, summary)
    return [str(ref["ref"]) for ref in new.call_refs]


def _write_earlier(engine: Engine, earlier: dict[int, datetime]) -> None:
    """Calls a change list named before any plan did: known from that change's snapshot on."""
    if not earlier:
        return
    calls = cast(Table, Call.__table__)
    statement = (
        update(calls)
        .where(calls.c.id == bindparam("call_id"), calls.c.known_since > bindparam("at"))
        .values(known_since=bindparam("at"))
    )
    with engine.begin() as conn:
        conn.execute(statement, [{"call_id": k, "at": v} for k, v in earlier.items()])


def _write_observations(
    engine: Engine, settings: Settings, pending: list[db_iris.Row], summary: ImportSummary
) -> None:
    if not pending:
        return
    frame = pd.DataFrame(pending)
    summary.read["observations"] += len(frame)
    summary.add(write_batch(engine, {"observations": frame}, settings.db_batch_size))
