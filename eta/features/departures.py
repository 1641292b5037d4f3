"""The departure view: the same frames with each call's departure where its arrival was.

A departure-delay model is the arrival model's pipeline run on this view: the same queries, features,
history, training and calibration, with "arrival" meaning "departure" throughout. A call's scheduled and
estimated departure, and its actual departure, take the places of its arrival's (and the arrival's go where
the departure's were), in the calls, the observations and the runs of earlier days; so does the departure's
cancellation (:mod:`eta.read.cancellations`). A train's origin has a departure and no arrival: it is a
target of the view (``Frames.event``), its last stop is not. A stop with one planned time (timetables
without dwell times, as the DB runs: only origins have a planned departure) is planned to leave at that
time, as the delay reports already take it.

Which reports a departure query sees: the service's realised delays at the stops before (their arrivals
and departures, as in the arrival model). The arrival at the same stop is a report at the target's own
stop, which the features leave out for every target (a report there before the target's event is
inconsistent for arrivals), so the departure model does not use it: at a through station it predicts the
departure from the stops before, as it would before the train arrived.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from eta.features.frames import Frames
from eta.read import cancellations

EVENT = "departure"
PAIRS = (
    ("scheduled_arrival", "scheduled_departure"),
    ("estimated_arrival", "estimated_departure"),
    ("actual_arrival", "actual_departure"),
)


def _swapped(frame: pd.DataFrame) -> pd.DataFrame:
    renames: dict[str, str] = {}
    for one, other in PAIRS:
        if one in frame.columns and other in frame.columns:
            renames |= {one: other, other: one}
    return frame.rename(columns=renames)


def view(frames: Frames) -> Frames:
    """``frames`` with departures in the arrival columns (unchanged if it is already the view)."""
    if frames.event == EVENT:
        return frames
    calls = _swapped(frames.calls)
    last = frames.calls["sequence"] == frames.calls.groupby("service_id")["sequence"].transform("max")
    leaves = frames.calls["scheduled_departure"].fillna(frames.calls["scheduled_arrival"].where(~last))
    calls["scheduled_arrival"] = leaves
    calls["planned_at"] = calls["scheduled_arrival"].fillna(calls["scheduled_departure"])
    past = frames.past
    departed = past["departure_known_at"].notna()
    past = past.assign(
        arrival_delay_s=past["departure_delay_s"].where(departed),
        arrival_known_at=past["departure_known_at"],
        departure_delay_s=past["arrival_delay_s"].fillna(past["departure_delay_s"]),
        departure_known_at=past["arrival_known_at"],
    )
    observations = _swapped(frames.observations)
    if "cancelled" in observations:
        # the departure's cancellation where the arrival's was (a train ending early is no target), and
        # the arrival's where the departure's was
        observations["cancelled"] = cancellations.departure(frames.observations)
        if "departure_cancelled" in observations:
            observations["departure_cancelled"] = frames.observations["cancelled"].astype("boolean")
    return replace(
        frames,
        calls=calls[frames.calls.columns],
        observations=observations[frames.observations.columns],
        past=past,
        event=EVENT,
    )
