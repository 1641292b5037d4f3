"""Settings of the Open-Meteo collector kind ``open-meteo``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from eta.collectors.kind import SourceSettings


class WeatherPlace(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a mistyped setting is an error, not ignored

    code: str = Field(description="eta location code (IATA or EVA).")
    lat: float = Field(description="Latitude.")
    lon: float = Field(description="Longitude.")


class OpenMeteoSettings(SourceSettings):
    """Open-Meteo hourly forecast (no key); the historical archive API for backfills."""

    forecast_url: str = Field(default="https://api.open-meteo.com/v1/forecast", description="Forecast API.")
    archive_url: str = Field(
        default="https://archive-api.open-meteo.com/v1/archive", description="Historical archive API."
    )
    places: list[WeatherPlace] = Field(
        default_factory=lambda: [
            WeatherPlace(code="FRA", lat=50.0333, lon=8.5706),
            WeatherPlace(code="8011160", lat=52.5251, lon=13.3694),
        ],
        description="Locations as JSON [{code, lat, lon}].",
    )
    forecast_days: int = Field(default=2, ge=1, le=16, description="Days of hourly forecast per fetch.")
    interval_s: int = Field(default=3_600, ge=300, description="Seconds between two collections.")
