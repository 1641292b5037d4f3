"""Schema migrations (Alembic), run by ``eta db upgrade`` and whenever the store is opened."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from eta.config import Settings


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "eta.store:migrations")
    # configparser treats % as interpolation; URLs carry percent-escapes
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


# Any constant shared by every eta process: the PostgreSQL advisory lock taken while migrating.
_MIGRATION_LOCK_KEY = 0x657461_6D6967  # "eta", "mig"


def upgrade(engine: Engine, revision: str = "heads", settings: Settings | None = None) -> str:
    """Bring the store to ``revision`` (default: every head); returns the revisions it is at.

    ``settings``: the process's, where a migration needs them (0012 seals secrets with its key); else
    :func:`eta.config.get_settings`.

    One process at a time: processes opening a fresh store together (the collectors and the API) wait for
    the first one's migrations, in one transaction, and then find nothing left to do.
    """
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        _lock_for_migration(conn)
        cfg.attributes["connection"] = conn
        cfg.attributes["settings"] = settings
        command.upgrade(cfg, revision)
    return ", ".join(sorted(current_revisions(engine)))


def _lock_for_migration(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        # the write lock now, not at the first write: the revision is read under it (waits busy_timeout)
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def head_revisions(engine: Engine) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def is_up_to_date(engine: Engine) -> bool:
    return current_revisions(engine) == head_revisions(engine)
