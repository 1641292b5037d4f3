"""IRIS snapshot archives across the clock changes: folders are named for the local time they were taken,
so the autumn change names two folders of each quarter hour of 02:00-03:00 alike (issue 21 §3)."""

from __future__ import annotations

import io
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from eta.collectors.replay import iris_cycles
from eta.collectors.sources.db.iris_snapshots import SnapshotClock, snapshot_times
from eta.config import Settings
from eta.importers import iris_archive
from eta.store.schema import Call, CallRef, Observation

EVA = "8011160"
# Two trains due at Berlin Hbf at 02:20 local on 26 Oct 2025: A in summer time, B an hour later in winter
# time; each is in the plan of the 02:00 folder taken in its hour.
SUMMER, WINTER = "123-2510260110-5", "456-2510260210-5"


def _plan(stop: str, number: str) -> str:
    return (
        f'<timetable station="Berlin Hbf"><s id="{stop}"><tl f="N" t="p" o="800" c="RE" n="{number}"/>'
        '<ar pt="2510260220" pp="7"/></s></timetable>'
    )


def _change(stop: str | None, local: str) -> str:
    """A Berlin Hbf fchg whose one stop is now expected at ``local`` (YYMMDDHHMM); none: no stop."""
    stops = f'<s id="{stop}" eva="{EVA}"><ar ct="{local}" cp="7"/></s>' if stop else ""
    return f'<timetable station="Berlin Hbf" eva="{EVA}">{stops}</timetable>'


# Taken every quarter hour through the night of 26 Oct 2025, in the order taken: 01:45 CEST … 02:45 CEST,
# then 02:00 CET … 02:45 CET (the same folder names again), then 03:00 CET.
FOLDERS = [
    ("2510260145", datetime(2025, 10, 25, 23, 45, tzinfo=UTC)),
    ("2510260200", datetime(2025, 10, 26, 0, 0, tzinfo=UTC)),
    ("2510260215", datetime(2025, 10, 26, 0, 15, tzinfo=UTC)),
    ("2510260230", datetime(2025, 10, 26, 0, 30, tzinfo=UTC)),
    ("2510260245", datetime(2025, 10, 26, 0, 45, tzinfo=UTC)),
    ("2510260200", datetime(2025, 10, 26, 1, 0, tzinfo=UTC)),
    ("2510260215", datetime(2025, 10, 26, 1, 15, tzinfo=UTC)),
    ("2510260230", datetime(2025, 10, 26, 1, 30, tzinfo=UTC)),
    ("2510260245", datetime(2025, 10, 26, 1, 45, tzinfo=UTC)),
    ("2510260300", datetime(2025, 10, 26, 2, 0, tzinfo=UTC)),
]
FETCHED = [taken + timedelta(minutes=1) for _, taken in FOLDERS]  # each a minute after its folder's time


def _tar(path: Path, members: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members:
            body = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))


def _autumn_archive(root: Path) -> Path:
    """A DAMS Lab style folder of that night: two plans named 02:00, one change file per quarter hour
    (A expected at 02:25 in the summer-time hour, B at 02:30 in the winter-time one)."""
    folder = root / "raw"
    plans = [
        ("2510260200/berlin_hbf_timetable.xml", _plan(SUMMER, "123")),
        ("2510260200/berlin_hbf_timetable.xml", _plan(WINTER, "456")),
    ]
    _tar(folder / "timetables" / "251026_251026.tar.gz", plans)
    changes = []
    for i, (name, _) in enumerate(FOLDERS):
        stop, local = (None, "") if i == 0 else (SUMMER, "2510260225") if i < 5 else (WINTER, "2510260230")
        changes.append((f"{name}/berlin_hbf_change.xml", _change(stop, local)))
    _tar(folder / "timetable_changes" / "251026_251026.tar.gz", changes)
    return folder


def test_the_repeated_folder_names_are_read_in_the_order_taken() -> None:
    clock = SnapshotClock()
    assert [clock(f"{name}/berlin_hbf_change.xml") for name, _ in FOLDERS] == FETCHED


def test_the_spring_change_folders_are_an_hour_apart_in_name_fifteen_minutes_in_time() -> None:
    """30 Mar 2025: 02:00 CET is 03:00 CEST; the folder after 01:45 is 03:00."""
    clock = SnapshotClock()
    times = [clock(f"{name}/berlin_hbf_change.xml") for name in ("2503300145", "2503300300")]
    assert times == [datetime(2025, 3, 30, 0, 46, tzinfo=UTC), datetime(2025, 3, 30, 1, 1, tzinfo=UTC)]


def test_the_replay_takes_the_autumn_night_in_the_order_taken(tmp_path: Path) -> None:
    folder = _autumn_archive(tmp_path)
    cycles = list(iris_cycles(folder))
    assert [c.at for c in cycles] == FETCHED
    assert all(p.fetched_at == c.at for c in cycles for p in c.payloads)
    plans = [c.at for c in cycles if any(p.request.kind == "plan" for p in c.payloads)]
    assert plans == [FETCHED[1], FETCHED[5]]  # 02:01 CEST and 02:01 CET
    assert len(snapshot_times([*folder.glob("*/*.tar.gz")])) == len(FOLDERS)


def test_the_import_reads_each_autumn_snapshot_at_its_own_time(
    tmp_path: Path, store: Engine, settings: Settings
) -> None:
    iris_archive.run(store, settings, _autumn_archive(tmp_path))
    with store.connect() as conn:
        rows = pd.read_sql(
            select(
                CallRef.ref,
                Call.scheduled_arrival,
                Call.known_since,
                Observation.observed_at,
                Observation.estimated_arrival,
            )
            .join(Call, Call.id == CallRef.call_id)
            .join(Observation, Observation.call_id == Call.id)
            .order_by(Observation.observed_at),
            conn,
        )
    for column in ("scheduled_arrival", "known_since", "observed_at", "estimated_arrival"):
        rows[column] = pd.to_datetime(rows[column], utc=True)
    first = rows.groupby("ref").first()
    summer, winter = first.loc[SUMMER], first.loc[WINTER]
    assert summer["scheduled_arrival"] == pd.Timestamp("2025-10-26 00:20", tz=UTC)  # 02:20 CEST
    assert summer["known_since"] == summer["observed_at"] == pd.Timestamp(FETCHED[1])
    assert summer["estimated_arrival"] == pd.Timestamp("2025-10-26 00:25", tz=UTC)
    # B, in the winter-time hour: read an hour early as summer time, and known an hour early, before
    assert winter["scheduled_arrival"] == pd.Timestamp("2025-10-26 01:20", tz=UTC)  # 02:20 CET
    assert winter["known_since"] == winter["observed_at"] == pd.Timestamp(FETCHED[5])
    assert winter["estimated_arrival"] == pd.Timestamp("2025-10-26 01:30", tz=UTC)
