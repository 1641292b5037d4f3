"""The loopback fault suite for every source: each adapter survives each fault and catches up.

(The IRIS collector has its own, deeper suite in ``test_faults.py``.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from eta.collectors.base import Adapter
from eta.collectors.runner import Runner
from eta.collectors.sources.aviationweather.metar import MetarAdapter
from eta.collectors.sources.aviationweather.settings import MetarSettings
from eta.collectors.sources.flight_status.settings import FlightStatusSettings
from eta.collectors.sources.flight_status.status import FlightStatusAdapter
from eta.collectors.sources.gtfs.realtime import GtfsRtAdapter
from eta.collectors.sources.gtfs.settings import GtfsRtSettings
from eta.collectors.sources.open_meteo.forecast import OpenMeteoAdapter
from eta.collectors.sources.open_meteo.settings import OpenMeteoSettings, WeatherPlace
from eta.collectors.sources.opensky.flights import OpenSkyAdapter
from eta.collectors.sources.opensky.settings import OpenSkySettings
from eta.config import Settings, get_settings
from eta.store import open_store
from eta.store.schema import Call, Observation, Service, Weather
from tests.collectors.loopback import Loopback, Reply
from tests.collectors.sources.gtfs.test_realtime import RT, static_zip
from tests.conftest import FIXTURES

JSON = "application/json"
NOW = datetime(2026, 8, 18, 5, 0, tzinfo=UTC)


@dataclass
class Source:
    make: Callable[[str], Adapter]
    routes: dict[str, tuple[bytes, str]]  # path → (body, content type); the first is the one that fails


def _aero_arrivals() -> bytes:
    flights = json.loads(
        (FIXTURES / "aeroapi" / "flights_ARG1545_2024-10-10_arrived_CONVERTED-from-python.json").read_bytes()
    )
    return json.dumps({"arrivals": flights, "links": None, "num_pages": 1}).encode()


SOURCES = {
    "metar": Source(
        lambda url: MetarAdapter(MetarSettings(base_url=f"{url}/api/data", stations=["WSSS", "YMML"])),
        {
            "/api/data/metar": (
                (FIXTURES / "metar" / "awc_metar_json_WSSS-YMML-YBBN-VHHH_2026-09-27.json").read_bytes(),
                JSON,
            )
        },
    ),
    "open-meteo": Source(
        lambda url: OpenMeteoAdapter(
            OpenMeteoSettings(
                forecast_url=f"{url}/v1/forecast", places=[WeatherPlace(code="BER", lat=52.52, lon=13.41)]
            )
        ),
        {
            "/v1/forecast": (
                (
                    FIXTURES / "open_meteo" / "historical-forecast_berlin_2023-01-01_48h_visibility.json"
                ).read_bytes(),
                JSON,
            )
        },
    ),
    "aeroapi": Source(
        lambda url: FlightStatusAdapter(FlightStatusSettings(base_url=f"{url}/aeroapi", airports=["SAEZ"])),
        {
            "/aeroapi/airports/SAEZ/flights/arrivals": (_aero_arrivals(), JSON),
            "/aeroapi/airports/SAEZ/flights/scheduled_arrivals": (b'{"scheduled_arrivals": []}', JSON),
        },
    ),
    "aviationstack": Source(
        lambda url: FlightStatusAdapter(
            FlightStatusSettings(
                provider="aviationstack", base_url=f"{url}/v1", airports=["CYYZ"], api_key="stack-key-000"
            )
        ),
        {
            "/v1/flights": (
                (
                    FIXTURES / "aviationstack" / "flights_TK17_2024-03-29_landed_ali-osman-de.json"
                ).read_bytes(),
                JSON,
            )
        },
    ),
    "opensky": Source(
        lambda url: OpenSkyAdapter(OpenSkySettings(base_url=f"{url}/api", airports=["EDDF"])),
        {
            "/api/flights/departure": (
                (FIXTURES / "opensky" / "flights_departure_EDDF_2020-02-05_EXCERPT.json").read_bytes(),
                JSON,
            ),
            "/api/flights/arrival": (b"[]", JSON),
        },
    ),
    "gtfs-rt": Source(
        lambda url: GtfsRtAdapter(
            GtfsRtSettings(static_url=f"{url}/static.zip", realtime_url=f"{url}/rt.pb")
        ),
        {"/rt.pb": (RT, "application/octet-stream"), "/static.zip": (static_zip(), "application/zip")},
    ),
}


@dataclass
class Fault:
    replies: Callable[[bytes, str], list[Reply]]
    kind: str
    quarantined: bool = False


FAULTS = {
    "timeout": Fault(
        lambda b, t: [Reply(b, content_type=t, delay_s=1.5), Reply(b, content_type=t)], "timeout"
    ),
    "reset": Fault(lambda b, t: [Reply(reset=True), Reply(b, content_type=t)], "connection"),
    "5xx": Fault(
        lambda b, t: [Reply(b"oops", status=502, content_type="text/plain"), Reply(b, content_type=t)],
        "http_5xx",
    ),
    "429": Fault(
        lambda b, t: [Reply(b"", status=429, headers={"Retry-After": "2"}), Reply(b, content_type=t)],
        "http_429",
    ),
    "truncated transfer": Fault(
        lambda b, t: [Reply(b, content_type=t, send_bytes=len(b) // 2), Reply(b, content_type=t)], "truncated"
    ),
    "truncated body": Fault(
        lambda b, t: [Reply(b[: len(b) // 2], content_type=t), Reply(b, content_type=t)], "parse", True
    ),
    "wrong content type": Fault(
        lambda b, t: [Reply(b"<html>down</html>", content_type="text/html"), Reply(b, content_type=t)],
        "content_type",
        True,
    ),
    "empty body": Fault(lambda b, t: [Reply(b"", content_type=t), Reply(b, content_type=t)], "empty", True),
}


@pytest.fixture
def sqlite_settings(sqlite_url: str, monkeypatch: pytest.MonkeyPatch, fast_http: None) -> Settings:
    monkeypatch.setenv("ETA_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def engine(sqlite_settings: Settings) -> Iterator[Engine]:
    engine = open_store(sqlite_settings)
    yield engine
    engine.dispose()


def _content(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        obs = pd.read_sql(select(Observation), conn)
        weather = pd.read_sql(select(Weather.location, Weather.valid_at), conn)
        return {
            "services": set(pd.read_sql(select(Service.id), conn)["id"]),
            "calls": set(pd.read_sql(select(Call.id), conn)["id"]),
            "observed calls": set(obs["call_id"]),
            "weather hours": set(map(tuple, weather.astype(str).values.tolist())),
        }


def _serve(loopback: Loopback, source: Source, fault: Fault | None) -> None:
    for i, (path, (body, ctype)) in enumerate(source.routes.items()):
        replies = (
            fault.replies(body, ctype) if fault is not None and i == 0 else [Reply(body, content_type=ctype)]
        )
        loopback.route(path, *replies)


@pytest.mark.parametrize("fault_name", list(FAULTS))
@pytest.mark.parametrize("source_name", list(SOURCES))
def test_every_source_survives_every_fault(
    source_name: str,
    fault_name: str,
    engine: Engine,
    sqlite_settings: Settings,
    loopback: Loopback,
    make_runner: Callable[..., Runner],
    tmp_path: Path,
) -> None:
    source, fault = SOURCES[source_name], FAULTS[fault_name]
    _serve(loopback, source, fault)
    runner = make_runner(source.make(loopback.url), engine, sqlite_settings, now=NOW)
    first = runner.run_once()
    assert first.errors[fault.kind] == 1, first.line()
    assert runner.metrics.value("eta_collector_errors_total", collector=runner.name, kind=fault.kind) == 1
    assert sum(first.quarantined.values()) == (1 if fault.quarantined else 0)
    runner.clock = lambda: NOW + timedelta(minutes=5)
    second = runner.run_once()  # the server behaves again
    assert second.ok and not second.errors, second.line()
    # the same content as one clean run into a fresh store
    clean_settings = sqlite_settings.model_copy(
        update={"database_url": f"sqlite:///{tmp_path / 'clean.sqlite3'}", "data_dir": tmp_path / "clean"}
    )
    clean_engine = open_store(clean_settings)
    _serve(loopback, source, None)
    make_runner(source.make(loopback.url), clean_engine, clean_settings, now=NOW).run_once()
    assert _content(engine) == _content(clean_engine)
    clean_engine.dispose()
    with engine.connect() as conn:
        obs = pd.read_sql(select(Observation), conn).drop(columns=["id", "observed_at", "raw_ref"])
    assert not obs.duplicated().any()  # an unchanged report is never written twice
