"""Liveness, readiness (store, champion model file and hash, primed collectors), Prometheus metrics."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine

from eta.api.app import create_app
from eta.clock import ManualClock
from eta.store.schema import CollectorState, Model, PredictionSweep
from tests.api.conftest import api_settings


def _register_champion(engine: Engine, path: Path, file_hash: str, version: str = "arrival-train-1") -> None:
    t = datetime(2026, 5, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            Model.__table__.insert().values(
                version=version,
                mode="train",
                task="arrival",
                role="champion",
                created_at=t,
                train_from=t,
                train_until=t,
                n_train=1000,
                features=["latest_delay_s"],
                params={},
                metrics={"mae_s": 123.4},
                path=str(path),
                file_hash=file_hash,
                promoted_at=t,
            )
        )


def _prime(engine: Engine, collector: str) -> None:
    t = datetime(2026, 5, 4, 16, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            CollectorState.__table__.insert().values(
                collector=collector, primed_at=t, last_success_at=t, consecutive_failures=0, data_until=t
            )
        )


def test_livez_answers_without_any_check(client: TestClient) -> None:
    response = client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_waits_for_a_verified_champion_and_primed_collectors(
    seeded_url: str, make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = make_client(seeded_url, collectors={"enabled": ["db-iris", "open-meteo"]})
    state = client.app.state.eta  # type: ignore[attr-defined]
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"] == {"store": True, "model": False, "collectors": False}
    assert "no champion model is registered" in body["reasons"]
    assert "collectors not yet run successfully: db-iris, open-meteo" in body["reasons"]

    model_file = tmp_path / "model.ubj"
    model_file.write_bytes(b"real bytes of a model file")
    _register_champion(state.engine, model_file, "0" * 64)
    _prime(state.engine, "db-iris")
    state.readiness.refresh()
    body = client.get("/readyz").json()
    assert body["checks"] == {"store": True, "model": False, "collectors": False}
    assert any("sha256 differs" in r for r in body["reasons"])
    assert body["reasons"][-1] == "collectors not yet run successfully: open-meteo"

    with state.engine.begin() as conn:
        conn.execute(Model.__table__.delete())
    _register_champion(state.engine, model_file, hashlib.sha256(model_file.read_bytes()).hexdigest(), "v2")
    _prime(state.engine, "open-meteo")
    assert (
        client.get("/readyz").status_code == 503
    )  # readiness is refreshed in the background, not per request
    state.readiness.refresh()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["champions"] == ["v2"]


def _gauge(text: str, name: str) -> float:
    (value,) = re.findall(rf"^{name} (\S+)$", text, flags=re.M)
    return float(value)


def test_the_readiness_metrics_tell_what_readyz_tells(
    seeded_url: str, make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    """A scrape sees the verified champions and readiness of the latest check, whether /readyz was asked
    or not (it used to say 0 verified models while /readyz listed three)."""
    client = make_client(seeded_url)
    state = client.app.state.eta  # type: ignore[attr-defined]
    text = client.get("/metrics").text
    assert _gauge(text, "eta_champion_models_verified") == 0 and _gauge(text, "eta_ready") == 0
    for version in ("v1", "v2"):
        model_file = tmp_path / f"{version}.ubj"
        model_file.write_bytes(f"model {version}".encode())
        _register_champion(
            state.engine, model_file, hashlib.sha256(model_file.read_bytes()).hexdigest(), version
        )
    state.readiness.refresh()
    text = client.get("/metrics").text
    assert _gauge(text, "eta_champion_models_verified") == 2
    assert _gauge(text, "eta_ready") == 1
    assert client.get("/readyz").json()["champions"] == ["v1", "v2"]


def test_readyz_is_503_when_the_store_is_unreachable(tmp_path: Path) -> None:
    settings = api_settings("postgresql+psycopg://nobody@127.0.0.1:9/none", tmp_path)
    engine = create_engine(settings.database_url, connect_args={"connect_timeout": 1})  # type: ignore[arg-type]
    with TestClient(create_app(settings, engine=engine)) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["store"] is False
        assert "the store is unreachable" in response.json()["reasons"][0]
        assert client.get("/livez").status_code == 200


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/api/v1/trips/train/ICE/1011/2026-05-04")
    client.get("/api/v1/trips/train/ICE/9999/2026-05-04")
    client.get("/no/such/path")
    text = client.get("/metrics").text
    assert (
        'eta_http_requests_total{method="GET",route="/api/v1/trips/{mode}/{operator}/{number}/{service_date}",'
        'status="2xx"} 1.0' in text
    )
    assert 'route="/api/v1/trips/{mode}/{operator}/{number}/{service_date}",status="4xx"} 1.0' in text
    assert 'route="unmatched",status="4xx"} 1.0' in text
    labels = " ".join(re.findall(r"\{[^}]*\}", text))  # values may contain any digits; labels may not
    assert "1011" not in labels and "9999" not in labels and "/no/such/path" not in labels
    assert "eta_http_request_duration_seconds_bucket" in text


def test_a_registered_model_directory_counts_as_verified_until_a_file_changes(tmp_path: Path) -> None:
    """The registry records a model as its directory and the sha256 of its meta.json (as `eta demo` does)."""
    import shutil

    from eta.api.readiness import _file_matches
    from eta.model.artefact import META_FILE, MODEL_FILE, sha256_file

    models = Path(__file__).parents[2] / "data" / "models"
    bundled = sorted(models.glob("train-platform-*"))[0]
    directory = tmp_path / bundled.name
    shutil.copytree(bundled, directory)
    registered = sha256_file(directory / META_FILE)
    assert _file_matches(directory, registered)
    booster = directory / MODEL_FILE
    booster.write_bytes(booster.read_bytes()[:-1] + b"\0")
    assert not _file_matches(directory, registered)


def test_rows_and_bytes_per_table_are_gauges(seeded_url: str, make_client: Callable[..., TestClient]) -> None:
    """Measured in the background when the app starts (never on a scrape: dbstat reads every page)."""
    import time

    from sqlalchemy import func, select

    from eta.store.schema import Prediction

    client = make_client(seeded_url)
    rows = 'eta_store_rows{table="predictions"}'
    deadline = time.monotonic() + 120  # a loaded machine: the first measurement runs in a thread
    while rows not in (text := client.get("/metrics").text):
        assert time.monotonic() < deadline, "no store size gauges"
        time.sleep(0.1)
    with client.app.state.eta.engine.connect() as conn:  # type: ignore[attr-defined]
        count = conn.execute(select(func.count()).select_from(Prediction)).scalar_one()
    assert count > 0 and _gauge(text, re.escape(rows)) == count
    assert _gauge(text, re.escape('eta_store_bytes{table="predictions"}')) > 0
    assert _gauge(text, re.escape('eta_store_rows{table="prediction_sweeps"}')) == 0


def test_readiness_hashes_a_champion_again_when_its_file_changes(
    seeded_url: str, make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    """Issue 21 §4: a champion verified once stayed verified for ever; corrupted in place, /readyz was
    still 200 while predictions stopped."""
    client = make_client(seeded_url)
    state = client.app.state.eta  # type: ignore[attr-defined]
    model_file = tmp_path / "model.ubj"
    model_file.write_bytes(b"real bytes of a model file")
    _register_champion(state.engine, model_file, hashlib.sha256(model_file.read_bytes()).hexdigest())
    state.readiness.refresh()
    assert client.get("/readyz").status_code == 200
    model_file.write_bytes(b"real bytes of a model filf")  # same size: one byte flipped
    os.utime(model_file, ns=(1, 1))
    state.readiness.refresh()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert any("sha256 differs" in r for r in response.json()["reasons"])


def test_readyz_is_503_once_a_modes_predictions_stop_where_collectors_run(
    seeded_url: str, make_client: Callable[..., TestClient], tmp_path: Path, clock: ManualClock
) -> None:
    """Issue 21 §4: the age of each mode's latest prediction sweep is checked where collectors run."""
    client = make_client(
        seeded_url, clock, collectors={"enabled": ["db-iris"]}, api={"ready_max_sweep_age_s": 1800}
    )
    state = client.app.state.eta  # type: ignore[attr-defined]
    model_file = tmp_path / "model.ubj"
    model_file.write_bytes(b"model")
    _register_champion(state.engine, model_file, hashlib.sha256(b"model").hexdigest())
    _prime(state.engine, "db-iris")
    with state.engine.begin() as conn:
        conn.execute(
            PredictionSweep.__table__.insert().values(
                mode="train", swept_at=clock.now - timedelta(minutes=10), n_calls=10, n_written=10
            )
        )
    state.readiness.refresh()
    assert client.get("/readyz").status_code == 200
    clock.now += timedelta(minutes=25)  # 35 min since the last sweep
    state.readiness.refresh()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["reasons"] == ["train: the last prediction sweep was 2100 s ago (limit 1800 s)"]
