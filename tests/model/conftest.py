"""A small flights arrival model, trained once per test session on the first ten days of January 2013."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from eta.config import ModelSettings, Settings
from eta.features import load_frames
from eta.features.frames import Frames
from eta.model import arrival
from eta.model.artefact import Artefact
from eta.store import open_store
from tests import slices

TRAIN_FROM = datetime(2013, 1, 1, tzinfo=UTC)
TRAIN_UNTIL = datetime(2013, 1, 11, tzinfo=UTC)
TEST_UNTIL = datetime(2013, 1, 15, tzinfo=UTC)


# Quick models for tests: few shallow trees on a sample of the rows (boosting on every row of a week of DB
# runs took most of a backtest test's minutes and tested nothing more).
QUICK_MODEL: dict[str, object] = {
    "n_rounds": 40,
    "max_depth": 4,
    "min_train_rows": 1000,
    "n_threads": 2,
    "max_train_rows": 60_000,
    "interval_train_rows": 30_000,
    "median_parallel_trees": 1,
}


def quick_env(**model: object) -> dict[str, str]:
    """The same quick models as environment variables, for tests that run the command line."""
    return {f"ETA_MODEL__{key.upper()}": str(value) for key, value in (QUICK_MODEL | model).items()}


def small_settings(url: str, data_dir: Path, **model: object) -> Settings:
    """Settings for quick models (few shallow trees) on a test store."""
    values: dict[str, object] = dict(QUICK_MODEL)
    values.update(model)
    return Settings(database_url=url, data_dir=data_dir, model=ModelSettings.model_validate(values))


@pytest.fixture(scope="session")
def flights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("flights")


@pytest.fixture(scope="session")
def flights_settings(flights_dir: Path) -> Settings:
    return small_settings(slices.copy_of(slices.flights_template(), flights_dir), flights_dir)


@pytest.fixture(scope="session")
def flights_engine(flights_settings: Settings) -> Iterator[Engine]:
    engine = open_store(flights_settings)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def flights_frames(flights_engine: Engine) -> Frames:
    return load_frames(flights_engine, "flight", TRAIN_FROM, TEST_UNTIL)


@pytest.fixture(scope="session")
def flights_model(flights_frames: Frames, flights_settings: Settings) -> Artefact:
    return arrival.train(flights_frames, "flight", TRAIN_FROM, TRAIN_UNTIL, flights_settings)
