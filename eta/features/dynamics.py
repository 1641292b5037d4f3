"""How a train's delay is likely to move between its latest report and the target, as known at t.

Three real-time signals beside the train's own reports (:mod:`eta.features.reports`):

- **Inbound turnaround**: the service of the same line that the timetable brings into this service's origin
  last before it leaves (usually the same rolling stock). Its latest delay by t, against the scheduled
  turnaround time, says whether this service will leave late before it has reported anything.
- **The segment ahead**: the previous train of the same line that reached the target from the same direction
  (same previous stop) by t, and the delay it gained between this train's latest report location (or origin)
  and the target.
- **Delay gained approaching the target**: the mean change of delay over their last hop of the trains that
  reached the target in the hour before t.

The pairing of services is timetable-only; every delay joined here was observed at or before t.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from eta.features.reports import lookup, recent_delays, seconds

# The inbound service arrives at most this long before the service leaves its origin.
TURNAROUND_WINDOW = timedelta(hours=3)
# The previous train over the segment is used when it reached the target at most this long before t.
SEGMENT_MAX_AGE = timedelta(hours=3)

FEATURES = [
    "inbound_delay_s",
    "inbound_slack_s",
    "inbound_excess_s",
    "inbound_report_age_s",
    "segment_prev_gain_s",
    "segment_prev_delay_s",
    "segment_prev_age_s",
    "segment_any_gain_s",
    "segment_any_delay_s",
    "segment_any_age_s",
    "recent_loc_gain_s",
    "overdue_s",
]


def line_key(frame: pd.DataFrame) -> pd.Series:
    return frame["line"].fillna(frame["operator"]).astype(str)


def service_table(calls: pd.DataFrame) -> pd.DataFrame:
    """Per service: line, origin and first departure, destination and last scheduled arrival."""
    ordered = calls.sort_values(["service_id", "sequence"], kind="stable")
    first = ordered.drop_duplicates("service_id", keep="first").set_index("service_id")
    last = ordered.drop_duplicates("service_id", keep="last").set_index("service_id")
    return pd.DataFrame(
        {
            "line_key": line_key(first),
            "origin": first["location"].astype(str),
            "start": first["planned_at"],
            "destination": last["location"].astype(str),
            "end": last["scheduled_arrival"].fillna(last["planned_at"]),
        }
    )


def inbound_services(services: pd.DataFrame) -> pd.Series:
    """Per service, the service of the same line ending at its origin last before it starts (services
    without one are left out)."""
    arriving = services.reset_index()[["service_id", "line_key", "destination", "end"]].dropna(subset=["end"])
    arriving = arriving.rename(columns={"service_id": "inbound_id", "destination": "origin"})
    arriving = arriving.sort_values("end", kind="stable").reset_index(drop=True)
    # merge_asof turns a missing match into NaN: join row numbers (exact as floats), not 64-bit ids.
    arriving["row"] = np.arange(len(arriving), dtype="float64")
    leaving = services.reset_index()[["service_id", "line_key", "origin", "start"]].dropna(subset=["start"])
    leaving = leaving.sort_values("start", kind="stable")
    joined = pd.merge_asof(
        leaving,
        arriving.drop(columns=["inbound_id"]),
        left_on="start",
        right_on="end",
        by=["line_key", "origin"],
        direction="backward",
        tolerance=pd.Timedelta(TURNAROUND_WINDOW),
    ).dropna(subset=["row"])
    ids = arriving["inbound_id"].to_numpy()[joined["row"].to_numpy().astype("int64")]
    inbound = pd.Series(ids, index=joined["service_id"].to_numpy(), name="inbound_id")
    return inbound[inbound.index != inbound.to_numpy()]


def compute(
    calls: pd.DataFrame, ctx: pd.DataFrame, latest: pd.DataFrame, reports: pd.DataFrame
) -> pd.DataFrame:
    """The features of this module for each query in ``ctx`` (indexed by qid, with ``t``)."""
    out = pd.DataFrame(index=ctx.index)
    services = service_table(calls)
    _inbound(out, ctx, services, reports)
    _segment(out, ctx, calls, latest, reports, services, "segment_prev", same_line=True)
    _segment(out, ctx, calls, latest, reports, services, "segment_any", same_line=False)
    out["overdue_s"] = overdue(calls, ctx, latest)
    left = ctx.reset_index()[["qid", "location", "t"]].rename(columns={"location": "target_location"})
    out["recent_loc_gain_s"] = recent_delays(
        left, reports, "location", "target_location", value="gain_s"
    ).reindex(ctx.index)["mean"]
    return out[FEATURES]


def overdue(calls: pd.DataFrame, ctx: pd.DataFrame, latest: pd.DataFrame) -> pd.Series:
    """How long the service's next event after its latest report is overdue at t, beyond the latest delay.

    The next event is the departure from the stop of the latest report where that was an arrival, else the
    arrival at the following stop; with no report yet, the departure from the origin. Reports arrive when
    the events happen, so a positive value means the train is running later than its latest delay says
    (negative: the event is still due).
    """
    planned = calls.set_index(["service_id", "sequence"])
    departs = planned["scheduled_departure"].fillna(planned["planned_at"])
    reported = latest["report_sequence"].notna()
    is_departure = latest["is_departure"] == 1
    sequence = latest["report_sequence"].fillna(0).astype("int64") + (reported & is_departure).astype("int64")
    keys = pd.MultiIndex.from_arrays([ctx["service_id"].astype("int64"), sequence])
    # Chosen between the two datetime columns as they are (NaT where the stop is not in the plan): a
    # detour through numpy objects (one Timestamp each) cost more than the rest of this module.
    arrival = pd.Series(planned["planned_at"].reindex(keys).array, index=ctx.index)
    departure = pd.Series(departs.reindex(keys).array, index=ctx.index)
    due = arrival.where((reported & is_departure).to_numpy(), departure.array)
    return seconds(ctx["t"] - due) - latest["delay_s"].fillna(0.0)


def _inbound(out: pd.DataFrame, ctx: pd.DataFrame, services: pd.DataFrame, reports: pd.DataFrame) -> None:
    inbound = inbound_services(services)
    left = ctx.reset_index()[["qid", "service_id", "t"]].merge(
        inbound.rename_axis("service_id").reset_index(), on="service_id", how="inner"
    )
    left = left.sort_values("t", kind="stable")
    right = reports[["service_id", "observed_at", "delay_s"]].rename(columns={"service_id": "inbound_id"})
    right = right.astype({"inbound_id": "int64"})
    joined = pd.merge_asof(
        left, right, left_on="t", right_on="observed_at", by="inbound_id", direction="backward"
    ).set_index("qid")
    # a Series of the table's dtype also where nothing matched (no inbound service: it was float)
    inbound_end = lookup(joined["inbound_id"], services["end"])
    slack = seconds(lookup(ctx["service_id"], services["start"]) - inbound_end.reindex(ctx.index))
    delay = joined["delay_s"].reindex(ctx.index)
    out["inbound_delay_s"] = delay
    out["inbound_slack_s"] = slack
    out["inbound_excess_s"] = delay - slack
    out["inbound_report_age_s"] = seconds(ctx["t"] - joined["observed_at"].reindex(ctx.index))


def _segment(
    out: pd.DataFrame,
    ctx: pd.DataFrame,
    calls: pd.DataFrame,
    latest: pd.DataFrame,
    reports: pd.DataFrame,
    services: pd.DataFrame,
    prefix: str,
    same_line: bool,
) -> None:
    """``{prefix}_gain_s``: the delay the previous train (of the same line where ``same_line``) that reached
    the target from the same previous stop by t gained since this train's latest report location."""
    if ctx.empty or reports.empty:  # nothing reported yet in the window: no previous train to follow
        for name in ("gain_s", "delay_s", "age_s"):
            out[f"{prefix}_{name}"] = np.nan
        return
    ordered = calls.sort_values(["service_id", "sequence"], kind="stable")
    previous_stop = ordered.groupby("service_id")["location"].shift().astype("string")
    prev_of_call = pd.Series(previous_stop.to_numpy(), index=ordered["call_id"].to_numpy())
    line_of = services["line_key"]

    def direction_key(service_ids: pd.Series, call_ids: pd.Series, locations: pd.Series) -> pd.Series:
        line = lookup(service_ids, line_of).astype(str) if same_line else ""
        return line + "|" + lookup(call_ids, prev_of_call).astype(str) + "|" + locations.astype(str)

    at = reports[["service_id", "call_id", "location", "sequence", "observed_at", "delay_s"]].copy()
    at["key"] = direction_key(at["service_id"], at["call_id"], at["location"])
    # The first report at each stop (the arrival there) stands for reaching it.
    at = at.sort_values("observed_at", kind="stable").drop_duplicates(["service_id", "call_id"])
    at = at.reset_index(drop=True)
    at["row"] = np.arange(len(at), dtype="float64")  # exact through merge_asof's NaN, unlike 64-bit ids
    left = ctx.reset_index()[["qid", "service_id", "call_id", "location", "t"]]
    left["key"] = direction_key(left["service_id"], left["call_id"], left["location"])
    left = left.sort_values("t", kind="stable")
    prev = pd.merge_asof(
        left.drop(columns=["service_id", "location", "call_id"]),
        at[["key", "observed_at", "row", "sequence", "delay_s"]],
        left_on="t",
        right_on="observed_at",
        by="key",
        direction="backward",
        tolerance=pd.Timedelta(SEGMENT_MAX_AGE),
    ).set_index("qid")
    prev = prev.reindex(ctx.index)
    valid = prev["row"].notna()
    prev_service = pd.Series(
        at["service_id"].to_numpy()[prev["row"].fillna(0).to_numpy().astype("int64")], index=ctx.index
    ).where(valid, -1)
    # Where the previous train was when it passed this train's latest report location (or origin).
    from_location = (
        latest["report_location"]
        .astype("string")
        .fillna(lookup(ctx["service_id"], services["origin"]).astype("string"))
    )
    passes = reports.sort_values("observed_at", kind="stable").drop_duplicates(
        ["service_id", "location"], keep="last"
    )
    passes = passes.assign(location=passes["location"].astype(str)).set_index(["service_id", "location"])
    passes = passes[["delay_s", "sequence", "observed_at"]]
    keys = pd.MultiIndex.from_arrays([prev_service.astype("int64"), from_location.fillna("").astype(str)])
    there = passes.reindex(keys)
    there.index = ctx.index
    ok = (
        valid
        & there["delay_s"].notna()
        & (there["sequence"] < prev["sequence"])
        & (there["observed_at"] <= ctx["t"])
    )
    out[f"{prefix}_gain_s"] = (prev["delay_s"] - there["delay_s"]).where(ok)
    out[f"{prefix}_delay_s"] = prev["delay_s"]
    out[f"{prefix}_age_s"] = seconds(ctx["t"] - prev["observed_at"])
