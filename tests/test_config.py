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


def test_collector_instance_sections_mask_their_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """A named instance's section is raw until the registry validates it by its kind; its values (a key,
    a URL with a token in it, a whole JSON section) are masked in repr, str and JSON dumps all the same."""
    monkeypatch.setenv("ETA_COLLECTORS__GTFS_NL__KIND", "gtfs-rt")
    monkeypatch.setenv("ETA_COLLECTORS__GTFS_NL__API_KEY", "nl-secret-key-77")
    monkeypatch.setenv("ETA_COLLECTORS__GTFS_NL__REALTIME_URL", "https://x.example/rt?token=tok-secret-55")
    monkeypatch.setenv("ETA_COLLECTORS__DB_IRIS__CLIENT_ID", "iris-client-secret-33")
    monkeypatch.setenv("ETA_COLLECTORS__GTFS_CH", '{"kind": "gtfs-rt", "api_key": "ch-secret-key-88"}')
    settings = Settings()
    secrets = ("nl-secret-key-77", "tok-secret-55", "iris-client-secret-33", "ch-secret-key-88")
    for shown in (repr(settings), str(settings), repr(settings.collectors), settings.model_dump_json()):
        assert not [secret for secret in secrets if secret in shown], shown
    assert "gtfs_nl" in repr(settings) and "'kind': 'gtfs-rt'" in repr(settings)  # which, not what
    sections = settings.collectors.sections()
    assert sections["gtfs_nl"] == {
        "kind": "gtfs-rt",
        "api_key": "nl-secret-key-77",
        "realtime_url": "https://x.example/rt?token=tok-secret-55",
    }
    assert sections["gtfs_ch"] == '{"kind": "gtfs-rt", "api_key": "ch-secret-key-88"}'
