"""The one place eta reads its configuration from: environment variables prefixed ``ETA_``.

Nested sections are set with a double underscore, e.g. ``ETA_API__RATE_LIMIT_PER_MINUTE=120``.
"""

from __future__ import annotations

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
