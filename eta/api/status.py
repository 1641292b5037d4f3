"""Operator views of the running system: collector freshness and errors, registered models and their
served interval re-calibrations."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from eta.model import served_calibration as served_calibrations
from eta.store.schema import CollectorRun, CollectorState, Model

RUN_WINDOW = timedelta(hours=24)


def collector_status(engine: Engine, now: datetime, enabled: list[str]) -> list[dict[str, Any]]:
    """Per collector: primed, last success, data freshness, and runs and errors over the last 24 h."""
    since = now - RUN_WINDOW
    with engine.connect() as conn:
        states = {row.collector: row for row in conn.execute(select(CollectorState)).all()}
        runs = conn.execute(
            select(
                CollectorRun.collector,
                CollectorRun.ok,
                CollectorRun.error_kind,
                func.count(),
                func.sum(CollectorRun.rows_written),
                func.sum(CollectorRun.rows_quarantined),
            )
            .where(CollectorRun.started_at >= since, CollectorRun.started_at <= now)
            .group_by(CollectorRun.collector, CollectorRun.ok, CollectorRun.error_kind)
        ).all()
    per: dict[str, dict[str, Any]] = {}
    for name, ok, kind, count, written, quarantined in runs:
        entry = per.setdefault(
            name, {"runs": 0, "failures": 0, "errors": {}, "rows_written": 0, "rows_quarantined": 0}
        )
        entry["runs"] += count
        entry["rows_written"] += int(written or 0)
        entry["rows_quarantined"] += int(quarantined or 0)
        if not ok:
            entry["failures"] += count
            entry["errors"][kind or "unknown"] = entry["errors"].get(kind or "unknown", 0) + count
    known = _known_by(engine, now, states)
    out = []
    for name in sorted(set(states) | set(per) | set(enabled)):
        state = states.get(name)
        runs_24h = per.get(
            name, {"runs": 0, "failures": 0, "errors": {}, "rows_written": 0, "rows_quarantined": 0}
        )
        data_until, last_success = known.get(name, (None, None))
        out.append(
            {
                "collector": name,
                "enabled": name in enabled,
                "primed_at": state.primed_at if state else None,
                "last_success_at": last_success,
                "last_error_at": state.last_error_at if state else None,
                "last_error_kind": state.last_error_kind if state else None,
                "consecutive_failures": state.consecutive_failures if state else 0,
                "circuit_open_until": state.circuit_open_until if state else None,
                "data_until": data_until,
                "data_age_s": round((now - data_until).total_seconds()) if data_until else None,
                **{f"{k}_24h": v for k, v in runs_24h.items()},
            }
        )
    return out


def _known_by(
    engine: Engine, now: datetime, states: dict[str, Any]
) -> dict[str, tuple[datetime | None, datetime | None]]:
    """Per collector: its newest data and last success as known at ``now``.

    Live, the state's own times are in the past. A replayed store (the demo replays a day, then serves it
    from 17:30) holds runs after the served clock: there, the newest run by ``now`` that brought rows, and
    the newest successful one, stand in — an operator never sees a data age below zero."""
    out = {
        name: (state.data_until, state.last_success_at)
        for name, state in states.items()
        if (state.data_until is None or state.data_until <= now)
        and (state.last_success_at is None or state.last_success_at <= now)
    }
    ahead = [name for name in states if name not in out]
    if not ahead:
        return out
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                CollectorRun.collector,
                func.max(CollectorRun.started_at).filter(CollectorRun.rows_written > 0),
                func.max(CollectorRun.started_at),
            )
            .where(CollectorRun.collector.in_(ahead), CollectorRun.ok, CollectorRun.started_at <= now)
            .group_by(CollectorRun.collector)
        ).all()
    out |= {name: (with_rows, success) for name, with_rows, success in rows}
    return out


def models(
    engine: Engine, now: datetime, roles: tuple[str, ...] = ("champion", "challenger")
) -> list[dict[str, Any]]:
    """Registry rows of ``roles``; arrival models with their newest served re-calibration by ``now``."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Model).where(Model.role.in_(roles)).order_by(Model.mode, Model.task, Model.role)
        ).all()
    return [
        {
            "version": r.version,
            "mode": r.mode,
            "task": r.task,
            "role": r.role,
            "created_at": r.created_at,
            "promoted_at": r.promoted_at,
            "train_from": r.train_from,
            "train_until": r.train_until,
            "n_train": r.n_train,
            "metrics": r.metrics,
            "served_calibration": served_calibration(engine, r.version, now) if r.task == "arrival" else None,
        }
        for r in rows
    ]


def served_calibration(engine: Engine, version: str, now: datetime) -> dict[str, Any] | None:
    """The newest interval re-calibration of ``version`` computed by ``now``: when, on what, and the
    coverage of the model's own interval there (what it corrected)."""
    row = served_calibrations.newest(engine, version, now)
    if row is None:
        return None
    return {
        "computed_at": row.computed_at,
        "arrivals_from": row.arrivals_from,
        "arrivals_until": row.arrivals_until,
        "n": row.n,
        "model_coverage_p10_p90": row.coverage_before,
    }
