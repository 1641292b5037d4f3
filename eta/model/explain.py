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
        "has_report": lambda r: (
            f"the {vehicle} has reported its progress"
            if r["has_report"] >= 1
            else f"no report from the {vehicle} yet"
        ),
        "report_age_s": lambda r: f"its latest report is {_duration(r['report_age_s'])} old",
        "report_sched_to_go_s": lambda r: (
            f"{_duration(r['report_sched_to_go_s'])} scheduled from its latest report to here"
        ),
        "delay_trend_s": lambda r: (
            f"its delay changed by {_minutes(r['delay_trend_s'])} over its last reports"
        ),
        "since_start_s": lambda r: (
            f"it was scheduled to set off {_duration(r['since_start_s'])} ago"
            if r["since_start_s"] >= 0
            else f"it is scheduled to set off in {_duration(-r['since_start_s'])}"
        ),
        "sched_run_s": lambda r: f"{_duration(r['sched_run_s'])} scheduled from its origin to here",
        "stops_after": lambda r: f"{int(r['stops_after'])} more stops after this one",
        "sequence": lambda r: f"stop {int(r['sequence']) + 1} of its run",
        "hist_train_spread_s": lambda r: (
            f"this {vehicle}'s arrivals here usually vary by {_duration(r['hist_train_spread_s'])}"
        ),
        "hist_line_mean_s": lambda r: f"this line usually arrives here {_late(r['hist_line_mean_s'])}",
        "hist_loc_hour_mean_s": lambda r: (
            f"arrivals at {place(r, 'location')} at this hour are usually {_late(r['hist_loc_hour_mean_s'])}"
        ),
        "hist_loc_mean_s": lambda r: (
            f"arrivals at {place(r, 'location')} are usually {_late(r['hist_loc_mean_s'])}"
        ),
        "recent_line_delay_s": lambda r: (
            f"this line's trains in the last hour were {_late(r['recent_line_delay_s'])} on average"
        ),
        "recent_line_here_delay_s": lambda r: (
            f"this line's trains at {place(r, 'location')} lately were "
            f"{_late(r['recent_line_here_delay_s'])} on average"
        ),
        "weather_temperature_c": lambda r: f"{round(r['weather_temperature_c'])} °C",
        "weather_precipitation_mm": lambda r: f"{r['weather_precipitation_mm']:.1f} mm of rain in the hour",
        "weather_wind_speed_ms": lambda r: f"wind at {round(r['weather_wind_speed_ms'])} m/s",
        "weather_wind_gust_ms": lambda r: f"gusts of {round(r['weather_wind_gust_ms'])} m/s",
        "weather_visibility_m": lambda r: f"visibility {round(r['weather_visibility_m'] / 1000, 1)} km",
        "weekday": lambda r: f"on a {WEEKDAYS[int(r['weekday'])]}",
    }


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# What an unknown value means, where "unknown" alone would say nothing to a traveller.
UNKNOWN = {
    "report_": "no report from it yet",
    "latest_delay_s": "no report from it yet",
    "operator_delay_s": "no estimate from the operator yet",
    "hist_": "no history of it here",
    "recent_": "no recent arrivals to compare",
    "weather_": "no weather report",
    "prev_tail_": "nothing known of the aircraft's previous flight",
}


def _duration(seconds: float) -> str:
    minutes = round(abs(seconds) / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"


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
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        for prefix, meaning in UNKNOWN.items():
            if feature.startswith(prefix):
                return meaning
        return f"{feature.replace('_', ' ')} unknown"
    if isinstance(value, float):
        value = round(value, 1)
    return f"{feature.replace('_', ' ')} = {value}"
