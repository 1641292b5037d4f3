"""Unpublished-platform model on the Berlin IRIS slice: calibrated probabilities without the plan, and
serving at stations that announce late (the unpublished champion before the announcement, never the plan)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, delete

from eta.config import PlatformSettings, Settings
from eta.features import load_frames, unpublished
from eta.features.frames import Frames
from eta.features.publication import Publication
from eta.model import platform as platform_model
from eta.model import platform_unpublished, registry
from eta.model.artefact import Artefact
from eta.model.predict import predict_calls
from eta.model.retrain import unpublished_score
from eta.model.training import train_and_register
from eta.store import open_store
from eta.store.schema import Model, Prediction
from eta.windows import Window
from tests import slices
from tests.model.conftest import small_settings

START = datetime(2025, 9, 3, 13, tzinfo=UTC)
SPLIT = datetime(2025, 9, 3, 15, 30, tzinfo=UTC)
END = datetime(2025, 9, 3, 17, 30, tzinfo=UTC)
# the calls of 16:00-17:00 are known from the plan fetched at 16:01 (one plan per hour in the fixture)
MADE_AT = datetime(2025, 9, 3, 16, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Engine, Frames, Artefact, Artefact]:
    directory = tmp_path_factory.mktemp("iris-unpublished-model")
    settings = small_settings(
        slices.copy_of(slices.iris_template(), directory),
        directory,
        min_train_rows=10,
        calibration_fraction=0.3,
    )
    engine = open_store(settings)
    frames = load_frames(engine, "train", START, END)
    late = platform_unpublished.train(frames, START, SPLIT, settings)
    return settings, engine, frames, late, platform_model.train(frames, START, SPLIT, settings)


def test_probabilities_sum_to_one_without_the_planned_platform(iris: tuple) -> None:  # type: ignore[type-arg]
    settings, _, frames, model, _ = iris
    assert model.meta["task"] == "platform_unpublished"
    assert model.meta["announce_lead_s"] == settings.platforms.announce_lead_min * 60
    assert "is_planned" not in model.meta["features"] and model.meta["temperature"] > 0
    targets = unpublished.platform_targets(frames, SPLIT, END)
    queries = platform_unpublished.queries_for(frames, targets, ("30min",), 1200)
    predictor = platform_unpublished.UnpublishedPlatformPredictor(model, Publication.all_stations(1200))
    pairs = predictor.pairs(frames, queries)
    totals = pairs.groupby("qid")["probability"].sum()
    assert len(totals) > 20 and np.allclose(totals, 1.0)
    top = predictor.predict_queries(frames, queries)
    assert not top["platform_announced"].any()
    # two hours of history predict little here (the week's backtest measures accuracy): the top-1 is the
    # most probable candidate of each query
    best = pairs.sort_values("probability").drop_duplicates("qid", keep="last").set_index("qid")
    assert (top["platform"] == best["candidate"].reindex(top.index)).all()


def _served(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = pd.read_sql(Prediction.__table__.select(), conn)
        calls = pd.read_sql("select id as call_id, location, scheduled_arrival from calls", conn)
    rows = rows.merge(calls, on="call_id")
    rows["scheduled_arrival"] = pd.to_datetime(rows["scheduled_arrival"], utc=True)
    rows["announced_by_then"] = rows["scheduled_arrival"] - pd.Timedelta(minutes=20) < pd.Timestamp(MADE_AT)
    return rows


def _fresh(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(Prediction))
        conn.execute(delete(Model))


def _promote(settings: Settings, engine: Engine, model: Artefact, version: str) -> None:
    registry.register(engine, settings, model, version)
    registry.promote(engine, settings, version)


def test_stations_that_announce_late_get_no_plan_before_the_announcement(iris: tuple) -> None:  # type: ignore[type-arg]
    settings, engine, _, _, published = iris
    _fresh(engine)
    _promote(settings, engine, published, "train-platform-published-test")
    assert predict_calls(engine, settings, MADE_AT) > 20
    everywhere = _served(engine)
    assert everywhere["platform"].notna().all()
    _fresh(engine)
    _promote(settings, engine, published, "train-platform-published-test")
    late = settings.model_copy(update={"platforms": PlatformSettings(unpublished_stations=["*"])})
    assert predict_calls(engine, late, MADE_AT) == len(everywhere)
    rows = _served(engine)
    # no unpublished champion: nothing is served before the announcement, the published model after it
    assert rows.loc[~rows["announced_by_then"], "platform"].isna().all()
    assert rows.loc[rows["announced_by_then"], "platform"].notna().all()
    assert (~rows["announced_by_then"]).sum() > 20 and rows["announced_by_then"].sum() > 0


def test_the_unpublished_champion_serves_until_the_announcement(iris: tuple) -> None:  # type: ignore[type-arg]
    settings, engine, _, model, published = iris
    _fresh(engine)
    _promote(settings, engine, published, "train-platform-published-test")
    _promote(settings, engine, model, "train-platform_unpublished-test")
    assert registry.champion(engine, "train", "platform_unpublished") is not None
    late = settings.model_copy(update={"platforms": PlatformSettings(unpublished_stations=["*"])})
    assert predict_calls(engine, late, MADE_AT) > 20
    rows = _served(engine)
    ahead = rows[~rows["announced_by_then"]]
    assert len(ahead) > 20 and ahead["platform"].notna().all()
    assert not ahead["platform_announced"].astype(bool).any()
    for _, row in ahead.iterrows():
        assert sum(row["platform_probs"].values()) == pytest.approx(1.0, abs=0.01)
    announced = rows[rows["announced_by_then"]]
    assert announced["platform"].notna().all() and announced["platform_announced"].astype(bool).all()


def test_the_retraining_job_scores_it_on_its_own_announcement_lead(iris: tuple) -> None:  # type: ignore[type-arg]
    _, _, frames, model, _ = iris
    assert np.isfinite(unpublished_score(frames, model, SPLIT, END))
    # a model that cannot tell its candidates apart scores the log of their number (1e-6 where the final
    # platform is not among them)
    flat = Artefact(model.booster, model.history, {**model.meta, "temperature": 1e12})
    targets = unpublished.platform_targets(frames, SPLIT, END)
    queries = platform_unpublished.queries_for(frames, targets, unpublished.HORIZONS, 1200)
    pairs = platform_unpublished.UnpublishedPlatformPredictor(flat, Publication.all_stations(1200)).pairs(
        frames, queries
    )
    final = queries.set_index("qid")["final_platform"].astype(str)
    found = pairs["candidate"] == pairs["qid"].map(final)
    per_query = np.where(
        final.index.isin(pairs.loc[found, "qid"]),
        np.log(pairs.groupby("qid").size().reindex(final.index).fillna(1.0)),
        -np.log(1e-6),
    )
    assert unpublished_score(frames, flat, SPLIT, END) == pytest.approx(per_query.mean(), rel=1e-6)


def test_eta_train_registers_it_as_a_challenger_of_its_own_task(iris: tuple) -> None:  # type: ignore[type-arg]
    settings, engine, _, _, _ = iris
    _fresh(engine)
    window = Window(START, SPLIT, "start", "split")
    [entry] = train_and_register(engine, settings, "train", window, ("platform_unpublished",))
    assert (entry.task, entry.role) == ("platform_unpublished", "challenger")
    assert entry.version.startswith("train-platform_unpublished-")
    assert registry.load(entry).meta["announce_lead_s"] == 1200
