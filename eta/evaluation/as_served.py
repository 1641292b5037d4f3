"""The interval a backtest scores as served: the model's own predictions re-calibrated as serving would have
re-calibrated them, had the model been deployed at a given time (:func:`eta.model.served_calibration.replay`),
with the 19 quantiles rebuilt around the served bounds as serving builds them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from eta.config import Settings
from eta.features.reports import seconds
from eta.model import distribution, served_calibration
from eta.model.artefact import Artefact
from eta.model.calibration import bucket_of


@dataclass(frozen=True)
class Served:
    """Delays in s, one row per query: the served P10 and P90 and the quantiles at ``distribution.LEVELS``."""

    p10_s: np.ndarray
    p90_s: np.ndarray
    quantiles_s: np.ndarray


def served(
    features: pd.DataFrame,
    queries: pd.DataFrame,
    predicted: pd.DataFrame,
    artefact: Artefact,
    settings: Settings,
    deployed: datetime,
) -> Served:
    """What serving would have given for ``predicted`` (the model's ``p10/p50/p90_delay_s`` of ``features``),
    ``queries`` aligned with them (``call_id``, ``t``, ``arrival_known_at``, ``actual_arrival``)."""
    calibration = artefact.meta["calibration"]
    buckets = bucket_of(features, calibration)
    scheduled = features["scheduled_arrival"]
    p50 = predicted["p50_delay_s"].to_numpy(dtype="float64")
    predictions = pd.DataFrame(
        {
            "call_id": queries["call_id"].to_numpy(),
            "made_at": queries["t"].to_numpy(),
            "scheduled": scheduled.to_numpy(),
            "known_at": queries["arrival_known_at"].to_numpy(),
            "actual_s": seconds(pd.to_datetime(queries["actual_arrival"], utc=True) - scheduled).to_numpy(),
            "p10_s": predicted["p10_delay_s"].to_numpy(dtype="float64"),
            "p50_s": p50,
            "p90_s": predicted["p90_delay_s"].to_numpy(dtype="float64"),
            "bucket": buckets.to_numpy(),
        }
    )
    low, high = served_calibration.replay(predictions, settings, deployed)
    return Served(low, high, distribution.quantiles(calibration.get("shape"), low, p50, high, buckets))
