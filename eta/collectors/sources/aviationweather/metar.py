"""METAR reports from the aviationweather.gov data API (``/api/data/metar?ids=…&format=json``).

The JSON gives the station and times; the report itself (``rawOb``) is decoded with the maintained
``metar`` package, not with hand-written patterns. ``observed_at`` is the time AWC received the report
(``receiptTime``; the observation time when absent), so a feature at t never sees a report published
after t; ``valid_at`` is the observation time rounded to the hour. Stations are stored under their
IATA code, eta's airport key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from metar import Metar

from eta.collectors.airports import iata_of
from eta.collectors.base import Adapter, Payload, PayloadError, Request, Rows, StoreView
from eta.collectors.sources.aviationweather.settings import MetarSettings

SOURCE = "metar"
_COVER_PCT = {"SKC": 0, "CLR": 0, "NSC": 0, "NCD": 0, "CAVOK": 0, "FEW": 25, "SCT": 50, "BKN": 75, "OVC": 100}


class MetarAdapter(Adapter[MetarSettings]):
    name = "metar"
    source = SOURCE
    content_types = ("application/json",)
    extension = "json"

    def requests(self, now: datetime, view: StoreView) -> list[Request]:
        return [Request.of("metar", ids=",".join(self.config.stations), hours=self.config.hours)]

    def url(self, request: Request) -> tuple[str, Mapping[str, str]]:
        return f"{self.config.base_url.rstrip('/')}/metar", {
            "ids": request.param("ids"),
            "format": "json",
            "hours": request.param("hours"),
        }

    def parse(self, payload: Payload) -> Rows:
        return parse_reports(payload)


def parse_reports(payload: Payload) -> Rows:
    try:
        reports = json.loads(payload.body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PayloadError(f"malformed JSON: {exc}") from exc
    if not isinstance(reports, list):
        raise PayloadError("expected a JSON array of reports")
    rows = Rows()
    rows.add("weather", [_row(report, payload) for report in reports])
    return rows


def _row(report: dict[str, object], payload: Payload) -> dict[str, object]:
    raw = str(report.get("rawOb") or "")
    station = str(report.get("icaoId") or "")
    if not raw or not station:
        raise PayloadError("a report without rawOb or icaoId")
    observed = _epoch(report.get("obsTime"))
    try:
        decoded = Metar.Metar(raw, month=observed.month, year=observed.year, strict=False)
    except Metar.ParserError as exc:
        raise PayloadError(f"undecodable METAR {raw!r}: {exc}") from exc
    received = _awc_time(report.get("receiptTime")) or observed
    temperature = decoded.temp.value("C") if decoded.temp else None
    dew_point = decoded.dewpt.value("C") if decoded.dewpt else None
    return {
        "location": iata_of(station),
        "source": SOURCE,
        "kind": "observation",
        "valid_at": _nearest_hour(observed),
        "observed_at": max(received, observed),
        "issued_at": None,
        "temperature_c": temperature,
        "dew_point_c": dew_point,
        "humidity_pct": _humidity(temperature, dew_point),
        "precipitation_mm": decoded.precip_1hr.value("CM") * 10 if decoded.precip_1hr else None,
        "wind_speed_ms": round(decoded.wind_speed.value("MPS"), 2) if decoded.wind_speed else None,
        "wind_gust_ms": round(decoded.wind_gust.value("MPS"), 2) if decoded.wind_gust else None,
        "wind_dir_deg": decoded.wind_dir.value() if decoded.wind_dir else None,
        "visibility_m": decoded.vis.value("M") if decoded.vis else None,
        "pressure_hpa": round(decoded.press.value("HPA"), 1) if decoded.press else None,
        "cloud_cover_pct": _cloud_cover(decoded),
        "weather_code": _weather(decoded) or None,
        "raw_ref": payload.ref,
    }


def _epoch(value: object) -> datetime:
    if not isinstance(value, int | float):
        raise PayloadError(f"obsTime {value!r} is not epoch seconds")
    return datetime.fromtimestamp(value, UTC)


def _awc_time(value: object) -> datetime | None:
    """``2026-01-14T22:56:53.763Z`` (2026 shape) or ``2023-10-27 15:25:34`` (2023 shape, UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PayloadError(f"time {value!r} is not ISO 8601") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _nearest_hour(value: datetime) -> datetime:
    return (value + timedelta(minutes=30)).replace(minute=0, second=0, microsecond=0)


def _humidity(temperature: float | None, dew_point: float | None) -> float | None:
    """Relative humidity from temperature and dew point (Magnus formula)."""
    if temperature is None or dew_point is None:
        return None

    def vapour(t: float) -> float:
        return math.exp(17.625 * t / (243.04 + t))

    return round(100 * vapour(dew_point) / vapour(temperature), 1)


def _cloud_cover(decoded: Metar.Metar) -> float | None:
    covers = [_COVER_PCT[c] for c, *_ in decoded.sky if c in _COVER_PCT]
    if not covers and "CAVOK" in decoded.code:
        return 0
    return max(covers) if covers else None


def _weather(decoded: Metar.Metar) -> str:
    return " ".join("".join(part or "" for part in group) for group in decoded.weather)
