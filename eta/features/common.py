"""Feature pieces shared by trains and flights: query context, local time, weather and timetable density."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from eta.features.frames import Frames

WEATHER_FIELDS = ("temperature_c", "precipitation_mm", "wind_speed_ms", "wind_gust_ms", "visibility_m")
WEATHER_MAX_AGE = timedelta(hours=3)
CALL_CONTEXT = [
    "call_id",
    "location",
    "location_tz",
    "scheduled_arrival",
    "planned_at",
    "planned_platform",
    "operator",
    "number",
    "category",
    "line",
    "origin",
    "destination",
    "vehicle_id",
]


def query_context(frames: Frames, queries: pd.DataFrame) -> pd.DataFrame:
    """Queries with their call's plan and service, indexed by qid, plus the service's start and the
    number of the service's calls after the query's (``calls_after``: in the frames' run order, not from
    the sequence numbers, which need not start at 0 nor be dense)."""
    calls = frames.calls
    extra = [c for c in ("seats",) if c in calls.columns]
    # frames.calls are ordered by service and run order
    after = calls.groupby("service_id").cumcount(ascending=False)
    context = queries[["qid", "call_id", "service_id", "sequence", "t"]].merge(
        calls[CALL_CONTEXT + extra].assign(calls_after=after), on="call_id", how="left"
    )
    per_service = calls.groupby("service_id").agg(service_start=("planned_at", "min"))
    context = context.join(per_service, on="service_id")
    return context.set_index("qid")


def local_time_parts(times: pd.Series, zones: pd.Series) -> pd.DataFrame:
    """Local hour (fractional), weekday and month of each time in its own zone (UTC if unknown)."""
    out = pd.DataFrame(index=times.index, columns=["hour", "weekday", "month"], dtype="float64")
    zones = zones.fillna("UTC").astype(str)
    for zone, index in times.groupby(zones).groups.items():
        local = times.loc[index].dt.tz_convert(str(zone))
        out.loc[index, "hour"] = local.dt.hour + local.dt.minute / 60.0
        out.loc[index, "weekday"] = local.dt.day_of_week
        out.loc[index, "month"] = local.dt.month
    return out.astype("float64")


def weather_as_of(frames: Frames, context: pd.DataFrame, location_col: str, prefix: str) -> pd.DataFrame:
    """The latest weather observation at each query's location known by t (and at most 3 h old)."""
    columns = [f"{prefix}{name}" for name in WEATHER_FIELDS]
    weather = frames.weather
    if weather.empty:
        return pd.DataFrame(np.nan, index=context.index, columns=columns)
    left = context[[location_col, "t"]].rename(columns={location_col: "location"}).reset_index()
    left = left.sort_values("t", kind="stable")
    left["location"] = left["location"].astype(str)
    right = weather[["location", "observed_at", *WEATHER_FIELDS]].assign(
        location=weather["location"].astype(str)
    )
    joined = pd.merge_asof(
        left, right, left_on="t", right_on="observed_at", by="location", direction="backward"
    )
    joined.loc[(joined["t"] - joined["observed_at"]) > WEATHER_MAX_AGE, list(WEATHER_FIELDS)] = np.nan
    joined = joined.set_index("qid").reindex(context.index)
    return joined[list(WEATHER_FIELDS)].set_axis(columns, axis=1).astype("float64")


def scheduled_nearby(
    calls: pd.DataFrame,
    time_col: str,
    location_col: str,
    query_locations: pd.Series,
    query_times: pd.Series,
    half_window: timedelta,
) -> pd.Series:
    """How many calls are scheduled (``time_col``) at the same location within ±half_window of each time.

    The timetable is known in advance, so this uses no observation.
    """
    planned = calls[[location_col, time_col]].dropna()
    by_location = {
        str(loc): np.sort(group.to_numpy(dtype="datetime64[us]").astype("int64"))
        for loc, group in planned.groupby(location_col)[time_col]
    }
    out = np.zeros(len(query_times), dtype="float64")
    if out.size == 0:  # no queries (a station without platforms): an empty column comes as objects
        return pd.Series(out, index=query_times.index)
    half = int(half_window.total_seconds() * 1_000_000)
    stamps = query_times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    stamps = stamps.astype("int64")
    locations = query_locations.astype(str).to_numpy()
    for loc, positions in pd.Series(range(len(locations))).groupby(locations).indices.items():
        arr = by_location.get(str(loc))
        if arr is None:
            continue
        at = stamps[positions]
        out[positions] = np.searchsorted(arr, at + half, "right") - np.searchsorted(arr, at - half, "left")
    return pd.Series(out, index=query_times.index)


def categorical(values: pd.Series, vocabulary: list[str]) -> pd.Series:
    """Values as a pandas Categorical over a fixed vocabulary (unknown values become missing)."""
    text = values.astype("string")
    known = text.where(text.isin(vocabulary))
    return pd.Series(pd.Categorical(known, categories=vocabulary), index=values.index)


def vocabulary(values: pd.Series, max_size: int = 64, min_count: int = 20) -> list[str]:
    """The most frequent values (at least ``min_count`` times), sorted, as a categorical vocabulary."""
    counts = values.dropna().astype(str).value_counts()
    kept = counts[counts >= min_count].head(max_size)
    return sorted(kept.index.tolist())
