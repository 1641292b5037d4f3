"""``eta import iris-archive PATH``: raw DB IRIS snapshot archives → calls and observations.

PATH is a folder with ``timetables/*.tar.gz`` (hourly ``plan`` snapshots, inner layout
``YYMMDDHHMM/<station>_timetable.xml``) and ``timetable_changes/*.tar.gz`` (15-minute ``fchg``
snapshots, ``YYMMDDHHMM/<station>_change.xml``), as collected by TU Berlin's DAMS Lab. Each snapshot
was downloaded one minute after the time its folder is named for, which becomes ``observed_at``, so
the store knows what was announced when. Parsing is :mod:`eta.collectors.db_iris`, shared with the
live collector.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine
from tqdm import tqdm

from eta.collectors import db_iris
from eta.config import Settings
from eta.errors import InputError
from eta.importers._write import ImportSummary, write_batch

SOURCE = "iris-archive"
DOWNLOAD_DELAY = timedelta(minutes=1)
PLAN_FILES_PER_BATCH = 500
OBSERVATIONS_PER_BATCH = 50_000


@dataclass
class _Progress:
    call_of_ref: dict[str, int] = field(default_factory=dict)
    last_state: dict[int, db_iris.ReportedState] = field(default_factory=dict)
    unmatched: set[str] = field(default_factory=set)
    bad_files: list[str] = field(default_factory=list)


def archives(path: Path) -> tuple[list[Path], list[Path]]:
    if not path.is_dir():
        raise InputError(f"{path} is not a folder with timetables/ and timetable_changes/ archives")
    plans = sorted((path / "timetables").glob("*.tar.gz"))
    changes = sorted((path / "timetable_changes").glob("*.tar.gz"))
    if not plans:
        raise InputError(f"no plan archives in {path / 'timetables'} (expected *.tar.gz)")
    return plans, changes


def snapshot_time(member_name: str) -> datetime:
    """When a snapshot was fetched: its folder's local time (``YYMMDDHHMM``) plus one minute."""
    folder = member_name.split("/", 1)[0]
    when = db_iris.parse_time(folder)
    if when is None:
        raise db_iris.IrisParseError(f"snapshot folder {folder!r} is not YYMMDDHHMM")
    return when + DOWNLOAD_DELAY


def station_key(member_name: str) -> str:
    name = member_name.rsplit("/", 1)[-1]
    return name.removesuffix("_timetable.xml").removesuffix("_change.xml")


def iter_xml(archive: Path) -> Iterator[tuple[str, bytes]]:
    """(member name, bytes) of every XML file, in archive order (snapshot folders are sorted)."""
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".xml"):
                handle = tar.extractfile(member)
                if handle is not None:
                    yield member.name, handle.read()


_EVA = re.compile(rb'<timetable[^>]*\beva="(\d+)"')


def station_evas(change_archives: list[Path]) -> dict[str, str]:
    """Station file key → EVA, from the root ``eva`` of the change files (plan files carry none).

    Some stations' early files are empty, so every change file's head is read, not just the first.
    """
    evas: dict[str, str] = {}
    for archive in change_archives:
        for name, payload in iter_xml(archive):
            key = station_key(name)
            if key not in evas and (match := _EVA.search(payload, 0, 512)):
                evas[key] = match.group(1).decode()
    return evas


def main_evas_by_name(reference: Path | None) -> dict[str, str]:
    """Station name → main EVA from DB's station data, for stations absent from the change files."""
    by_name = {}
    for station in _stations(reference):
        main = [e for e in station.get("evaNumbers", []) if e.get("isMain")]  # type: ignore[attr-defined]
        if main:
            by_name[str(station["name"])] = str(main[0]["number"])
    return by_name


def _stations(reference: Path | None) -> list[dict[str, object]]:
    if reference is None or not reference.exists():
        return []
    return list(json.loads(reference.read_text())["result"])


def locations_frame(names: dict[str, str], reference: Path | None) -> pd.DataFrame:
    """EVA, name and, where DB's station data (StaDa) is at hand, coordinates."""
    coordinates: dict[str, tuple[float, float]] = {}
    for station in _stations(reference):
        for eva in station.get("evaNumbers", []):  # type: ignore[attr-defined]
            lon, lat = eva["geographicCoordinates"]["coordinates"]
            coordinates[str(eva["number"])] = (lat, lon)
    rows = [
        {
            "code": eva,
            "mode": "train",
            "name": name,
            "tz": "Europe/Berlin",
            "lat": coordinates.get(eva, (None, None))[0],
            "lon": coordinates.get(eva, (None, None))[1],
            "source": SOURCE,
        }
        for eva, name in names.items()
    ]
    return pd.DataFrame(rows)


def run(engine: Engine, settings: Settings, path: Path) -> ImportSummary:
    plans, changes = archives(path)
    reference = path.parent / "station_data.json"
    summary = ImportSummary(SOURCE)
    progress = _Progress()
    evas = station_evas(changes)
    names = _import_plans(engine, settings, plans, evas, main_evas_by_name(reference), summary, progress)
    summary.add(write_batch(engine, {"locations": locations_frame(names, reference)}, settings.db_batch_size))
    summary.read["locations"] += len(names)
    _import_changes(engine, settings, changes, summary, progress)
    if progress.unmatched:
        summary.notes.append(
            f"{len(progress.unmatched):,} changed stops match no planned stop "
            "(their plan hour is not in the archive)"
        )
    if progress.bad_files:
        summary.notes.append(
            f"{len(progress.bad_files)} unreadable XML files skipped: {progress.bad_files[:3]}"
        )
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
    with tqdm(desc="plan snapshots", unit="file", disable=None, leave=False) as bar:
        for archive in plans:
            for name, payload in iter_xml(archive):
                bar.update(1)
                try:
                    parsed = db_iris.parse_plan(payload)
                except db_iris.IrisParseError as exc:
                    progress.bad_files.append(f"{name} ({exc})")
                    continue
                if not parsed.stops:
                    continue  # stations publish empty plans for quiet hours
                eva = evas.get(station_key(name)) or evas_by_name.get(parsed.station or "")
                if eva is None:
                    progress.bad_files.append(f"{name} (station without EVA)")
                    continue
                names.setdefault(eva, parsed.station or eva)
                rows = db_iris.plan_rows(parsed.stops, eva)
                for ref in rows.call_refs:
                    progress.call_of_ref.setdefault(str(ref["ref"]), int(ref["call_id"]))  # type: ignore[call-overload]
                pending.extend(rows)
                files += 1
                if files % PLAN_FILES_PER_BATCH == 0:
                    _write_plan_batch(engine, settings, pending, summary)
                    pending = db_iris.PlanRows()
    _write_plan_batch(engine, settings, pending, summary)
    return names


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
    engine: Engine, settings: Settings, changes: list[Path], summary: ImportSummary, progress: _Progress
) -> None:
    pending: list[db_iris.Row] = []
    with tqdm(desc="change snapshots", unit="file", disable=None, leave=False) as bar:
        for archive in changes:
            for name, payload in iter_xml(archive):
                bar.update(1)
                try:
                    observed_at = snapshot_time(name)
                    parsed = db_iris.parse_changes(payload)
                except db_iris.IrisParseError as exc:
                    progress.bad_files.append(f"{name} ({exc})")
                    continue
                rows, unmatched = db_iris.change_rows(
                    parsed.stops,
                    progress.call_of_ref,
                    observed_at,
                    progress.last_state,
                    f"{archive.name}:{name}",
                )
                progress.unmatched.update(unmatched)
                pending += rows
                if len(pending) >= OBSERVATIONS_PER_BATCH:
                    _write_observations(engine, settings, pending, summary)
                    pending = []
    _write_observations(engine, settings, pending, summary)


def _write_observations(
    engine: Engine, settings: Settings, pending: list[db_iris.Row], summary: ImportSummary
) -> None:
    if not pending:
        return
    frame = pd.DataFrame(pending)
    summary.read["observations"] += len(frame)
    summary.add(write_batch(engine, {"observations": frame}, settings.db_batch_size))
