"""The model registry: rows of the ``models`` table, one champion per (mode, task).

Roles: ``challenger`` (registered, not serving), ``champion`` (serving), ``retired`` (was champion, replaced
by a promotion; a rollback can bring it back), ``rolled_back`` (was champion, withdrawn by a rollback; a
later rollback never returns to it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import Counter
from sqlalchemy import Engine, insert, select, update

from eta.config import Settings
from eta.errors import EtaError, NotFoundError
from eta.model import artefact as files
from eta.model.artefact import Artefact
from eta.store.schema import Model

log = logging.getLogger("eta.model")
CHAMPION = "champion"
CHALLENGER = "challenger"
RETIRED = "retired"
ROLLED_BACK = "rolled_back"
# The calibration-window metric that must be finite for a model to be promoted.
PRIMARY_METRIC = {
    "arrival": "mae_s",
    "departure": "mae_s",
    "platform": "log_loss",
    "platform_unpublished": "log_loss",
}


class PromotionRefusedError(EtaError):
    """A model may not become champion (integrity, NaN outputs, too little training data)."""


@dataclass(frozen=True)
class Entry:
    """A registry row."""

    version: str
    mode: str
    task: str
    role: str
    created_at: datetime
    train_from: datetime
    train_until: datetime
    n_train: int
    metrics: dict[str, Any]
    path: str
    file_hash: str
    promoted_at: datetime | None

    @property
    def directory(self) -> Path:
        return Path(self.path)


def _entry(row: Model) -> Entry:
    return Entry(
        version=row.version,
        mode=row.mode,
        task=row.task,
        role=row.role,
        created_at=row.created_at,
        train_from=row.train_from,
        train_until=row.train_until,
        n_train=row.n_train,
        metrics=dict(row.metrics or {}),
        path=row.path,
        file_hash=row.file_hash,
        promoted_at=row.promoted_at,
    )


def register(engine: Engine, settings: Settings, artefact: Artefact, version: str) -> Entry:
    """Save the model's files under the models directory and record it as a challenger."""
    directory = settings.resolved_models_dir.resolve() / version
    digest = files.save(artefact, directory)
    meta = artefact.meta
    row = Model(
        version=version,
        mode=meta["mode"],
        task=meta["task"],
        role=CHALLENGER,
        created_at=datetime.fromisoformat(meta["created_at"]),
        train_from=datetime.fromisoformat(meta["train_from"]),
        train_until=datetime.fromisoformat(meta["train_until"]),
        n_train=int(meta["n_train"]),
        features=list(meta["features"]),
        params=dict(meta["params"]),
        metrics=dict(meta.get("metrics", {})),
        path=str(directory),
        file_hash=digest,
        promoted_at=None,
    )
    with engine.begin() as conn:
        conn.execute(insert(Model).values(**_row_values(row)))
    return get(engine, version)


def _row_values(row: Model) -> dict[str, Any]:
    return {column.name: getattr(row, column.name) for column in Model.__table__.columns}


def get(engine: Engine, version: str) -> Entry:
    with engine.connect() as conn:
        row = conn.execute(select(Model).where(Model.version == version)).first()
    if row is None:
        raise NotFoundError(f"no model {version!r} in the registry (see `eta models`)")
    return _entry(Model(**row._mapping))


def entries(engine: Engine) -> list[Entry]:
    with engine.connect() as conn:
        rows = conn.execute(select(Model).order_by(Model.mode, Model.task, Model.created_at)).all()
    return [_entry(Model(**row._mapping)) for row in rows]


def champion(engine: Engine, mode: str, task: str) -> Entry | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(Model).where(Model.mode == mode, Model.task == task, Model.role == CHAMPION)
        ).first()
    return None if row is None else _entry(Model(**row._mapping))


def previous_champions(engine: Engine, mode: str, task: str) -> list[Entry]:
    """The earlier champions of (mode, task) a promotion retired, the latest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Model)
            .where(
                Model.mode == mode,
                Model.task == task,
                Model.role == RETIRED,
                Model.promoted_at.is_not(None),
            )
            .order_by(Model.promoted_at.desc())
        ).all()
    return [_entry(Model(**row._mapping)) for row in rows]


FALLBACKS = Counter(
    "eta_model_champion_fallbacks",
    "Times an earlier champion served because the champion's files failed to load, by mode and task.",
    ["mode", "task"],
)


def serving(engine: Engine, mode: str, task: str) -> Entry | None:
    """The model that serves (mode, task): its champion, or, where the champion's files fail to load
    (missing, changed, corrupt), the latest earlier champion that loads, logged and counted; None if none.
    Its artefact is loaded already (:func:`load` returns it at once)."""
    current = champion(engine, mode, task)
    if current is None:
        return None
    try:
        load(current)
        return current
    except Exception as exc:
        log.error("champion %s (%s %s) fails to load: %s", current.version, mode, task, exc)
    FALLBACKS.labels(mode, task).inc()
    for previous in previous_champions(engine, mode, task):
        try:
            load(previous)
        except Exception as exc:
            log.error("earlier champion %s (%s %s) fails to load too: %s", previous.version, mode, task, exc)
            continue
        log.warning("%s %s: serving the earlier champion %s meanwhile", mode, task, previous.version)
        return previous
    log.error("%s %s: no champion loads; nothing is predicted for this task", mode, task)
    return None


_LOADED_MAX = 8
# (directory, hash) -> (files' stamp when loaded, model): re-predicting after every collector cycle must not
# read and verify megabytes of model files each time.
_loaded: dict[tuple[str, str | None], tuple[tuple[tuple[str, int, int], ...], Artefact]] = {}


def load(entry: Entry) -> Artefact:
    """The model's files, after checking them against the hash recorded at registration.

    A model already loaded in this process is reused while its files keep their size and modification time.
    """
    key = (str(entry.directory), entry.file_hash)
    stamp = _files_stamp(entry.directory)
    cached = _loaded.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    model = files.load(entry.directory, entry.file_hash)
    if len(_loaded) >= _LOADED_MAX:
        _loaded.pop(next(iter(_loaded)))
    _loaded[key] = (stamp, model)
    return model


def _files_stamp(directory: Path) -> tuple[tuple[str, int, int], ...]:
    if not directory.is_dir():
        return ()
    stats = ((p.name, p.stat()) for p in sorted(directory.iterdir()) if p.is_file())
    return tuple((name, st.st_mtime_ns, st.st_size) for name, st in stats)


def check_promotable(entry: Entry, settings: Settings) -> Artefact:
    """Refuse a model whose files changed, that outputs NaN, or that learnt from too little data."""
    try:
        model = load(entry)
    except files.IntegrityError as exc:
        raise PromotionRefusedError(f"{entry.version} failed its integrity check: {exc}") from exc
    if entry.n_train < settings.model.min_train_rows:
        raise PromotionRefusedError(
            f"{entry.version} was trained on {entry.n_train:,} rows, fewer than the "
            f"{settings.model.min_train_rows:,} required (ETA_MODEL__MIN_TRAIN_ROWS)"
        )
    metrics = model.meta.get("metrics", {})
    primary = PRIMARY_METRIC.get(entry.task, "mae_s")
    if metrics.get("nan_predictions", 0) or not np.isfinite(metrics.get(primary, np.nan)):
        raise PromotionRefusedError(f"{entry.version} outputs NaN on its calibration window")
    return model


def promote(engine: Engine, settings: Settings, version: str) -> Entry:
    """Make ``version`` the champion of its mode and task; the previous champion is retired."""
    entry = get(engine, version)
    if entry.role == CHAMPION:
        return entry
    check_promotable(entry, settings)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            update(Model)
            .where(Model.mode == entry.mode, Model.task == entry.task, Model.role == CHAMPION)
            .values(role=RETIRED)
        )
        conn.execute(update(Model).where(Model.version == version).values(role=CHAMPION, promoted_at=now))
    return get(engine, version)


def rollback(engine: Engine, mode: str | None = None, task: str | None = None) -> tuple[Entry, Entry]:
    """Withdraw the current champion and reinstate the one it replaced; returns (withdrawn, reinstated)."""
    current = _current_for_rollback(engine, mode, task)
    with engine.connect() as conn:
        previous = conn.execute(
            select(Model)
            .where(
                Model.mode == current.mode,
                Model.task == current.task,
                Model.role == RETIRED,
                Model.promoted_at.is_not(None),
            )
            .order_by(Model.promoted_at.desc())
        ).first()
    if previous is None:
        raise NotFoundError(f"no earlier champion of {current.mode} {current.task} to roll back to")
    with engine.begin() as conn:
        conn.execute(update(Model).where(Model.version == current.version).values(role=ROLLED_BACK))
        conn.execute(update(Model).where(Model.version == previous.version).values(role=CHAMPION))
    return get(engine, current.version), get(engine, previous.version)


def _current_for_rollback(engine: Engine, mode: str | None, task: str | None) -> Entry:
    champions = [e for e in entries(engine) if e.role == CHAMPION]
    if mode:
        champions = [e for e in champions if e.mode == mode]
    if task:
        champions = [e for e in champions if e.task == task]
    if not champions:
        raise NotFoundError("no champion to roll back" + (f" for {mode or ''} {task or ''}".rstrip()))
    if len(champions) > 1:
        which = ", ".join(f"{e.mode}/{e.task}" for e in champions)
        raise EtaError(f"several champions ({which}): say which with --mode and --task")
    return champions[0]
