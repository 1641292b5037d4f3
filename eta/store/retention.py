"""Retention of the tables that grow with time (``ETA_STORE__*_KEEP_DAYS``), applied by the scheduler and
by ``eta store prune [--dry-run]``.

Here the plain ones: services past ``history_keep_days`` (the training data: their calls, reports and
predictions go with them), weather as old, archived raw payloads (the gzip files under
``<data_dir>/raw`` and their index rows, with their quarantine rows), collector runs, finished alert
deliveries, old served calibrations (the newest per model is kept whatever its age) and the daily
accuracy aggregates. Served predictions are rolled up into those aggregates before they go
(eta.api.rollup): that needs the accuracy code, a layer above.

Nothing here reads the clock: ``now`` is the caller's (the replayed clock in a replay).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Delete, Engine, delete, func, select, tuple_

from eta._time import ensure_utc
from eta.config import Settings
from eta.store.schema import (
    AccuracyDaily,
    CollectorRun,
    NotificationDelivery,
    QuarantinedPayload,
    RawPayload,
    ServedCalibration,
    Service,
    Weather,
)

log = logging.getLogger("eta.store.retention")
CHUNK = 5_000
FINISHED = ("delivered", "failed")


@dataclass(frozen=True)
class Pruned:
    """What a retention removed (or would remove, in a dry run) from one table."""

    table: str
    rows: int
    cutoff: datetime
    bytes: int = 0  # files deleted from disk (raw payloads)


def prune_tables(engine: Engine, settings: Settings, now: datetime, *, dry_run: bool = False) -> list[Pruned]:
    """Apply the retention of every plain table as of ``now``; returns what was (or would be) removed."""
    now = ensure_utc(now)
    store = settings.store
    out = [_prune_raw(engine, settings.data_dir, now - timedelta(days=store.raw_keep_days), dry_run)]
    runs_cutoff = now - timedelta(days=store.collector_runs_keep_days)
    deliveries_cutoff = now - timedelta(days=store.deliveries_keep_days)
    calibrations_cutoff = now - timedelta(days=store.predictions_keep_days)
    accuracy_cutoff = now - timedelta(days=store.accuracy_keep_days)
    history_cutoff = now - timedelta(days=store.history_keep_days)
    statements = {
        # calls, their reports, predictions, source ids, subscriptions and shares go with them (cascade)
        "services": (delete(Service).where(Service.service_date < history_cutoff.date()), history_cutoff),
        "weather": (delete(Weather).where(Weather.valid_at < history_cutoff), history_cutoff),
        "collector_runs": (delete(CollectorRun).where(CollectorRun.started_at < runs_cutoff), runs_cutoff),
        "notification_deliveries": (
            delete(NotificationDelivery).where(
                NotificationDelivery.state.in_(FINISHED), NotificationDelivery.created_at < deliveries_cutoff
            ),
            deliveries_cutoff,
        ),
        "served_calibrations": (_old_calibrations(calibrations_cutoff), calibrations_cutoff),
        "accuracy_daily": (
            delete(AccuracyDaily).where(AccuracyDaily.day < accuracy_cutoff.date()),
            accuracy_cutoff,
        ),
    }
    for table, (statement, cutoff) in statements.items():
        out.append(Pruned(table, _run(engine, statement, dry_run), cutoff))
    return out


def _old_calibrations(cutoff: datetime) -> Delete:
    newest = select(func.max(ServedCalibration.id)).group_by(ServedCalibration.model_version)
    return delete(ServedCalibration).where(
        ServedCalibration.computed_at < cutoff, ServedCalibration.id.not_in(newest)
    )


def _run(engine: Engine, statement: Delete, dry_run: bool) -> int:
    if dry_run:
        counted = select(func.count()).select_from(statement.table).where(statement.whereclause)  # type: ignore[arg-type]
        with engine.connect() as conn:
            return int(conn.execute(counted).scalar_one())
    with engine.begin() as conn:
        return int(conn.execute(statement).rowcount or 0)


def _prune_raw(engine: Engine, data_dir: Path, cutoff: datetime, dry_run: bool) -> Pruned:
    """Archived payloads fetched before ``cutoff``: their files (payloads a replay read from a recorded
    archive have none of their own), index rows and quarantine rows, a chunk at a time."""
    root = data_dir / "raw"
    rows = removed_bytes = 0
    for chunk in _old_payloads(engine, cutoff):
        files = [root / path for _, path in chunk if ":" not in path]
        removed_bytes += sum(f.stat().st_size for f in files if f.is_file())
        rows += len(chunk)
        if dry_run:
            continue
        with engine.begin() as conn:
            _delete_payload_rows(conn, chunk)
        for file in files:  # after the rows: a crash in between leaves files no row names, never the reverse
            file.unlink(missing_ok=True)
    if not dry_run:
        _remove_empty_day_folders(root)
    return Pruned("raw_payloads", rows, cutoff, removed_bytes)


def _old_payloads(engine: Engine, cutoff: datetime) -> Iterator[list[tuple[str, str]]]:
    last = 0
    while True:
        with engine.connect() as conn:
            found = conn.execute(
                select(RawPayload.id, RawPayload.source, RawPayload.path)
                .where(RawPayload.fetched_at < cutoff, RawPayload.id > last)
                .order_by(RawPayload.id)
                .limit(CHUNK)
            ).all()
        if not found:
            return
        last = found[-1].id
        yield [(row.source, row.path) for row in found]


def _delete_payload_rows(conn: Connection, chunk: list[tuple[str, str]]) -> None:
    for table in (QuarantinedPayload, RawPayload):
        conn.execute(delete(table).where(tuple_(table.source, table.path).in_(chunk)))


def _remove_empty_day_folders(root: Path) -> None:
    if not root.is_dir():
        return
    for folder in sorted(root.glob("*/*")):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


__all__ = ["Pruned", "prune_tables"]
