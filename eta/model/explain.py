"""Plain-words explanations of an arrival prediction from xgboost's per-feature contributions to the P50.

``{"baseline_delay_s": int, "top": [{"feature", "contribution_s", "text"}, ...]}``: the baseline is the
model's average prediction (its bias); the contributions of all features add up to the P50 delay. The
latest reported delay's contribution includes the delay itself, because the model predicts the change
from it.

Two inputs state a delay the prediction starts from: the latest reported delay, and the operator's own
estimate (which says how that delay will change by the arrival). Each is said with what it states and,
apart, what eta makes of it: "+36 min: the operator expects it 36 min late" and "+22 min: trains the
operator expects that late usually arrive later still", never "+58 min: the operator expects it 36 min
late", a sentence whose number contradicts its words. The parts still add up to the P50 delay.
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
        "operator_delay_s": lambda r: (
            f"the operator expects it {_late(r['operator_delay_s'])}"
            + (f" (it was {_late(r['latest_delay_s'])})" if _stated_latest(r) else "")
        ),
        # what eta makes of a stated delay beyond what it states (explain's STATED)
        "latest_delay_s|later": lambda r: (
            f"flights that leave {_late(r['latest_delay_s'])} usually lose more time"
            if mode == "flight"
            else f"trains {_late(r['latest_delay_s'])} at {place(r, 'report_location')} usually lose more "
            "time on the way here"
        ),
        "latest_delay_s|earlier": lambda r: (
            f"flights that leave {_late(r['latest_delay_s'])} usually make up time in the air"
            if mode == "flight"
            else f"trains {_late(r['latest_delay_s'])} at {place(r, 'report_location')} usually make up "
            "time on the way here"
        ),
        "operator_delay_s|later": lambda r: (
            f"{vehicle}s the operator expects {_late(r['operator_delay_s'])} usually arrive later still"
        ),
        "operator_delay_s|earlier": lambda r: (
            f"{vehicle}s the operator expects {_late(r['operator_delay_s'])} usually arrive earlier than that"
        ),
        "hist_train_mean_s": lambda r: f"this train usually arrives here {_late(r['hist_train_mean_s'])}",
        "hist_train_median_s": lambda r: f"this train usually arrives here {_late(r['hist_train_median_s'])}",
        "hist_flight_mean_s": lambda r: f"this flight usually arrives {_late(r['hist_flight_mean_s'])}",
        "hist_flight_median_s": lambda r: f"this flight usually arrives {_late(r['hist_flight_median_s'])}",
        "hist_gain_s": lambda r: (
            f"this train usually changes its delay by {_minutes(r['hist_gain_s'])} "
            f"from {place(r, 'report_location')} to here"
        ),
        "prev_days_delay_mean_s": lambda r: (
            f"this train arrived here {_late(r['prev_days_delay_mean_s'])} on average in the last week"
        ),
        "prev_days_delay_median_s": lambda r: (
            f"this train usually arrived here {_late(r['prev_days_delay_median_s'])} in the last week"
        ),
        # measured from its latest report, or from where it starts before any: "on the way here"
        "prev_days_gain_mean_s": lambda r: (
            f"in the last week this train changed its delay by {_minutes(r['prev_days_gain_mean_s'])} "
            "on average on the way here"
        ),
        "prev_days_gain_median_s": lambda r: (
            f"in the last week this train usually changed its delay by "
            f"{_minutes(r['prev_days_gain_median_s'])} on the way here"
        ),
        "prev_days_gain_max_s": lambda r: (
            f"in the last week this train changed its delay by up to {_minutes(r['prev_days_gain_max_s'])} "
            "on the way here"
        ),
        "prev_days_count": lambda r: f"{int(r['prev_days_count'])} runs of this train here in the last week",
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
        "sequence": lambda r: f"this is stop {int(r['sequence']) + 1} of its run",
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
        **_weather_texts("weather_", ""),
        "weekday": lambda r: f"on a {WEEKDAYS[int(r['weekday'])]}",
        "category": lambda r: f"a {r['category']} {vehicle}",
        "report_is_departure": lambda r: (
            "its latest report is a departure"
            if r["report_is_departure"] >= 1
            else "its latest report is an arrival"
        ),
        "delay_trend_3_s": lambda r: (
            f"its delay changed by {_minutes(r['delay_trend_3_s'])} over its last three reports"
        ),
        "max_delay_s": lambda r: f"it has been up to {_late(r['max_delay_s'])} on this run",
        "overdue_s": lambda r: (
            f"its next report is {_duration(r['overdue_s'])} overdue"
            if r["overdue_s"] > 0
            else "its next report is not due yet"
        ),
        "hist_train_count": lambda r: f"{int(r['hist_train_count'])} earlier runs of this train here",
        "hist_gain_median_s": lambda r: (
            f"this train usually changes its delay by {_minutes(r['hist_gain_median_s'])} "
            f"from {place(r, 'report_location')} to here"
        ),
        "hist_line_gain_s": lambda r: (
            f"this line usually changes its delay by {_minutes(r['hist_line_gain_s'])} "
            f"from {place(r, 'report_location')} to here"
        ),
        "hist_seg_gain_median_s": lambda r: (
            f"this train usually changes its delay by {_minutes(r['hist_seg_gain_median_s'])} on the way here"
        ),
        "hist_seg_gain_p90_s": lambda r: (
            f"on a bad day this train loses {_duration(max(r['hist_seg_gain_p90_s'], 0))} on the way here"
        ),
        "inbound_delay_s": lambda r: f"the train it continues from is {_late(r['inbound_delay_s'])}",
        "inbound_slack_s": lambda r: (
            f"{_duration(r['inbound_slack_s'])} scheduled to turn around at its origin"
        ),
        "inbound_excess_s": lambda r: (
            f"the train it continues from is {_late(r['inbound_excess_s'])} beyond its turnaround time"
        ),
        "segment_prev_gain_s": lambda r: (
            f"the previous train of this line changed its delay by {_minutes(r['segment_prev_gain_s'])} "
            "on the way here"
        ),
        "segment_prev_delay_s": lambda r: (
            f"the previous train of this line arrived {_late(r['segment_prev_delay_s'])}"
        ),
        "segment_any_gain_s": lambda r: (
            f"the previous train on this stretch changed its delay by {_minutes(r['segment_any_gain_s'])}"
        ),
        "segment_any_delay_s": lambda r: (
            f"the previous train on this stretch arrived {_late(r['segment_any_delay_s'])}"
        ),
        # flights
        "since_sched_departure_s": lambda r: (
            f"scheduled to have left {_duration(r['since_sched_departure_s'])} ago"
            if r["since_sched_departure_s"] >= 0
            else f"scheduled to leave in {_duration(-r['since_sched_departure_s'])}"
        ),
        "sched_block_s": lambda r: f"{_duration(r['sched_block_s'])} scheduled gate to gate",
        "hist_route_block_s": lambda r: (
            f"this route usually takes {_duration(r['hist_route_block_s'])} gate to gate"
        ),
        "block_vs_history_s": lambda r: (
            f"the timetable allows {_duration(r['block_vs_history_s'])} "
            f"{'more' if r['block_vs_history_s'] >= 0 else 'less'} than this route usually takes"
        ),
        "hist_flight_spread_s": lambda r: (
            f"this flight's arrivals usually vary by {_duration(r['hist_flight_spread_s'])}"
        ),
        "hist_flight_dep_mean_s": lambda r: (
            f"this flight usually leaves {_late(r['hist_flight_dep_mean_s'])}"
        ),
        "hist_route_mean_s": lambda r: (
            f"flights on this route usually arrive {_late(r['hist_route_mean_s'])}"
        ),
        "hist_carrier_hour_mean_s": lambda r: (
            f"this airline's flights at this hour usually arrive {_late(r['hist_carrier_hour_mean_s'])}"
        ),
        "hist_origin_hour_dep_mean_s": lambda r: (
            f"departures at this hour usually leave {_late(r['hist_origin_hour_dep_mean_s'])}"
        ),
        "prev_tail_turn_s": lambda r: (
            f"{_duration(r['prev_tail_turn_s'])} between the aircraft's previous arrival and this departure"
        ),
        "prev_tail_slack_s": lambda r: (
            f"{_duration(r['prev_tail_slack_s'])} of turnaround slack for the aircraft"
        ),
        "origin_departures_hour": lambda r: (
            f"{int(r['origin_departures_hour'])} departures scheduled that hour"
        ),
        "dest_arrivals_hour": lambda r: (
            f"{int(r['dest_arrivals_hour'])} arrivals scheduled at {place(r, 'location')} that hour"
        ),
        "recent_route_block_s": lambda r: (
            f"this route took {_duration(r['recent_route_block_s'])} gate to gate in the last hours"
        ),
        "recent_route_block_vs_hist_s": lambda r: (
            f"this route ran {_minutes(r['recent_route_block_vs_hist_s'])} against its usual time lately"
        ),
        "recent_dest_gain_s": lambda r: (
            f"flights into {place(r, 'location')} lately changed their delay by "
            f"{_minutes(r['recent_dest_gain_s'])} in the air"
        ),
        "recent_all_gain_s": lambda r: (
            f"flights lately changed their delay by {_minutes(r['recent_all_gain_s'])} in the air"
        ),
        "season": lambda r: f"season {int(r['season'])}",
        "seats": lambda r: f"an aircraft with {int(r['seats'])} seats",
        "carrier": lambda r: f"flown by {r['carrier']}",
        "origin_airport": lambda r: f"from {r['origin_airport']}",
        **_due_texts(place),
        **_weather_texts("origin_", "at the departure airport"),
        **_weather_texts("dest_", "at the arrival airport"),
        "segment_prev_age_s": lambda r: (
            f"the previous train of this line passed {_duration(r['segment_prev_age_s'])} ago"
        ),
        "segment_any_age_s": lambda r: (
            f"the previous train on this stretch passed {_duration(r['segment_any_age_s'])} ago"
        ),
        "inbound_report_age_s": lambda r: (
            f"the train it continues from reported {_duration(r['inbound_report_age_s'])} ago"
        ),
        "hist_seg_count": lambda r: f"{int(r['hist_seg_count'])} earlier runs of this train on this stretch",
        "recent_loc_count": lambda r: (
            f"{int(r['recent_loc_count'])} arrivals at {place(r, 'location')} in the last hour"
        ),
        "hist_flight_count": lambda r: f"{int(r['hist_flight_count'])} earlier flights of this number",
        "recent_origin_count": lambda r: f"{int(r['recent_origin_count'])} departures in the last hour",
        "recent_route_count": lambda r: f"{int(r['recent_route_count'])} flights on this route lately",
        "recent_line_count": lambda r: f"{int(r['recent_line_count'])} trains of this line in the last hour",
        "recent_loc_gain_s": lambda r: (
            f"trains reaching {place(r, 'location')} in the last hour changed their delay by "
            f"{_minutes(r['recent_loc_gain_s'])} on their last stretch"
        ),
        "ahead_gain_sum_s": lambda r: (
            f"at the stops still ahead, trains in the last hour changed their delay by "
            f"{_minutes(r['ahead_gain_sum_s'])} in all on their last stretch"
        ),
        "ahead_gain_mean_s": lambda r: (
            f"at the stops still ahead, trains in the last hour changed their delay by "
            f"{_minutes(r['ahead_gain_mean_s'])} per stop on their last stretch"
        ),
        "ahead_gain_max_s": lambda r: (
            f"at one stop still ahead, trains in the last hour changed their delay by "
            f"{_minutes(r['ahead_gain_max_s'])} on their last stretch"
        ),
        "ahead_delay_mean_s": lambda r: (
            f"trains at the stops still ahead were {_late(r['ahead_delay_mean_s'])} on average "
            "in the last hour"
        ),
        "ahead_delay_max_s": lambda r: (
            f"trains at one stop still ahead were {_late(r['ahead_delay_max_s'])} on average in the last hour"
        ),
        "ahead_count": lambda r: (
            f"{int(r['ahead_count'])} reports from the stops still ahead in the last hour"
        ),
    }


def _stated_latest(row: Row) -> bool:
    """Whether the row has a latest reported delay other than on time (what the operator's estimate
    moves from)."""
    latest = row.get("latest_delay_s")
    return not _unknown(latest) and round(float(latest) / 60) != 0  # type: ignore[arg-type]


def _due_texts(place: Callable[[Row, str], str]) -> dict[str, Callable[[Row], str]]:
    """Sentences for the features of trains due but not yet reported (:mod:`eta.features.due`)."""
    from eta.features.due import PLACES

    where = {
        "origin": lambda r: "where it starts",
        "next": lambda r: "at its next stop",
        "report": lambda r: f"at {place(r, 'report_location')}",
    }
    texts: dict[str, Callable[[Row], str]] = {}
    for due in PLACES:
        minutes = round(due.window.total_seconds() / 60)
        verb = "leave" if due.event == "departure" else "arrive"
        at, name = where[due.where], due.name

        def sentences(
            at: Callable[[Row], str], name: str, verb: str, minutes: int
        ) -> dict[str, Callable[[Row], str]]:
            trains = f"trains due to {verb}"
            return {
                f"{name}_n": lambda r: f"{int(r[name + '_n'])} {trains} {at(r)} in the last {minutes} min",
                f"{name}_missing": lambda r: (
                    f"{int(r[name + '_missing'])} {trains} {at(r)} in the last {minutes} min have not yet"
                ),
                f"{name}_missing_share": lambda r: (
                    f"{round(100 * r[name + '_missing_share'])} % of the {trains} {at(r)} in the last "
                    f"{minutes} min have not yet"
                ),
                f"{name}_overdue_s": lambda r: (
                    f"{trains} {at(r)} that have not yet are "
                    f"{_duration(r[name + '_overdue_s'])} overdue on average"
                ),
                f"{name}_delay_s": lambda r: (
                    f"{trains} {at(r)} in the last {minutes} min average {_late(r[name + '_delay_s'])} so far"
                ),
            }

        texts.update(sentences(at, name, verb, minutes))
    return texts


def _weather_texts(prefix: str, where: str) -> dict[str, Callable[[Row], str]]:
    """Sentences for the weather features named ``prefix…``; ``where`` (may be empty) ends each."""
    at = f" {where}" if where else ""
    return {
        f"{prefix}temperature_c": lambda r: f"{round(r[prefix + 'temperature_c'])} °C{at}",
        f"{prefix}precipitation_mm": lambda r: (
            f"{r[prefix + 'precipitation_mm']:.1f} mm of rain in the hour{at}"
        ),
        f"{prefix}wind_speed_ms": lambda r: f"wind at {round(r[prefix + 'wind_speed_ms'])} m/s{at}",
        f"{prefix}wind_gust_ms": lambda r: f"gusts of {round(r[prefix + 'wind_gust_ms'])} m/s{at}",
        f"{prefix}visibility_m": lambda r: f"visibility {round(r[prefix + 'visibility_m'] / 1000, 1)} km{at}",
    }


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# What an unknown value means, where "unknown" alone would say nothing to a traveller.
UNKNOWN = {
    "report_": "no report from it yet",
    "latest_delay_s": "no report from it yet",
    "operator_delay_s": "no estimate from the operator yet",
    "hist_": "no history of it here",
    "prev_days_": "no run of this train here in the last week",
    "recent_": "no recent arrivals to compare",
    "weather_": "no weather report",
    **{
        f"{side}_{what}": f"no weather report at the {airport} airport"
        for side, airport in (("origin", "departure"), ("dest", "arrival"))
        for what in ("temperature", "precipitation", "wind", "visibility")
    },
    "prev_tail_": "nothing known of the aircraft's previous flight",
    "inbound_": "no train it continues from",
    "segment_": "no earlier train on this stretch",
    "overdue_s": "no report from it yet",
    "due_": "no train due there lately",
    "ahead_": "no recent reports from the stops still ahead",
    "max_delay_s": "no report from it yet",
    "delay_trend": "too few reports for a trend",
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
    contribs = _split_stated(features, contribs, base)
    values = contribs.to_numpy(dtype="float64")
    columns = list(contribs.columns)
    # largest absolute contributions first, for all rows at once (a pandas sort per row cost milliseconds)
    ranked = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :TOP_N]
    records: list[dict[str, Any]] = features.to_dict("records")  # type: ignore[assignment]
    out = []
    for position, feature_row in enumerate(records):
        top = []
        for column in ranked[position]:
            name, value = columns[column], float(values[position, column])
            if round(value) == 0:
                continue
            feature = name.removesuffix(BEYOND)
            if name.endswith(BEYOND):
                sentence = texts[feature + ("|later" if value > 0 else "|earlier")](feature_row)
            else:
                sentence = _describe(feature, feature_row, texts)
            top.append(
                {"feature": feature, "contribution_s": round(value), "text": f"{_minutes(value)}: {sentence}"}
            )
        out.append({"baseline_delay_s": round(float(bias[position])), "top": top})
    return out


# The inputs that state a delay, with the delay the prediction would move to if they were taken at their
# word (the operator's estimate: from the latest reported delay to its own).
STATED = ("latest_delay_s", "operator_delay_s")
BEYOND = "|beyond"


def _split_stated(features: pd.DataFrame, contribs: pd.DataFrame, base: np.ndarray) -> pd.DataFrame:
    """Each stated delay's contribution split into what it states and what eta makes of it beyond that
    (columns ``<feature>|beyond``); where the input is unknown, nothing is split."""
    out = contribs.copy()
    for feature in STATED:
        if feature not in out or feature not in features:
            continue
        value = features[feature].to_numpy(dtype="float64")
        known = ~np.isnan(value)
        stated = value - base if feature == "operator_delay_s" else value
        stated = np.where(known, stated, 0.0)
        total = out[feature].to_numpy(dtype="float64")
        out[feature] = np.where(known, stated, total)
        out[feature + BEYOND] = np.where(known, total - stated, 0.0)
    return out


def _describe(feature: str, row: Row, texts: dict[str, Callable[[Row], str]]) -> str:
    value = row.get(feature)
    if feature in texts and not _unknown(value):
        try:
            return texts[feature](row)
        except (TypeError, ValueError):
            pass
    if _unknown(value):
        for prefix, meaning in UNKNOWN.items():
            if feature.startswith(prefix):
                return meaning
        return f"{feature.replace('_', ' ')} unknown"
    if isinstance(value, float):
        value = round(value, 1)
    return f"{feature.replace('_', ' ')} = {value}"


def _unknown(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
