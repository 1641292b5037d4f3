"""The store: tables, engines, migrations, bulk writes and as-of queries."""

from __future__ import annotations

from sqlalchemy import Engine

from eta.config import Settings
from eta.store.engine import make_engine, refresh_statistics
from eta.store.migrate import upgrade


def open_store(settings: Settings, *, service: bool = False) -> Engine:
    """Engine for the configured store, migrated to the newest schema (idempotent).

    ``service``: for the API, the collectors and the scheduler (statement timeout, short lock wait).
    """
    if service:
        upgrade(make_engine(settings.resolved_database_url, database=settings.database), settings=settings)
        engine = make_engine(settings.resolved_database_url, service=True, database=settings.database)
        refresh_statistics(engine)
        return engine
    engine = make_engine(settings.resolved_database_url, database=settings.database)
    upgrade(engine, settings=settings)
    refresh_statistics(engine)
    return engine


__all__ = ["make_engine", "open_store", "refresh_statistics", "upgrade"]
