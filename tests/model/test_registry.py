"""Registry: one champion per mode and task; promotion refuses tampered, NaN and under-trained models."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
from sqlalchemy import Engine

from eta.config import Settings
from eta.errors import NotFoundError
from eta.model import registry
from eta.model.artefact import Artefact
from eta.model.registry import PromotionRefusedError
from eta.store import open_store
from tests import slices
from tests.model.conftest import small_settings


@pytest.fixture
def store(tmp_path: Path) -> tuple[Engine, Settings]:
    url = slices.copy_of(slices.flights_template(), tmp_path)
    settings = small_settings(url, tmp_path)
    return open_store(settings), settings


def _register(engine: Engine, settings: Settings, model: Artefact, version: str) -> registry.Entry:
    return registry.register(engine, settings, copy.deepcopy(model), version)


def test_promote_then_rollback_keeps_one_champion(
    store: tuple[Engine, Settings], flights_model: Artefact
) -> None:
    engine, settings = store
    first = _register(engine, settings, flights_model, "flight-arrival-a")
    second = _register(engine, settings, flights_model, "flight-arrival-b")
    assert first.role == second.role == "challenger"
    assert registry.champion(engine, "flight", "arrival") is None
    registry.promote(engine, settings, first.version)
    registry.promote(engine, settings, second.version)
    roles = {e.version: e.role for e in registry.entries(engine)}
    assert roles == {first.version: "retired", second.version: "champion"}
    withdrawn, reinstated = registry.rollback(engine)
    assert (withdrawn.version, reinstated.version) == (second.version, first.version)
    assert registry.champion(engine, "flight", "arrival").version == first.version  # type: ignore[union-attr]
    with pytest.raises(NotFoundError):
        registry.rollback(engine)  # the withdrawn model is never reinstated by a rollback


def test_tampered_model_is_not_promoted(store: tuple[Engine, Settings], flights_model: Artefact) -> None:
    engine, settings = store
    entry = _register(engine, settings, flights_model, "flight-arrival-t")
    booster = entry.directory / "model.ubj"
    booster.write_bytes(booster.read_bytes().replace(b"quantile", b"quantilf", 1))
    with pytest.raises(PromotionRefusedError, match="integrity"):
        registry.promote(engine, settings, entry.version)
    assert registry.champion(engine, "flight", "arrival") is None


def test_a_loaded_model_is_reused_until_its_files_change(
    store: tuple[Engine, Settings], flights_model: Artefact
) -> None:
    engine, settings = store
    entry = _register(engine, settings, flights_model, "flight-arrival-r")
    first = registry.load(entry)
    assert registry.load(entry) is first  # no re-reading after every collector cycle
    booster = entry.directory / "model.ubj"
    booster.write_bytes(booster.read_bytes().replace(b"quantile", b"quantilf", 1))
    with pytest.raises(PromotionRefusedError, match="integrity"):
        registry.check_promotable(entry, settings)  # a change after the first load is still caught


def test_model_that_outputs_nan_is_not_promoted(
    store: tuple[Engine, Settings], flights_model: Artefact
) -> None:
    engine, settings = store
    broken = copy.deepcopy(flights_model)
    broken.meta["calibration"] = {"overall": [math.nan, math.nan], "buckets": {}}
    broken.meta["metrics"] = {**broken.meta["metrics"], "nan_predictions": 3, "mae_s": math.nan}
    entry = registry.register(engine, settings, broken, "flight-arrival-nan")
    with pytest.raises(PromotionRefusedError, match="NaN"):
        registry.promote(engine, settings, entry.version)


def test_model_trained_on_too_little_data_is_not_promoted(
    store: tuple[Engine, Settings], flights_model: Artefact, tmp_path: Path
) -> None:
    engine, settings = store
    entry = _register(engine, settings, flights_model, "flight-arrival-small")
    strict = settings.model_copy(
        update={"model": settings.model.model_copy(update={"min_train_rows": 10**9})}
    )
    with pytest.raises(PromotionRefusedError, match="fewer than"):
        registry.promote(engine, strict, entry.version)
    assert registry.promote(engine, settings, entry.version).role == "champion"


def test_unknown_version_is_a_not_found_error(store: tuple[Engine, Settings]) -> None:
    engine, settings = store
    with pytest.raises(NotFoundError, match="eta models"):
        registry.promote(engine, settings, "no-such-model")
