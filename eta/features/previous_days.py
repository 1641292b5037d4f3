"""What the same train did on its previous days, as known at t.

The history aggregates (:mod:`eta.features.history`) are fixed when a model is trained; a timetable change
or building works that began since then show only in the most recent runs. For each query this takes the
runs of the same train number on the :data:`PAST_DAYS` service days before the query's own, that had
arrived at the target by t, and gives their arrival delay there and the delay they gained from this run's
latest report location (its origin where it has reported nothing yet) to the target.

Training and backtests find those runs in their own frames (the window's first days also in
``Frames.past``); serving, whose frames span hours, reads them into ``Frames.past``
(:func:`eta.features.frames.load_frames` with ``past_days``).
"""

from __future__ import annotations

import pandas as pd

from eta.features.reports import first_event, seconds

PAST_DAYS = 7
FEATURES = [
    "prev_days_delay_mean_s",
    "prev_days_delay_median_s",
    "prev_days_gain_mean_s",
    "prev_days_gain_median_s",
    "prev_days_gain_max_s",
    "prev_days_count",
]
OUTCOME_COLUMNS = [
    "call_id",
    "service_id",
    "operator",
    "number",
    "location",
    "service_date",
    "arrival_delay_s",
    "arrival_known_at",
    "departure_delay_s",
]


def run_outcomes(calls: pd.DataFrame, observations: pd.DataFrame) -> pd.DataFrame:
    """Per call: its first reported actual arrival delay and when it was known, and its actual departure
    delay (the arrival delay where no departure was reported)."""
    arrived = first_event(observations, "actual_arrival")
    departed = first_event(observations, "actual_departure")
    rows = calls.set_index("call_id")
    arrival = arrived["actual_arrival"].reindex(rows.index)
    departure = departed["actual_departure"].reindex(rows.index)
    arrival_delay = seconds(arrival - rows["scheduled_arrival"])
    departure_delay = seconds(departure - rows["scheduled_departure"].fillna(rows["planned_at"]))
    out = pd.DataFrame(
        {
            "service_id": rows["service_id"],
            "operator": rows["operator"].astype(str),
            "number": rows["number"].astype(str),
            "location": rows["location"].astype(str),
            "service_date": _days(rows["service_date"]),
            "arrival_delay_s": arrival_delay,
            "arrival_known_at": arrived["observed_at"].reindex(rows.index),
            "departure_delay_s": departure_delay.fillna(arrival_delay),
        }
    )
    return out.reset_index()[OUTCOME_COLUMNS]


def compute(outcomes: pd.DataFrame, ctx: pd.DataFrame, from_location: pd.Series) -> pd.DataFrame:
    """The features for each query in ``ctx`` (indexed by qid; operator, number, location, service_date,
    t), the gains measured from ``from_location``."""
    left = pd.DataFrame(
        {
            "qid": ctx.index,
            "operator": ctx["operator"].astype(str).to_numpy(),
            "number": ctx["number"].astype(str).to_numpy(),
            "location": ctx["location"].astype(str).to_numpy(),
            "day": _days(ctx["service_date"]).to_numpy(),
            "t": ctx["t"].to_numpy(),
            "from_location": from_location.astype(str).to_numpy(),
        }
    )
    at_target = outcomes.dropna(subset=["arrival_delay_s"]).drop(columns=["call_id", "departure_delay_s"])
    runs = left.merge(at_target, on=["operator", "number", "location"])
    days_back = runs["day"] - runs["service_date"]
    runs = runs[(days_back >= 1) & (days_back <= PAST_DAYS) & (runs["arrival_known_at"] <= runs["t"])]
    departures = outcomes[["service_id", "location", "departure_delay_s"]].rename(
        columns={"location": "from_location"}
    )
    runs = runs.merge(departures, on=["service_id", "from_location"], how="left")
    runs["gain_s"] = runs["arrival_delay_s"] - runs["departure_delay_s"]
    by_query = runs.groupby("qid")
    out = pd.DataFrame(
        {
            "prev_days_delay_mean_s": by_query["arrival_delay_s"].mean(),
            "prev_days_delay_median_s": by_query["arrival_delay_s"].median(),
            "prev_days_gain_mean_s": by_query["gain_s"].mean(),
            "prev_days_gain_median_s": by_query["gain_s"].median(),
            "prev_days_gain_max_s": by_query["gain_s"].max(),
            "prev_days_count": by_query.size().astype("float64"),
        }
    ).reindex(ctx.index)
    out["prev_days_count"] = out["prev_days_count"].fillna(0.0)
    return out[FEATURES].astype("float64")


def _days(dates: pd.Series) -> pd.Series:
    """Service dates as day numbers (days since 1970-01-01), for subtraction."""
    days = pd.to_datetime(dates.astype(str)).to_numpy().astype("datetime64[D]").astype("int64")
    return pd.Series(days, index=dates.index)
