"""Served predictions past their retention are rolled up into daily aggregates and deleted; the operator
accuracy says the same afterwards (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, insert, select

from eta.api import accuracy
from eta.api.rollup import roll_up_predictions
from eta.config import Settings
from eta.store.schema import AccuracyDaily, Prediction, PredictionSweep
from tests.api import seed

START = datetime(2026, 5, 3, tzinfo=UTC)
END = datetime(2026, 5, 6, tzinfo=UTC) - timedelta(microseconds=1)


def _report(engine: Engine, group_by: accuracy.GroupBy) -> list[dict[str, object]]:
    frame = accuracy.served_vs_actual(engine, START, END)
    return accuracy.summarise(frame, group_by, accuracy.rolled_up(engine, START, END))


def _count(engine: Engine, table: type) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_old_predictions_are_rolled_up_and_accuracy_is_unchanged(store: Engine, settings: Settings) -> None:
    seed.import_db_runs(store, settings)
    assert seed.persistence_predictions(store) > 100
    with store.begin() as conn:  # a sweep on 4 May and one much later, inside the retention
        for at in (datetime(2026, 5, 4, 17, tzinfo=UTC), datetime(2026, 5, 30, tzinfo=UTC)):
            conn.execute(insert(PredictionSweep).values(mode="train", swept_at=at, n_calls=0, n_written=0))
    groups = ("overall", "horizon", "station", "line", "day")
    before = {group: _report(store, group) for group in groups}
    assert before["overall"][0]["n"] > 100
    now = datetime(2026, 5, 21, 12, tzinfo=UTC)  # 14 days kept: everything before 7 May goes
    counted = {p.table: p.rows for p in roll_up_predictions(store, settings, now, dry_run=True)}
    assert _count(store, AccuracyDaily) == 0 and counted["predictions"] > 100
    pruned = {p.table: p.rows for p in roll_up_predictions(store, settings, now)}
    assert pruned["predictions"] == counted["predictions"] and pruned["prediction_sweeps"] == 1
    assert _count(store, Prediction) == 0 and _count(store, PredictionSweep) == 1
    assert _count(store, AccuracyDaily) > 0
    for group in groups:
        after = _report(store, group)
        assert [r["group"] for r in after] == [r["group"] for r in before[group]]
        for old, new in zip(before[group], after, strict=True):
            assert old["n"] == new["n"] and old["n_operator"] == new["n_operator"]
            for metric in ("model_mae_s", "timetable_mae_s", "model_bias_s"):
                assert new[metric] == pytest.approx(old[metric], abs=0.11)
            assert new["p10_p90_coverage"] == pytest.approx(old["p10_p90_coverage"], abs=0.0011)
            assert new["platform_accuracy"] == old["platform_accuracy"]
    # rolling up again adds nothing; the days are not counted twice
    assert roll_up_predictions(store, settings, now)[0].rows == 0
    assert _report(store, "overall")[0]["n"] == before["overall"][0]["n"]
