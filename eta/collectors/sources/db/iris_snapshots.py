"""Reading DB IRIS snapshot archives (TU Berlin DAMS Lab layout), shared by the importer and the replay.

A folder holds ``timetables/*.tar.gz`` (hourly ``plan`` snapshots, inner layout
``YYMMDDHHMM/<station>_timetable.xml``) and ``timetable_changes/*.tar.gz`` (15-minute ``fchg`` snapshots,
``YYMMDDHHMM/<station>_change.xml``). Each snapshot was downloaded one minute after the time its folder
is named for. Plan files carry only the station name; EVA numbers come from the change files' root or
from DB's station data (``station_data.json`` beside the ``raw`` folder).
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from eta.collectors.sources.db import iris as db_iris
from eta.errors import InputError

DOWNLOAD_DELAY = timedelta(minutes=1)
ARCHIVE_SOURCE = "iris-archive"


def archives(path: Path) -> tuple[list[Path], list[Path]]:
    if not path.is_dir():
        raise InputError(f"{path} is not a folder with timetables/ and timetable_changes/ archives")
    plans = sorted((path / "timetables").glob("*.tar.gz"))
    changes = sorted((path / "timetable_changes").glob("*.tar.gz"))
    if not plans:
        raise InputError(f"no plan archives in {path / 'timetables'} (expected *.tar.gz)")
    return plans, changes


class SnapshotClock:
    """When each snapshot of archives read in the order taken was fetched: its folder's local time
    (``YYMMDDHHMM``) plus one minute.

    Folders are named for local times, so the autumn clock change names the snapshots of 02:00-03:00
    twice alike (an archive holds both, in the order taken). A file of that hour is the second one, in
    winter time, when its folder is named earlier than a snapshot already read or it was read before
    under the same name (the plans are hourly: 02:00 follows 02:00); otherwise the first, summer time.
    """

    def __init__(self) -> None:
        self.latest: datetime | None = None
        self.repeated_hour: set[str] = set()  # the files read whose folder names a repeated hour

    def __call__(self, member_name: str) -> datetime:
        folder = member_name.split("/", 1)[0]
        first = db_iris.parse_time(folder)
        if first is None:
            raise db_iris.IrisParseError(f"snapshot folder {folder!r} is not YYMMDDHHMM")
        when = first
        later = db_iris.parse_time(folder, near=first + timedelta(hours=2))
        if later is not None and later != first:  # a time the autumn change repeats
            again = member_name in self.repeated_hour or (self.latest is not None and first < self.latest)
            when = later if again else first
            self.repeated_hour.add(member_name)
        if self.latest is None or when > self.latest:
            self.latest = when
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


def snapshot_times(archives: list[Path]) -> set[datetime]:
    """When each snapshot of ``archives`` was fetched (names only: a count for progress bars)."""
    times = set()
    clocks: dict[Path, SnapshotClock] = {}  # plans and changes are two sequences, each in the order taken
    for archive in archives:
        clock = clocks.setdefault(archive.parent, SnapshotClock())
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".xml"):
                    try:
                        times.add(clock(member.name))
                    except db_iris.IrisParseError:
                        continue
    return times


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
            "source": ARCHIVE_SOURCE,
        }
        for eva, name in names.items()
    ]
    return pd.DataFrame(rows)
