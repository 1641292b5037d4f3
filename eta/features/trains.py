"""Train arrival features as known at t: the latest reported delay and where, how it moved over the last
reports, the run still to go, this train's and this station's history, what the inbound service and the
previous train over the same segment show (:mod:`eta.features.dynamics`), what other trains reported at the
stops still ahead (:mod:`eta.features.ahead`), congestion and weather at the target station."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from eta.features import ahead, due, dynamics, previous_days
from eta.features.common import (
    categorical,
    local_time_parts,
    query_context,
    scheduled_nearby,
    weather_as_of,
)
from eta.features.frames import Frames
from eta.features.history import MIN_COUNT, FoldHistories, History, aggregate, arrival_outcomes, per_history
from eta.features.reports import (
    delay_reports,
    latest_estimate,
    latest_report,
    lookup,
    recent_delays,
    recent_delays_everywhere,
    seconds,
)

CATEGORICAL = {"category": "category"}
LINE_HERE_WINDOW = timedelta(hours=2)
FEATURES = [
    "time_to_arrival_s",
    "latest_delay_s",
    "has_report",
    "report_age_s",
    "report_stops_to_go",
    "report_sched_to_go_s",
    "report_is_departure",
    "delay_trend_s",
    "delay_trend_3_s",
    "max_delay_s",
    "operator_delay_s",
    "since_start_s",
    "sched_run_s",
    "sequence",
    "stops_after",
    "hour",
    "weekday",
    "hist_train_mean_s",
    "hist_train_median_s",
    "hist_train_spread_s",
    "hist_train_count",
    "hist_gain_s",
    "hist_gain_median_s",
    "hist_line_gain_s",
    "hist_seg_gain_median_s",
    "hist_seg_gain_p90_s",
    "hist_seg_count",
    "hist_line_mean_s",
    "hist_loc_hour_mean_s",
    "hist_loc_mean_s",
    "recent_loc_delay_s",
    "recent_loc_count",
    "recent_all_delay_s",
    "recent_line_delay_s",
    "recent_line_count",
    "recent_line_here_delay_s",
    "scheduled_nearby_30min",
    "weather_temperature_c",
    "weather_precipitation_mm",
    "weather_wind_speed_ms",
    "weather_wind_gust_ms",
    "weather_visibility_m",
    *dynamics.FEATURES,
    *ahead.FEATURES,
    *due.FEATURES,
    *previous_days.FEATURES,
    "category",
]


_line_key = dynamics.line_key


def fit_history(
    frames: Frames, start: datetime, end: datetime, exclude_services: frozenset[int] = frozenset()
) -> History:
    """Aggregates of arrival and departure delays over calls scheduled in [start, end), leaving out the
    services in ``exclude_services`` (out-of-fold history for training rows)."""
    outcomes = arrival_outcomes(frames.calls, frames.observations)
    planned = outcomes["planned_at"]
    keep = (planned >= pd.Timestamp(start)) & (planned < pd.Timestamp(end))
    outcomes = outcomes[keep & ~outcomes["service_id"].isin(exclude_services)].copy()
    planned = outcomes["planned_at"]
    outcomes["line_key"] = _line_key(outcomes)
    outcomes["hour_int"] = local_time_parts(planned, outcomes["location_tz"])["hour"]
    outcomes["hour_int"] = outcomes["hour_int"].astype(int)
    history = History()
    train_key = ["operator", "number", "location"]
    history.add("train_loc", train_key, aggregate(outcomes, train_key, "arrival_delay_s"))
    history.add("train_loc_dep", train_key, aggregate(outcomes, train_key, "departure_delay_s"))
    history.add(
        "line_loc", ["line_key", "location"], aggregate(outcomes, ["line_key", "location"], "arrival_delay_s")
    )
    history.add(
        "loc_hour", ["location", "hour_int"], aggregate(outcomes, ["location", "hour_int"], "arrival_delay_s")
    )
    history.add(
        "line_loc_dep",
        ["line_key", "location"],
        aggregate(outcomes, ["line_key", "location"], "departure_delay_s"),
    )
    history.add("loc", ["location"], aggregate(outcomes, ["location"], "arrival_delay_s"))
    history.add("train_seg", SEGMENT_KEY, segment_gains(outcomes))
    return history


SEGMENT_KEY = ["operator", "number", "from_location", "location"]
# Segments of this train from each of the previous stops up to this many stops back are aggregated.
SEGMENT_MAX_STOPS = 16


def segment_gains(outcomes: pd.DataFrame, max_stops: int = SEGMENT_MAX_STOPS) -> pd.DataFrame:
    """Per train number and pair of stops (A, then B up to ``max_stops`` later): median, P90 and count of
    the delay gained from leaving A to arriving at B, over the runs in ``outcomes``."""
    rows = outcomes.sort_values(["service_id", "sequence"], kind="stable").reset_index(drop=True)
    service = rows["service_id"].to_numpy()
    arrival = rows["arrival_delay_s"].to_numpy(dtype="float64")
    departure = rows["departure_delay_s"].fillna(rows["arrival_delay_s"]).to_numpy(dtype="float64")
    train_code, trains = pd.factorize(rows["operator"].astype(str) + "\x1f" + rows["number"].astype(str))
    loc_code, locations = pd.factorize(rows["location"].astype(str))
    n_loc = max(len(locations), 1)
    keys, gains = [], []
    for back in range(1, max_stops + 1):
        b = np.arange(back, len(rows))
        a = b - back
        ok = (service[a] == service[b]) & ~np.isnan(arrival[b]) & ~np.isnan(departure[a])
        a, b = a[ok], b[ok]
        keys.append((train_code[b].astype("int64") * n_loc + loc_code[a]) * n_loc + loc_code[b])
        gains.append(arrival[b] - departure[a])
    empty = pd.DataFrame(
        columns=["median", "p90", "count"], index=pd.MultiIndex.from_tuples([], names=SEGMENT_KEY)
    )
    if sum(len(k) for k in keys) == 0:
        return empty
    pairs = pd.DataFrame({"key": np.concatenate(keys), "gain": np.concatenate(gains)})
    grouped = pairs.groupby("key", sort=True)["gain"]
    table = pd.DataFrame(
        {"median": grouped.median(), "p90": grouped.quantile(0.9), "count": grouped.size().astype("float64")}
    )
    table = table[table["count"] >= MIN_COUNT].round(1)
    if table.empty:
        return empty
    code = table.index.to_numpy()
    to_loc, rest = code % n_loc, code // n_loc
    from_loc, train = rest % n_loc, rest // n_loc
    operator_number = pd.Series(np.asarray(trains)[train]).str.split("\x1f", n=1, expand=True)
    index = pd.MultiIndex.from_arrays(
        [
            operator_number[0].to_numpy(),
            operator_number[1].to_numpy(),
            np.asarray(locations)[from_loc],
            np.asarray(locations)[to_loc],
        ],
        names=SEGMENT_KEY,
    )
    return table.set_axis(index)


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
    ctx["line_key"] = _line_key(ctx)
    out = pd.DataFrame(index=ctx.index)
    out["time_to_arrival_s"] = seconds(ctx["scheduled_arrival"] - ctx["t"])
    latest = latest_report(queries, reports).reindex(ctx.index)
    out["latest_delay_s"] = latest["delay_s"]
    out["has_report"] = latest["delay_s"].notna().astype("float64")
    out["report_age_s"] = seconds(ctx["t"] - latest["observed_at"])
    out["report_stops_to_go"] = ctx["sequence"] - latest["report_sequence"]
    out["report_sched_to_go_s"] = seconds(ctx["scheduled_arrival"] - latest["report_planned_at"])
    out["report_is_departure"] = latest["is_departure"]
    out["delay_trend_s"] = latest["delay_s"] - latest["previous_delay_s"]
    out["delay_trend_3_s"] = latest["delay_s"] - latest["earlier_delay_s"]
    out["max_delay_s"] = latest["max_delay_s"]
    estimate = latest_estimate(queries, frames.observations, "estimated_arrival").reindex(ctx.index)
    out["operator_delay_s"] = seconds(estimate["estimated_arrival"] - ctx["scheduled_arrival"])
    out["since_start_s"] = seconds(ctx["t"] - ctx["service_start"])
    out["sched_run_s"] = seconds(ctx["scheduled_arrival"] - ctx["service_start"])
    out["sequence"] = ctx["sequence"].astype("float64")
    out["stops_after"] = ctx["calls_after"].astype("float64")
    local = local_time_parts(ctx["scheduled_arrival"], ctx["location_tz"])
    out["hour"] = local["hour"]
    out["weekday"] = local["weekday"]
    learnt = per_history(
        history,
        ctx.index,
        lambda ids, fitted: _history_features(out.loc[ids], ctx.loc[ids], latest.loc[ids], fitted),
    )
    out[learnt.columns] = learnt
    at_station = recent_delays(
        ctx.reset_index()[["qid", "location", "t"]].rename(columns={"location": "target_location"}),
        reports,
        "location",
        "target_location",
    ).reindex(ctx.index)
    out["recent_loc_delay_s"] = at_station["mean"]
    out["recent_loc_count"] = at_station["count"]
    out["recent_all_delay_s"] = recent_delays_everywhere(ctx.reset_index()[["qid", "t"]], reports).reindex(
        ctx.index
    )
    _recent_line_features(out, ctx, frames, reports)
    out["scheduled_nearby_30min"] = scheduled_nearby(
        frames.calls,
        "scheduled_arrival",
        "location",
        ctx["location"],
        ctx["scheduled_arrival"],
        timedelta(minutes=30),
    )
    dynamic = dynamics.compute(frames.calls, ctx, latest, reports)
    out[dynamic.columns] = dynamic
    further = ahead.compute(frames.calls, ctx, latest, reports)
    out[further.columns] = further
    waiting = due.compute(frames.calls, frames.observations, reports, ctx, latest)
    out[waiting.columns] = waiting
    earlier_runs = _previous_days(frames, ctx, latest)
    out[earlier_runs.columns] = earlier_runs
    weather = weather_as_of(frames, ctx, "location", "weather_")
    out[weather.columns] = weather
    out["category"] = categorical(ctx["operator"], vocabularies.get("category", []))
    # Not model inputs: what explanations and baselines need.
    out["report_location"] = latest["report_location"]
    out["operator_estimate"] = estimate["estimated_arrival"]
    out["scheduled_arrival"] = ctx["scheduled_arrival"]
    out["location"] = ctx["location"]
    return out


def _previous_days(frames: Frames, ctx: pd.DataFrame, latest: pd.DataFrame) -> pd.DataFrame:
    """This train's runs on its previous days (:mod:`eta.features.previous_days`), from the frames' own
    calls and the runs read before the window."""
    own = previous_days.run_outcomes(frames.calls, frames.observations)
    earlier = frames.past[~frames.past["call_id"].isin(own["call_id"])]
    outcomes = pd.concat([own, earlier], ignore_index=True) if len(earlier) else own
    # frames.calls are ordered by service and run order: a service's first row is its origin
    services = frames.calls.drop_duplicates("service_id").set_index("service_id")
    origin = lookup(ctx["service_id"], services["location"].astype(str))
    from_location = latest["report_location"].fillna(origin)
    service_date = lookup(ctx["service_id"], services["service_date"])
    return previous_days.compute(outcomes, ctx.assign(service_date=service_date), from_location)


def _recent_line_features(
    out: pd.DataFrame, ctx: pd.DataFrame, frames: Frames, reports: pd.DataFrame
) -> None:
    """Delays other trains of the same line reported shortly before t: anywhere (last hour), and at the
    target station (last two hours). A disruption on the line shows there before this train reaches it."""
    services = frames.calls.drop_duplicates("service_id").set_index("service_id")
    line_of = _line_key(services)
    tagged = reports.assign(line_key=lookup(reports["service_id"], line_of).astype(str))
    tagged["line_here"] = tagged["line_key"] + "|" + tagged["location"].astype(str)
    left = ctx.reset_index()[["qid", "t", "line_key", "location"]]
    left["line_here"] = left["line_key"].astype(str) + "|" + left["location"].astype(str)
    line = recent_delays(left, tagged, "line_key", "line_key").reindex(ctx.index)
    out["recent_line_delay_s"] = line["mean"]
    out["recent_line_count"] = line["count"]
    here = recent_delays(left, tagged, "line_here", "line_here", LINE_HERE_WINDOW).reindex(ctx.index)
    out["recent_line_here_delay_s"] = here["mean"]


def _history_features(
    known: pd.DataFrame, ctx: pd.DataFrame, latest: pd.DataFrame, history: History
) -> pd.DataFrame:
    """The features looked up in the training window's aggregates (``known``: the features so far)."""
    out = pd.DataFrame(index=ctx.index)
    train = ["operator", "number", "location"]
    out["hist_train_mean_s"] = history.lookup("train_loc", ctx, "mean", train)
    out["hist_train_median_s"] = history.lookup("train_loc", ctx, "median", train)
    out["hist_train_spread_s"] = history.lookup("train_loc", ctx, "spread", train)
    out["hist_train_count"] = history.lookup("train_loc", ctx, "count", train).fillna(0.0)
    at_report = ctx[["operator", "number"]].assign(location=latest["report_location"].fillna(""))
    report_dep = history.lookup("train_loc_dep", at_report, "mean", train)
    out["hist_gain_s"] = out["hist_train_mean_s"] - report_dep
    report_dep_median = history.lookup("train_loc_dep", at_report, "median", train)
    out["hist_gain_median_s"] = out["hist_train_median_s"] - report_dep_median
    out["hist_line_mean_s"] = history.lookup("line_loc", ctx, "mean", ["line_key", "location"])
    segment = ctx[["operator", "number", "location"]].assign(from_location=at_report["location"])
    out["hist_seg_gain_median_s"] = history.lookup("train_seg", segment, "median", SEGMENT_KEY)
    out["hist_seg_gain_p90_s"] = history.lookup("train_seg", segment, "p90", SEGMENT_KEY)
    out["hist_seg_count"] = history.lookup("train_seg", segment, "count", SEGMENT_KEY).fillna(0.0)
    line_at_report = ctx[["line_key"]].assign(location=at_report["location"])
    line_report_dep = history.lookup("line_loc_dep", line_at_report, "mean", ["line_key", "location"])
    out["hist_line_gain_s"] = out["hist_line_mean_s"] - line_report_dep
    hours = ctx[["location"]].assign(hour_int=np.floor(known["hour"]).astype(int))
    out["hist_loc_hour_mean_s"] = history.lookup("loc_hour", hours, "mean", ["location", "hour_int"])
    out["hist_loc_mean_s"] = history.lookup("loc", ctx, "mean", ["location"])
    return out


def vocabularies_for(frames: Frames) -> dict[str, list[str]]:
    from eta.features.common import vocabulary

    return {"category": vocabulary(frames.calls["operator"])}
