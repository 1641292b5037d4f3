"""SIGKILL in the middle of a batch, restart: the store holds every row exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from eta.store.engine import make_engine
from eta.store.schema import Call, CallRef, Observation, RawPayload
from tests.collectors.loopback import Loopback, Reply
from tests.conftest import FIXTURES, REPO


def _driver(mode: str, env: dict[str, str], kill_at: int | None = None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "tests.collectors.crash_driver", mode] + ([str(kill_at)] if kill_at else [])
    return subprocess.run(
        args, cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


def _contents(url: str) -> dict[str, pd.DataFrame]:
    engine = make_engine(url)
    with engine.connect() as conn:
        out = {
            "calls": pd.read_sql(select(Call), conn).sort_values("id"),
            "call_refs": pd.read_sql(select(CallRef), conn).sort_values(["source", "ref"]),
            "observations": pd.read_sql(
                select(Observation).order_by(Observation.call_id, Observation.observed_at), conn
            ).drop(columns=["id", "raw_ref"]),
            "raw_payloads": pd.read_sql(
                select(RawPayload.source, RawPayload.kind, RawPayload.sha256), conn
            ).sort_values(["kind", "sha256"]),
        }
    engine.dispose()
    return {name: frame.reset_index(drop=True) for name, frame in out.items()}


def _env(tmp: Path, name: str, extra: dict[str, str] | None = None) -> tuple[dict[str, str], str]:
    url = f"sqlite:///{tmp / name}.sqlite3"
    return {"ETA_DATABASE_URL": url, "ETA_DATA_DIR": str(tmp / f"{name}-data"), **(extra or {})}, url


def _assert_same(
    crashed: dict[str, pd.DataFrame], clean: dict[str, pd.DataFrame], ignore: tuple[str, ...] = ()
) -> None:
    assert len(clean["observations"]) > 0
    keys = crashed["observations"][["call_id", "source", "observed_at"]]
    assert not keys.duplicated().any()
    for name in clean:
        pd.testing.assert_frame_equal(
            crashed[name].drop(columns=list(ignore), errors="ignore"),
            clean[name].drop(columns=list(ignore), errors="ignore"),
            check_dtype=False,
            obj=name,
        )


@pytest.mark.slow
def test_replay_killed_mid_batch_and_restarted_stores_every_row_once(tmp_path: Path) -> None:
    clean_env, clean_url = _env(tmp_path, "clean")
    assert _driver("replay", clean_env).returncode == 0
    env, url = _env(tmp_path, "crashed")
    killed = _driver("replay", env, kill_at=6)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    partial = _contents(url)
    assert 0 < len(partial["observations"]) < len(_contents(clean_url)["observations"])
    assert _driver("replay", env).returncode == 0
    _assert_same(_contents(url), _contents(clean_url))


@pytest.mark.slow
def test_live_collector_killed_mid_batch_writes_its_archived_payloads_on_restart(tmp_path: Path) -> None:
    plan = (FIXTURES / "db_iris" / "08000001_plan_10.xml").read_bytes()
    fchg = (FIXTURES / "db_iris" / "08000001_fchg_10_EXCERPT.xml").read_bytes()
    with Loopback() as server:
        server.route("/plan/8000001/*", Reply(plan))
        server.route("/fchg/8000001", Reply(fchg))
        iris = {
            "ETA_COLLECTORS__DB_IRIS__BASE_URL": server.url,
            "ETA_COLLECTORS__DB_IRIS__STATIONS": '["8000001"]',
            "ETA_COLLECTORS__DB_IRIS__PLAN_HOURS_AHEAD": "0",
        }
        clean_env, clean_url = _env(tmp_path, "clean", iris)
        assert _driver("collect", clean_env).returncode == 0
        env, url = _env(tmp_path, "crashed", iris)
        killed = _driver("collect", env, kill_at=1)
        assert killed.returncode == -9, killed.stdout + killed.stderr
        assert len(_contents(url)["calls"]) == 0  # the batch's transaction died with the process
        server.route("/fchg/8000001", Reply(b"", status=503))  # the source is gone now: the archive must do
        server.route("/plan/8000001/*", Reply(b"", status=503))
        restarted = _driver("collect", env)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    crashed, clean = _contents(url), _contents(clean_url)
    # the two processes fetched at different moments, so observed_at and the calls' known_since (the
    # plan's fetch) differ; all else is equal
    _assert_same(crashed, clean, ignore=("observed_at", "known_since"))
