"""Flight status records, whatever the provider, and how they become services, calls and observations.

A flight is one service: operator = the carrier's IATA code, number = the flight number's digits,
service date = the scheduled departure's local date at the origin, leg = the origin's IATA code. Its
calls are the origin (sequence 0) and the destination (sequence 1), with the scheduled gate times
(out/in) and scheduled runway times (off/on). Each fetch adds, per call, an observation with the
provider's estimated and actual **gate** times (out at the origin, in at the destination), the gate as
``platform`` and its ``terminal``, the estimated and actual **runway** times (off at the origin, on at
the destination) and the cancellation; an observation equal to the last one of its call adds nothing.
Refs: ``(<provider>, <provider flight id>|<sequence>)`` and ``("callsign", <ICAO ident>|<origin ICAO>|
<UTC date of scheduled departure>|<sequence>)``, the latter so that ADS-B sources (OpenSky), which know
flights only by callsign, can attach their observations to the scheduled flight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eta.collectors.base import PayloadError, Row, Rows
from eta.store.ids import call_key_id, service_key_id

CALLSIGN = "callsign"


@dataclass(frozen=True)
class Airport:
    iata: str | None
    icao: str | None
    tz: str | None
    terminal: str | None = None
    gate: str | None = None


@dataclass(frozen=True)
class FlightStatus:
    provider: str
    provider_id: str
    carrier_iata: str | None
    number: str | None
    ident_icao: str | None
    origin: Airport
    destination: Airport
    scheduled_out: datetime | None
    estimated_out: datetime | None
    actual_out: datetime | None
    scheduled_in: datetime | None
    estimated_in: datetime | None
    actual_in: datetime | None
    scheduled_off: datetime | None = None
    estimated_off: datetime | None = None
    actual_off: datetime | None = None
    scheduled_on: datetime | None = None
    estimated_on: datetime | None = None
    actual_on: datetime | None = None
    cancelled: bool | None = None
    status: str | None = None
    registration: str | None = None
    aircraft_type: str | None = None

    @property
    def keyable(self) -> bool:
        """Enough to place the flight: carrier, number, origin and a scheduled departure."""
        return bool(self.carrier_iata and self.number and self.origin.iata and self.scheduled_out)


def digits(flight_number: str | None) -> str | None:
    """``"0017"`` → ``"17"``; ``"8838"`` stays; non-numeric numbers are kept as given."""
    if not flight_number:
        return None
    text = flight_number.strip()
    return str(int(text)) if text.isdigit() else text


def local_date(when: datetime, tz: str | None) -> str:
    try:
        zone = ZoneInfo(tz) if tz else UTC
    except ZoneInfoNotFoundError:
        zone = UTC
    return when.astimezone(zone).date().isoformat()


def parse_iso(value: object) -> datetime | None:
    """ISO 8601 with an offset or ``Z`` → aware UTC; None for null/empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(f"time {value!r} is not a string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PayloadError(f"time {value!r} is not ISO 8601") from exc
    if parsed.tzinfo is None:
        raise PayloadError(f"time {value!r} has no offset")
    return parsed.astimezone(UTC)


_CLEAN = re.compile(r"\s+")


def clean(value: object) -> str | None:
    if value is None:
        return None
    text = _CLEAN.sub(" ", str(value)).strip()
    return text or None


def flight_rows(flights: list[FlightStatus], observed_at: datetime, raw_ref: str) -> Rows:
    """Services, calls, refs and observations of the flights that can be placed (others are skipped)."""
    services: list[Row] = []
    calls: list[Row] = []
    refs: list[Row] = []
    observations: list[Row] = []
    for flight in flights:
        if not flight.keyable:
            continue
        assert flight.scheduled_out is not None and flight.origin.iata is not None
        service_date = local_date(flight.scheduled_out, flight.origin.tz)
        service_id = service_key_id(
            "flight", flight.carrier_iata, flight.number, service_date, flight.origin.iata
        )
        services.append(
            {
                "id": service_id,
                "mode": "flight",
                "operator": flight.carrier_iata,
                "number": flight.number,
                "service_date": service_date,
                "leg": flight.origin.iata,
                "category": None,
                "agency": flight.carrier_iata,
                "origin": flight.origin.iata,
                "destination": flight.destination.iata,
                "vehicle_id": flight.registration,
                "source": flight.provider,
            }
        )
        ends = (
            [(0, flight.origin), (1, flight.destination)] if flight.destination.iata else [(0, flight.origin)]
        )
        for sequence, airport in ends:
            call_id = call_key_id(service_id, sequence)
            calls.append(
                {
                    "id": call_id,
                    "service_id": service_id,
                    "sequence": sequence,
                    "location": airport.iata,
                    "location_tz": airport.tz,
                    "scheduled_arrival": flight.scheduled_in if sequence == 1 else None,
                    "scheduled_departure": flight.scheduled_out if sequence == 0 else None,
                    "scheduled_runway_arrival": flight.scheduled_on if sequence == 1 else None,
                    "scheduled_runway_departure": flight.scheduled_off if sequence == 0 else None,
                    "planned_platform": None,  # gates are assigned, not planned; they come as observations
                }
            )
            refs.append(
                {"source": flight.provider, "ref": f"{flight.provider_id}|{sequence}", "call_id": call_id}
            )
            if flight.ident_icao and flight.origin.icao:
                day = flight.scheduled_out.date().isoformat()
                ref = f"{flight.ident_icao}|{flight.origin.icao}|{day}|{sequence}"
                refs.append({"source": CALLSIGN, "ref": ref, "call_id": call_id})
            observations.append(
                {
                    "call_id": call_id,
                    "observed_at": observed_at,
                    "source": flight.provider,
                    "estimated_departure": flight.estimated_out if sequence == 0 else None,
                    "actual_departure": flight.actual_out if sequence == 0 else None,
                    "estimated_arrival": flight.estimated_in if sequence == 1 else None,
                    "actual_arrival": flight.actual_in if sequence == 1 else None,
                    "platform": airport.gate,
                    "terminal": airport.terminal,
                    "estimated_runway_departure": flight.estimated_off if sequence == 0 else None,
                    "actual_runway_departure": flight.actual_off if sequence == 0 else None,
                    "estimated_runway_arrival": flight.estimated_on if sequence == 1 else None,
                    "actual_runway_arrival": flight.actual_on if sequence == 1 else None,
                    "cancelled": flight.cancelled,
                    "raw_ref": raw_ref,
                }
            )
    rows = Rows()
    rows.add("services", services)
    rows.add("calls", calls)
    rows.add("call_refs", refs)
    rows.add("observations", observations)
    return rows
