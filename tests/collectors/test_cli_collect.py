"""``eta collect`` and ``eta replay`` as a user runs them, against the loopback server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from eta.store.engine import make_engine
from eta.store.schema import Call, CallRef, Observation, QuarantinedPayload
from tests.collectors.loopback import Loopback, Reply
from tests.conftest import FIXTURES

IRIS = FIXTURES / "db_iris"


def eta(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eta.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


@pytest.fixture
def iris_env(loopback: Loopback, tmp_path: Path) -> dict[str, str]:
    return {
        "ETA_DATA_DIR": str(tmp_path / "var"),
        "ETA_DATABASE_URL": f"sqlite:///{tmp_path / 'eta.sqlite3'}",
        "ETA_COLLECTORS__DB_IRIS__BASE_URL": loopback.url,
        "ETA_COLLECTORS__DB_IRIS__STATIONS": '["8000001"]',
        "ETA_COLLECTORS__DB_IRIS__PLAN_HOURS_AHEAD": "0",
        "ETA_COLLECTORS__DB_IRIS__API_KEY": "sekrit-api-key",
    }


def test_collect_once_stores_planned_and_changed_times_and_platforms(
    loopback: Loopback, iris_env: dict[str, str]
) -> None:
    loopback.route("/plan/8000001/*", Reply((IRIS / "08000001_plan_10.xml").read_bytes()))
    loopback.route("/fchg/8000001", Reply((IRIS / "08000001_fchg_10_EXCERPT.xml").read_bytes()))
    done = eta("collect", "--source", "db-iris", "--once", env=iris_env)
    assert done.returncode == 0, done.stderr
    assert (
        "db-iris: ok; 2 payloads, " in done.stdout and "21 calls" in done.stdout
    )  # ICE 2956 from the change list
    engine = make_engine(iris_env["ETA_DATABASE_URL"])
    with engine.connect() as conn:
        rows = pd.read_sql(
            select(
                CallRef.ref,
                Call.planned_platform,
                Call.scheduled_departure,
                Observation.platform,
                Observation.estimated_departure,
                Observation.cancelled,
            )
            .join(Call, Call.id == CallRef.call_id)
            .join(Observation, Observation.call_id == Call.id),
            conn,
        ).set_index("ref")
    engine.dispose()
    moved = rows.loc["7448894008162231514-2405091037-1"]
    assert (moved["planned_platform"], moved["platform"]) == ("6", "3")
    assert pd.Timestamp(moved["scheduled_departure"]) == pd.Timestamp("2024-05-09 08:37", tz="UTC")
    assert pd.Timestamp(moved["estimated_departure"]) == pd.Timestamp("2024-05-09 08:42", tz="UTC")
    assert "sekrit-api-key" not in done.stdout + done.stderr


def test_collect_once_fails_with_exit_1_when_the_source_is_down(
    loopback: Loopback, iris_env: dict[str, str]
) -> None:
    loopback.route("/plan/*", Reply(b"", status=503))
    loopback.route("/fchg/8000001", Reply(b"", status=503))
    env = {**iris_env, "ETA_COLLECTORS__HTTP__ATTEMPTS": "1"}
    done = eta("collect", "--source", "db-iris", "--once", env=env)
    assert done.returncode == 1
    assert "db-iris: FAILED" in done.stdout and "http_5xx" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("collect",), "say one of --once"),
        (("collect", "--once"), "--once needs --source"),
        (("collect", "--source", "nope", "--once"), "unknown collector 'nope'"),
        (("collect", "--reprocess", "db-iris"), "--reprocess needs --since"),
        (("collect", "--reprocess", "db-iris", "--since", "yesterday"), "is not an ISO date"),
        (("collect", "--forever"), "no collectors enabled"),
        (("replay", "/no/such/folder"), "is not a folder"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(
    args: tuple[str, ...], message: str, iris_env: dict[str, str]
) -> None:
    done = eta(*args, env=iris_env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_reprocess_parses_quarantined_payloads_again_after_a_fix(
    loopback: Loopback, iris_env: dict[str, str]
) -> None:
    """A payload the parser could not read stays archived; after a fix, --reprocess writes its rows."""
    plan = (IRIS / "08000001_plan_10.xml").read_bytes()
    loopback.route(
        "/plan/8000001/*",
        Reply(plan.replace(b"<timetable", b"<fahrplan").replace(b"</timetable", b"</fahrplan")),
    )
    loopback.route("/fchg/8000001", Reply((IRIS / "08000001_fchg_10_EXCERPT.xml").read_bytes()))
    first = eta("collect", "--source", "db-iris", "--once", env=iris_env)
    assert "quarantined" in first.stdout
    engine = make_engine(iris_env["ETA_DATABASE_URL"])
    with engine.connect() as conn:
        (path,) = conn.execute(select(QuarantinedPayload.path)).scalars()
    # the "fix": here, the archived bytes become readable (a real fix changes the parser instead)
    from eta.collectors import archive

    data_dir = Path(iris_env["ETA_DATA_DIR"])
    archive.write(data_dir, path, plan)
    done = eta(
        "collect", "--reprocess", "db-iris", "--since", "2000-01-01", "--quarantined-only", env=iris_env
    )
    assert done.returncode == 0, done.stderr
    assert "20 calls" in done.stdout
    with engine.connect() as conn:
        resolved = conn.execute(select(QuarantinedPayload.resolved_at)).scalar_one()
    assert resolved is not None
    engine.dispose()


def test_replay_the_bundled_day_slice(tmp_path: Path) -> None:
    env = {"ETA_DATA_DIR": str(tmp_path / "var"), "ETA_DATABASE_URL": f"sqlite:///{tmp_path / 'eta.sqlite3'}"}
    done = eta("replay", str(FIXTURES / "iris_archive" / "raw"), env=env)
    assert done.returncode == 0, done.stderr
    assert "replayed 12 cycles" in done.stdout and "observations/s" in done.stdout


def test_collect_forever_runs_enabled_collectors_and_exposes_metrics(
    loopback: Loopback, iris_env: dict[str, str]
) -> None:
    import signal
    import socket
    import time

    import requests as http

    loopback.route("/plan/8000001/*", Reply((IRIS / "08000001_plan_10.xml").read_bytes()))
    loopback.route("/fchg/8000001", Reply((IRIS / "08000001_fchg_10_EXCERPT.xml").read_bytes()))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        **iris_env,
        "ETA_COLLECTORS__ENABLED": '["db-iris"]',
        "ETA_COLLECTORS__METRICS_PORT": str(port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "eta.cli", "collect", "--forever"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        text = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and 'eta_collector_primed{collector="db-iris"} 1.0' not in text:
            time.sleep(0.3)
            try:
                text = http.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except http.ConnectionError:
                continue
        assert 'eta_collector_primed{collector="db-iris"} 1.0' in text
        assert 'eta_collector_rows_total{collector="db-iris",kind="calls"} 21.0' in text
    finally:
        process.send_signal(signal.SIGTERM)  # as docker stop does
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "collect:db-iris" in stderr and "sekrit-api-key" not in stderr


def test_replay_from_another_store_and_from_a_raw_archive(tmp_path: Path) -> None:
    source = {
        "ETA_DATA_DIR": str(tmp_path / "src"),
        "ETA_DATABASE_URL": f"sqlite:///{tmp_path / 'src.sqlite3'}",
    }
    assert eta("replay", str(FIXTURES / "iris_archive" / "raw"), env=source).returncode == 0
    demo = {
        "ETA_DATA_DIR": str(tmp_path / "demo"),
        "ETA_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
    }
    done = eta("replay", "--from-store", source["ETA_DATABASE_URL"], "--day", "2025-09-03", env=demo)
    assert done.returncode == 0, done.stderr
    assert "calls" in done.stdout and "observations" in done.stdout
    missing = eta("replay", "--source", "metar", str(tmp_path / "nothing"), env=demo)
    assert missing.returncode == 2 and "no archived payloads of 'metar'" in missing.stderr
