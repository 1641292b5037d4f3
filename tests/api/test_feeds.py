"""GTFS-Realtime TripUpdates: parsed back with gtfs-realtime-bindings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.utils import format_datetime

from fastapi.testclient import TestClient
from google.transit import gtfs_realtime_pb2 as rt
from sqlalchemy import Engine

from eta.clock import ManualClock
from tests.api.helpers import add_prediction, berlin, call_at

FEED = "/gtfs-rt/trip-updates"


def _parse(body: bytes) -> rt.FeedMessage:
    feed = rt.FeedMessage()
    feed.ParseFromString(body)
    return feed


def test_trip_updates_parse_and_carry_the_served_predictions(client: TestClient, engine: Engine) -> None:
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), "8000261")
    add_prediction(
        engine,
        call,
        berlin("2026-05-04 18:55"),
        1500,
        below_s=300,
        above_s=900,
        platform="27",
        platform_probability=0.8,
        platform_probs={"27": 0.8, "28": 0.2},
    )
    response = client.get(FEED)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    feed = _parse(response.content)
    assert feed.header.gtfs_realtime_version == "2.0"
    assert feed.header.incrementality == rt.FeedHeader.FULL_DATASET
    # the newest prediction in the feed: ours at 18:55 or a later one of the seeded baseline, never after now
    assert (
        int(berlin("2026-05-04 18:55").timestamp())
        <= feed.header.timestamp
        <= int(berlin("2026-05-04 19:00").timestamp())
    )
    assert len(feed.entity) >= 3
    for entity in feed.entity:
        sequences = [u.stop_sequence for u in entity.trip_update.stop_time_update]
        assert sequences == sorted(sequences)
        assert entity.trip_update.trip.start_date.isdigit()
    ice = next(e for e in feed.entity if e.trip_update.trip.trip_id == "train:ICE:1011:2026-05-04")
    assert ice.trip_update.trip.start_date == "20260504"
    munich = next(u for u in ice.trip_update.stop_time_update if u.stop_id == "8000261")
    assert munich.stop_sequence == call.sequence
    assert munich.arrival.time == int(berlin("2026-05-04 20:06").timestamp())
    assert munich.arrival.delay == 1500
    assert munich.arrival.uncertainty == (300 + 900) // 2
    assert munich.stop_time_properties.assigned_stop_id == "8000261:27"


def test_cancelled_calls_are_skipped(client: TestClient, clock: ManualClock, engine: Engine) -> None:
    clock.now = berlin("2026-05-04 21:45")
    call = call_at(engine, "ICE", "1013", date(2026, 5, 4), "8000261")
    feed = _parse(client.get(FEED).content)
    entity = next(e for e in feed.entity if e.trip_update.trip.trip_id == "train:ICE:1013:2026-05-04")
    munich = next(u for u in entity.trip_update.stop_time_update if u.stop_sequence == call.sequence)
    assert munich.schedule_relationship == rt.TripUpdate.StopTimeUpdate.SKIPPED
    assert not munich.HasField("arrival")


def test_last_modified_and_if_modified_since(client: TestClient, engine: Engine) -> None:
    first = client.get(FEED)
    last_modified = first.headers["last-modified"]
    stamp = datetime.fromtimestamp(_parse(first.content).header.timestamp, UTC)
    assert last_modified == format_datetime(stamp, usegmt=True)
    assert stamp <= datetime(2026, 5, 4, 17, 0, tzinfo=UTC)
    assert client.get(FEED, headers={"If-Modified-Since": last_modified}).status_code == 304
    assert client.get(FEED, headers={"If-Modified-Since": "not a date"}).status_code == 200
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), "8000261")
    add_prediction(engine, call, berlin("2026-05-04 19:00"), 60)  # a newer prediction: modified again
    again = client.get(FEED, headers={"If-Modified-Since": last_modified})
    assert again.status_code == 200
    assert again.headers["last-modified"] != last_modified


def test_an_empty_window_is_a_valid_empty_feed(client: TestClient, clock: ManualClock) -> None:
    clock.now = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
    response = client.get(FEED)
    feed = _parse(response.content)
    assert len(feed.entity) == 0
    assert feed.header.incrementality == rt.FeedHeader.FULL_DATASET
    assert "last-modified" not in response.headers


def test_a_call_its_train_has_passed_carries_its_arrival_not_a_prediction(
    client: TestClient, clock: ManualClock, engine: Engine
) -> None:
    """ICE 1101 (real DB run of 4 May 2026) was due in München at 18:43 and came at 19:25."""
    call = call_at(engine, "ICE", "1101", date(2026, 5, 4), "8000261")

    def munich() -> rt.TripUpdate.StopTimeUpdate:
        feed = _parse(client.get(FEED).content)
        entity = next(e for e in feed.entity if e.trip_update.trip.trip_id == "train:ICE:1101:2026-05-04")
        return next(u for u in entity.trip_update.stop_time_update if u.stop_sequence == call.sequence)

    clock.now = berlin("2026-05-04 19:20")
    before = munich()
    assert before.arrival.uncertainty > 0  # predicted
    clock.now = berlin("2026-05-04 19:26")
    after = munich()
    assert after.arrival.time == int(berlin("2026-05-04 19:25").timestamp())
    assert after.arrival.delay == 42 * 60 and not after.arrival.HasField("uncertainty")
