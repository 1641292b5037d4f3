"""Property-based API tests from the OpenAPI schema (schemathesis, in-process ASGI, no network):
every operation, no 5xx, and every answer conforms to the schema (status code, content type, body)."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from eta.api.apikeys import create_key
from eta.api.app import create_app
from eta.clock import ManualClock
from eta.config import Settings
from eta.store import open_store
from tests.api import seed
from tests.api.conftest import DB_DAY_NOW, api_settings
from tests.api.test_health import _register_champion

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _app(directory: Path) -> tuple[object, str]:
    path = directory / "store.sqlite3"
    url = f"sqlite:///{path}"
    engine = open_store(Settings(database_url=url, data_dir=directory))
    seed.import_db_runs(engine, Settings(database_url=url, data_dir=directory))
    seed.persistence_predictions(engine)
    key, _ = create_key(engine, "schemathesis")
    model = directory / "model.ubj"
    model.write_bytes(b"model")
    _register_champion(engine, model, hashlib.sha256(b"model").hexdigest())
    engine.dispose()
    app = create_app(api_settings(url, directory / "var"), clock=ManualClock(DB_DAY_NOW))
    app.state.eta.readiness.refresh()  # ready: /readyz answers 200, so any 5xx is a failure
    return app, key


# schemathesis needs the app when the module is collected, before any fixture: a temporary store
_DIR = Path(tempfile.mkdtemp(prefix="eta-schemathesis-"))
APP, KEY = _app(_DIR)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> object:
    yield
    APP.state.eta.engine.dispose()  # type: ignore[attr-defined]
    shutil.rmtree(_DIR, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_conforms_and_never_fails(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"X-API-Key": KEY}, checks=CHECKS)


def test_operation_ids_are_stable() -> None:
    spec = APP.openapi()  # type: ignore[attr-defined]
    ids = sorted(op["operationId"] for path in spec["paths"].values() for op in path.values())
    assert ids == [
        "create_share",
        "create_subscription",
        "delete_share",
        "delete_subscription",
        "find_locations",
        "find_services",
        "get_accuracy",
        "get_arrivals_board",
        "get_collectors",
        "get_gtfs_rt_trip_updates",
        "get_models",
        "get_share",
        "get_subscription",
        "get_trip",
        "get_web_push_public_key",
        "livez",
        "metrics",
        "readyz",
    ]
