"""Writes an importer's frames to the store, one transaction per batch, in foreign-key order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Engine
from tqdm import tqdm

from eta.store.bulk import WRITE_ORDER, write_batch
from eta.store.engine import refresh_statistics

__all__ = ["WRITE_ORDER", "ImportSummary", "chunk_by", "write_batch", "write_batches"]


@dataclass
class ImportSummary:
    """What an import read, wrote and rejected."""

    source: str
    read: Counter[str] = field(default_factory=Counter)
    inserted: Counter[str] = field(default_factory=Counter)
    rejected: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, inserted: Mapping[str, int]) -> None:
        self.inserted.update(inserted)

    def lines(self) -> list[str]:
        out = [f"{self.source}: import finished"]
        for table in WRITE_ORDER:
            if self.read[table] or self.inserted[table]:
                out.append(f"  {table:<13} {self.read[table]:>10,} read  {self.inserted[table]:>10,} new")
        out += [f"  note: {note}" for note in self.notes]
        if self.rejected:
            out.append(f"  rejected rows: {len(self.rejected):,}")
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "read": dict(self.read),
            "inserted": dict(self.inserted),
            "rejected": len(self.rejected),
            "notes": list(self.notes),
        }


def write_batches(
    engine: Engine,
    batches: Iterable[Mapping[str, pd.DataFrame]],
    summary: ImportSummary,
    batch_size: int,
    total: int | None = None,
    unit: str = "batch",
    label: str | None = None,
) -> ImportSummary:
    """Write every batch with a progress bar on stderr, accumulating counts into ``summary``.

    ``label`` names the bar in plain words (and keeps it on screen when done); default: the source."""
    desc = label or summary.source
    with tqdm(total=total, unit=unit, desc=desc, leave=label is not None, disable=None) as bar:
        for frames in batches:
            for name, frame in frames.items():
                summary.read[name] += len(frame)
            summary.add(write_batch(engine, planned_ahead(frames), batch_size))
            bar.update(1)
    refresh_statistics(engine)
    return summary


# A historical timetable was published long before its day; when exactly is not in the data. Its calls
# count as known from midnight UTC of the day before their service date: before any time a replay or a
# backtest asks about (the longest horizon is hours before the first departure).
PLANNED_AHEAD = pd.Timedelta(days=1)


def planned_ahead(frames: Mapping[str, pd.DataFrame]) -> Mapping[str, pd.DataFrame]:
    """The batch with its calls' ``known_since`` filled in from their service's date where not given."""
    calls, services = frames.get("calls"), frames.get("services")
    if calls is None or calls.empty or services is None or "known_since" in calls.columns:
        return frames
    dates = pd.to_datetime(services.drop_duplicates("id").set_index("id")["service_date"])
    day = pd.to_datetime(calls["service_id"].map(dates))
    known = (day - PLANNED_AHEAD).dt.tz_localize("UTC")
    return {**frames, "calls": calls.assign(known_since=known)}


def chunk_by(frame: pd.DataFrame, key: str, n_keys: int) -> Iterable[pd.DataFrame]:
    """Split ``frame`` into pieces holding at most ``n_keys`` distinct values of ``key`` each."""
    codes, _ = pd.factorize(frame[key])
    for _, piece in frame.groupby(codes // n_keys, sort=True):
        yield piece
