"""The published parking reference is rebuilt from its sources, with walks computed from positions."""

from __future__ import annotations

import pytest

from eta import parking_sources
from eta.parking_sources import Point, distance_m, walk_minutes


def test_the_bundled_file_is_what_its_sources_build() -> None:
    assert parking_sources.OUTPUT.read_text(encoding="utf-8") == parking_sources.build()


def test_distance_and_walk_from_positions() -> None:
    hbf = Point("8011160", "Berlin Hauptbahnhof", 13.369545, 52.525592)
    car_park = Point("db-100022", "Parkhaus Berlin Hauptbahnhof", 13.366282, 52.524291)
    # 0.003263 deg of longitude at 52.5 N is 221 m, 0.001301 deg of latitude 145 m: 264 m as the crow flies
    assert distance_m(hbf, car_park) == pytest.approx(264, abs=2)
    assert walk_minutes(hbf, car_park) == pytest.approx(264 * 1.3 / 75, abs=0.1)
    assert distance_m(hbf, hbf) == 0


def test_only_car_parks_near_a_station_are_at_it() -> None:
    places = [
        (Point("p", "Near", 13.3700, 52.5260), "car_park"),
        (Point("q", "Far", 13.40, 52.52), "car_park"),
    ]
    rows = parking_sources.reference_rows(places, [Point("1", "S", 13.3695, 52.5256)])
    assert [row["place_id"] for row in rows] == ["p"]
    assert rows[0]["platforms"] == "*" and rows[0]["status"] == "published"
