"""Platform backtest (filled in once IRIS platform data is in the store)."""

from __future__ import annotations

from typing import Any

from eta.config import Settings
from eta.evaluation.windows import Window
from eta.features.frames import Frames

BASELINE_PROBABILITIES = ""


def run(frames: Frames, train: Window, test: Window, settings: Settings) -> Any:
    return None


def report(rows: Any) -> dict[str, Any]:
    return {}
