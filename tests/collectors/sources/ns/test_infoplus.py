"""NS InfoPlus RIT/DVS/DAS messages (real recordings): parsing, rows, and a replay through the runner."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from eta.collectors.base import PayloadError
from eta.collectors.replay import replay
from eta.collectors.runner import Runner
from eta.collectors.sources.ns.infoplus import NsInfoPlusAdapter, message_cycles, message_rows, parse_message
from eta.config import Settings
from eta.read.reports import call_states
from eta.store.ids import call_key_id, service_key_id
from eta.store.schema import Call, Observation, QuarantinedPayload
from tests.conftest import FIXTURES

NS = FIXTURES / "ns_infoplus"


def _message(name: str):  # type: ignore[no-untyped-def]
    return parse_message((NS / "gotrain" / f"{name}.xml").read_bytes())


def test_a_departure_on_two_platforms_keeps_both() -> None:
    (event,) = _message("departure_multiple-platforms").station_events
    assert (event.kind, event.rit_id, event.uic) == ("departure", "2459", "8400561")
    assert (event.event.planned_platform, event.event.current_platform) == ("5-6", "5-6")
    (arrival,) = _message("arrival_multiple-platforms").station_events
    assert arrival.kind == "arrival" and arrival.event.current_platform == "5-6"


def test_cancellations_by_modification_type() -> None:
    (departure,) = _message("departure_cancelled").station_events
    (arrival,) = _message("arrival_cancelled").station_events
    assert departure.cancelled and arrival.cancelled
    (plain,) = _message("departure_delay").station_events
    assert not plain.cancelled
    assert plain.event.current_time == datetime(2018, 9, 4, 11, 14, 3, tzinfo=UTC)  # 1 min 3 s late


def test_a_run_lists_its_stops_in_order_with_platforms_and_a_shortened_end() -> None:
    (run,) = _message("service_cancelled").runs
    assert (run.number, run.category, str(run.day)) == ("3322", "SPR", "2019-02-24")
    codes = [s.code for s in run.stops]
    assert codes[0] == "LEDN" and codes[-2:] == ["HN", "HNK"]
    schiphol = run.stops[codes.index("SHL")]
    assert (schiphol.departure.planned_platform, schiphol.departure.current_platform) == ("1-2", "2")
    assert [s.code for s in run.stops if s.arrival_cancelled or s.departure_cancelled] == ["HN", "HNK"]
    (ic,) = _message("service").runs
    assert len(ic.stops) == 22  # the stations it only passes are not calls


def test_a_run_ending_early_arrives_at_the_stop_whose_departure_it_cancels() -> None:
    # SPR 3322 on 2019-02-24 ends at Hoorn: its departure there is cancelled (modification 32) and it
    # still stops there (Stopt Actueel J); Hoorn Kersenboogerd, its planned end, is not reached (N, 39)
    (run,) = _message("service_cancelled").runs
    hoorn, kersenboogerd = run.stops[-2:]
    assert (hoorn.arrival_cancelled, hoorn.departure_cancelled) == (False, True)
    assert (kersenboogerd.arrival_cancelled, kersenboogerd.departure_cancelled) == (True, True)
    rows = message_rows(_message("service_cancelled"), datetime(2019, 2, 24, 9, tzinfo=UTC), "ref")
    by_call = {o["call_id"]: o for o in rows.tables["observations"]}
    states = [
        (c["location"], by_call[c["id"]]["cancelled"], by_call[c["id"]].get("departure_cancelled"))
        for c in rows.tables["calls"]
    ]
    assert states[-2:] == [("8400337", False, True), ("8400336", True, None)]
    assert all(state[1:] == (False, None) for state in states[:-2])
    hoorn_obs = by_call[rows.tables["calls"][-2]["id"]]
    assert hoorn_obs["estimated_arrival"] == datetime(2019, 2, 24, 8, 43, 32, tzinfo=UTC)  # it arrives
    assert hoorn_obs["actual_departure"] is None


def test_station_messages_cancel_their_own_event_and_say_where_a_train_ends_or_starts() -> None:
    late = datetime(2030, 1, 1, tzinfo=UTC)
    # IC 1153 on 2018-09-04 ends at Den Haag HS (destination now Den Haag HS, not Eindhoven): it arrives
    # there, its departure is cancelled (32)
    (departure,) = message_rows(_message("departure_cancelled"), late, "ref").tables["observations"]
    assert (departure["cancelled"], departure["departure_cancelled"]) == (False, True)
    assert departure["actual_departure"] is None
    # SPR 6555 starts at Houten (origin now Houten, not Utrecht Centraal): its arrival there is cancelled
    # (39), it leaves
    (arrival,) = message_rows(_message("arrival_cancelled"), late, "ref").tables["observations"]
    assert (arrival["cancelled"], arrival["departure_cancelled"]) == (True, False)
    assert arrival["actual_arrival"] is None
    # a departure message of a train going on says nothing of its arrival; an arrival message that cancels
    # nothing, nothing of cancellations (its arrival standing would read as its departure standing too)
    (plain,) = message_rows(_message("departure_delay"), late, "ref").tables["observations"]
    assert (plain["cancelled"], plain["departure_cancelled"]) == (None, False)
    (arrives,) = message_rows(_message("arrival"), late, "ref").tables["observations"]
    assert (arrives["cancelled"], arrives["departure_cancelled"]) == (None, None)
    assert arrives["estimated_arrival"] is not None


def test_successive_versions_of_one_departure() -> None:
    versions = [parse_message(p.read_bytes()) for p in sorted((NS / "treinlog-11752").glob("*.xml"))]
    events = [v.station_events[0] for v in versions]
    assert {(e.event.planned_platform, e.event.current_platform) for e in events} == {("8", "11a")}
    delays = [(e.event.current_time - e.event.planned_time).total_seconds() for e in events]
    assert delays[0] == 0 and max(delays) == 19 * 60 + 9  # 15:18:09 for 14:59


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ((NS / "gotrain" / "invalid.xml").read_bytes(), "malformed XML"),
        (b"<html/>", "not an InfoPlus message"),
        (b"", "empty"),
    ],
)
def test_invalid_messages_raise(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_message(body)


def test_run_rows_have_planned_and_current_platforms() -> None:
    message = _message("service_cancelled")
    rows = message_rows(message, message.timestamp, "ref")
    assert len(rows.tables["calls"]) == 14 and len(rows.tables["observations"]) == 14
    shl = next(c for c in rows.tables["calls"] if c["location"] == "8400561")
    obs = next(o for o in rows.tables["observations"] if o["call_id"] == shl["id"])
    assert (shl["planned_platform"], obs["platform"]) == ("1-2", "2")


def test_replaying_recorded_messages_quarantines_the_invalid_one(store: Engine, settings: Settings) -> None:
    runner = Runner(NsInfoPlusAdapter(), store, settings)
    summary = replay(runner, message_cycles(NS / "gotrain"), progress=False)
    assert summary.quarantined == 1  # invalid.xml
    with store.connect() as conn:
        quarantined = conn.execute(select(QuarantinedPayload.path, QuarantinedPayload.error_kind)).one()
        calls = pd.read_sql(select(Call), conn)
        observations = pd.read_sql(select(Observation), conn)
    assert quarantined == ("gotrain/invalid.xml", "parse")
    assert len(calls) == 22 + 14 + 9  # the three runs
    assert "1-2" in set(calls["planned_platform"]) and "2" in set(observations["platform"])
    assert observations["cancelled"].sum() == 1  # Hoorn Kersenboogerd; Hoorn's departure only
    assert observations["departure_cancelled"].sum() == 1
    # as read: SPR 3322 arrives at Hoorn and goes no further
    service = service_key_id("train", "SPR", "3322", "2019-02-24", "")
    hoorn, end = call_key_id(service, 12), call_key_id(service, 13)
    assert set(calls.loc[calls["id"].isin([hoorn, end]), "location"]) == {"8400337", "8400336"}
    with store.connect() as conn:
        states = call_states(conn, [hoorn, end], datetime(2019, 2, 25, tzinfo=UTC))
    assert (states[hoorn].cancelled, states[hoorn].departure_cancelled) == (False, True)
    assert (states[end].cancelled, states[end].departure_cancelled) == (True, True)
    # the DVS/DAS messages are of other trains than the runs: they wait for a run to place them
    assert runner.resolver.pending and all(r["source"] == "ns-infoplus" for r in runner.resolver.pending)
