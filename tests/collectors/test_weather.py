"""Open-Meteo and METAR adapters on real recorded payloads, over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from eta.collectors.base import Payload, PayloadError, Request
from eta.collectors.runner import Runner
from eta.collectors.sources.aviationweather.metar import MetarAdapter, parse_reports
from eta.collectors.sources.aviationweather.settings import MetarSettings
from eta.collectors.sources.open_meteo.forecast import OpenMeteoAdapter, archive_request, parse_hourly
from eta.collectors.sources.open_meteo.settings import OpenMeteoSettings, WeatherPlace
from eta.config import Settings
from eta.store.schema import Weather
from tests.collectors.loopback import Loopback, Reply
from tests.conftest import FIXTURES

OM = FIXTURES / "open_meteo"
METAR = FIXTURES / "metar"
FETCHED = datetime(2026, 9, 27, 12, 40, tzinfo=UTC)


def _payload(body: bytes, request: Request) -> Payload:
    return Payload("test", request, FETCHED, body, "application/json", "test-ref")


def _weather(store: Engine) -> pd.DataFrame:
    with store.connect() as conn:
        return pd.read_sql(select(Weather), conn)


def test_open_meteo_metric_gmt_with_visibility() -> None:
    body = (OM / "historical-forecast_berlin_2023-01-01_48h_visibility.json").read_bytes()
    rows = parse_hourly(_payload(body, Request.of("forecast", code="BER", lat=52.52, lon=13.41, days=2)))
    weather = rows.tables["weather"]
    assert len(weather) == 48
    assert weather[0]["valid_at"] == datetime(2023, 1, 1, 0, tzinfo=UTC)
    assert weather[0]["temperature_c"] == 15.9  # the source test's own assertion
    assert weather[25]["visibility_m"] == 16240
    assert weather[30]["precipitation_mm"] == 0.4
    assert weather[0]["kind"] == "forecast" and weather[0]["issued_at"] == FETCHED


def test_open_meteo_imperial_units_and_local_time_are_converted() -> None:
    body = (OM / "forecast_toronto_2026-03-05_imperial_local-tz.json").read_bytes()
    data = json.loads(body)
    rows = parse_hourly(_payload(body, Request.of("forecast", code="YYZ", lat=43.7, lon=-79.4, days=7)))
    first = rows.tables["weather"][0]
    # 00:00 local at UTC-5 is 05:00 UTC
    assert data["hourly"]["time"][0].endswith("T00:00")
    assert first["valid_at"] == datetime.fromisoformat(data["hourly"]["time"][0]).replace(tzinfo=UTC).replace(
        hour=5
    )
    fahrenheit = data["hourly"]["temperature_2m"][0]
    assert first["temperature_c"] == pytest.approx((fahrenheit - 32) * 5 / 9, abs=0.01)
    mph = data["hourly"]["wind_speed_10m"][0]
    assert first["wind_speed_ms"] == pytest.approx(mph * 0.44704, abs=0.01)
    assert str(first["weather_code"]).startswith("wmo:")


def test_an_archive_backfill_is_stored_as_observations() -> None:
    body = (OM / "historical-forecast_berlin_2023-01-01_48h_visibility.json").read_bytes()
    rows = parse_hourly(_payload(body, archive_request("BER", 52.52, 13.41, "2023-01-01", "2023-01-02")))
    assert {r["kind"] for r in rows.tables["weather"]} == {"observation"}
    assert {r["issued_at"] for r in rows.tables["weather"]} == {None}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": true, "reason": "Latitude must be in range"}', "Open-Meteo error"),
        (
            b'{"hourly": {"time": ["2023-01-01T00:00"], "temperature_2m": [1, 2]}, "hourly_units": {}}',
            "values for",
        ),
        (b'{"hourly": {"time": ["x"]}, "hourly_units": {"time": "iso8601"}}', "not ISO 8601"),
        (
            b'{"hourly": {"time": ["2023-01-01T00:00"], "temperature_2m": [1]}, '
            b'"hourly_units": {"temperature_2m": "K"}}',
            "unknown temperature unit",
        ),
        (b"[1, 2", "malformed JSON"),
    ],
)
def test_open_meteo_bad_payloads(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_hourly(_payload(body, Request.of("forecast", code="X", lat=0, lon=0, days=1)))


def test_open_meteo_collector_over_http(
    store: Engine, settings: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    loopback.route(
        "/v1/forecast",
        Reply(
            (OM / "forecast_melbourne_2025-05-09_current-hourly-daily_GMT.json").read_bytes(),
            content_type="application/json; charset=utf-8",
        ),
    )
    config = OpenMeteoSettings(
        forecast_url=f"{loopback.url}/v1/forecast", places=[WeatherPlace(code="MEL", lat=-37.75, lon=144.875)]
    )
    result = make_runner(OpenMeteoAdapter(config), store, settings, now=FETCHED).run_once()
    assert result.ok and result.written["weather"] == 168
    weather = _weather(store)
    assert set(weather["location"]) == {"MEL"} and weather["observed_at"].nunique() == 1
    assert weather["humidity_pct"].notna().all()


def test_metar_reports_are_decoded_by_the_metar_package() -> None:
    body = (METAR / "awc_metar_json_KTYS_2026-01-14_compact.json").read_bytes()
    (row,) = parse_reports(_payload(body, Request.of("metar", ids="KTYS", hours=1))).tables["weather"]
    assert row["location"] == "TYS"  # eta keys airports by IATA code
    assert row["temperature_c"] == pytest.approx(6.7) and row["dew_point_c"] == pytest.approx(
        3.9
    )  # T00670039
    assert row["wind_dir_deg"] == 210 and row["wind_speed_ms"] == pytest.approx(12 * 0.514444, abs=0.01)
    assert row["pressure_hpa"] == pytest.approx(29.68 * 33.8639, abs=0.1)  # A2968 (AWC says 1005.2)
    assert row["cloud_cover_pct"] == 100  # BKN026 OVC034
    assert row["precipitation_mm"] == pytest.approx(0.254, abs=0.001)  # P0001 = 0.01 inch
    assert row["valid_at"] == datetime(2026, 1, 14, 23, tzinfo=UTC)  # 22:53 → the 23:00 report
    assert row["observed_at"] == datetime(2026, 1, 14, 22, 56, 53, 763000, tzinfo=UTC)  # when AWC had it


def test_metar_speci_auto_and_legacy_shapes() -> None:
    body = (METAR / "awc_metar_json_WSSS-YMML-YBBN-VHHH_2026-09-27.json").read_bytes()
    rows = parse_reports(_payload(body, Request.of("metar", ids="WSSS,YMML", hours=3))).tables["weather"]
    assert {r["location"] for r in rows} == {"SIN", "MEL", "BNE", "HKG"}
    assert len(rows) == len(json.loads(body))
    legacy = (METAR / "awc_metar_json_LEJR_2023-10-27_legacy-shape.json").read_bytes()
    (old,) = parse_reports(_payload(legacy, Request.of("metar", ids="LEJR", hours=1))).tables["weather"]
    assert old["location"] == "XRY" and old["temperature_c"] == 22
    assert old["observed_at"] == datetime(
        2023, 10, 27, 15, 30, tzinfo=UTC
    )  # receipt 15:25 precedes obs 15:30


def test_metar_collector_over_http(
    store: Engine, settings: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    loopback.route(
        "/api/data/metar",
        Reply(
            (METAR / "awc_metar_json_KSTS-KBFL-KFFZ_2026-07-21.json").read_bytes(),
            content_type="application/json",
        ),
    )
    config = MetarSettings(base_url=f"{loopback.url}/api/data", stations=["KSTS", "KBFL", "KFFZ"])
    result = make_runner(MetarAdapter(config), store, settings, now=FETCHED).run_once()
    assert result.ok and result.written["weather"] >= 3
    assert set(_weather(store)["location"]) >= {"STS", "BFL"}
