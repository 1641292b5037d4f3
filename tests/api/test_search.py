"""Finding a trip by its number on a day, and a station or airport by its name or code."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_trips_of_a_day_start_with_what_was_typed(client: TestClient) -> None:
    answer = client.get("/api/v1/services", params={"date": "2026-05-04", "q": "ice 101"})
    assert answer.status_code == 200
    found = answer.json()["services"]
    names = [s["service"]["operator"] + " " + s["service"]["number"] for s in found]
    assert "ICE 1011" in names
    assert all(n.replace(" ", "").startswith("ICE101") for n in names)
    ice = next(s for s in found if s["service"]["number"] == "1011")
    assert ice["origin"]["name"] == "Dortmund Hbf" and ice["destination"]["name"] == "München Hbf"
    assert ice["departure"] == "2026-05-04T14:09:00+02:00"  # the first stop's local time
    assert ice["arrival"].startswith("2026-05-04T") and ice["arrival"].endswith("+02:00")
    trip = client.get("/api/v1/trips/train/ICE/1011/2026-05-04").json()
    assert ice["arrival"] == trip["calls"][-1]["scheduled_arrival"]


def test_a_bare_number_finds_the_trip_and_no_match_is_an_empty_list(client: TestClient) -> None:
    found = client.get("/api/v1/services", params={"date": "2026-05-04", "q": "1011"}).json()["services"]
    assert [s["service"]["number"] for s in found] == ["1011"]
    other_day = client.get("/api/v1/services", params={"date": "2026-05-06", "q": "1011"}).json()
    assert other_day["services"] == []
    wild = client.get("/api/v1/services", params={"date": "2026-05-04", "q": "IC_"}).json()
    assert wild["services"] == []  # LIKE's wildcards are taken literally


def test_suggestions_are_bounded_and_checked(client: TestClient) -> None:
    some = client.get("/api/v1/services", params={"date": "2026-05-04", "limit": 3}).json()["services"]
    assert len(some) == 3
    assert client.get("/api/v1/services", params={"date": "2026-05-04", "limit": 500}).status_code == 422
    bad = client.get("/api/v1/services", params={"date": "2026-05-04", "q": "<script>"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    far = client.get("/api/v1/services", params={"date": "2031-01-01"})
    assert far.status_code == 422 and far.json()["type"] == "/problems/date-out-of-range"


def test_locations_by_code_or_part_of_the_name_those_with_trips_first(client: TestClient) -> None:
    by_name = client.get("/api/v1/locations", params={"q": "münchen"}).json()["locations"]
    assert by_name[0] == {"code": "8000261", "name": "München Hbf", "tz": "Europe/Berlin"}
    by_code = client.get("/api/v1/locations", params={"q": "8000261"}).json()["locations"]
    assert by_code[0]["code"] == "8000261"
    assert client.get("/api/v1/locations", params={"q": "zzzz-nowhere"}).json() == {"locations": []}
    assert client.get("/api/v1/locations", params={"q": ""}).status_code == 422
