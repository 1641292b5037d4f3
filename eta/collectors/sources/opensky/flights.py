"""OpenSky Network REST: ``/flights/arrival`` and ``/flights/departure`` by airport and time interval.

OpenSky knows flights by ADS-B: transponder address, callsign, the first and last time it was seen and
the airports it estimated. ``firstSeen``/``lastSeen`` are the first and last ADS-B contact — around
take-off and landing, not the gate times — so they are stored under source ``opensky`` as the actual
departure and arrival seen from the runway side, and features can tell them from gate times by source.
OpenSky has no schedule: its observations attach to flights a schedule source already knows, through
the ``callsign`` refs (``<callsign>|<origin ICAO>|<UTC date>|<sequence>``, see :mod:`eta.collectors.flights`);
reports of flights no schedule source knows wait, then expire (counted).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from requests import Session

from eta.collectors.base import (
    Adapter,
    FetchError,
    Payload,
    PayloadError,
    Request,
    Response,
    Row,
    Rows,
    StoreView,
)
from eta.collectors.flights import CALLSIGN
from eta.collectors.sources.opensky.settings import OpenSkySettings
from eta.config import HttpSettings

SOURCE = "opensky"


@dataclass(frozen=True)
class SeenFlight:
    icao24: str
    callsign: str | None
    first_seen: datetime
    last_seen: datetime
    departure_airport: str | None
    arrival_airport: str | None


class OpenSkyAdapter(Adapter[OpenSkySettings]):
    name = "opensky"
    source = SOURCE
    content_types = ("application/json",)
    extension = "json"

    def requests(self, now: datetime, view: StoreView) -> list[Request]:
        end = int(now.timestamp())
        begin = end - self.config.window_s
        return [
            Request.of(kind, airport=airport, begin=begin, end=end)
            for airport in self.config.airports
            for kind in ("arrival", "departure")
        ]

    def url(self, request: Request) -> tuple[str, Mapping[str, str]]:
        return f"{self.config.base_url.rstrip('/')}/flights/{request.kind}", {
            "airport": request.param("airport"),
            "begin": request.param("begin"),
            "end": request.param("end"),
        }

    def fetch(self, session: Session, request: Request, http: HttpSettings) -> Response:
        """OpenSky answers an interval without flights with 404: that is an empty list, not an error."""
        try:
            return super().fetch(session, request, http)
        except FetchError as exc:
            if exc.kind == "http_4xx" and str(exc).startswith("404"):
                return Response(404, b"[]", "application/json")
            raise

    def auth(self) -> tuple[str, str] | None:
        if self.config.username is None or self.config.password is None:
            return None
        return self.config.username.get_secret_value(), self.config.password.get_secret_value()

    def parse(self, payload: Payload) -> Rows:
        flights = parse_flights(payload.body)
        rows = Rows()
        rows.add(
            "observations", [r for f in flights for r in observation_rows(f, payload.fetched_at, payload.ref)]
        )
        return rows


def parse_flights(body: bytes) -> list[SeenFlight]:
    """Pure: the JSON array of flight objects → records. OpenSky answers an empty interval with 404."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PayloadError(f"malformed JSON: {exc}") from exc
    if not isinstance(data, list):
        raise PayloadError("expected a JSON array of flights")
    return [_flight(o) for o in data]


def _flight(o: object) -> SeenFlight:
    if (
        not isinstance(o, dict)
        or not isinstance(o.get("firstSeen"), int)
        or not isinstance(o.get("lastSeen"), int)
    ):
        raise PayloadError("a flight without integer firstSeen/lastSeen")
    callsign = (o.get("callsign") or "").strip() or None
    return SeenFlight(
        icao24=str(o.get("icao24") or ""),
        callsign=callsign,
        first_seen=datetime.fromtimestamp(o["firstSeen"], UTC),
        last_seen=datetime.fromtimestamp(o["lastSeen"], UTC),
        departure_airport=o.get("estDepartureAirport") or None,
        arrival_airport=o.get("estArrivalAirport") or None,
    )


def observation_rows(flight: SeenFlight, observed_at: datetime, raw_ref: str) -> list[Row]:
    """Up to two rows (departure, arrival) naming the flight's calls by callsign ref."""
    if not flight.callsign or not flight.departure_airport:
        return []
    day = flight.first_seen.date().isoformat()
    base = f"{flight.callsign}|{flight.departure_airport}|{day}"
    rows: list[Row] = [
        {
            "ref_source": CALLSIGN,
            "ref": f"{base}|0",
            "observed_at": observed_at,
            "source": SOURCE,
            "actual_departure": flight.first_seen,
            "raw_ref": raw_ref,
        }
    ]
    if flight.arrival_airport:
        rows.append(
            {
                "ref_source": CALLSIGN,
                "ref": f"{base}|1",
                "observed_at": observed_at,
                "source": SOURCE,
                "actual_arrival": flight.last_seen,
                "raw_ref": raw_ref,
            }
        )
    return rows
