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


class ModelSettings(BaseModel):
    """Training, calibration, the registry and the retraining job (eta/model/)."""

    models_dir: Path | None = Field(
        default=None, description="Directory of model files. Default: `models/` in the data directory."
    )
    n_rounds: int = Field(default=150, ge=1, description="Boosting rounds of the xgboost models.")
    learning_rate: float = Field(default=0.1, gt=0, le=1, description="xgboost learning rate (eta).")
    max_depth: int = Field(default=7, ge=1, le=16, description="Depth of each xgboost tree.")
    max_train_rows: int = Field(
        default=500_000, ge=1000, description="Training rows (call × horizon) sampled at most per model."
    )
    calibration_fraction: float = Field(
        default=0.15,
        gt=0,
        lt=0.5,
        description="Most recent share of the training window held out to calibrate the P10–P90 interval.",
    )
    n_threads: int = Field(default=0, ge=0, description="xgboost threads (0: all cores).")
    serve_ahead_hours: int = Field(
        default=6, ge=1, description="Served predictions cover calls scheduled to arrive this far ahead."
    )
    serve_behind_hours: int = Field(
        default=6,
        ge=0,
        description="…and calls scheduled this long ago that have not arrived yet (late services).",
    )
    retrain_window_days: int = Field(
        default=56, ge=1, description="The retraining job trains on this many days before its test window."
    )
    retrain_test_days: int = Field(
        default=7, ge=1, description="Recent days on which the retraining job compares the two models."
    )
    retrain_every_hours: int = Field(default=24, ge=1, description="How often the retraining job runs.")
    min_train_rows: int = Field(
        default=20_000, ge=1, description="A model trained on fewer rows than this is never promoted."
    )
    promotion_min_gain: float = Field(
        default=0.01,
        ge=0,
        description=(
            "Relative improvement a challenger needs over the champion on the recent window to be "
            "promoted (arrival: MAE of the P50; platform: log loss; 0.01 = 1 %)."
        ),
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
    model: ModelSettings = Field(default_factory=ModelSettings, description="Models.")

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or the default SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'eta.sqlite3').resolve()}"

    @property
    def resolved_models_dir(self) -> Path:
        """Where model files live: ``model.models_dir`` or ``models/`` under ``data_dir``."""
        return self.model.models_dir or self.data_dir / "models"


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
