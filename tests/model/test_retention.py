"""Model retention: the retraining job registers models every day; old ones go, rollback keeps working."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from eta.config import Settings
from eta.model import registry
from eta.model.artefact import Artefact
from eta.model.retention import prune_models
from eta.store import open_store
from eta.store.schema import Model
from tests.model.conftest import small_settings

# promotions are stamped with the real clock: the retention runs two months after them
NOW = datetime.now(UTC) + timedelta(days=60)


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[tuple[Engine, Settings]]:
    """An empty store on each backend, keeping models 30 days and one earlier champion."""
    settings = small_settings(store_url, tmp_path)
    settings.store.models_keep_days = 30
    settings.store.models_keep_champions = 1
    engine = open_store(settings)
    yield engine, settings
    engine.dispose()


def _register(engine: Engine, settings: Settings, model: Artefact, version: str, age_days: int) -> Path:
    copied = copy.deepcopy(model)
    copied.meta["created_at"] = (NOW - timedelta(days=age_days)).isoformat()
    return Path(registry.register(engine, settings, copied, version).path)


def test_old_models_go_with_their_files_keeping_the_champion_and_the_one_to_roll_back_to(
    store: tuple[Engine, Settings], flights_model: Artefact
) -> None:
    engine, settings = store
    dirs = {}
    for version, age in (("a", 100), ("b", 90), ("c", 80), ("d", 70), ("e", 5)):
        dirs[version] = _register(engine, settings, flights_model, f"flight-arrival-{version}", age)
        if version in "abd":  # c: a challenger the job never promoted; e: a recent one
            registry.promote(engine, settings, f"flight-arrival-{version}")
    before = {e.version for e in registry.entries(engine)}

    would = prune_models(engine, settings, NOW, dry_run=True)
    assert (would.table, would.rows) == ("models", 2)
    assert would.bytes > 0
    assert {e.version for e in registry.entries(engine)} == before
    assert all(path.is_dir() for path in dirs.values())

    done = prune_models(engine, settings, NOW)
    assert (done.rows, done.bytes) == (would.rows, would.bytes)
    assert done.cutoff == NOW - timedelta(days=30)
    kept = {e.version.removeprefix("flight-arrival-"): e.role for e in registry.entries(engine)}
    assert kept == {"b": "retired", "d": "champion", "e": "challenger"}
    assert {v for v, path in dirs.items() if path.is_dir()} == {"b", "d", "e"}
    withdrawn, reinstated = registry.rollback(engine)
    assert (withdrawn.version, reinstated.version) == ("flight-arrival-d", "flight-arrival-b")
    assert registry.load(reinstated).meta["mode"] == "flight"
    assert prune_models(engine, settings, NOW).rows == 1  # d, withdrawn: no rollback returns to it
    assert {e.version for e in registry.entries(engine)} == {"flight-arrival-b", "flight-arrival-e"}


def test_files_outside_the_models_directory_are_never_deleted(
    store: tuple[Engine, Settings], flights_model: Artefact, tmp_path: Path
) -> None:
    engine, settings = store
    path = _register(engine, settings, flights_model, "flight-arrival-old", 100)
    elsewhere = tmp_path / "elsewhere" / path.name
    elsewhere.parent.mkdir()
    path.rename(elsewhere)
    with engine.begin() as conn:
        conn.execute(update(Model).values(path=str(elsewhere)))
    pruned = prune_models(engine, settings, NOW)
    assert pruned.rows == 1
    assert pruned.bytes == 0
    assert elsewhere.is_dir()
    assert registry.entries(engine) == []
