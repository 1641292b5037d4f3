"""Arrivals board: window, order, services, parking at Berlin Hbf from real platforms, bad windows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from eta.clock import ManualClock

BOARD = "/api/v1/locations/8000261/arrivals"


def test_default_board_is_the_next_two_hours(client: TestClient) -> None:
    board = client.get(BOARD).json()
    assert board["location"] == {"code": "8000261", "name": "München Hbf", "tz": "Europe/Berlin"}
    assert board["window_from"] == "2026-05-04T19:00:00+02:00"
    assert board["window_to"] == "2026-05-04T21:00:00+02:00"
    scheduled = [a["scheduled_arrival"] for a in board["arrivals"]]
    # ICE 1101 due 18:43, not arrived by 19:00 (predicted 19:31), then ICE 1011 19:41, ICE 1103 20:46,
    # ICE 1069 20:56 (real DB runs of 4 May 2026): a late train stays listed until it has arrived
    assert scheduled == [
        "2026-05-04T18:43:00+02:00",
        "2026-05-04T19:41:00+02:00",
        "2026-05-04T20:46:00+02:00",
        "2026-05-04T20:56:00+02:00",
    ]
    assert [a["service"]["number"] for a in board["arrivals"]] == ["1101", "1011", "1103", "1069"]
    assert all(a["predicted"] is not None for a in board["arrivals"])
    assert board["arrivals"][0]["status"] == "en_route"
    assert board["arrivals"][0]["predicted"]["delay_s"] > 0


def test_an_explicit_window_in_another_offset(client: TestClient) -> None:
    response = client.get(BOARD, params={"from": "2026-05-04T10:00:00Z", "to": "2026-05-04T11:00:00Z"})
    arrivals = response.json()["arrivals"]
    assert [a["scheduled_arrival"] for a in arrivals] == [
        "2026-05-04T12:10:00+02:00",
        "2026-05-04T12:46:00+02:00",
    ]
    assert {a["status"] for a in arrivals} == {"arrived"}


def test_berlin_hbf_board_recommends_parking_from_the_platform(
    seeded_url: str, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(seeded_url, ManualClock(datetime(2025, 9, 4, 11, 0, tzinfo=UTC)))
    window = {"from": "2025-09-04T12:00:00+02:00", "to": "2025-09-04T18:00:00+02:00"}
    board = client.get("/api/v1/locations/8011160/arrivals", params=window).json()
    assert len(board["arrivals"]) > 10
    with_platform = [a for a in board["arrivals"] if a["platform"]["predicted"]]
    assert with_platform
    for arrival in with_platform:
        # upper-level platforms 12-14 that afternoon; data/parking/db-bahnpark.csv: DB's car park at Berlin
        # Hbf, 4.6 min from the station's point whichever the platform (no platform positions published)
        assert arrival["platform"]["predicted"] in {"12", "13", "14"}
        parking = arrival["parking"]
        assert parking["recommended"]["place_id"] == "db-100022"
        assert parking["recommended"]["name"] == "Parkhaus Berlin Hauptbahnhof"
        assert parking["recommended"]["expected_walk_min"] == 4.6
        assert parking["recommended"]["example"] is False
        assert "DB BahnPark" in parking["recommended"]["source"]
        assert parking["confidence"] == 1.0 and parking["coverage"] == 1.0
        assert parking["alternatives"] == []
        assert "example" not in parking["summary"].lower()


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"from": "2026-05-04T20:00:00Z", "to": "2026-05-04T19:00:00Z"}, "`to` is before `from`"),
        ({"from": "2026-05-04T00:00:00Z", "to": "2026-05-05T00:00:01Z"}, "longer than 12 h"),
        ({"from": "2026-05-04T10:00:00"}, "query.from"),
        ({"from": "yesterday"}, "query.from"),
        (
            {"from": "2036-05-04T10:00:00Z", "to": "2036-05-04T11:00:00Z"},
            "between 7 days ago and 60 days ahead",
        ),
    ],
)
def test_bad_windows_get_a_problem(client: TestClient, params: dict[str, str], detail: str) -> None:
    response = client.get(BOARD, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.json()["detail"]


def test_unknown_location_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/locations/XXX/arrivals")
    assert response.status_code == 404
    assert response.json()["detail"] == "eta knows no station or airport with code 'XXX'"
