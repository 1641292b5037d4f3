"""The named baselines a model must beat, computed from the same point-in-time features.

Arrival (predicted delay in seconds):
- ``timetable``: no delay.
- ``persistence``: the operator-style estimate: the operator's own latest estimate for the call where one
  was published by t, else the latest delay the service reported by t carried forward unchanged (for a
  flight at departure: scheduled arrival + departure delay), else no delay.
- ``historical_mean``: the mean arrival delay of this train or flight number at this station over the
  training window (no delay where it has fewer than three arrivals there).
"""

from __future__ import annotations

import pandas as pd

HISTORICAL_FEATURE = {"train": "hist_train_mean_s", "flight": "hist_flight_mean_s"}
ARRIVAL_BASELINES = ("timetable", "persistence", "historical_mean")


def arrival_baselines(mode: str, features: pd.DataFrame) -> dict[str, pd.Series]:
    """Predicted arrival delay (s) per query for each baseline."""
    persistence = features["operator_delay_s"].fillna(features["latest_delay_s"]).fillna(0.0)
    return {
        "timetable": pd.Series(0.0, index=features.index),
        "persistence": persistence,
        "historical_mean": features[HISTORICAL_FEATURE[mode]].fillna(0.0),
    }
