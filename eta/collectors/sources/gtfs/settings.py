"""Settings of the GTFS-Realtime collector kind ``gtfs-rt``."""

from __future__ import annotations

from pydantic import Field, SecretStr

from eta.collectors.kind import SourceSettings


class GtfsRtSettings(SourceSettings):
    """GTFS static (stops, trips, stop_times) and GTFS-Realtime TripUpdates."""

    static_url: str = Field(
        default="https://download.gtfs.de/germany/fv_free/latest.zip",
        description="GTFS static feed (zip) whose trips the TripUpdates refer to.",
    )
    realtime_url: str = Field(
        default="https://realtime.gtfs.de/realtime-free.pb", description="GTFS-Realtime TripUpdates feed."
    )
    static_every_s: int = Field(default=86_400, ge=60, description="Refresh the static feed this often.")
    interval_s: int = Field(default=60, ge=10, description="Seconds between two TripUpdates fetches.")
    timezone: str = Field(default="Europe/Berlin", description="Agency time zone of the static feed.")
    api_key: SecretStr | None = Field(
        default=None, description="The operator's key for both feeds, if it asks for one (unset: none)."
    )
    api_key_header: str = Field(
        default="Authorization",
        description="Header that carries `api_key`, e.g. `Authorization`, `x-api-key`.",
    )
