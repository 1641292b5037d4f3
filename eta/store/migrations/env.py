"""Alembic environment: runs against the connection handed over by eta.store.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from eta.store.engine import make_engine
from eta.store.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    with make_engine(context.config.get_main_option("sqlalchemy.url")).begin() as conn:
        _run(conn)
