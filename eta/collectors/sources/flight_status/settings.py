"""Settings of the flight-status collector kind ``flight-status`` (FlightAware AeroAPI or AviationStack)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from eta.collectors.kind import SourceSettings


class FlightStatusSettings(SourceSettings):
    """One flight-status API with scheduled/estimated/actual gate and runway times, gate and terminal."""

    provider: Literal["aeroapi", "aviationstack"] = Field(
        default="aeroapi", description="Which flight-status API to use."
    )
    base_url: str = Field(
        default="https://aeroapi.flightaware.com/aeroapi",
        description="Base URL of the provider (AviationStack: http://api.aviationstack.com/v1).",
    )
    api_key: SecretStr | None = Field(default=None, description="The provider's API key.")
    airports: list[str] = Field(
        default_factory=lambda: ["EDDF"],
        description="Airports whose arrivals are collected (provider's codes).",
    )
    interval_s: int = Field(default=300, ge=30, description="Seconds between two collections.")
    max_pages: int = Field(
        default=5,
        ge=1,
        le=100,
        description=(
            "Most pages read per request and run, following AeroAPI `links.next` or AviationStack "
            "`pagination`; each page is one more (billed) call."
        ),
    )
