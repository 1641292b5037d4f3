"""Readiness, checked in the background (``ETA_API__REFRESH_INTERVAL_S``), never per request.

Ready means: the store answers, every champion model's file exists and matches its registered sha256
(at least one champion; the files are hashed again whenever their size or modification time changes),
every enabled collector has run successfully once (``primed_at`` set), and, where collectors run, each
mode's latest prediction sweep is at most ``ETA_API__READY_MAX_SWEEP_AGE_S`` old.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from eta.clock import Clock
from eta.config import Settings
from eta.store.schema import CollectorState, Model, PredictionSweep

if TYPE_CHECKING:
    from eta.api.store_health import StoreHealth

log = logging.getLogger("eta.api.readiness")
CHUNK = 1 << 20


@dataclass(frozen=True)
class Snapshot:
    ready: bool
    checked_at: datetime | None
    checks: dict[str, bool] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    champions: list[str] = field(default_factory=list)


class Readiness:
    """Holds the latest snapshot; :meth:`refresh` does the work (store query, hashing new model files)."""

    def __init__(self, engine: Engine, settings: Settings, clock: Clock) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self._snapshot = Snapshot(ready=False, checked_at=None, reasons=["not checked yet"])
        self.store_health: StoreHealth | None = None  # probed every second; the checks here run less often
        self._verified: dict[tuple[object, ...], bool] = {}
        self._lock = threading.Lock()

    @property
    def snapshot(self) -> Snapshot:
        """The latest checks, with the store as the latest probe saw it (not ready while it is away)."""
        snap = self._snapshot
        health = self.store_health
        if health is None or health.available:
            return snap
        return replace(
            snap,
            ready=False,
            checks={**snap.checks, "store": False},
            reasons=[health.reason or "the store is unavailable", *snap.reasons],
        )

    def refresh(self) -> Snapshot:
        with self._lock:
            reasons: list[str] = []
            checks = {"store": False, "model": False, "collectors": False}
            champions: list[str] = []
            try:
                with self.engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                    checks["store"] = True
                    models = conn.execute(
                        select(Model.version, Model.mode, Model.task, Model.path, Model.file_hash).where(
                            Model.role == "champion"
                        )
                    ).all()
                    primed = set(
                        conn.execute(
                            select(CollectorState.collector).where(CollectorState.primed_at.is_not(None))
                        ).scalars()
                    )
                    swept = dict(
                        conn.execute(
                            select(PredictionSweep.mode, func.max(PredictionSweep.swept_at)).group_by(
                                PredictionSweep.mode
                            )
                        ).all()
                    )
            except SQLAlchemyError as exc:
                reasons.append(f"the store is unreachable ({type(exc).__name__})")
                models, primed, swept = [], set(), {}
            if checks["store"]:
                champions, model_reasons = self._check_models(models)
                model_reasons += self._check_sweeps(models, swept)
                reasons += model_reasons
                checks["model"] = bool(champions) and not model_reasons
                missing = [c for c in self.settings.collectors.enabled if c not in primed]
                if missing:
                    reasons.append(f"collectors not yet run successfully: {', '.join(missing)}")
                checks["collectors"] = not missing
            self._snapshot = Snapshot(
                ready=all(checks.values()),
                checked_at=self.clock(),
                checks=checks,
                reasons=reasons,
                champions=champions,
            )
            return self._snapshot

    def _check_models(self, models: Sequence[Any]) -> tuple[list[str], list[str]]:
        if not models:
            return [], ["no champion model is registered"]
        verified, reasons = [], []
        for version, mode, task, path, file_hash in models:
            # hashed again when the files change (a model overwritten or corrupted in place)
            key = (version, path, file_hash, _stamp(self._resolve(path)))
            if key not in self._verified:
                self._verified[key] = _file_matches(self._resolve(path), file_hash)
                if self._verified[key]:
                    log.info("champion %s (%s %s) verified", version, mode, task)
            if self._verified[key]:
                verified.append(version)
            else:
                reasons.append(f"champion {version} ({mode} {task}): file missing or its sha256 differs")
        return verified, reasons

    def _check_sweeps(self, models: Sequence[Any], swept: dict[str, datetime]) -> list[str]:
        """Where collectors run: each mode with a champion that was swept was swept recently."""
        limit = self.settings.api.ready_max_sweep_age_s
        if not self.settings.collectors.enabled or limit <= 0:
            return []
        now = self.clock()
        reasons = []
        for mode in sorted({row[1] for row in models}):
            last = swept.get(mode)
            if last is None:
                continue  # never swept yet (a fresh store): the collectors' check says so
            age_s = round((now - last).total_seconds())
            if age_s > limit:
                reasons.append(f"{mode}: the last prediction sweep was {age_s} s ago (limit {limit} s)")
        return reasons

    def _resolve(self, path: str) -> Path:
        """Registered paths may be relative to the data directory."""
        found = Path(path)
        return found if found.is_absolute() else self.settings.data_dir / found


def _stamp(path: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of a model's files: what changes when they are rewritten."""
    try:
        found = sorted(path.iterdir()) if path.is_dir() else [path]
        return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in found if p.is_file())
    except OSError:
        return ()


def _file_matches(path: Path, expected_sha256: str) -> bool:
    """A registered model: a directory whose meta.json has the registered hash and whose files match it
    (what the registry writes), or a single file with that hash."""
    if path.is_dir():
        from eta.model.artefact import IntegrityError, verify

        try:
            verify(path, expected_sha256.lower())
        except IntegrityError:
            return False
        return True
    if not path.is_file():
        return False
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest() == expected_sha256.lower()
