"""Plain-words explanations of an arrival prediction from xgboost's per-feature contributions to the P50.

``{"baseline_delay_s": int, "top": [{"feature", "contribution_s", "text"}, ...]}``: the baseline is the
model's average prediction (its bias); the contributions of all features add up to the P50 delay. The
latest reported delay's contribution includes the delay itself, because the model predicts the change
from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

TOP_N = 3
Row = Mapping[str, Any]  # one query's features


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes:+d} min"


def _late(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes > 0:
        return f"{minutes} min late"
    if minutes < 0:
        return f"{-minutes} min early"
    return "on time"


def _texts(mode: str, names: pd.Series) -> dict[str, Callable[[Row], str]]:
    """Feature → sentence about its value for one query (row of features)."""
    vehicle = "flight" if mode == "flight" else "train"

    def place(row: Row, column: str) -> str:
        code = row.get(column)
        if code is None or (isinstance(code, float) and math.isnan(code)):
            return "its last stop"
        return str(names.get(code, code))

    return {
        "latest_delay_s": lambda r: (
            f"the flight left {place(r, 'report_location')} {_late(r['latest_delay_s'])}"
            if mode == "flight"
            else f"the train was {_late(r['latest_delay_s'])} at {place(r, 'report_location')}"
        ),
        "operator_delay_s": lambda r: f"the operator expects it {_late(r['operator_delay_s'])}",
        "hist_train_mean_s": lambda r: f"this train usually arrives here {_late(r['hist_train_mean_s'])}",
        "hist_train_median_s": lambda r: f"this train usually arrives here {_late(r['hist_train_median_s'])}",
        "hist_flight_mean_s": lambda r: f"this flight usually arrives {_late(r['hist_flight_mean_s'])}",
        "hist_flight_median_s": lambda r: f"this flight usually arrives {_late(r['hist_flight_median_s'])}",
        "hist_gain_s": lambda r: (
            f"this train usually changes its delay by {_minutes(r['hist_gain_s'])} "
            f"from {place(r, 'report_location')} to here"
        ),
        "recent_loc_delay_s": lambda r: (
            f"trains at {place(r, 'location')} in the last hour were "
            f"{_late(r['recent_loc_delay_s'])} on average"
        ),
        "recent_origin_delay_s": lambda r: (
            f"departures in the last hour were {_late(r['recent_origin_delay_s'])} on average"
        ),
        "recent_all_delay_s": lambda r: (
            f"{vehicle}s everywhere in the last hour were {_late(r['recent_all_delay_s'])} on average"
        ),
        "prev_tail_arr_delay_s": lambda r: (
            f"this aircraft's previous flight arrived {_late(r['prev_tail_arr_delay_s'])}"
        ),
        "prev_tail_dep_delay_s": lambda r: (
            f"this aircraft's previous flight left {_late(r['prev_tail_dep_delay_s'])}"
        ),
        "time_to_arrival_s": lambda r: f"{round(r['time_to_arrival_s'] / 60)} min to the scheduled arrival",
        "report_stops_to_go": lambda r: f"{int(r['report_stops_to_go'])} stops still to go",
        "scheduled_nearby_30min": lambda r: (
            f"{int(r['scheduled_nearby_30min'])} arrivals scheduled at {place(r, 'location')} within 30 min"
        ),
        "hour": lambda r: f"scheduled at {int(r['hour']):02d}:{int((r['hour'] % 1) * 60):02d} local time",
    }


def explain(
    mode: str,
    features: pd.DataFrame,
    contributions: pd.DataFrame,
    bias: np.ndarray,
    names: pd.Series,
) -> list[dict[str, Any]]:
    """One explanation per row of ``features`` (same order)."""
    texts = _texts(mode, names)
    base = features["latest_delay_s"].fillna(0.0).to_numpy()
    contribs = contributions.copy()
    contribs["latest_delay_s"] = contribs["latest_delay_s"] + base
    values = contribs.to_numpy(dtype="float64")
    columns = list(contribs.columns)
    # largest absolute contributions first, for all rows at once (a pandas sort per row cost milliseconds)
    ranked = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :TOP_N]
    records: list[dict[str, Any]] = features.to_dict("records")  # type: ignore[assignment]
    out = []
    for position, feature_row in enumerate(records):
        top = []
        for column in ranked[position]:
            feature, value = columns[column], float(values[position, column])
            if round(value) == 0:
                continue
            top.append(
                {
                    "feature": feature,
                    "contribution_s": round(value),
                    "text": f"{_minutes(value)}: {_describe(feature, feature_row, texts)}",
                }
            )
        out.append({"baseline_delay_s": round(float(bias[position])), "top": top})
    return out


def _describe(feature: str, row: Row, texts: dict[str, Callable[[Row], str]]) -> str:
    value = row.get(feature)
    if feature in texts:
        try:
            return texts[feature](row)
        except (TypeError, ValueError):
            pass
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{feature.replace('_', ' ')} unknown"
    if isinstance(value, float):
        value = round(value, 1)
    return f"{feature.replace('_', ' ')} = {value}"
