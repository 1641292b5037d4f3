"""Shared fixtures: a real store on SQLite and, when reachable, on PostgreSQL (one schema per test)."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from eta.config import Settings, get_settings
from eta.store import open_store
from tests.exit_guard import pytest_unconfigure  # noqa: F401 (a hook: the run cannot hang at exit)

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DROP_LOCK_TIMEOUT_S = 60
POSTGRES_URL = os.environ.get("ETA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_reason() -> str | None:
    """None when PostgreSQL answers, else why its tests are skipped."""
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        return (
            f"PostgreSQL at {POSTGRES_URL} is unreachable ({type(exc).__name__}); its store tests are skipped"
        )
    return None


POSTGRES_SKIP = _postgres_reason()


def pytest_report_header(config: pytest.Config) -> str:
    return POSTGRES_SKIP or f"PostgreSQL store tests run against {POSTGRES_URL}"


@pytest.fixture(autouse=True)
def _isolated_logging() -> Iterator[None]:
    """A test that configures logging (eta.logging.configure_logging) binds the root handler to that test's
    captured stderr; left behind, a later test's server thread logs into the closed stream ("Logging error",
    seen with two workers). Each test gets back the handlers it found."""
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error")]
    saved = [(logger.handlers[:], logger.level, logger.propagate) for logger in loggers]
    yield
    for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test gets its own data directory and no ETA_ variables leaking in from the shell."""
    for key in list(os.environ):
        if key.startswith("ETA_") and key != "ETA_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("ETA_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite3'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if POSTGRES_SKIP:
        pytest.skip(POSTGRES_SKIP)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    try:
        with admin.begin() as conn:
            # a session left in a transaction on the schema (a connection a test left behind) would hold
            # DROP SCHEMA for ever: fail, naming the sessions, instead
            conn.execute(text(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT_S}s'"))
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    except OperationalError as exc:
        with admin.connect() as conn:
            sessions = conn.execute(
                text(
                    "SELECT pid, state, xact_start, left(query, 80) FROM pg_stat_activity WHERE"
                    " datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
                )
            ).all()
        raise RuntimeError(f"schema {schema} not dropped; sessions in a transaction: {sessions}") from exc
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty store, once per backend."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def settings(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ETA_DATABASE_URL", store_url)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def store(settings: Settings) -> Iterator[Engine]:
    """A migrated store (SQLite and PostgreSQL)."""
    engine = open_store(settings)
    yield engine
    engine.dispose()
