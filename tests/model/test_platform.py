"""Platform model on the Berlin IRIS slice: probabilities per call sum to 1, announcements count, serving."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eta.features import load_frames, platforms
from eta.features.queries import TRAIN_HORIZONS
from eta.model import platform as platform_model
from eta.model import registry
from eta.model.predict import predict_calls
from eta.store import open_store
from eta.store.schema import Prediction
from tests import slices
from tests.model.conftest import small_settings

# The slice: 2025-09-03 16:00–18:59 local (14:00–16:59 UTC) at Berlin Gesundbrunnen and Südkreuz.
START = datetime(2025, 9, 3, 13, tzinfo=UTC)
SPLIT = datetime(2025, 9, 3, 15, 30, tzinfo=UTC)
END = datetime(2025, 9, 3, 17, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object, object]:
    directory = tmp_path_factory.mktemp("iris")
    settings = small_settings(
        slices.copy_of(slices.iris_template(), directory),
        directory,
        min_train_rows=10,
        calibration_fraction=0.3,
    )
    engine = open_store(settings)
    frames = load_frames(engine, "train", START, END)
    model = platform_model.train(frames, START, SPLIT, settings)
    return settings, engine, (frames, model)


def test_probabilities_sum_to_one_and_favour_the_announced_platform(iris: tuple) -> None:  # type: ignore[type-arg]
    _, _, (frames, model) = iris
    targets = platforms.platform_targets(frames, SPLIT, END)
    queries = platform_model.platform_queries(frames, targets, TRAIN_HORIZONS)
    pairs = platforms.compute_features(frames, queries, model.history, model.meta["vocabularies"])
    pairs["probability"] = platform_model.PlatformPredictor(model).probabilities(pairs)
    totals = pairs.groupby("qid")["probability"].sum()
    assert len(totals) > 100
    assert np.allclose(totals, 1.0)
    top = platform_model.summarise(pairs)
    final = queries.set_index("qid")["final_platform"].astype(str)
    model_top1 = (top["platform"] == final.reindex(top.index)).mean()
    announced = platforms.announced_as_of(frames, queries)["announced"].astype(str)
    announced_top1 = (announced == final.reindex(announced.index)).mean()
    assert model_top1 > 0.8 and model_top1 >= announced_top1 - 0.05  # a tiny model, two hours of data
    announced_prob = pairs.loc[pairs["is_announced"] == 1, "probability"]
    assert announced_prob.median() > 0.8
    assert model.meta["temperature"] > 0 and np.isfinite(model.meta["metrics"]["log_loss"])


def test_a_call_moved_to_another_platform_before_t_is_predicted_there(iris: tuple) -> None:  # type: ignore[type-arg]
    _, _, (frames, model) = iris
    targets = platforms.platform_targets(frames, SPLIT, END)
    queries = platform_model.platform_queries(frames, targets, ("15min",))
    announced = platforms.announced_as_of(frames, queries)
    moved = announced[announced["announced"] != announced["planned"]]
    assert len(moved) >= 3, "the slice has platform changes announced 15 min ahead"
    pairs = platforms.compute_features(frames, queries, model.history, model.meta["vocabularies"])
    pairs["probability"] = platform_model.PlatformPredictor(model).probabilities(pairs)
    top = platform_model.summarise(pairs).reindex(moved.index)
    assert (top["platform"] == moved["announced"].astype(str)).mean() >= 0.5
    assert top["platform_announced"].mean() >= 0.5


def test_served_rows_carry_platform_probabilities(iris: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    settings, engine, (_, model) = iris
    entry = registry.register(engine, settings, model, "train-platform-test")  # type: ignore[arg-type]
    registry.promote(engine, settings, entry.version)  # type: ignore[arg-type]
    made_at = datetime(2025, 9, 3, 16, 5, tzinfo=UTC)  # once the fixture's 16:01 plan made 16:00-17:00 known
    assert predict_calls(engine, settings, made_at) > 20  # type: ignore[arg-type]
    with engine.connect() as conn:  # type: ignore[attr-defined]
        rows = pd.read_sql(Prediction.__table__.select(), conn)
    rows = rows.dropna(subset=["platform"])
    assert len(rows) > 20
    for _, row in rows.iterrows():
        probs = row["platform_probs"]
        assert probs[row["platform"]] == pytest.approx(row["platform_probability"], abs=1e-3)
        assert sum(probs.values()) == pytest.approx(1.0, abs=0.01)
    assert rows["p50_arrival"].isna().all()  # no arrival champion for trains here


def _moves(right_p: list[float], wrong_p: list[float], calm: int = 20) -> pd.DataFrame:
    """Labelled pairs: per query, an announced platform "1" and another "2" holding probability p; the
    right moves end at "2", the wrong ones and the calm queries at "1"."""
    rows = []
    cases = [(p, 1.0) for p in right_p] + [(p, 0.0) for p in wrong_p] + [(0.01, 0.0)] * calm
    for qid, (p, moved) in enumerate(cases):
        rows.append(
            {"qid": qid, "candidate": "1", "is_announced": 1, "probability": 1 - p, "label": 1 - moved}
        )
        rows.append({"qid": qid, "candidate": "2", "is_announced": 0, "probability": p, "label": moved})
    return pd.DataFrame(rows)


def test_the_model_keeps_the_announced_platform_where_moving_did_not_pay() -> None:
    threshold, top1 = platform_model.fit_switch_threshold(_moves([0.6, 0.7], [0.65, 0.75, 0.8]))
    assert threshold == 1.0
    assert top1 == pytest.approx(23 / 25)  # the wrong moves and the calm queries are right


def test_the_model_moves_where_moving_paid_off_beyond_chance_and_only_there() -> None:
    pairs = _moves([0.85, 0.9, 0.95] * 4, [0.6, 0.7])
    threshold, top1 = platform_model.fit_switch_threshold(pairs)
    assert 0.7 < threshold <= 0.85
    assert top1 == 1.0
    top = platform_model.summarise(pairs, threshold)
    assert (top["platform"] == "2").sum() == 12


def test_a_gain_within_chance_does_not_move_the_model() -> None:
    threshold, _ = platform_model.fit_switch_threshold(_moves([0.85, 0.9, 0.95], [0.6, 0.7]))
    assert threshold == 1.0  # 3 calls right of 3 moved: not enough evidence


def test_a_call_counts_once_however_many_horizons_it_has() -> None:
    pairs = _moves([0.9] * 6, [])
    assert platform_model.fit_switch_threshold(pairs)[0] <= 0.9  # six calls right: moving pays
    pairs["call_id"] = 7
    assert platform_model.fit_switch_threshold(pairs)[0] == 1.0  # one call at six horizons does not
