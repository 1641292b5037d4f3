"""The one place eta reads its configuration from: environment variables prefixed ``ETA_``.

Nested sections are set with a double underscore, e.g. ``ETA_API__RATE_LIMIT_PER_MINUTE=120``.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_REPO_DATA_DIR = Path(__file__).resolve().parent.parent / "data"


class CollectorsSettings(BaseModel):
    """Which collectors run on the schedule; each source adds its own section below this one."""

    enabled: list[str] = Field(
        default_factory=list,
        description='Collectors run by `eta collect --forever`, as JSON, e.g. ["db-iris", "open-meteo"].',
    )


class ApiSettings(BaseModel):
    """The HTTP service (`eta serve`): traveller and operator API, dashboard, GTFS-Realtime feed."""

    host: str = Field(default="127.0.0.1", description="Address `eta serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `eta serve` listens on.")
    workers: int = Field(
        default=1, ge=1, description="uvicorn worker processes (each keeps its own rate-limit buckets)."
    )
    rate_limit_per_minute: int = Field(
        default=120,
        ge=1,
        description="Traveller requests allowed per client IP and minute (token bucket, per process).",
    )
    rate_limit_burst: int = Field(
        default=30, ge=1, description="Traveller requests a client IP may make at once before throttling."
    )
    trust_forwarded_for: bool = Field(
        default=False,
        description="Take the client IP from X-Forwarded-For (only behind a proxy that sets it).",
    )
    max_body_bytes: int = Field(
        default=16_384, ge=256, description="Largest request body accepted; larger ones get 413."
    )
    max_days_back: int = Field(
        default=7, ge=0, description="Oldest service date a traveller may ask for, in days before today."
    )
    max_days_ahead: int = Field(
        default=60, ge=0, description="Latest service date a traveller may ask for, in days after today."
    )
    board_default_window_s: int = Field(
        default=7_200, ge=60, description="Time window of an arrivals board when none is given."
    )
    board_max_window_s: int = Field(
        default=43_200, ge=60, description="Longest time window an arrivals board may ask for."
    )
    board_max_rows: int = Field(default=200, ge=1, description="Most arrivals one board returns.")
    cache_ttl_s: float = Field(
        default=5.0,
        ge=0,
        description="Seconds a trip or board answer is reused for identical requests (0 = no cache).",
    )
    refresh_interval_s: float = Field(
        default=30.0,
        gt=0,
        description="How often the service re-checks the store, champion models and collectors (readiness).",
    )
    feed_window_back_s: int = Field(
        default=3_600, ge=0, description="GTFS-RT feed: include calls scheduled up to this long ago."
    )
    feed_window_ahead_s: int = Field(
        default=6 * 3_600, ge=0, description="GTFS-RT feed: include calls scheduled up to this far ahead."
    )
    replay_from: datetime | None = Field(
        default=None,
        description=(
            "Replay recorded data: the service's clock starts at this time (ISO 8601 with offset) "
            "and runs at real speed. Unset: the real clock."
        ),
    )


class AlertsSettings(BaseModel):
    """Opt-in alerts: subscriptions to one trip, change detection, signed webhooks."""

    allow_private_targets: bool = Field(
        default=False,
        description="Accept webhook URLs on private, loopback or link-local addresses (tests only).",
    )
    allow_plain_http: bool = Field(
        default=False, description="Accept http:// webhook URLs (default: https only)."
    )
    webhook_timeout_s: float = Field(
        default=5.0, gt=0, description="Seconds to wait for a webhook endpoint to answer."
    )
    max_attempts: int = Field(
        default=6, ge=1, description="Delivery attempts per notification before it is given up."
    )
    backoff_base_s: float = Field(
        default=10.0, gt=0, description="Delay before the first retry; doubles on each further retry."
    )
    backoff_max_s: float = Field(default=3_600.0, gt=0, description="Longest delay between two retries.")
    confirm_updates: int = Field(
        default=2,
        ge=1,
        description="Consecutive prediction updates that must agree before a change is notified.",
    )
    default_arrival_threshold_s: int = Field(
        default=300, ge=60, description="Arrival change that is notified when a subscription sets none."
    )
    leave_notice_lead_s: int = Field(
        default=600, ge=0, description="How long before the time to leave the notice is sent."
    )
    leave_correction_threshold_s: int = Field(
        default=180,
        ge=60,
        description="A time to leave that moves by at least this much after its notice sends a correction.",
    )
    keep_after_arrival_s: int = Field(
        default=1_800,
        ge=0,
        description="A subscription expires this long after its trip arrives, then is purged.",
    )
    max_per_trip: int = Field(
        default=10_000, ge=1, description="Most active subscriptions one trip may have."
    )
    cycle_interval_s: float = Field(
        default=30.0,
        ge=0,
        description="How often the API process checks subscriptions and sends webhooks (0 = not in the API).",
    )


class Settings(BaseSettings):
    """eta's settings; every field has a default and a description."""

    model_config = SettingsConfigDict(
        env_prefix="ETA_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    data_dir: Path = Field(
        default=Path("var"),
        description="Directory for the embedded database, model files, raw payload archive and reports.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the store, e.g. postgresql+psycopg://user@host/db. "
            "Default: a SQLite file `eta.sqlite3` in the data directory (WAL mode)."
        ),
    )
    reference_dir: Path = Field(
        default=_REPO_DATA_DIR,
        description="Directory with the bundled reference and sample data (stations, airports, DB runs).",
    )
    db_batch_size: int = Field(
        default=20_000, ge=100, description="Rows per batch when bulk-writing to the store."
    )
    log_level: str = Field(default="INFO", description="Log level (DEBUG, INFO, WARNING, ERROR).")
    log_json: bool = Field(default=False, description="Write logs as one JSON object per line.")
    collectors: CollectorsSettings = Field(default_factory=CollectorsSettings, description="Collectors.")
    api: ApiSettings = Field(default_factory=ApiSettings, description="HTTP service.")
    alerts: AlertsSettings = Field(default_factory=AlertsSettings, description="Opt-in alerts.")

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or the default SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'eta.sqlite3').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process (tests call ``get_settings.cache_clear()`` after changing env)."""
    return Settings()


def settings_table() -> str:
    """Markdown table of every setting, for the README (``eta config --markdown``)."""
    lines = ["| variable | default | description |", "|---|---|---|"]
    lines += _section_rows(Settings, "ETA_")
    return "\n".join(lines)


def _section_rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows: list[str] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += _section_rows(annotation, f"{prefix}{name.upper()}__")
            continue
        default = field.get_default(call_default_factory=True)
        if isinstance(default, Path) and default == _REPO_DATA_DIR:
            shown = "`data/` of the checkout"
        else:
            shown = f"`{default}`" if default not in (None, "") else "(unset)"
        rows.append(f"| `{prefix}{name.upper()}` | {shown} | {field.description or ''} |")
    return rows
