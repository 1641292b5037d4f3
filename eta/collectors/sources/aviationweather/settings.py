"""Settings of the METAR collector kind ``metar`` (aviationweather.gov)."""

from __future__ import annotations

from pydantic import Field

from eta.collectors.kind import SourceSettings


class MetarSettings(SourceSettings):
    """METAR reports from the aviationweather.gov data API."""

    base_url: str = Field(
        default="https://aviationweather.gov/api/data", description="AWC data API base URL."
    )
    stations: list[str] = Field(
        default_factory=lambda: ["EDDF", "EDDB"], description="ICAO codes of the reporting stations."
    )
    hours: int = Field(default=3, ge=1, le=48, description="Hours of reports asked for per fetch.")
    interval_s: int = Field(default=600, ge=60, description="Seconds between two collections.")
