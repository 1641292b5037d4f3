"""What counts as a material change of a served prediction (eta/model/on_change.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pandas as pd

from eta.config import StoreSettings
from eta.model.on_change import REASONS, material, reasons

T = datetime(2026, 5, 12, 10, 0, tzinfo=UTC)
SETTINGS = StoreSettings(change_p50_s=30, change_interval_s=60, change_platform_probability=0.05)
# (the defaults are larger: the thresholds are what is tested here)


def _row(**changes: Any) -> dict[str, Any]:
    row = {
        "id": 7,
        "call_id": 1,
        "model_version": "m1",
        "p10_arrival": T - timedelta(minutes=2),
        "p50_arrival": T,
        "p90_arrival": T + timedelta(minutes=5),
        "model_p10_arrival": T - timedelta(minutes=2),
        "model_p90_arrival": T + timedelta(minutes=4),
        "interval_bucket": "r1-s0-b3",
        "platform": "7",
        "platform_probability": 0.9,
        "platform_announced": True,
        "platform_probs": {"7": 0.9, "8": 0.1},
    }
    return row | changes


def _material(**changes: Any) -> bool:
    new = pd.DataFrame([_row(**changes)])
    return bool(material(new, {1: SimpleNamespace(**_row())}, SETTINGS).iloc[0])


def test_small_moves_are_not_changes_and_material_ones_are() -> None:
    assert not _material()
    assert not _material(p50_arrival=T + timedelta(seconds=29))
    assert _material(p50_arrival=T - timedelta(seconds=30))
    assert not _material(p90_arrival=T + timedelta(minutes=5, seconds=59))
    assert _material(p10_arrival=T - timedelta(minutes=3))
    assert _material(model_p90_arrival=T + timedelta(minutes=6))
    assert _material(model_version="m2")
    assert not _material(interval_bucket="r0-s0-b3")  # derived from the horizon: not news by itself
    assert _material(platform="8", platform_probs={"7": 0.1, "8": 0.9})
    assert _material(platform_announced=False)
    assert not _material(platform_probability=0.93, platform_probs={"7": 0.93, "8": 0.07})
    assert _material(platform_probability=0.8, platform_probs={"7": 0.8, "8": 0.2})
    assert _material(platform_probs={"7": 0.9, "8": 0.04, "9": 0.06})
    assert _material(p50_arrival=None)  # a value that went away
    assert _material(platform=None, platform_probability=None, platform_probs=None)


def test_a_call_without_a_prediction_in_force_is_a_change() -> None:
    new = pd.DataFrame([_row(), _row(call_id=2)])
    assert list(material(new, {1: SimpleNamespace(**_row())}, SETTINGS)) == [False, True]
    assert material(new.iloc[:0], {}, SETTINGS).empty


def test_the_reasons_name_what_moved() -> None:
    """What bench/prediction_rows.py counts: a bound alone, and a first prediction (every reason)."""
    new = pd.DataFrame([_row(p90_arrival=T + timedelta(minutes=7)), _row(call_id=2)])
    found = reasons(new, {1: SimpleNamespace(**_row())}, SETTINGS)
    assert found.columns.tolist() == list(REASONS)
    assert found.loc[0][found.loc[0]].index.tolist() == ["p90_arrival"]
    assert found.loc[1, "first"] and found.loc[1, "p50_arrival"]
