"""IRIS parsing on real recorded payloads: plan and change records, local time to UTC, bad payloads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eta.collectors.sources.db import iris as db_iris
from tests.conftest import FIXTURES

IRIS = FIXTURES / "db_iris"


def _stop(stops: list, stop_id: str):  # type: ignore[no-untyped-def]
    return next(s for s in stops if s.stop_id == stop_id)


def test_plan_gives_train_planned_time_platform_and_stop_index() -> None:
    plan = db_iris.parse_plan((IRIS / "08000001_plan_10.xml").read_bytes())
    assert plan.station == "Aachen Hbf"
    assert len(plan.stops) == 20
    rb = _stop(plan.stops, "7448894008162231514-2405091037-1")
    assert (rb.category, rb.number, rb.stop_index) == ("RB", "10320", 1)
    assert rb.arrival is None
    assert rb.departure is not None
    assert rb.departure.platform == "6"
    assert rb.departure.time == datetime(2024, 5, 9, 8, 37, tzinfo=UTC)  # 10:37 CEST
    assert rb.service_date.isoformat() == "2024-05-09"


def test_odd_real_platform_value_is_kept_as_published() -> None:
    plan = db_iris.parse_plan((IRIS / "08000001_plan_10.xml").read_bytes())
    assert "<" in {s.arrival.platform for s in plan.stops if s.arrival} | {
        s.departure.platform for s in plan.stops if s.departure
    }


def test_changes_give_changed_time_platform_and_cancellation() -> None:
    changes = db_iris.parse_changes((IRIS / "08000001_fchg_10_EXCERPT.xml").read_bytes())
    assert changes.eva == "8000001"
    moved = _stop(changes.stops, "7448894008162231514-2405091037-1")
    assert moved.departure is not None
    assert moved.departure.platform == "3"
    assert moved.departure.time == datetime(2024, 5, 9, 8, 42, tzinfo=UTC)
    cancelled = _stop(changes.stops, "-5499553316182639365-2405090817-1")
    state = db_iris.reported_state(cancelled, datetime(2024, 5, 9, 8, 0, tzinfo=UTC))
    assert state.cancelled is True
    assert state.platform == "1"


def test_a_changed_time_in_the_past_is_reported_as_actual() -> None:
    changes = db_iris.parse_changes((IRIS / "08000001_fchg_10_EXCERPT.xml").read_bytes())
    late = _stop(changes.stops, "-818617874786858328-2405090809-24")  # ct 10:44 CEST
    before = db_iris.reported_state(late, datetime(2024, 5, 9, 8, 30, tzinfo=UTC))
    after = db_iris.reported_state(late, datetime(2024, 5, 9, 8, 45, tzinfo=UTC))
    assert before.estimated_arrival == datetime(2024, 5, 9, 8, 44, tzinfo=UTC)
    assert before.actual_arrival is None
    assert after.actual_arrival == datetime(2024, 5, 9, 8, 44, tzinfo=UTC)


def test_cancelled_departure_fixture() -> None:
    changes = db_iris.parse_changes((IRIS / "fchg_departureCancelled.xml").read_bytes())
    (stop,) = changes.stops
    assert stop.departure is not None and stop.departure.status == "c"
    plan = db_iris.parse_plan((IRIS / "plan_simple1.xml").read_bytes())
    assert plan.stops[0].stop_id == stop.stop_id


def test_plan_and_changes_become_rows_joined_by_stop_id() -> None:
    plan = db_iris.parse_plan((IRIS / "08000001_plan_10.xml").read_bytes())
    rows = db_iris.plan_rows(plan.stops, "8000001")
    call_of_ref = {str(r["ref"]): int(r["call_id"]) for r in rows.call_refs}  # type: ignore[call-overload]
    changes = db_iris.parse_changes((IRIS / "08000001_fchg_10_EXCERPT.xml").read_bytes())
    seen: dict[int, db_iris.ReportedState] = {}
    at = datetime(2024, 5, 9, 8, 1, tzinfo=UTC)
    obs, unmatched = db_iris.change_rows(changes.stops, call_of_ref, at, seen, "test")
    assert obs and unmatched  # the excerpt also lists stops of other plan hours
    again, _ = db_iris.change_rows(changes.stops, call_of_ref, at, seen, "test")
    assert again == []  # an unchanged state is written once
    moved = next(r for r in obs if r["call_id"] == call_of_ref["7448894008162231514-2405091037-1"])
    assert moved["platform"] == "3"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "empty payload"),
        (b"<timetable><s id='1-2405091037-1'>", "malformed XML"),
        (b"<html><body>502 Bad Gateway</body></html>", "not <timetable>"),
        (b"<timetable><s id='nonsense'><ar ct='2405091042'/></s></timetable>", "stop id"),
        (b"<timetable><s id='1-2405091037-1'><ar ct='24059'/></s></timetable>", "YYMMDDHHMM"),
    ],
)
def test_bad_payloads_raise_a_parse_error(payload: bytes, message: str) -> None:
    with pytest.raises(db_iris.IrisParseError, match=message):
        db_iris.parse_changes(payload)


def test_messages_are_parsed_with_type_code_priority_and_event() -> None:
    changes = db_iris.parse_changes((IRIS / "08000001_fchg_10_EXCERPT.xml").read_bytes())
    messages = [m for s in changes.stops for m in s.messages]
    delay_causes = [m for m in messages if m.type == "d"]
    assert delay_causes and all(m.code is not None and m.event in ("ar", "dp") for m in delay_causes)
    him = next(m for m in messages if m.id == "r2138641")
    assert (him.type, him.priority, him.event) == ("h", 2, None)
    assert him.category == "Bauarbeiten. (Quelle: zuginfo.nrw)"
    assert him.timestamp == datetime(2024, 3, 8, 8, 2, tzinfo=UTC)  # 09:02 CET
    first = next(m for m in messages if m.id == "r166036334")
    assert (first.code, first.timestamp) == (31, datetime(2024, 5, 9, 8, 42, tzinfo=UTC))


def test_a_malformed_message_time_drops_the_time_not_the_payload() -> None:
    payload = (
        b"<timetable><s id='1-2405091037-1'><m id='x' t='d' c='31' ts='garbage'/>"
        b"<ar ct='2405091042'/></s></timetable>"
    )
    (stop,) = db_iris.parse_changes(payload).stops
    assert stop.messages[0].timestamp is None and stop.messages[0].code == 31
    assert stop.arrival is not None and stop.arrival.time is not None


def _change_at(local: str) -> bytes:
    """An fchg snapshot whose one stop changed its arrival to ``local`` (YYMMDDHHMM, Berlin)."""
    return (
        '<timetable station="Berlin Hbf" eva="8011160"><s id="123-2510252300-5" eva="8011160">'
        f'<ar ct="{local}" cp="7"/></s></timetable>'
    ).encode()


@pytest.mark.parametrize(
    ("fetched_at", "expected"),
    [
        # 26 Oct 2025: 03:00 CEST becomes 02:00 CET, the hour 02:00-03:00 comes twice
        (datetime(2025, 10, 26, 0, 40, tzinfo=UTC), datetime(2025, 10, 26, 0, 30, tzinfo=UTC)),  # 02:40 CEST
        (datetime(2025, 10, 26, 1, 40, tzinfo=UTC), datetime(2025, 10, 26, 1, 30, tzinfo=UTC)),  # 02:40 CET
        (None, datetime(2025, 10, 26, 0, 30, tzinfo=UTC)),  # no snapshot time: the first
    ],
)
def test_the_repeated_autumn_hour_is_read_with_the_snapshot_time(
    fetched_at: datetime | None, expected: datetime
) -> None:
    """Issue 21 §3: 02:30 in the second 02:00-03:00 of 26 Oct 2025 was read as summer time, an hour early."""
    stop = db_iris.parse_changes(_change_at("2510260230"), fetched_at).stops[0]
    assert stop.arrival is not None and stop.arrival.time == expected


def test_a_message_time_in_the_repeated_hour_is_read_with_the_snapshot_time() -> None:
    payload = (
        b'<timetable><s id="123-2510252300-5"><m id="x" t="d" c="31" ts="2510260230"/>'
        b'<ar ct="2510260245"/></s></timetable>'
    )
    winter = datetime(2025, 10, 26, 1, 40, tzinfo=UTC)  # 02:40 CET
    (stop,) = db_iris.parse_changes(payload, winter).stops
    assert stop.messages[0].timestamp == datetime(2025, 10, 26, 1, 30, tzinfo=UTC)


def test_the_spring_clock_change_skips_an_hour() -> None:
    """30 Mar 2025: 02:00 CET becomes 03:00 CEST; 01:59 and 03:00 local are one minute apart."""
    near = datetime(2025, 3, 30, 1, 0, tzinfo=UTC)
    before = db_iris.parse_changes(_change_at("2503300159"), near).stops[0].arrival
    after = db_iris.parse_changes(_change_at("2503300300"), near).stops[0].arrival
    assert before is not None and after is not None
    assert before.time == datetime(2025, 3, 30, 0, 59, tzinfo=UTC)
    assert after.time == datetime(2025, 3, 30, 1, 0, tzinfo=UTC)


def test_a_train_comes_from_the_first_station_of_its_path_and_goes_to_the_last() -> None:
    plan = db_iris.parse_plan((IRIS / "08000001_plan_10.xml").read_bytes())
    rows = db_iris.plan_rows(plan.stops, "8000001", plan.station)
    by_number = {str(r["number"]): r for r in rows.services}
    ends_here = by_number["26808"]  # RE 26808 from Hamm via Köln; it has no departure at Aachen Hbf
    assert (ends_here["origin"], ends_here["destination"]) == ("Hamm(Westf)Hbf", "Aachen Hbf")
    starts_here = by_number["10320"]  # RB 10320 to Essen; no arrival at Aachen Hbf
    assert (starts_here["origin"], starts_here["destination"]) == ("Aachen Hbf", "Essen Hbf")
    assert all(r["origin"] and r["destination"] for r in rows.services)


def test_a_stop_listed_twice_own_and_added_is_one_record_with_what_each_says() -> None:
    """S 44130 at Berlin-Halensee (2025-09-08 00:15): its own stop 12 (arrival cancelled, departing 00:38)
    and an added stop 107 planned a minute earlier (arriving 00:38) are one stop, under the own id."""
    body = (IRIS / "8089109_fchg_2509080015_EXCERPT.xml").read_bytes()
    (stop,) = db_iris.parse_changes(body).stops
    assert stop.stop_id == "-2079051741317563369-2509080003-12"
    assert stop.arrival is not None and stop.arrival.status is None
    assert stop.arrival.time == datetime(2025, 9, 7, 22, 38, tzinfo=UTC)
    assert stop.departure is not None and stop.departure.time == datetime(2025, 9, 7, 22, 38, tzinfo=UTC)
    assert stop.planned_arrival is not None and stop.planned_departure is not None
    assert (stop.planned_arrival.time, stop.planned_departure.time) == (
        datetime(2025, 9, 7, 22, 28, tzinfo=UTC),  # the added stop's arrival
        datetime(2025, 9, 7, 22, 29, tzinfo=UTC),  # the own stop's departure
    )
    assert db_iris.reported_state(stop, datetime(2025, 9, 7, 22, 16, tzinfo=UTC)).cancelled is None
    (later,) = db_iris.parse_changes((IRIS / "8089109_fchg_2509080030_EXCERPT.xml").read_bytes()).stops
    assert db_iris.reported_state(later, datetime(2025, 9, 7, 22, 31, tzinfo=UTC)).cancelled is True


def test_a_ring_train_s_start_and_end_at_one_station_stay_two_records() -> None:
    """S 42649 (Ringbahn) starts and ends at Beusselstraße an hour apart: two calls, neither added."""
    body = (IRIS / "8089118_fchg_2509081400_EXCERPT.xml").read_bytes()
    ids = sorted(s.stop_id.rsplit("-", 1)[1] for s in db_iris.parse_changes(body).stops)
    assert ids == ["1", "28"]


def test_a_stop_s_arrival_and_departure_are_cancelled_apart() -> None:
    """Berlin Nordbahnhof, 2025-09-08 06:00: S 26527 ends there (arrives 06:09, its departure cancelled),
    S 26532 starts there (its arrival cancelled, departs). ``cancelled`` is the arrival's."""
    changes = db_iris.parse_changes((IRIS / "8089024_fchg_2509080600_EXCERPT.xml").read_bytes())
    at = datetime(2025, 9, 8, 4, 1, tzinfo=UTC)
    ends = db_iris.reported_state(_stop(changes.stops, "-4938533506523138056-2509080554-7"), at)
    assert (ends.cancelled, ends.departure_cancelled) == (False, True)
    assert ends.estimated_arrival == datetime(2025, 9, 8, 4, 9, tzinfo=UTC) and ends.platform == "2"
    later = db_iris.reported_state(
        _stop(changes.stops, "-4938533506523138056-2509080554-7"), datetime(2025, 9, 8, 4, 10, tzinfo=UTC)
    )
    assert later.actual_arrival == datetime(2025, 9, 8, 4, 9, tzinfo=UTC) and later.actual_departure is None
    starts = db_iris.reported_state(_stop(changes.stops, "7576356083121382619-2509080655-15"), at)
    assert (starts.cancelled, starts.departure_cancelled) == (True, False)
    assert starts.platform is None  # the arrival's: the departure's platform 3 is not where it arrives


def test_a_stop_cancelled_whole_keeps_one_flag() -> None:
    """Both events cancelled (S 44130 at Halensee by 00:30): ``departure_cancelled`` is left NULL, as
    ``cancelled``; a departure-only record (a trip's first stop) is the stop's cancellation."""
    changes = db_iris.parse_changes((IRIS / "8089109_fchg_2509080030_EXCERPT.xml").read_bytes())
    whole = [db_iris.reported_state(s, datetime(2025, 9, 7, 22, 31, tzinfo=UTC)) for s in changes.stops]
    assert {(s.cancelled, s.departure_cancelled) for s in whole} == {(True, None)}
    (first,) = db_iris.parse_changes((IRIS / "fchg_departureCancelled.xml").read_bytes()).stops
    state = db_iris.reported_state(first, datetime(2019, 3, 17, 12, 0, tzinfo=UTC))
    assert (state.cancelled, state.departure_cancelled) == (True, None)
