"""Platform changes of other calls at the station (eta/features/platforms.py moves_nearby), by hand."""

from __future__ import annotations

import pandas as pd

from eta.features import platforms
from eta.features.frames import Frames

T = pd.Timestamp("2025-09-03 14:00", tz="UTC")


def _frames() -> Frames:
    at = T + pd.Timedelta(minutes=30)
    calls = pd.DataFrame(
        {
            "call_id": [1, 2, 3, 4, 5],
            "location": ["B", "B", "B", "B", "C"],
            "scheduled_arrival": [at, at - pd.Timedelta(minutes=20), at + pd.Timedelta(hours=3), at, at],
            "planned_platform": ["7", "7", "7", "8", "7"],
        }
    )
    observations = pd.DataFrame(
        {
            "call_id": [1, 2, 2, 3, 4, 5],
            # call 4's move is reported only after t; call 5 is at another station
            "observed_at": [T - pd.Timedelta(minutes=m) for m in (5, 40, 10, 30, -5, 20)],
            "platform": ["13", "13", "14", "13", "13", "13"],
        }
    )
    empty = pd.DataFrame()
    return Frames(mode="train", calls=calls, observations=observations, weather=empty, names=pd.Series())


def test_moves_count_other_calls_at_the_station_moved_by_t_within_the_window() -> None:
    frames = _frames()
    ctx = frames.calls.set_index("call_id").loc[[1]].reset_index().assign(t=T)
    ctx.index = pd.Index([0], name="qid")
    moves = platforms.moves_nearby(frames, ctx)
    # call 1 is the query's own, call 3 is 3 h away, call 4 moved after t, call 5 elsewhere
    assert moves.to_dict("records") == [{"qid": 0, "planned": "7", "moved_to": "13"}]


def test_a_call_counts_where_its_first_move_took_it() -> None:
    moves = platforms.first_moves(_frames()).set_index("call_id")
    assert moves.loc[2, "moved_to"] == "13"
    assert set(moves.index) == {1, 2, 3, 4, 5}


def test_platform_numbers_are_the_leading_digits_of_each_name() -> None:
    names = pd.Series(["11 A-C", "5a", None, "Gleis", "12", "5a", "103"], index=[7, 3, 9, 1, 2, 8, 4])
    numbers = platforms.platform_number(names)
    assert list(numbers.index) == [7, 3, 9, 1, 2, 8, 4]
    assert [None if pd.isna(n) else int(n) for n in numbers] == [11, 5, None, None, 12, 5, 103]
    same_group = (numbers - 1) // 2 == (
        platforms.platform_number(pd.Series(["12"] * 7, index=names.index)) - 1
    ) // 2
    assert same_group.astype("float64").isna().tolist() == [False, False, True, True, False, False, False]
