"""`eta apikey …` and `eta serve` as a real process on loopback, with JSON logs free of addresses and keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.live import free_port


def _eta(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eta.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETA_")}
    return env | {"ETA_DATA_DIR": str(tmp_path / "var")} | extra


def test_apikey_create_list_revoke(tmp_path: Path) -> None:
    env = _env(tmp_path)
    created = _eta("apikey", "create", "--name", "night shift", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("eta_") and len(key) > 40
    listed = _eta("apikey", "list", env=env).stdout
    assert "night shift" in listed and "active" in listed
    assert key not in listed
    assert key[:12] in listed
    revoked = _eta("apikey", "revoke", key[:12], env=env)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert "revoked" in _eta("apikey", "list", env=env).stdout
    again = _eta("apikey", "revoke", key[:12], env=env)
    assert again.returncode == 2
    assert again.stderr.startswith("eta: error: no active API key starts with")
    assert _eta("apikey", "create", "--name", " ", env=env).returncode == 2


def test_eta_serve_runs_the_api_with_json_logs(tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, ETA_LOG_JSON="true", ETA_API__PORT=str(port))
    process = subprocess.Popen(
        [sys.executable, "-m", "eta.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):  # a loaded machine takes a while to import and migrate
            try:
                if requests.get(f"{base}/livez", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise AssertionError("eta serve did not start")
        assert requests.get(f"{base}/readyz", timeout=5).status_code == 503  # no model, nothing collected
        secret_key = "eta_" + "x" * 43
        response = requests.get(
            f"{base}/api/v1/operator/models", headers={"X-API-Key": secret_key}, timeout=5
        )
        assert response.status_code == 401
        assert "server" not in {k.lower() for k in response.headers}
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    access = [entry for entry in lines if entry["logger"] == "eta.api.access"]
    assert {entry["route"] for entry in access} >= {"/livez", "/readyz", "/api/v1/operator/models"}
    assert "127.0.0.1" not in json.dumps(access)  # no client address (only the server's own start-up line)
    assert secret_key not in stderr


def test_alerts_run_once_reports_what_it_did(tmp_path: Path) -> None:
    done = _eta("alerts", "run-once", env=_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "examined": 0,
        "queued": 0,
        "delivered": 0,
        "retried": 0,
        "failed": 0,
        "disabled": 0,
        "purged": 0,
    }
