"""Which calls a sweep predicts: those known by then, neither cancelled nor passed (as boards show them)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd

from eta.features.frames import Frames
from eta.features.queries import serving_queries

T0 = datetime(2025, 9, 8, 15, 0, tzinfo=UTC)


def _at(minutes: float | None) -> pd.Timestamp:
    return pd.NaT if minutes is None else pd.Timestamp(T0 + timedelta(minutes=minutes))


def _frames() -> Frames:
    # five trains, each: origin (sequence 0, departs at 0) and one stop (arrives 10, departs 12); train 5
    # 30 min later, its plan fetched at 30
    calls, observations = [], []
    for train in range(1, 6):
        later = 30 if train == 5 else 0
        for seq, (arr, dep) in enumerate(((None, later), (10 + later, 12 + later))):
            calls.append(
                {
                    "call_id": train * 10 + seq,
                    "service_id": train,
                    "sequence": seq,
                    "scheduled_arrival": _at(arr),
                    "scheduled_departure": _at(dep),
                    "known_since": _at(-60 if train != 5 else 30),
                }
            )
    # train 2 is 25 min late (estimate at its stop); train 3 reported arriving; train 4 cancelled there
    for call_id, field, minutes in ((21, "estimated_arrival", 35), (31, "actual_arrival", 11)):
        observations.append({"call_id": call_id, "observed_at": _at(5), field: _at(minutes)})
    observations.append({"call_id": 41, "observed_at": _at(5), "cancelled": True})
    obs = pd.DataFrame(observations).reindex(
        columns=[
            "call_id",
            "observed_at",
            "estimated_arrival",
            "actual_arrival",
            "estimated_departure",
            "actual_departure",
            "platform",
            "cancelled",
        ]
    )
    for column in (
        "observed_at",
        "estimated_arrival",
        "actual_arrival",
        "estimated_departure",
        "actual_departure",
    ):
        obs[column] = pd.to_datetime(obs[column], utc=True)
    obs["cancelled"] = obs["cancelled"].astype("boolean")
    return Frames(
        mode="train",
        calls=pd.DataFrame(calls),
        observations=obs,
        weather=pd.DataFrame(columns=["location", "observed_at"]),
        names=pd.Series(dtype=str),
    )


def _predicted(minutes: float) -> set[int]:
    return set(serving_queries(_frames(), T0 + timedelta(minutes=minutes))["call_id"])


def test_a_sweep_predicts_the_calls_known_still_to_come_only() -> None:
    assert _predicted(8) == {11, 21}  # 3 arrived, 4 cancelled, 5 not known yet
    # 15:16: train 1's stop was due to be left at 12 (+3 min grace): passed; train 2 is late
    assert _predicted(16) == {21}
    assert _predicted(31) == {21, 51}  # train 5 known from 30 on
    assert _predicted(60) == set()  # everything passed by its due time


def test_a_call_cancelled_then_reinstated_is_predicted_again() -> None:
    """The operator's latest word counts, as on the boards: S 41202 of 2025-09-08 was reported cancelled
    around the ring at 17:31 and reinstated at 18:01, and the sweeps of 18:01 and 18:16 left it out."""
    frames = _frames()
    reinstated = pd.DataFrame({"call_id": [41], "observed_at": [_at(7)], "cancelled": [False]})
    reinstated["cancelled"] = reinstated["cancelled"].astype("boolean")
    observations = pd.concat([frames.observations, reinstated], ignore_index=True)
    frames = replace(frames, observations=observations.sort_values("observed_at").reset_index(drop=True))
    queries = serving_queries(frames, T0 + timedelta(minutes=8))
    assert set(queries["call_id"]) == {11, 21, 41}
    assert set(serving_queries(frames, T0 + timedelta(minutes=6))["call_id"]) == {11, 21}  # cancelled then
