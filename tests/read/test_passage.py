"""Whether a call has passed, as known at now: reported, or inferred from what IRIS leaves unsaid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from eta.read import passage

T0 = datetime(2025, 9, 8, 15, 0, tzinfo=UTC)


def _at(minutes: float | None) -> datetime | None:
    return None if minutes is None else T0 + timedelta(minutes=minutes)


def _service(service_id: int, stops: list[dict[str, float | None]]) -> pd.DataFrame:
    """Stops of one service: scheduled ``arr``/``dep``, reported ``ea``/``ed``/``aa``/``ad`` (minutes)."""
    rows = []
    for seq, stop in enumerate(stops):
        rows.append(
            {
                "call_id": service_id * 100 + seq,
                "service_id": service_id,
                "sequence": seq,
                "scheduled_arrival": _at(stop.get("arr")),
                "scheduled_departure": _at(stop.get("dep")),
                "estimated_arrival": _at(stop.get("ea")),
                "estimated_departure": _at(stop.get("ed")),
                "actual_arrival": _at(stop.get("aa")),
                "actual_departure": _at(stop.get("ad")),
                "cancelled": stop.get("cancelled"),
                "departure_cancelled": stop.get("departure_cancelled"),
            }
        )
    return pd.DataFrame(rows)


def _passed(calls: pd.DataFrame, now_min: float, mode: str = "train") -> dict[int, tuple[str, datetime]]:
    found = passage.passages(calls, T0 + timedelta(minutes=now_min), mode)
    return {int(i): (row.basis, row.arrived_at.to_pydatetime()) for i, row in found.iterrows()}


def test_an_on_time_train_nobody_reported_has_passed_once_its_departure_is_due() -> None:
    calls = _service(1, [{"dep": 0}, {"arr": 10, "dep": 12}, {"arr": 30}])
    assert 101 not in _passed(calls, 12 + 2)  # within the grace
    assert _passed(calls, 12 + 3)[101] == (passage.DUE_TIME_PASSED, _at(10))
    assert 102 not in _passed(calls, 31)
    assert _passed(calls, 33)[102] == (passage.DUE_TIME_PASSED, _at(30))
    # what is shown changes by the clock alone at the next due time: answers built earlier stand until then
    assert passage.next_due(calls, _at(14), "train") == _at(15)
    assert passage.next_due(calls, _at(15), "train") == _at(33)
    assert passage.next_due(calls, _at(33), "train") is None
    assert passage.next_due(calls, _at(14), "flight") is None


def test_a_late_train_stays_until_its_estimate_passes_and_later_stops_carry_the_delay() -> None:
    calls = _service(2, [{"dep": 0, "ed": 20}, {"arr": 10, "dep": 12}, {"arr": 30, "ea": 48}])
    assert 201 not in _passed(calls, 25)  # due at 12 on the timetable, but 20 min late at the origin
    assert _passed(calls, 35)[201] == (passage.DUE_TIME_PASSED, _at(30))
    assert 202 not in _passed(calls, 45)
    assert _passed(calls, 51)[202] == (passage.DUE_TIME_PASSED, _at(48))


def test_reports_at_the_call_or_a_later_stop_say_it_has_passed() -> None:
    calls = _service(3, [{"dep": 0, "ad": 1}, {"arr": 10, "dep": 12, "ea": 15}, {"arr": 30, "ad": None}])
    assert 301 not in _passed(calls, 14)
    reported = _service(3, [{"dep": 0}, {"arr": 10, "dep": 12, "aa": 11}, {"arr": 30}])
    assert _passed(reported, 11.5)[301] == (passage.REPORTED, _at(11))
    left = _service(3, [{"dep": 0}, {"arr": 10, "dep": 12, "ea": 14, "ad": 13}, {"arr": 30}])
    assert _passed(left, 13.5)[301] == (passage.DEPARTURE_REPORTED, _at(13))
    later = _service(3, [{"dep": 0}, {"arr": 10, "dep": 12, "ea": 40}, {"arr": 30, "aa": 20}])
    assert _passed(later, 21)[301] == (passage.LATER_STOP_REPORTED, _at(20))  # before the later stop


def test_cancelled_calls_and_flights_nobody_reported_have_not_passed() -> None:
    calls = _service(4, [{"dep": 0}, {"arr": 10, "dep": 12, "cancelled": True}, {"arr": 30}])
    assert 401 not in _passed(calls, 60) and 402 in _passed(calls, 60)
    flight = _service(5, [{"dep": 0}, {"arr": 120}])
    assert _passed(flight, 200, mode="flight") == {}
    landed = _service(5, [{"dep": 0, "ad": 5}, {"arr": 120, "aa": 118}])
    assert _passed(landed, 200, mode="flight") == {501: (passage.REPORTED, _at(118))}


def test_a_train_ending_early_has_passed_once_its_arrival_is_due_and_one_starting_late_never_arrives() -> (
    None
):
    # ends at stop 1 (its departure cancelled, due at 10 with a 5 min dwell); starts at stop 1 of service 4
    ends = _service(3, [{"dep": 0}, {"arr": 10, "dep": 15, "departure_cancelled": True}, {"arr": 30}])
    assert 301 not in _passed(ends, 12)
    assert _passed(ends, 13)[301] == (passage.DUE_TIME_PASSED, _at(10))  # not 15 + 3: it does not leave
    starts = _service(4, [{"dep": 0, "cancelled": True}, {"arr": 10, "dep": 12, "cancelled": True}])
    assert 401 not in _passed(starts, 20)
    # the departure cancelled apart, then the whole call reinstated (a report without a word of its own on
    # the departure): the departure stands again
    observations = pd.DataFrame(
        {
            "call_id": [301, 301],
            "cancelled": pd.array([False, False], dtype="boolean"),
            "departure_cancelled": pd.array([True, None], dtype="boolean"),
        }
    )
    latest = passage.latest_values(observations)
    assert not latest.loc[301, "departure_cancelled"]


def test_a_stop_added_before_the_trains_own_later_stops_says_nothing_about_them() -> None:
    """IRIS numbers the stops a change list adds from 100 on, after the trip's own stops, wherever they lie
    on the run. Real case (Berlin IRIS week): S 90068 of 2025-09-04 ran added stops 100 … 111 from 08:23
    and its own stop 9 (Berlin-Spandau area, 8089053) at 09:24; the added first stop reported its departure
    at 08:30 (known 08:31). Its own stop 9 was then shown arrived, 57 minutes before the train got there."""

    def at(hhmm: str | None) -> datetime | None:
        return None if hhmm is None else datetime.fromisoformat(f"2025-09-04T{hhmm}:00+00:00")

    stops = [  # sequence, scheduled arr/dep, estimated arr/dep and actual dep as known at 08:32
        (100, None, "08:23", None, "08:30", "08:30"),
        (101, "08:26", "08:27", "08:33", "08:34", None),
        (102, "08:29", "08:30", "08:36", "08:36", None),
        (9, "09:24", "09:25", None, None, None),
    ]
    calls = pd.DataFrame(
        [
            {
                "call_id": seq,
                "service_id": 1,
                "sequence": seq,
                "scheduled_arrival": at(arr),
                "scheduled_departure": at(dep),
                "estimated_arrival": at(ea),
                "estimated_departure": at(ed),
                "actual_arrival": None,
                "actual_departure": at(ad),
                "cancelled": None,
                "departure_cancelled": None,
            }
            for seq, arr, dep, ea, ed, ad in stops
        ]
    )
    now = at("08:32")
    assert now is not None
    passed = passage.passages(calls, now, "train")
    assert 9 not in passed.index and 101 not in passed.index
    # once the train reports the stop before it, the time order still holds
    later = calls.assign(
        actual_departure=calls["actual_departure"].where(calls["sequence"] != 102, at("08:37"))
    )
    passed = passage.passages(later, now + timedelta(minutes=6), "train")
    assert 101 in passed.index and passed.loc[101, "basis"] == passage.LATER_STOP_REPORTED
    assert 9 not in passed.index
