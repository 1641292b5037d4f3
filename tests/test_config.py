"""Settings: ETA_ prefix, nested sections, the default SQLite file under the data directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from eta.config import Settings, settings_table


def test_default_database_is_sqlite_under_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETA_DATA_DIR", str(tmp_path))
    assert Settings().resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'eta.sqlite3'}"


def test_database_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETA_DATABASE_URL", "postgresql+psycopg://eta@db/eta")
    assert Settings().resolved_database_url == "postgresql+psycopg://eta@db/eta"


def test_bad_values_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETA_DB_BATCH_SIZE", "5")
    with pytest.raises(ValidationError):
        Settings()


def test_every_setting_has_a_description_in_the_table() -> None:
    table = settings_table()
    rows = [line for line in table.splitlines()[2:]]
    assert len(rows) >= len(Settings.model_fields)
    for row in rows:
        assert row.startswith("| `ETA_")
        assert not row.rstrip().endswith("|  |"), row
