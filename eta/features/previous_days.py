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

import numpy as np
import pandas as pd

from eta.features.history import day_number
from eta.features.reports import first_event, seconds

PAST_DAYS = 7
# Day numbers (days since 1970) stay below this for the next ~270 years: (key, day) pairs pack into one int.
DAY_SPAN = 100_000
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
    "departure_known_at",
]


def no_outcomes() -> pd.DataFrame:
    """An empty outcomes frame with the columns' types (a concat with it keeps them)."""
    types = {
        "call_id": "int64",
        "service_id": "int64",
        "operator": "object",
        "number": "object",
        "location": "object",
        "service_date": "int64",
        "arrival_delay_s": "float64",
        "arrival_known_at": "datetime64[us, UTC]",
        "departure_delay_s": "float64",
        "departure_known_at": "datetime64[us, UTC]",
    }
    return pd.DataFrame({name: pd.Series(dtype=kind) for name, kind in types.items()})


def run_outcomes(calls: pd.DataFrame, observations: pd.DataFrame) -> pd.DataFrame:
    """Per call: its first reported actual arrival delay and when it was known, and its actual departure
    delay (the arrival delay where no departure was reported) and when that departure was known."""
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
            "service_date": day_number(rows["service_date"]),
            "arrival_delay_s": arrival_delay,
            "arrival_known_at": arrived["observed_at"].reindex(rows.index),
            "departure_delay_s": departure_delay.fillna(arrival_delay),
            "departure_known_at": departed["observed_at"].reindex(rows.index),
        }
    )
    return out.reset_index()[OUTCOME_COLUMNS]


def as_of(outcomes: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    """``outcomes`` as :func:`run_outcomes` gives them from the observations received by ``t``: each side
    kept where it was known by then, the departure delay the arrival's where the departure was not (yet).
    Every call stays: a run's origin has a departure and never an arrival."""
    arrived = outcomes["arrival_known_at"] <= t
    departed = outcomes["departure_known_at"] <= t
    arrival_delay = outcomes["arrival_delay_s"].where(arrived)
    return outcomes.assign(
        arrival_delay_s=arrival_delay,
        arrival_known_at=outcomes["arrival_known_at"].where(arrived),
        departure_delay_s=outcomes["departure_delay_s"].where(departed, arrival_delay),
        departure_known_at=outcomes["departure_known_at"].where(departed),
    )


def compute(outcomes: pd.DataFrame, ctx: pd.DataFrame, from_location: pd.Series) -> pd.DataFrame:
    """The features for each query in ``ctx`` (indexed by qid; operator, number, location, service_date,
    t), the gains measured from ``from_location``: from each earlier run's departure there known by the
    query's t, else its arrival there known by t (as :func:`as_of` keeps them)."""
    left = pd.DataFrame(
        {
            "qid": ctx.index,
            "operator": ctx["operator"].astype(str).to_numpy(),
            "number": ctx["number"].astype(str).to_numpy(),
            "location": ctx["location"].astype(str).to_numpy(),
            "day": day_number(ctx["service_date"]).to_numpy(),
            "t": ctx["t"].array,  # not to_numpy(): a tz-aware column comes out as Timestamp objects
            "from_location": from_location.astype(str).to_numpy(),
        }
    )
    outcomes = outcomes.astype({"arrival_delay_s": "float64", "departure_delay_s": "float64"})
    at_target = outcomes.dropna(subset=["arrival_delay_s"])
    # One integer key per (train, station, day): seven exact joins instead of one join on every run ever.
    train_here, at_train_here = _codes(left, at_target, ["operator", "number", "location"])
    target_key = at_train_here * DAY_SPAN + at_target["service_date"].to_numpy()
    runs_at_target = at_target[["service_id", "arrival_delay_s", "arrival_known_at"]].assign(key=target_key)
    # Only what the runs need after the join: each join copies every column of ``left`` it carries.
    queries = left[["qid", "t", "from_location"]]
    parts = []
    for days_back in range(1, PAST_DAYS + 1):
        key = train_here * DAY_SPAN + left["day"].to_numpy() - days_back
        parts.append(queries.assign(key=key).merge(runs_at_target, on="key"))
    runs = pd.concat(parts, ignore_index=True)
    runs = runs[runs["arrival_known_at"] <= runs["t"]]
    run_from, departed_from = _codes(
        runs[["from_location"]].set_axis(["location"], axis=1), outcomes, ["location"]
    )
    span = int(max(run_from.max(initial=0), departed_from.max(initial=0))) + 1
    sides = ["departure_delay_s", "departure_known_at", "arrival_delay_s", "arrival_known_at"]
    start_key = outcomes["service_id"].to_numpy().astype("int64") * span + departed_from
    starts = outcomes[sides].set_axis(start_key)
    starts = starts[~starts.index.duplicated()]
    run_key = runs["service_id"].to_numpy().astype("int64") * span + run_from
    start = starts.reindex(run_key).set_axis(runs.index)
    start_delay = start["departure_delay_s"].where(
        start["departure_known_at"] <= runs["t"],
        start["arrival_delay_s"].where(start["arrival_known_at"] <= runs["t"]),
    )
    runs["gain_s"] = runs["arrival_delay_s"] - start_delay
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


def _codes(left: pd.DataFrame, right: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of the ``columns`` tuples of both frames, equal where the tuples are equal."""
    texts = []
    for frame in (left, right):
        text = frame[columns[0]].astype(str)
        for column in columns[1:]:
            text = text + "\x1f" + frame[column].astype(str)
        texts.append(text)
    codes = pd.factorize(pd.concat(texts, ignore_index=True))[0].astype("int64")
    return codes[: len(left)], codes[len(left) :]
