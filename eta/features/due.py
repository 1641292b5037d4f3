"""Trains due but not yet reported, as known at t: at this train's origin, its next stop and where it is now.

Reports of a delay come when a train arrives or leaves, so a disruption is invisible in them until the first
delayed train gets through. What shows it at once is silence: trains that were due to leave this train's
origin (or to reach its next stop) in the last half hour and have not. Per place and window:

- ``_n``: trains scheduled there in the window before t, less those known cancelled by t;
- ``_missing``, ``_missing_share``: how many of them had not reported the event by t, and what share;
- ``_overdue_s``: how long, on average, the missing ones are overdue at t;
- ``_delay_s``: their mean delay, counting a missing train's overdue time so far (a lower bound).

Only reports observed by t enter; the timetable is known in advance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from eta.features.reports import lookup, seconds
from eta.read import cancellations

STATS = ("n", "missing", "missing_share", "overdue_s", "delay_s")
# Queries whose windows are expanded into (query, due train) pairs at once: bounds the memory used.
CHUNK = 50_000
_NEVER = np.iinfo("int64").max
_EPOCH = pd.Timestamp(0, tz="UTC")
# Seconds of timetable one place may span in a packed search key (2**34 s: over 500 years).
_SPAN = 2**34


@dataclass(frozen=True)
class Place:
    """Where a window looks (``origin``, ``next`` stop or ``report`` location), at which event."""

    name: str
    where: str
    event: str  # "arrival" or "departure"
    window: timedelta


PLACES = (
    Place("due_origin_dep_30min", "origin", "departure", timedelta(minutes=30)),
    Place("due_origin_dep_60min", "origin", "departure", timedelta(minutes=60)),
    Place("due_next_arr_30min", "next", "arrival", timedelta(minutes=30)),
    Place("due_report_dep_30min", "report", "departure", timedelta(minutes=30)),
)
FEATURES = [f"{place.name}_{stat}" for place in PLACES for stat in STATS]


def compute(
    calls: pd.DataFrame,
    observations: pd.DataFrame,
    reports: pd.DataFrame,
    ctx: pd.DataFrame,
    latest: pd.DataFrame,
) -> pd.DataFrame:
    """The features of this module for each query in ``ctx`` (indexed by qid, with ``t``)."""
    codes = pd.Index(pd.unique(calls["location"].astype(str)))
    places = _query_places(calls, ctx, latest, codes)
    t = _epoch_s(ctx["t"])
    events = {kind: _events(calls, observations, reports, kind, codes) for kind in ("arrival", "departure")}
    parts = []
    for place in PLACES:
        stats = _window_stats(events[place.event], places[place.where], t, int(place.window.total_seconds()))
        parts.append(stats.set_axis([f"{place.name}_{s}" for s in STATS], axis=1))
    return pd.concat(parts, axis=1).set_axis(ctx.index)[FEATURES]


def _query_places(
    calls: pd.DataFrame, ctx: pd.DataFrame, latest: pd.DataFrame, codes: pd.Index
) -> dict[str, np.ndarray]:
    """Per query, the location code of its service's origin, of the stop after its latest report (the
    first stop after the origin before any report; never beyond the target) and of the latest report."""
    ordered = calls.sort_values(["service_id", "sequence"], kind="stable")
    origin = ordered.drop_duplicates("service_id").set_index("service_id")["location"].astype(str)
    next_sequence = np.minimum(
        latest["report_sequence"].fillna(0).to_numpy(dtype="int64") + 1,
        ctx["sequence"].to_numpy(dtype="int64"),
    )
    by_stop = calls.set_index(["service_id", "sequence"])["location"].astype(str)
    next_stop = by_stop.reindex(
        pd.MultiIndex.from_arrays([ctx["service_id"].to_numpy(dtype="int64"), next_sequence])
    )
    return {
        "origin": codes.get_indexer(pd.Index(lookup(ctx["service_id"], origin))),
        "next": codes.get_indexer(pd.Index(next_stop)),
        "report": codes.get_indexer(pd.Index(latest["report_location"].astype("string").fillna(""))),
    }


def _events(
    calls: pd.DataFrame, observations: pd.DataFrame, reports: pd.DataFrame, kind: str, codes: pd.Index
) -> np.ndarray:
    """Every scheduled arrival (or departure) as rows (place, scheduled, reported, delay, cancelled) in
    epoch seconds, sorted by place then scheduled time; ``_NEVER`` where it was never reported/cancelled.

    An arrival counts as reported with the first report at the call (a train that left a stop reached
    it); a departure with the first departure report there. Services' last calls have no departure."""
    if kind == "arrival":
        scheduled = calls["scheduled_arrival"]
        told = reports
    else:
        last = calls["sequence"] == calls.groupby("service_id")["sequence"].transform("max")
        scheduled = calls["scheduled_departure"].fillna(calls["planned_at"]).where(~last)
        told = reports[reports["is_departure"] == 1]
    first = told.sort_values("observed_at", kind="stable").drop_duplicates("call_id").set_index("call_id")
    # the event's own cancellation: a train ending early still arrives, one starting late still leaves
    flag = observations["cancelled"] if kind == "arrival" else cancellations.departure(observations)
    cancelled = observations.loc[flag.astype("boolean").fillna(False).astype(bool).to_numpy()]
    cancelled_at = cancelled.groupby("call_id")["observed_at"].min()
    keep = scheduled.notna().to_numpy()
    ids = calls["call_id"][keep]
    place = codes.get_indexer(pd.Index(calls["location"][keep].astype(str))).astype("int64")
    sched = _epoch_s(scheduled[keep])
    order = np.lexsort((sched, place))
    columns = (
        place,
        sched,
        _epoch_s(lookup(ids, first["observed_at"])),
        lookup(ids, first["delay_s"]).fillna(0.0).to_numpy(dtype="float64").round().astype("int64"),
        _epoch_s(lookup(ids, cancelled_at)),
    )
    return np.stack(columns, axis=1)[order]


def _epoch_s(times: pd.Series) -> np.ndarray:
    """Whole seconds since the epoch (``_NEVER`` for missing times)."""
    value = seconds(pd.to_datetime(times, utc=True) - _EPOCH).to_numpy(dtype="float64")
    out = np.full(len(value), _NEVER, dtype="int64")
    known = ~np.isnan(value)
    out[known] = np.floor(value[known]).astype("int64")
    return out


def _window_stats(events: np.ndarray, places: np.ndarray, t: np.ndarray, window_s: int) -> pd.DataFrame:
    parts = [
        _window_chunk(events, places[i : i + CHUNK], t[i : i + CHUNK], window_s)
        for i in range(0, len(t), CHUNK)
    ]
    if not parts:
        return pd.DataFrame(columns=list(STATS), dtype="float64")
    return pd.concat(parts, ignore_index=True)


def _window_chunk(events: np.ndarray, places: np.ndarray, t: np.ndarray, window_s: int) -> pd.DataFrame:
    """The stats of the events at each query's place scheduled in [t − window, t)."""
    place, sched, told_at, delay, cancelled_at = events.T
    # Events sorted by (place, scheduled): each query's window is one contiguous run of rows.
    known_place = places >= 0
    lo = _search(place, sched, places, t - window_s)
    hi = _search(place, sched, places, t)
    size = np.where(known_place, hi - lo, 0)
    query = np.repeat(np.arange(len(t)), size)
    row = np.repeat(lo - np.cumsum(size) + size, size) + np.arange(size.sum())
    at = t[query]
    live = cancelled_at[row] > at
    missing = live & (told_at[row] > at)
    overdue = (at - sched[row]).astype("float64")
    so_far = np.where(missing, overdue, delay[row].astype("float64"))
    n = np.bincount(query, live, len(t))
    n_missing = np.bincount(query, missing, len(t))
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {
                "n": n,
                "missing": n_missing,
                "missing_share": n_missing / n,
                "overdue_s": np.bincount(query, np.where(missing, overdue, 0.0), len(t)) / n_missing,
                "delay_s": np.bincount(query, np.where(live, so_far, 0.0), len(t)) / n,
            }
        )


def _search(place: np.ndarray, sched: np.ndarray, places: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Index of the first event at each query's place scheduled at or after its time (rows sorted by
    place, then time): one search on (place, seconds since the first event) packed into one integer."""
    base = sched.min() if len(sched) else 0
    keys = place * _SPAN + (sched - base)
    wanted = places * _SPAN + np.clip(times - base, 0, _SPAN - 1)
    return np.searchsorted(keys, wanted, side="left")
