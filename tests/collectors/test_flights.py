"""Flight-status (AeroAPI, AviationStack) and OpenSky adapters on real recorded payloads, over loopback."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from eta.collectors.base import PayloadError
from eta.collectors.runner import Runner
from eta.collectors.sources.flight_status.settings import FlightStatusSettings
from eta.collectors.sources.flight_status.status import AeroApi, AviationStack, FlightStatusAdapter
from eta.collectors.sources.opensky.flights import OpenSkyAdapter, parse_flights
from eta.collectors.sources.opensky.settings import OpenSkySettings
from eta.config import Settings
from eta.store.schema import Call, Observation, Service
from tests.collectors.loopback import Loopback, Reply
from tests.conftest import FIXTURES

AERO = FIXTURES / "aeroapi"
STACK = FIXTURES / "aviationstack"
SKY = FIXTURES / "opensky"
NOW = datetime(2024, 10, 11, 1, 0, tzinfo=UTC)


def _load(path: str) -> object:
    return json.loads((FIXTURES / path).read_bytes())


def test_aeroapi_gate_and_runway_times_gates_and_terminals() -> None:
    (flight,) = AeroApi(FlightStatusSettings()).flights(
        _load("aeroapi/flights_ARG1545_2024-10-10_arrived_CONVERTED-from-python.json")
    )
    assert (flight.carrier_iata, flight.number, flight.ident_icao) == ("AR", "1545", "ARG1545")
    assert (flight.origin.iata, flight.destination.iata) == ("COR", "EZE")
    assert flight.scheduled_out == datetime(2024, 10, 10, 22, 50, tzinfo=UTC)
    assert flight.actual_out == datetime(2024, 10, 10, 22, 42, tzinfo=UTC)
    assert flight.actual_in == datetime(2024, 10, 11, 0, 2, tzinfo=UTC)
    assert flight.actual_off == datetime(2024, 10, 10, 22, 52, tzinfo=UTC)  # runway
    assert flight.actual_on == datetime(2024, 10, 10, 23, 56, tzinfo=UTC)
    assert (flight.origin.gate, flight.destination.terminal) == ("5", "DA")
    assert flight.aircraft_type == "E190"  # trailing space trimmed
    scheduled = AeroApi(FlightStatusSettings()).flights(
        _load("aeroapi/flight_JZA8838_2023-03-20_scheduled_FRAGMENT-wrapped.json")
    )[0]
    assert (scheduled.origin.gate, scheduled.destination.gate) == ("F97", "C12")
    assert (scheduled.origin.terminal, scheduled.destination.terminal) == ("1", "2")
    assert scheduled.actual_out is None


def test_aeroapi_2022_shape_without_time_zones_uses_the_airport_table() -> None:
    (flight,) = AeroApi(FlightStatusSettings()).flights(
        _load("aeroapi/arrivals_EGLL_BAW196_2022-06-27_landed_OBJECT-EXCERPT.json")
    )
    assert flight.destination.iata == "LHR" and flight.destination.tz == "Europe/London"
    assert flight.actual_on is not None and flight.actual_in is None
    assert flight.destination.terminal == "5" and flight.destination.gate is None


def test_aeroapi_search_results_without_schedule_are_not_placed() -> None:
    adapter = FlightStatusAdapter(FlightStatusSettings())
    flights = AeroApi(FlightStatusSettings()).flights(
        _load("aeroapi/flights_search_DLH690_2022-12-17_enroute.json")
    )
    assert len(flights) == 1 and not flights[0].keyable
    from eta.collectors.flights import flight_rows

    assert len(flight_rows(flights, NOW, "ref")) == 0
    assert adapter.source == "aeroapi"


def test_aviationstack_local_times_mislabelled_utc_are_converted() -> None:
    flights = AviationStack(FlightStatusSettings(provider="aviationstack")).flights(
        _load("aviationstack/flights_data_page100_2023-01-11_abhinav-sanga.json")
    )
    assert len(flights) == 100
    akl = next(
        f for f in flights if f.origin.iata == "AKL" and f.destination.iata == "SIN" and f.number == "8282"
    )
    # 01:20 NZDT (+13) → 06:45 SGT (+8): a 10 h 25 min block
    assert akl.scheduled_out == datetime(2023, 1, 10, 12, 20, tzinfo=UTC)
    assert (akl.scheduled_in - akl.scheduled_out).total_seconds() == 10 * 3600 + 25 * 60
    assert sum(1 for f in flights if f.cancelled) == 2
    assert sum(f.keyable for f in flights) >= 95  # null time zones are filled from the airport table
    (tk,) = AviationStack(FlightStatusSettings()).flights(
        _load("aviationstack/flights_TK17_2024-03-29_landed_ali-osman-de.json")
    )
    assert (tk.carrier_iata, tk.number, tk.origin.gate, tk.destination.gate) == ("TK", "17", "F7", "E78")
    assert tk.actual_out == datetime(2024, 3, 29, 13, 7, tzinfo=UTC)  # 16:07 Istanbul (+3)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": {"code": "invalid_access_key"}}', "AviationStack error"),
        (b'{"data": [{"departure": {"scheduled": "11/01/2023 01:20", "timezone": "UTC"}}]}', "not ISO 8601"),
        (b'{"pagination": {}}', "no data array"),
    ],
)
def test_aviationstack_bad_payloads(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        AviationStack(FlightStatusSettings()).flights(json.loads(body))


def _services(store: Engine) -> pd.DataFrame:
    with store.connect() as conn:
        return pd.read_sql(select(Service), conn)


def test_flight_status_collector_stores_services_calls_gates(
    store: Engine, settings: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    arrivals = {
        "arrivals": _load("aeroapi/flights_ARG1545_2024-10-10_arrived_CONVERTED-from-python.json"),
        "links": None,
        "num_pages": 1,
    }
    loopback.route(
        "/aeroapi/airports/SAEZ/flights/arrivals",
        Reply(json.dumps(arrivals).encode(), content_type="application/json"),
    )
    loopback.route(
        "/aeroapi/airports/SAEZ/flights/scheduled_arrivals",
        Reply(b'{"scheduled_arrivals": [], "links": null, "num_pages": 1}', content_type="application/json"),
    )
    config = FlightStatusSettings(
        base_url=f"{loopback.url}/aeroapi", airports=["SAEZ"], api_key="aero-key-789"
    )
    runner = make_runner(FlightStatusAdapter(config), store, settings, now=NOW)
    result = runner.run_once()
    assert result.ok, result.line()
    assert loopback.headers_seen[0]["x-apikey"] == "aero-key-789"
    service = _services(store).iloc[0]
    assert (service["mode"], service["operator"], service["number"], service["leg"]) == (
        "flight",
        "AR",
        "1545",
        "COR",
    )
    assert str(service["service_date"]) == "2024-10-10"  # 19:50 local in Córdoba
    with store.connect() as conn:
        calls = pd.read_sql(select(Call).order_by(Call.sequence), conn)
        obs = pd.read_sql(select(Observation).order_by(Observation.call_id), conn)
    assert list(calls["location"]) == ["COR", "EZE"]
    arrival = obs[obs["call_id"] == calls.iloc[1]["id"]].iloc[0]
    assert pd.Timestamp(arrival["actual_arrival"]) == pd.Timestamp("2024-10-11 00:02", tz="UTC")
    departure = obs[obs["call_id"] == calls.iloc[0]["id"]].iloc[0]
    assert departure["platform"] == "5" and departure["source"] == "aeroapi"


def test_opensky_flights_parse_with_their_quirks() -> None:
    eddf = parse_flights((SKY / "flights_departure_EDDF_2020-02-05_EXCERPT.json").read_bytes())
    assert [f.callsign for f in eddf] == ["BCS30C", "FDX36", "BCS27H"]
    assert eddf[0].first_seen == datetime.fromtimestamp(1580938171, UTC)
    (local,) = parse_flights((SKY / "ovid_flights_arrival_EBNM_2023-05-28.json").read_bytes())
    assert local.callsign is None and local.departure_airport == local.arrival_airport == "EBNM"
    vidp = parse_flights((SKY / "flights_departure_VIDP_2023-01-10_abhinav-sanga.json").read_bytes())
    assert len(vidp) == 24 and sum(f.arrival_airport is None for f in vidp) == 23
    with pytest.raises(PayloadError, match="firstSeen"):
        parse_flights(b'[{"icao24": "abc", "firstSeen": "yesterday"}]')


def test_opensky_attaches_adsb_times_to_a_scheduled_flight_by_callsign(
    store: Engine, settings: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    """A flight known from the flight-status API gets OpenSky's take-off and landing times."""
    flight = _load("aeroapi/flights_ARG1545_2024-10-10_arrived_CONVERTED-from-python.json")[0]  # type: ignore[index]
    loopback.route(
        "/aeroapi/airports/SAEZ/flights/*",
        Reply(json.dumps({"arrivals": [flight]}).encode(), content_type="application/json"),
    )
    status = FlightStatusSettings(base_url=f"{loopback.url}/aeroapi", airports=["SAEZ"])
    assert make_runner(FlightStatusAdapter(status), store, settings, now=NOW).run_once().ok
    # OpenSky's record of the same flight (shape of the recorded payloads; times of the AeroAPI record)
    seen = [
        {
            "icao24": "e06442",
            "firstSeen": 1728600720,
            "estDepartureAirport": "SACO",
            "lastSeen": 1728604560,
            "estArrivalAirport": "SAEZ",
            "callsign": "ARG1545 ",
        }
    ]
    loopback.route("/api/flights/arrival", Reply(json.dumps(seen).encode(), content_type="application/json"))
    loopback.route("/api/flights/departure", Reply(b"", status=404, content_type="text/plain"))  # no flights
    sky = OpenSkySettings(base_url=f"{loopback.url}/api", airports=["SAEZ"])
    result = make_runner(OpenSkyAdapter(sky), store, settings, now=NOW).run_once()
    assert result.ok and result.written["observations"] == 2 and not result.errors
    with store.connect() as conn:
        obs = pd.read_sql(select(Observation).where(Observation.source == "opensky"), conn)
    assert set(pd.to_datetime(obs["actual_departure"].dropna(), utc=True)) == {
        pd.Timestamp("2024-10-10 22:52", tz="UTC")
    }
    assert set(pd.to_datetime(obs["actual_arrival"].dropna(), utc=True)) == {
        pd.Timestamp("2024-10-10 23:56", tz="UTC")
    }
