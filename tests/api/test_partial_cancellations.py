"""A call IRIS cancels one event of: two S-Bahn trains at Berlin Nordbahnhof on 2025-09-08
(:mod:`tests.partial_cancellations`). S 26527 ends there (its departure cancelled): the arrivals board and
its trip show it arriving, and it leaves no connection. S 26532 starts there (its arrival cancelled): it is
shown cancelled on the arrivals board, and its departure stands."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from google.transit import gtfs_realtime_pb2 as rt

from eta.clock import ManualClock
from tests.partial_cancellations import BERLIN, ENDS_HERE, NORDBAHNHOF, STARTS_HERE, store_url


def _board(client: TestClient, clock: ManualClock, now: datetime, number: str) -> list[dict[str, Any]]:
    clock.now = now
    answer = client.get(
        f"/api/v1/locations/{NORDBAHNHOF}/arrivals",
        params={"from": (now - timedelta(minutes=30)).isoformat()},
    )
    assert answer.status_code == 200, answer.text
    return [a for a in answer.json()["arrivals"] if a["service"]["number"] == number]


def _call(client: TestClient, trip: str) -> dict[str, Any]:
    answer = client.get(f"/api/v1/trips/train/{trip}")
    assert answer.status_code == 200, answer.text
    [call] = [c for c in answer.json()["calls"] if c["location"]["code"] == NORDBAHNHOF]
    return dict(call)


def test_a_train_ending_early_is_shown_arriving_and_leaves_no_connection(
    tmp_path: Path, make_client: Callable[..., TestClient]
) -> None:
    clock = ManualClock(datetime(2025, 9, 8, 6, 5, tzinfo=BERLIN))
    client = make_client(store_url(tmp_path), clock)
    # 06:05: the 06:00 change list says it arrives at 06:09 on platform 2 and goes no further
    [row] = _board(client, clock, datetime(2025, 9, 8, 6, 5, tzinfo=BERLIN), "26527")
    assert row["status"] == "scheduled"
    assert row["platform"]["predicted"] == "2"
    assert datetime.fromisoformat(row["operator_estimate"]["arrival"]) == datetime(
        2025, 9, 8, 6, 9, tzinfo=BERLIN
    )
    assert row["unpredicted_reason"] is not None  # a model would predict it (no model in this store)
    call = _call(client, ENDS_HERE)
    assert call["status"] == "scheduled" and call["departure_cancelled"] is True
    # 06:15: past its arrival, it has arrived
    [row] = _board(client, clock, datetime(2025, 9, 8, 6, 15, tzinfo=BERLIN), "26527")
    assert row["status"] == "arrived"
    # no connection leaves with it (the only other train in this store is not known before 07:01)
    leaving = client.get(
        f"/api/v1/connections/train/{NORDBAHNHOF}", params={"arriving": ENDS_HERE, "leaving": ENDS_HERE}
    )
    assert leaving.status_code == 409 and leaving.json()["type"] == "/problems/cancelled", leaving.text
    assert "S 26527" in leaving.json()["detail"] and "leave" in leaving.json()["detail"]


def test_a_train_starting_late_is_shown_cancelled_on_arrivals_and_departs(
    tmp_path: Path, make_client: Callable[..., TestClient]
) -> None:
    clock = ManualClock(datetime(2025, 9, 8, 7, 5, tzinfo=BERLIN))
    client = make_client(store_url(tmp_path), clock)
    [row] = _board(client, clock, datetime(2025, 9, 8, 7, 5, tzinfo=BERLIN), "26532")
    assert row["status"] == "cancelled"
    call = _call(client, STARTS_HERE)
    assert call["status"] == "cancelled" and call["departure_cancelled"] is False
    # no connection arrives with it; leaving with it, only the departure model is missing
    arriving = client.get(
        f"/api/v1/connections/train/{NORDBAHNHOF}", params={"arriving": STARTS_HERE, "leaving": STARTS_HERE}
    )
    assert arriving.status_code == 409 and arriving.json()["type"] == "/problems/cancelled", arriving.text
    assert "S 26532 does not arrive at" in arriving.json()["detail"]
    leaving = client.get(
        f"/api/v1/connections/train/{NORDBAHNHOF}", params={"arriving": ENDS_HERE, "leaving": STARTS_HERE}
    )
    assert leaving.status_code == 409 and leaving.json()["type"] == "/problems/no-prediction", leaving.text
    assert "departure model" in leaving.json()["detail"]


def test_the_feed_keeps_the_stop_of_a_train_ending_or_starting_there(
    tmp_path: Path, make_client: Callable[..., TestClient]
) -> None:
    clock = ManualClock(datetime(2025, 9, 8, 7, 5, tzinfo=BERLIN))
    client = make_client(store_url(tmp_path), clock)
    feed = rt.FeedMessage()
    feed.ParseFromString(client.get("/gtfs-rt/trip-updates").content)
    stops = {e.trip_update.trip.trip_id: e.trip_update for e in feed.entity}
    properties = rt.TripUpdate.StopTimeUpdate.StopTimeProperties
    # S 26527 has arrived (06:09, as known) and takes nobody on
    [ends] = stops["train:S:26527:2025-09-08"].stop_time_update
    assert ends.schedule_relationship == rt.TripUpdate.StopTimeUpdate.SCHEDULED
    assert ends.arrival.time == int(datetime(2025, 9, 8, 6, 9, tzinfo=BERLIN).timestamp())
    assert ends.stop_time_properties.pickup_type == properties.NONE
    assert ends.stop_time_properties.drop_off_type == properties.REGULAR
    # S 26532 stops there without arriving: it lets nobody off and leaves
    trip = stops["train:S:26532:2025-09-08"]
    assert trip.trip.schedule_relationship == rt.TripDescriptor.SCHEDULED
    [starts] = trip.stop_time_update
    assert starts.schedule_relationship == rt.TripUpdate.StopTimeUpdate.SCHEDULED
    assert not starts.HasField("arrival")
    assert starts.stop_time_properties.drop_off_type == properties.NONE
    assert starts.stop_time_properties.pickup_type == properties.REGULAR
