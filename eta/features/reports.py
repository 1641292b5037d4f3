"""Point-in-time state: the delays a service had reported, and the estimates published, as known at t.

Every function here takes a table of queries ``(call_id, t, ...)`` and joins, per query, only rows with
``observed_at <= t`` (``pandas.merge_asof`` backwards), so the result cannot depend on later data.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

RECENT_WINDOW = timedelta(minutes=60)
# ``earlier_delay_s``: the delay this many reports before the latest one (the trend over several stops).
EARLIER_REPORTS = 3


def seconds(delta: pd.Series) -> pd.Series:
    """Timedeltas as float seconds (NaN where missing).

    Differences taken on empty or all-missing columns (sparse live data: no reports, no inbound service)
    come as objects; they are timedeltas all the same.
    """
    if not pd.api.types.is_timedelta64_dtype(delta):
        delta = pd.to_timedelta(delta)
    return delta.dt.total_seconds()


def lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """``table``'s value for each key (NaN/NaT where absent), also when ``table`` is empty.

    ``Series.map`` fails on an empty datetime table; a reindex does not.
    """
    return pd.Series(table.reindex(keys.to_numpy()).array, index=keys.index)


def delay_reports(calls: pd.DataFrame, observations: pd.DataFrame) -> pd.DataFrame:
    """One row per report of a realised delay: an actual time, or an estimate already in the past.

    Columns: service_id, call_id, sequence, location, observed_at, delay_s, planned_at, is_departure, and,
    from the service's earlier reports only, previous_delay_s, earlier_delay_s (:data:`EARLIER_REPORTS`
    reports back), max_delay_s (the largest delay reported so far) and gain_s (the delay gained since the
    previous report: over the last hop, or the dwell).
    A departure is preferred to an arrival reported in the same observation (it is the later event).
    """
    cols = [
        "call_id",
        "service_id",
        "sequence",
        "location",
        "planned_at",
        "scheduled_arrival",
        "scheduled_departure",
    ]
    obs = observations.merge(calls[cols], on="call_id", how="inner")
    sched_dep = obs["scheduled_departure"].fillna(obs["planned_at"])
    sched_arr = obs["scheduled_arrival"].fillna(obs["planned_at"])
    past = obs["observed_at"]
    est_dep = obs["estimated_departure"].where(obs["estimated_departure"] <= past)
    est_arr = obs["estimated_arrival"].where(obs["estimated_arrival"] <= past)
    departure = obs["actual_departure"].fillna(est_dep)
    arrival = obs["actual_arrival"].fillna(est_arr)
    dep_delay = seconds(departure - sched_dep)
    arr_delay = seconds(arrival - sched_arr)
    out = pd.DataFrame(
        {
            "service_id": obs["service_id"],
            "call_id": obs["call_id"],
            "sequence": obs["sequence"],
            "location": obs["location"],
            "observed_at": obs["observed_at"],
            "delay_s": dep_delay.fillna(arr_delay),
            "planned_at": obs["planned_at"],
            "is_departure": dep_delay.notna().astype("float64"),
        }
    ).dropna(subset=["delay_s"])
    out = out.sort_values(["service_id", "observed_at", "sequence"], kind="stable")
    by_service = out.groupby("service_id")["delay_s"]
    out["previous_delay_s"] = by_service.shift()
    out["earlier_delay_s"] = by_service.shift(EARLIER_REPORTS)
    out["max_delay_s"] = by_service.cummax()
    out["gain_s"] = out["delay_s"] - out["previous_delay_s"]
    return out.sort_values(["observed_at", "sequence"], kind="stable").reset_index(drop=True)


def latest_report(queries: pd.DataFrame, reports: pd.DataFrame) -> pd.DataFrame:
    """Per query (service_id, sequence, t), the service's latest delay report at an earlier stop by t."""
    left = queries[["qid", "service_id", "sequence", "t"]].sort_values("t", kind="stable")
    right = reports.rename(
        columns={"sequence": "report_sequence", "location": "report_location", "call_id": "report_call_id"}
    )
    joined = pd.merge_asof(
        left,
        right.drop(columns=["planned_at"]).assign(report_planned_at=right["planned_at"]),
        left_on="t",
        right_on="observed_at",
        by="service_id",
        direction="backward",
    )
    # A report at the target or a later stop before the target's arrival is inconsistent data: ignore it.
    stale = joined["report_sequence"] >= joined["sequence"]
    report_cols = [c for c in joined.columns if c not in left.columns]
    joined.loc[stale, report_cols] = np.nan
    return joined.set_index("qid")[report_cols]


def latest_estimate(queries: pd.DataFrame, observations: pd.DataFrame, field: str) -> pd.DataFrame:
    """Per query (call_id, t), the latest value of ``field`` (e.g. estimated_arrival) published by t."""
    right = observations.loc[observations[field].notna(), ["call_id", "observed_at", field]]
    left = queries[["qid", "call_id", "t"]].sort_values("t", kind="stable")
    joined = pd.merge_asof(
        left, right, left_on="t", right_on="observed_at", by="call_id", direction="backward"
    )
    return joined.set_index("qid")[[field, "observed_at"]]


def first_event(observations: pd.DataFrame, field: str) -> pd.DataFrame:
    """Per call, the earliest observation carrying ``field``: its value and when it was known."""
    rows = observations.loc[observations[field].notna(), ["call_id", "observed_at", field]]
    return rows.sort_values("observed_at", kind="stable").drop_duplicates("call_id").set_index("call_id")


def recent_delays(
    queries: pd.DataFrame,
    reports: pd.DataFrame,
    key: str,
    query_key: str,
    window: timedelta = RECENT_WINDOW,
    value: str = "delay_s",
) -> pd.DataFrame:
    """Mean ``value`` (the delay) and count of reports at the same ``key`` (e.g. location) in the window
    before each t.

    The window ends at the last report before t (a rolling mean joined as of t), so nothing after t
    enters.
    """
    rows = reports[[key, "observed_at", value]].dropna(subset=[key, value]).rename(columns={value: "delay_s"})
    if rows.empty:
        index = pd.Index(queries["qid"], name="qid")
        return pd.DataFrame({"mean": np.nan, "count": 0.0}, index=index)
    rows = rows.sort_values([key, "observed_at"], kind="stable")
    mean, count = rolling_mean_count(
        pd.factorize(rows[key])[0],
        rows["observed_at"].to_numpy("datetime64[ns]"),
        rows["delay_s"].to_numpy("float64"),
        window,
    )
    rolled = pd.DataFrame(
        {key: rows[key].array, "observed_at": rows["observed_at"].array, "mean": mean, "count": count}
    ).sort_values("observed_at", kind="stable")
    left = queries[["qid", query_key, "t"]].rename(columns={query_key: key}).sort_values("t", kind="stable")
    left[key] = left[key].astype(rows[key].dtype) if len(rows) else left[key]
    joined = pd.merge_asof(left, rolled, left_on="t", right_on="observed_at", by=key, direction="backward")
    stale = (joined["t"] - joined["observed_at"]) > window
    joined.loc[stale, ["mean", "count"]] = np.nan
    joined["count"] = joined["count"].fillna(0.0)
    return joined.set_index("qid")[["mean", "count"]]


def rolling_mean_count(
    groups: np.ndarray, times: np.ndarray, values: np.ndarray, window: timedelta
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the mean and count of the values of its group's rows in (time − window, time], taking
    rows up to and including itself (rows sorted by group, then time): a time-based rolling window, as
    ``groupby(...).rolling(window)`` computes it, by sorting instead of a loop over groups."""
    n = len(values)
    starts = times - np.timedelta64(window)
    # Each row's window start is a probe sorted among the rows; the rows sorted before it are outside.
    order = np.lexsort(
        (np.r_[np.zeros(n, "int8"), np.ones(n, "int8")], np.r_[times, starts], np.r_[groups, groups])
    )
    is_row = order < n
    rows_before: np.ndarray = np.cumsum(is_row) - is_row
    first = np.empty(n, dtype="int64")
    first[order[~is_row] - n] = rows_before[~is_row]
    sums = np.r_[0.0, np.cumsum(values)]
    count = np.arange(1, n + 1) - first
    return (sums[1:] - sums[first]) / count, count.astype("float64")


def recent_delays_everywhere(
    queries: pd.DataFrame, reports: pd.DataFrame, window: timedelta = RECENT_WINDOW
) -> pd.Series:
    """Mean of all delays reported in the window before each t (the network's state)."""
    tagged = reports.assign(_all="all")
    return recent_delays(queries.assign(_all="all"), tagged, "_all", "_all", window)["mean"]
