"""Prediction queries: which call, predicted at which time t, for which named horizon.

A query is one row ``(qid, call_id, service_id, sequence, t, horizon)``. Backtests and training build
them for named horizons; serving builds one per call at ``made_at``.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from eta.features.frames import Frames
from eta.features.reports import first_event, lookup
from eta.read import passage

TRAIN_HORIZONS = ("next_stop", "15min", "30min", "60min", "120min")
FLIGHT_HORIZONS = ("dep_minus_2h", "at_departure")
HORIZONS = {"train": TRAIN_HORIZONS, "flight": FLIGHT_HORIZONS}
# Horizons at which t is when the service left the previous stop (a train's last stop, a flight's gate).
AT_PREVIOUS_DEPARTURE = ("next_stop", "at_departure")
# The planner's question the day before: t is the local midnight starting the service's date, when
# nothing of the run is known yet (BayesianBahn's "blind" scenario). Models learn it beside the named
# horizons (:func:`eta.model.arrival.training_queries`), so that such a query is not outside what they saw.
DAY_BEFORE = "day_before"
TRAINING_EXTRA = {"train": (DAY_BEFORE,)}
QUERY_COLUMNS = ["qid", "call_id", "service_id", "sequence", "t", "horizon"]


def horizon_offset(horizon: str) -> pd.Timedelta | None:
    """How long before the scheduled arrival a fixed horizon predicts (None for event horizons)."""
    if horizon.endswith("min"):
        return pd.Timedelta(minutes=int(horizon.removesuffix("min")))
    return None


def target_calls(frames: Frames, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
    """Calls with a scheduled arrival in [start, end) and the arrival they finally had (not cancelled).

    In the departure view (:mod:`eta.features.departures`) the "arrival" is the departure, and the
    origin's departure is a target too.
    """
    calls = frames.calls
    first = 0 if frames.event == "departure" else 1
    mask = calls["scheduled_arrival"].notna() & (calls["sequence"] >= first)
    if start is not None:
        mask &= calls["scheduled_arrival"] >= pd.Timestamp(start)
    if end is not None:
        mask &= calls["scheduled_arrival"] < pd.Timestamp(end)
    targets = calls.loc[mask, ["call_id", "service_id", "sequence", "scheduled_arrival"]]
    arrived = first_event(frames.observations, "actual_arrival")
    targets = targets.join(
        arrived.rename(columns={"observed_at": "arrival_known_at"}), on="call_id", how="inner"
    )
    return targets.reset_index(drop=True)


def horizon_queries(frames: Frames, targets: pd.DataFrame, horizons: tuple[str, ...]) -> pd.DataFrame:
    """A query per target call and horizon, dropped where the call had already arrived by t."""
    parts = []
    for horizon in horizons:
        t = horizon_time(frames, targets, horizon)
        part = targets.assign(t=t, horizon=horizon).dropna(subset=["t"])
        parts.append(part[part["t"] < part["arrival_known_at"]])
    queries = pd.concat(parts, ignore_index=True) if parts else targets.iloc[:0].assign(t=None, horizon="")
    queries["t"] = pd.to_datetime(queries["t"], utc=True).astype("datetime64[us, UTC]")
    queries["qid"] = range(len(queries))
    return queries[[*QUERY_COLUMNS, "arrival_known_at", "actual_arrival"]]


def horizon_time(frames: Frames, targets: pd.DataFrame, horizon: str) -> pd.Series:
    offset = horizon_offset(horizon)
    if offset is not None:
        return targets["scheduled_arrival"] - offset
    if horizon in AT_PREVIOUS_DEPARTURE:
        return _previous_departure_known_at(frames, targets)
    if horizon == DAY_BEFORE:
        return day_start(frames, targets["service_id"])
    if horizon == "dep_minus_2h":
        first = frames.calls.drop_duplicates("service_id").set_index("service_id")["planned_at"]
        return lookup(targets["service_id"], first) - pd.Timedelta(hours=2)
    raise ValueError(f"unknown horizon {horizon!r}")


def day_start(frames: Frames, service_ids: pd.Series) -> pd.Series:
    """The local midnight (UTC) starting each service's date, in its first stop's time zone."""
    services = frames.calls.drop_duplicates("service_id").set_index("service_id")
    dates = lookup(service_ids, services["service_date"]).astype(str)
    zones = lookup(service_ids, services["location_tz"]).fillna("UTC").astype(str)
    out = pd.Series(pd.NaT, index=service_ids.index, dtype="datetime64[us, UTC]")
    for zone, index in dates.groupby(zones).groups.items():
        local = pd.to_datetime(dates.loc[index]).dt.tz_localize(
            str(zone), ambiguous="NaT", nonexistent="shift_forward"
        )
        out.loc[index] = local.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    return out


def _previous_departure_known_at(frames: Frames, targets: pd.DataFrame) -> pd.Series:
    departed = first_event(frames.observations, "actual_departure")["observed_at"]
    calls = frames.calls[["call_id", "service_id", "sequence"]]
    previous = targets[["service_id", "sequence"]].assign(sequence=targets["sequence"] - 1)
    prev_call = previous.merge(calls, on=["service_id", "sequence"], how="left")["call_id"]
    return pd.Series(lookup(prev_call, departed).to_numpy(), index=targets.index)


def serving_queries(frames: Frames, made_at: datetime, call_ids: list[int] | None = None) -> pd.DataFrame:
    """One query at ``made_at`` per call known by then (its plan fetched: ``known_since``) with a
    scheduled arrival, neither cancelled nor passed by then (:mod:`eta.read.passage`, as boards show it)."""
    calls = frames.calls
    t = pd.Timestamp(made_at).tz_convert("UTC")
    known = calls[~(calls["known_since"] > t)] if "known_since" in calls else calls  # NaT: known always
    first = 0 if frames.event == "departure" else 1
    mask = known["scheduled_arrival"].notna() & (known["sequence"] >= first)
    if call_ids is not None:
        mask &= known["call_id"].isin(call_ids)
    targets = known.loc[mask, ["call_id", "service_id", "sequence", "scheduled_arrival"]]
    obs = frames.observations[frames.observations["observed_at"] <= t]  # sorted by observed_at
    latest = passage.latest_values(obs)
    # the operator's latest word, as the boards show it: a call cancelled and then reinstated is predicted
    cancelled = latest.index[latest["cancelled"].astype("boolean").fillna(False).astype(bool)]
    services = known[known["service_id"].isin(targets["service_id"])]
    states = services[list(passage.CALL_COLUMNS)].join(latest, on="call_id")
    passed = passage.passages(states, t, frames.mode).index
    targets = targets[~targets["call_id"].isin(passed) & ~targets["call_id"].isin(cancelled)]
    queries = targets.assign(t=t, horizon="served").reset_index(drop=True)
    queries["t"] = queries["t"].astype("datetime64[us, UTC]")
    queries["qid"] = range(len(queries))
    return queries[QUERY_COLUMNS]
