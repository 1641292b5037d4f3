"""Build a parking reference file (docs/parking.md) from published positions: car parks from DB's
BahnPark data (GeoJSON points) and stations from DB's StaDa records, walking minutes computed from the
distance between the two.

Platform positions are not published in a form that can be had offline, so the walk is measured from the
station's reference point and holds for every platform (``platforms = *``). Straight-line distance times
:data:`DETOUR` (streets and entrances are not straight lines), at :data:`WALK_M_PER_MIN`.

Run ``python -m eta.parking_sources`` to rebuild ``data/parking/db-bahnpark.csv``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eta.parking import ANY_PLATFORM, COLUMNS

DATA = Path(__file__).resolve().parent.parent / "data"
FACILITIES = DATA / "parking" / "sources" / "db-bahnpark-berlin.geojson"
STATIONS = DATA / "iris-berlin-day" / "station_data.json"
OUTPUT = DATA / "parking" / "db-bahnpark.csv"
DETOUR = 1.3  # walked distance / straight-line distance, a common figure for city streets
WALK_M_PER_MIN = 75.0  # 4.5 km/h
MAX_DISTANCE_M = 800.0  # a car park further than this straight line from the station is not "at" it
EARTH_RADIUS_M = 6_371_000.0
KINDS = {"underground": "car_park", "garage": "car_park", "level": "car_park", "lot": "car_park"}
SOURCE = (
    "DB BahnPark car parks (Deutsche Bahn API Parkplätze, CC BY 4.0) and DB StaDa station points "
    "(CC BY 4.0); walk = straight line x {detour} at {speed:.1f} km/h from the station point"
)
HEADER = """\
# eta parking reference, built by `python -m eta.parking_sources` (do not edit by hand): DB BahnPark
# car parks within {max_m:.0f} m of a station, walking minutes computed from published positions
# (format: docs/parking.md). Car parks: Deutsche Bahn, API Parkplätze / DB BahnPark (CC BY 4.0), copied
# from ParkenDD/ParkAPI2-sources (new/bahn.geojson); stations: DB StaDa (CC BY 4.0). Platform positions
# are not published offline: each walk is from the station's reference point, for every platform (*).
"""


@dataclass(frozen=True)
class Point:
    code: str
    name: str
    lon: float
    lat: float


def distance_m(a: Point, b: Point) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlmb = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def walk_minutes(station: Point, place: Point) -> float:
    return round(distance_m(station, place) * DETOUR / WALK_M_PER_MIN, 1)


def facilities(geojson: dict[str, Any]) -> list[tuple[Point, str]]:
    """Car parks (point, kind) of a BahnPark GeoJSON FeatureCollection."""
    out = []
    for feature in geojson["features"]:
        props, (lon, lat) = feature["properties"], feature["geometry"]["coordinates"]
        kind = KINDS.get(props.get("type", ""), "car_park")
        out.append((Point(props["id"], props["name"], float(lon), float(lat)), kind))
    return out


def stations(stada: dict[str, Any]) -> list[Point]:
    """Every EVA number of DB StaDa's station records, at its own coordinates."""
    out = []
    for station in stada["result"]:
        for eva in station.get("evaNumbers", []):
            coords = (eva.get("geographicCoordinates") or {}).get("coordinates")
            if coords:
                out.append(Point(str(eva["number"]), station["name"], float(coords[0]), float(coords[1])))
    return out


def reference_rows(places: list[tuple[Point, str]], at: list[Point]) -> list[dict[str, str]]:
    """One row per station and car park within :data:`MAX_DISTANCE_M`, nearest first per station."""
    source = SOURCE.format(detour=DETOUR, speed=WALK_M_PER_MIN * 60 / 1000)
    rows = []
    for station in sorted(at, key=lambda s: s.code):
        near = sorted(
            (distance_m(station, place), place, kind)
            for place, kind in places
            if distance_m(station, place) <= MAX_DISTANCE_M
        )
        for _, place, kind in near:
            rows.append(
                {
                    "location": station.code,
                    "location_name": station.name,
                    "place_id": place.code,
                    "place_name": place.name,
                    "place_kind": kind,
                    "platforms": ANY_PLATFORM,
                    "walk_min": f"{walk_minutes(station, place):.1f}",
                    "status": "published",
                    "source": source,
                }
            )
    return rows


def render(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    buffer.write(HEADER.format(max_m=MAX_DISTANCE_M))
    writer = csv.DictWriter(
        buffer, fieldnames=["location", "location_name", *COLUMNS[1:]], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def build(facilities_path: Path = FACILITIES, stations_path: Path = STATIONS) -> str:
    places = facilities(json.loads(facilities_path.read_text(encoding="utf-8")))
    points = stations(json.loads(stations_path.read_text(encoding="utf-8")))
    return render(reference_rows(places, points))


def main() -> None:
    OUTPUT.write_text(build(), encoding="utf-8")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
