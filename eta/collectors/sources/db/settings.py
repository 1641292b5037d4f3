"""Settings of the DB Timetables API (IRIS) collector kind ``db-iris``."""

from __future__ import annotations

from pydantic import Field, SecretStr

from eta.collectors.kind import SourceSettings


class DbIrisSettings(SourceSettings):
    """Deutsche Bahn Timetables API (IRIS): plan and changes per station."""

    base_url: str = Field(
        default="https://apis.deutschebahn.com/db-api-marketplace/apis/timetables/v1",
        description="Base URL of the DB Timetables API.",
    )
    client_id: SecretStr | None = Field(
        default=None, description="DB API Marketplace client id (DB-Client-Id)."
    )
    api_key: SecretStr | None = Field(default=None, description="DB API Marketplace key (DB-Api-Key).")
    stations: list[str] = Field(
        default_factory=lambda: ["8011160", "8011102", "8011113"],
        description="EVA numbers of the stations, as JSON (default: Berlin Hbf, Gesundbrunnen, Südkreuz).",
    )
    interval_s: int = Field(default=120, ge=10, description="Seconds between two collections.")
    plan_hours_ahead: int = Field(
        default=3,
        ge=0,
        le=12,
        description="Plan hours fetched beyond the current one (each hour once); at least as many as an "
        "arrivals board's window spans (ETA_API__BOARD_DEFAULT_WINDOW_S), or its last trains are unknown.",
    )
    full_changes_every_s: int = Field(
        default=900,
        ge=0,
        description="Fetch the full change list (fchg) this often; recent changes (rchg) in between.",
    )
