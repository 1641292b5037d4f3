"""Retention of the model registry: the retraining job registers a model per (mode, task) every run, so
old ones go, rows and files, as the store's other retentions do (applied beside them, ``eta store prune``).

Kept whatever their age: each champion, and the ``models_keep_champions`` latest earlier champions of its
(mode, task), the ones a rollback or a champion that fails to load falls back to. Every other model
(challengers never promoted, older champions, withdrawn ones) goes once it was both registered and last
promoted more than ``models_keep_days`` ago. Files are deleted only from a model's own folder under the
models directory, after its row (a crash in between leaves files no row names, never the reverse).
"""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, delete

from eta._time import ensure_utc
from eta.config import Settings
from eta.model import registry
from eta.store.retention import Pruned
from eta.store.schema import Model, ServedCalibration

log = logging.getLogger("eta.model.retention")


def prune_models(engine: Engine, settings: Settings, now: datetime, *, dry_run: bool = False) -> Pruned:
    """Delete (or, in a dry run, count) the models the retention no longer keeps as of ``now``."""
    cutoff = ensure_utc(now) - timedelta(days=settings.store.models_keep_days)
    entries = registry.entries(engine)
    kept = _fallbacks(engine, entries, settings.store.models_keep_champions)
    expired = [entry for entry in entries if _expired(entry, cutoff) and entry.version not in kept]
    folders = [folder for entry in expired if (folder := _own_folder(entry, settings)) is not None]
    size = sum(_bytes(folder) for folder in folders)
    if dry_run or not expired:
        return Pruned("models", len(expired), cutoff, size)
    versions = [entry.version for entry in expired]
    with engine.begin() as conn:
        conn.execute(delete(ServedCalibration).where(ServedCalibration.model_version.in_(versions)))
        conn.execute(delete(Model).where(Model.version.in_(versions)))
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    log.info("retention: %d models (%d bytes of files) registered before %s", len(versions), size, cutoff)
    return Pruned("models", len(expired), cutoff, size)


def _expired(entry: registry.Entry, cutoff: datetime) -> bool:
    if entry.role == registry.CHAMPION:
        return False
    last = max(ensure_utc(at) for at in (entry.created_at, entry.promoted_at) if at is not None)
    return last < cutoff


def _fallbacks(engine: Engine, entries: list[registry.Entry], count: int) -> set[str]:
    """The latest ``count`` earlier champions of each (mode, task) among ``entries``."""
    pairs = {(entry.mode, entry.task) for entry in entries}
    return {
        entry.version
        for mode, task in pairs
        for entry in registry.previous_champions(engine, mode, task)[:count]
    }


def _own_folder(entry: registry.Entry, settings: Settings) -> Path | None:
    folder = Path(entry.path).resolve()
    root = settings.resolved_models_dir.resolve()
    if folder.parent != root or folder.name != entry.version or not folder.is_dir():
        return None
    return folder


def _bytes(folder: Path) -> int:
    return sum(file.stat().st_size for file in folder.rglob("*") if file.is_file())
