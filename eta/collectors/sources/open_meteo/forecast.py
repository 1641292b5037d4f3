"""Open-Meteo hourly weather (no key): the forecast API, and the historical archive for backfills.

``parse`` reads the ``hourly`` block whatever units were asked for (``hourly_units`` says which) and
converts to the store's SI units. Times come in the requested time zone without an offset; adding
``utc_offset_seconds`` gives UTC. Forecast rows carry ``observed_at`` = ``issued_at`` = the fetch time
(Open-Meteo does not say which model run it served); archive rows are kind ``observation``, also known
only from the fetch on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from eta.collectors.base import Adapter, Payload, PayloadError, Request, Rows, StoreView
from eta.collectors.sources.open_meteo.settings import OpenMeteoSettings

SOURCE = "open-meteo"
HOURLY = (
    "temperature_2m,dew_point_2m,relative_humidity_2m,precipitation,wind_speed_10m,wind_gusts_10m,"
    "wind_direction_10m,visibility,pressure_msl,cloud_cover,weather_code"
)

_SPEED: dict[str, float] = {"m/s": 1.0, "km/h": 1 / 3.6, "mp/h": 0.44704, "mph": 0.44704, "kn": 0.514444}
_LENGTH_M: dict[str, float] = {"m": 1.0, "ft": 0.3048}
_PRECIP_MM: dict[str, float] = {"mm": 1.0, "inch": 25.4}


def _temperature(unit: str) -> Callable[[float], float]:
    if unit == "°C":
        return lambda v: v
    if unit == "°F":
        return lambda v: (v - 32) * 5 / 9
    raise PayloadError(f"unknown temperature unit {unit!r}")


def _scale(table: Mapping[str, float], what: str) -> Callable[[str], Callable[[float], float]]:
    def make(unit: str) -> Callable[[float], float]:
        if unit not in table:
            raise PayloadError(f"unknown {what} unit {unit!r}")
        factor = table[unit]
        return lambda v: v * factor

    return make


def _same(expected: str) -> Callable[[str], Callable[[float], float]]:
    def make(unit: str) -> Callable[[float], float]:
        if unit != expected:
            raise PayloadError(f"expected unit {expected!r}, got {unit!r}")
        return lambda v: v

    return make


# Open-Meteo variable → (store column, converter factory by unit)
VARIABLES: dict[str, tuple[str, Callable[[str], Callable[[float], float]]]] = {
    "temperature_2m": ("temperature_c", _temperature),
    "dew_point_2m": ("dew_point_c", _temperature),
    "relative_humidity_2m": ("humidity_pct", _same("%")),
    "precipitation": ("precipitation_mm", _scale(_PRECIP_MM, "precipitation")),
    "wind_speed_10m": ("wind_speed_ms", _scale(_SPEED, "wind speed")),
    "wind_gusts_10m": ("wind_gust_ms", _scale(_SPEED, "wind speed")),
    "wind_direction_10m": ("wind_dir_deg", _same("°")),
    "visibility": ("visibility_m", _scale(_LENGTH_M, "visibility")),
    "pressure_msl": ("pressure_hpa", _same("hPa")),
    "cloud_cover": ("cloud_cover_pct", _same("%")),
}


class OpenMeteoAdapter(Adapter[OpenMeteoSettings]):
    name = "open-meteo"
    source = SOURCE
    content_types = ("application/json",)
    extension = "json"

    def requests(self, now: datetime, view: StoreView) -> list[Request]:
        return [
            Request.of("forecast", code=p.code, lat=p.lat, lon=p.lon, days=self.config.forecast_days)
            for p in self.config.places
        ]

    def url(self, request: Request) -> tuple[str, Mapping[str, str]]:
        params = {
            "latitude": request.param("lat"),
            "longitude": request.param("lon"),
            "hourly": HOURLY,
            "timezone": "GMT",
            "wind_speed_unit": "ms",
        }
        if request.kind == "archive":
            params |= {"start_date": request.param("start"), "end_date": request.param("end")}
            return self.config.archive_url, params
        return self.config.forecast_url, params | {"forecast_days": request.param("days")}

    def parse(self, payload: Payload) -> Rows:
        return parse_hourly(payload)


def archive_request(code: str, lat: float, lon: float, start: str, end: str) -> Request:
    """A historical backfill request (``/v1/archive``) for one place and date range."""
    return Request.of("archive", code=code, lat=lat, lon=lon, start=start, end=end)


def parse_hourly(payload: Payload) -> Rows:
    try:
        data = json.loads(payload.body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PayloadError(f"malformed JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PayloadError("not a JSON object")
    if data.get("error"):
        raise PayloadError(f"Open-Meteo error: {str(data.get('reason'))[:200]}")
    hourly, units = data.get("hourly"), data.get("hourly_units")
    if not isinstance(hourly, dict) or not isinstance(units, dict) or "time" not in hourly:
        raise PayloadError("no hourly block")
    if units.get("time", "iso8601") != "iso8601":
        raise PayloadError(f"time format {units.get('time')!r}; ask for iso8601")
    offset = timedelta(seconds=int(data.get("utc_offset_seconds") or 0))
    times = [_utc(t, offset) for t in hourly["time"]]
    columns: dict[str, list[float | None]] = {}
    for variable, (column, converter_for) in VARIABLES.items():
        values = hourly.get(variable)
        if values is None:
            continue
        if len(values) != len(times):
            raise PayloadError(f"{variable} has {len(values)} values for {len(times)} times")
        convert = converter_for(str(units.get(variable, "")))
        columns[column] = [None if v is None else round(convert(float(v)), 3) for v in values]
    codes = hourly.get("weather_code")
    forecast = payload.request.kind != "archive"
    rows = []
    for i, valid_at in enumerate(times):
        row: dict[str, object] = {
            "location": payload.request.param("code"),
            "source": SOURCE,
            "kind": "forecast" if forecast else "observation",
            "valid_at": valid_at,
            "observed_at": payload.fetched_at,
            "issued_at": payload.fetched_at if forecast else None,
            "raw_ref": payload.ref,
        }
        row |= {column: values[i] for column, values in columns.items()}
        if codes is not None and codes[i] is not None:
            row["weather_code"] = f"wmo:{int(codes[i])}"
        rows.append(row)
    out = Rows()
    out.add("weather", rows)
    return out


def _utc(text: str, offset: timedelta) -> datetime:
    try:
        local = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"time {text!r} is not ISO 8601") from exc
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    return (local - offset).replace(tzinfo=UTC)
