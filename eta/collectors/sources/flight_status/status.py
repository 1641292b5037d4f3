"""The flight-status collector and its providers: FlightAware AeroAPI v4 and AviationStack.

A provider says what to ask for (:meth:`Provider.requests`, :meth:`Provider.url`, headers), turns a
response into :class:`~eta.collectors.flights.FlightStatus` records (:meth:`Provider.flights`, pure) and
names the next page of a paged response (:meth:`Provider.next_request`, pure). Another provider
implements the same methods; :class:`FlightStatusAdapter` does the rest. The runner follows pages up to
``ETA_COLLECTORS__FLIGHT_STATUS__MAX_PAGES``, each one fetched, retried and archived like the first.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

from eta.collectors.airports import iata_of, tz_of, zone_of
from eta.collectors.base import Adapter, Payload, PayloadError, Request, Rows, StoreView
from eta.collectors.flights import Airport, FlightStatus, clean, digits, flight_rows, parse_iso
from eta.collectors.sources.flight_status.settings import FlightStatusSettings


class Provider(ABC):
    name: str

    def __init__(self, config: FlightStatusSettings) -> None:
        self.config = config

    @abstractmethod
    def requests(self, now: datetime) -> list[Request]: ...

    @abstractmethod
    def url(self, request: Request) -> tuple[str, Mapping[str, str]]: ...

    def headers(self) -> dict[str, str]:
        return {}

    @abstractmethod
    def flights(self, data: object) -> list[FlightStatus]:
        """Pure: the decoded JSON body → flight records. Raise PayloadError if it is not this API's shape."""

    def next_request(self, request: Request, data: object) -> Request | None:
        """Pure: the request for the page after ``request`` (whose decoded body is ``data``), or None."""
        return None


class AeroApi(Provider):
    """FlightAware AeroAPI v4: an airport's ``arrivals`` and ``scheduled_arrivals``; key in ``x-apikey``."""

    name = "aeroapi"
    LISTS = ("arrivals", "scheduled_arrivals", "departures", "scheduled_departures", "flights")

    def requests(self, now: datetime) -> list[Request]:
        return [
            Request.of(kind, airport=airport)
            for airport in self.config.airports
            for kind in ("arrivals", "scheduled_arrivals")
        ]

    def url(self, request: Request) -> tuple[str, Mapping[str, str]]:
        base = self.config.base_url.rstrip("/")
        query = {k: v for k, v in request.params if k != "airport"}  # a later page: its cursor
        return f"{base}/airports/{request.param('airport')}/flights/{request.kind}", query

    def next_request(self, request: Request, data: object) -> Request | None:
        """``links.next`` is the next page's path and query relative to the base URL
        (``/airports/LHR/flights/arrivals?cursor=…``); null on the last page. Its query (the cursor)
        replaces the previous page's."""
        links = data.get("links") if isinstance(data, dict) else None
        following = links.get("next") if isinstance(links, dict) else None
        if not isinstance(following, str) or not following.strip():
            return None
        query = dict(parse_qsl(urlsplit(following.strip()).query))
        if not query.get("cursor"):
            return None
        return Request.of(request.kind, **{**query, "airport": request.param("airport")})

    def headers(self) -> dict[str, str]:
        key = self.config.api_key
        return {"x-apikey": key.get_secret_value()} if key is not None else {}

    def flights(self, data: object) -> list[FlightStatus]:
        if isinstance(data, dict) and "ident" in data:
            objects: list[object] = [data]
        elif isinstance(data, dict):
            lists = [data[k] for k in self.LISTS if isinstance(data.get(k), list)]
            if not lists:
                raise PayloadError(f"no flight list among {sorted(data)[:8]}")
            objects = [o for found in lists for o in found]
        elif isinstance(data, list):
            objects = data
        else:
            raise PayloadError("not an AeroAPI response")
        return [self._flight(o) for o in objects]

    def _flight(self, o: object) -> FlightStatus:
        if not isinstance(o, dict) or not o.get("fa_flight_id"):
            raise PayloadError("a flight object without fa_flight_id")
        origin, destination = o.get("origin") or {}, o.get("destination") or {}
        return FlightStatus(
            provider=self.name,
            provider_id=str(o["fa_flight_id"]),
            carrier_iata=clean(o.get("operator_iata")),
            number=digits(clean(o.get("flight_number"))),
            ident_icao=clean(o.get("ident_icao")),
            origin=_aeroapi_airport(origin, o.get("terminal_origin"), o.get("gate_origin")),
            destination=_aeroapi_airport(
                destination, o.get("terminal_destination"), o.get("gate_destination")
            ),
            scheduled_out=parse_iso(o.get("scheduled_out")),
            estimated_out=parse_iso(o.get("estimated_out")),
            actual_out=parse_iso(o.get("actual_out")),
            scheduled_in=parse_iso(o.get("scheduled_in")),
            estimated_in=parse_iso(o.get("estimated_in")),
            actual_in=parse_iso(o.get("actual_in")),
            scheduled_off=parse_iso(o.get("scheduled_off")),
            estimated_off=parse_iso(o.get("estimated_off")),
            actual_off=parse_iso(o.get("actual_off")),
            scheduled_on=parse_iso(o.get("scheduled_on")),
            estimated_on=parse_iso(o.get("estimated_on")),
            actual_on=parse_iso(o.get("actual_on")),
            cancelled=o.get("cancelled") if isinstance(o.get("cancelled"), bool) else None,
            status=clean(o.get("status")),
            registration=clean(o.get("registration")),
            aircraft_type=clean(o.get("aircraft_type")),
        )


def _aeroapi_airport(a: object, terminal: object, gate: object) -> Airport:
    if not isinstance(a, dict):
        return Airport(None, None, None)
    icao = clean(a.get("code_icao")) or clean(a.get("code"))
    return Airport(
        iata=clean(a.get("code_iata")) or iata_of(icao),
        icao=icao,
        tz=clean(a.get("timezone")) or (tz_of(icao) if icao else None),
        terminal=clean(terminal),
        gate=clean(gate),
    )


class AviationStack(Provider):
    """AviationStack ``/v1/flights?arr_icao=…`` (key as ``access_key`` query parameter).

    Its times are the airports' local wall-clock times labelled ``+00:00``: the label is dropped and the
    time read in the airport's ``timezone``.
    """

    name = "aviationstack"

    def requests(self, now: datetime) -> list[Request]:
        return [Request.of("flights", arr_icao=airport) for airport in self.config.airports]

    def url(self, request: Request) -> tuple[str, Mapping[str, str]]:
        key = self.config.api_key.get_secret_value() if self.config.api_key is not None else ""
        return f"{self.config.base_url.rstrip('/')}/flights", {"access_key": key, **request.as_dict()}

    def next_request(self, request: Request, data: object) -> Request | None:
        """``pagination`` is ``{limit, offset, count, total}``: the next page starts at ``offset + count``
        while that is below ``total``."""
        paging = data.get("pagination") if isinstance(data, dict) else None
        if not isinstance(paging, dict):
            return None
        offset, count, total = (_count(paging.get(k)) for k in ("offset", "count", "total"))
        if offset is None or total is None or not count:
            return None
        following = offset + count
        if following >= total:
            return None
        return Request.of(request.kind, **{**request.as_dict(), "offset": following})

    def flights(self, data: object) -> list[FlightStatus]:
        if isinstance(data, dict) and "error" in data:
            raise PayloadError(f"AviationStack error: {str(data['error'])[:200]}")
        objects = data.get("data") if isinstance(data, dict) else data
        if not isinstance(objects, list):
            raise PayloadError("not an AviationStack response (no data array)")
        return [self._flight(o) for o in objects]

    def _flight(self, o: object) -> FlightStatus:
        if not isinstance(o, dict):
            raise PayloadError("a flight that is not an object")
        dep, arr = o.get("departure") or {}, o.get("arrival") or {}
        airline, flight = o.get("airline") or {}, o.get("flight") or {}
        # the payload's zone, else the airport table's; without either, times stay unknown (not placed)
        dep_tz = clean(dep.get("timezone")) or zone_of(clean(dep.get("icao")), clean(dep.get("iata")))
        arr_tz = clean(arr.get("timezone")) or zone_of(clean(arr.get("icao")), clean(arr.get("iata")))
        ident = clean(flight.get("iata")) or ""
        return FlightStatus(
            provider=self.name,
            provider_id=f"{ident}|{o.get('flight_date')}|{dep.get('iata')}",
            carrier_iata=clean(airline.get("iata")),
            number=digits(clean(flight.get("number"))),
            ident_icao=clean(flight.get("icao")),
            origin=Airport(
                clean(dep.get("iata")),
                clean(dep.get("icao")),
                dep_tz,
                clean(dep.get("terminal")),
                clean(dep.get("gate")),
            ),
            destination=Airport(
                clean(arr.get("iata")),
                clean(arr.get("icao")),
                arr_tz,
                clean(arr.get("terminal")),
                clean(arr.get("gate")),
            ),
            scheduled_out=_local(dep.get("scheduled"), dep_tz),
            estimated_out=_local(dep.get("estimated"), dep_tz),
            actual_out=_local(dep.get("actual"), dep_tz),
            scheduled_in=_local(arr.get("scheduled"), arr_tz),
            estimated_in=_local(arr.get("estimated"), arr_tz),
            actual_in=_local(arr.get("actual"), arr_tz),
            estimated_off=_local(dep.get("estimated_runway"), dep_tz),
            actual_off=_local(dep.get("actual_runway"), dep_tz),
            estimated_on=_local(arr.get("estimated_runway"), arr_tz),
            actual_on=_local(arr.get("actual_runway"), arr_tz),
            cancelled=o.get("flight_status") == "cancelled" if o.get("flight_status") else None,
            status=clean(o.get("flight_status")),
        )


def _count(value: object) -> int | None:
    """A pagination number (AviationStack sends integers; digits in a string are accepted)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _local(value: object, tz: str | None) -> datetime | None:
    """An AviationStack time: local wall clock mislabelled ``+00:00`` → aware UTC via the airport's zone."""
    parsed = parse_iso(value)
    if parsed is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not tz:
        return None
    try:
        zone = ZoneInfo(tz)
    except ZoneInfoNotFoundError as exc:
        raise PayloadError(f"unknown timezone {tz!r}") from exc
    return parsed.replace(tzinfo=zone).astimezone(parsed.tzinfo)


PROVIDERS: dict[str, type[Provider]] = {"aeroapi": AeroApi, "aviationstack": AviationStack}


class FlightStatusAdapter(Adapter[FlightStatusSettings]):
    name = "flight-status"
    content_types = ("application/json",)
    extension = "json"

    def __init__(self, config: FlightStatusSettings, provider: Provider | None = None) -> None:
        super().__init__(config)
        self.provider = provider or PROVIDERS[config.provider](config)
        self.source = self.provider.name
        self.max_pages = config.max_pages

    def requests(self, now: datetime, view: StoreView) -> list[Request]:
        return self.provider.requests(now)

    def url(self, request: Request) -> tuple[str, Mapping[str, str]]:
        return self.provider.url(request)

    def headers(self) -> dict[str, str]:
        return {"Accept": "application/json", **self.provider.headers()}

    def next_page(self, request: Request, body: bytes) -> Request | None:
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None  # parse() quarantines it
        return self.provider.next_request(request, data)

    def parse(self, payload: Payload) -> Rows:
        try:
            data = json.loads(payload.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PayloadError(f"malformed JSON: {exc}") from exc
        return flight_rows(self.provider.flights(data), payload.fetched_at, payload.ref)
