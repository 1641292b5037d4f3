"""Settings of the OpenSky Network collector kind ``opensky``."""

from __future__ import annotations

from pydantic import Field, SecretStr

from eta.collectors.kind import SourceSettings


class OpenSkySettings(SourceSettings):
    """OpenSky Network REST: arrivals and departures by airport."""

    base_url: str = Field(default="https://opensky-network.org/api", description="OpenSky REST base URL.")
    username: SecretStr | None = Field(default=None, description="OpenSky account (basic auth), optional.")
    password: SecretStr | None = Field(default=None, description="OpenSky password, optional.")
    airports: list[str] = Field(
        default_factory=lambda: ["EDDF", "EDDB"], description="ICAO codes of the airports, as JSON."
    )
    window_s: int = Field(default=7_200, ge=600, le=604_800, description="Interval asked for per request.")
    interval_s: int = Field(default=1_800, ge=60, description="Seconds between two collections.")
