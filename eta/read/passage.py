"""Whether a call has passed (its train or flight has arrived there) as known at ``now``, and when.

Sources report arrivals unevenly. DB IRIS lists only stops with a change and drops a stop from its change
feed around when the train leaves it, so an on-time train is never reported arriving anywhere, and a
late one often not at every stop. So an arrival is taken, in this order, from:

1. ``reported``: the call's own actual arrival;
2. ``departure reported``: its actual departure (it arrived before leaving);
3. ``later stop reported``: an actual arrival or departure at a later stop of the same service;
4. ``due time passed`` (trains only, where silence means on time): the time the train was expected to
   leave (the operator's latest estimate, else the timetable shifted by the latest delay reported at an
   earlier stop; at the last stop or where its departure is cancelled, its arrival) passed more than
   :data:`GRACE` ago. A newer report would have moved the estimate, or made it an actual one.

The time a passed call is shown as arrived at is the one it is known by: the reported arrival, else the
expected arrival (never after the departure or ``now``). Only what is known at ``now`` enters: the caller
gives each call's latest values reported by then. One function, used by the read model (boards, trips)
and by the sweep (a passed call is no longer predicted), so both agree.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from eta.read import cancellations

GRACE = timedelta(minutes=3)
# Modes whose sources report only changes, so that no report after the due time means it went as expected.
SILENT_WHEN_ON_TIME = frozenset({"train"})
REPORTED = "reported"
DEPARTURE_REPORTED = "departure reported"
LATER_STOP_REPORTED = "later stop reported"
DUE_TIME_PASSED = "due time passed"
STATE_COLUMNS = (
    "estimated_arrival",
    "estimated_departure",
    "actual_arrival",
    "actual_departure",
    "cancelled",
    "departure_cancelled",
)
CALL_COLUMNS = ("call_id", "service_id", "sequence", "scheduled_arrival", "scheduled_departure")


def passages(calls: pd.DataFrame, now: datetime, mode: str) -> pd.DataFrame:
    """Per call that has passed (index ``call_id``): ``arrived_at`` (as known), ``basis`` and ``due_at``
    (when its due time passed, what made it passed where the basis is :data:`DUE_TIME_PASSED`).

    ``calls``: every known call of the services concerned (a later stop's report counts), with
    :data:`CALL_COLUMNS` and the latest value of each of :data:`STATE_COLUMNS` known at ``now``.
    """
    assessed = _assess(calls, now, mode)
    passed = assessed[assessed["basis"] != ""]
    return passed[["call_id", "arrived_at", "basis", "due_at"]].set_index("call_id")


def next_due(calls: pd.DataFrame, now: datetime, mode: str) -> datetime | None:
    """The first time after ``now`` at which one of ``calls`` passes by the clock alone (its due time plus
    the grace), with nothing new reported: until then what :func:`passages` says stands."""
    assessed = _assess(calls, now, mode)
    if mode not in SILENT_WHEN_ON_TIME or assessed.empty:
        return None
    waiting = assessed.loc[assessed["basis"] == "", "due_at"].dropna()
    return None if waiting.empty else waiting.min().to_pydatetime()


def _assess(calls: pd.DataFrame, now: datetime, mode: str) -> pd.DataFrame:
    """Per call with an arrival, not cancelled: ``basis`` ("" where not passed), ``arrived_at`` and
    ``due_at`` (when it passes by the clock). Nothing here depends on ``now`` but ``basis``."""
    if calls.empty:
        empty = pd.Series(dtype="datetime64[us, UTC]")
        return pd.DataFrame({"call_id": [], "arrived_at": empty, "basis": [], "due_at": empty})
    c = in_run_order(calls)
    t = {col: _utc(c[col]) for col in (*CALL_COLUMNS[3:], *STATE_COLUMNS[:4])}
    service = c["service_id"]
    event = pd.concat([t["actual_arrival"], t["actual_departure"]], axis=1).min(axis=1)
    from_here = event[::-1].groupby(service[::-1]).cummin()[::-1]  # the earliest event here or later
    later_event = from_here.groupby(service).shift(-1)  # ... at a later stop
    expected_arrival, expected_departure = _expected(t, service)
    # a train whose departure is cancelled there ends there: it is due when it arrives
    stays = _flag(c, "departure_cancelled")
    leaves = expected_departure.where(~stays).fillna(expected_arrival)
    due_at = leaves + GRACE
    stamp = pd.Timestamp(now).tz_convert("UTC")
    due = (due_at <= stamp).fillna(False).astype(bool) if mode in SILENT_WHEN_ON_TIME else False
    conditions = [
        t["actual_arrival"].notna(),
        t["actual_departure"].notna(),
        later_event.notna(),
        pd.Series(due, index=c.index),
    ]
    basis = np.select(conditions, [REPORTED, DEPARTURE_REPORTED, LATER_STOP_REPORTED, DUE_TIME_PASSED], "")
    # the expected arrival, never after what came next (its departure, a later stop's report)
    known_by = pd.concat([expected_arrival, leaves, t["actual_departure"], later_event], axis=1).min(axis=1)
    arrived_at = t["actual_arrival"].where(t["actual_arrival"].notna(), known_by)
    cancelled = _flag(c, "cancelled")
    has_arrival = t["scheduled_arrival"].notna() | t["actual_arrival"].notna()
    out = pd.DataFrame({"call_id": c["call_id"], "arrived_at": arrived_at, "basis": basis, "due_at": due_at})
    return out[~cancelled & has_arrival].reset_index(drop=True)


def in_run_order(calls: pd.DataFrame) -> pd.DataFrame:
    """``calls`` by service, in the order the run reaches them: by scheduled time (the arrival, else the
    departure), then sequence. Sequence alone is not that order: IRIS numbers the stops a change list adds
    from 100 on, after the trip's own stops, wherever they lie on the run."""
    at = _utc(calls["scheduled_arrival"]).fillna(_utc(calls["scheduled_departure"]))
    keyed = calls.assign(_at=at.to_numpy())
    ordered = keyed.sort_values(["service_id", "_at", "sequence"], kind="stable", na_position="last")
    return ordered.drop(columns="_at").reset_index(drop=True)


def _expected(t: dict[str, pd.Series], service: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Expected arrival and departure: the operator's estimate, else the timetable shifted by the latest
    delay reported at this stop or an earlier one of the service (none: on time; early: not assumed)."""
    own = (
        (t["actual_departure"] - t["scheduled_departure"])
        .fillna(t["estimated_departure"] - t["scheduled_departure"])
        .fillna(t["actual_arrival"] - t["scheduled_arrival"])
        .fillna(t["estimated_arrival"] - t["scheduled_arrival"])
    )
    carried = own.groupby(service).ffill().fillna(pd.Timedelta(0))
    carried = carried.where(carried > pd.Timedelta(0), pd.Timedelta(0))
    arrival = t["estimated_arrival"].fillna(t["scheduled_arrival"] + carried)
    departure = t["estimated_departure"].fillna(t["scheduled_departure"] + carried)
    return arrival, departure


def _flag(calls: pd.DataFrame, column: str) -> pd.Series:
    """A nullable flag column as bool (missing: False)."""
    if column not in calls:
        return pd.Series(False, index=calls.index)
    return calls[column].astype("boolean").fillna(False).astype(bool)


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).astype("datetime64[us, UTC]")


def latest_values(observations: pd.DataFrame) -> pd.DataFrame:
    """Per call (index ``call_id``), the latest non-empty value of each of :data:`STATE_COLUMNS` among
    ``observations`` (sorted by ``observed_at``); the departure's cancellation as each report gives it
    (:func:`eta.read.cancellations.departure`)."""
    if observations.empty:
        return pd.DataFrame(columns=list(STATE_COLUMNS)).rename_axis("call_id")
    if "cancelled" in observations:
        observations = observations.assign(departure_cancelled=cancellations.departure(observations))
    columns = [c for c in STATE_COLUMNS if c in observations]
    return observations.groupby("call_id")[columns].last().reindex(columns=list(STATE_COLUMNS))
