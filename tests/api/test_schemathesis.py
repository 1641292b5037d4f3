"""Property-based API tests from the OpenAPI schema (schemathesis, in-process ASGI, no network):
every operation, no 5xx, and every answer conforms to the schema (status code, content type, body);
and statefully, along the schema's links: subscriptions created, read and deleted with their tokens."""

from __future__ import annotations

import hashlib
import ipaddress
import shutil
import socket
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
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


# Removed when the session ends, not the module: with two workers stealing tests, a worker may run more of
# this module's tests after it finished the ones it had (a module teardown there left them without a store).
@pytest.fixture(scope="session", autouse=True)
def _cleanup() -> object:
    yield
    APP.state.eta.engine.dispose()  # type: ignore[attr-defined]
    shutil.rmtree(_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Generated webhook URLs name hosts all over the internet: none is looked up (no network in tests)."""
    real = socket.getaddrinfo

    def numeric_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            ipaddress.ip_address(str(host))
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "no look-ups in tests") from None
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)
    yield


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
        "get_connection",
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


# --- stateful: create → read → delete along the links of POST /api/v1/subscriptions -----------------

VALID_SUBSCRIPTION = {
    "trip": {"mode": "train", "operator": "ICE", "number": "1011", "service_date": "2026-05-04"},
    "location": "8000261",
    "consent": True,
}


class SubscriptionWorkflow(schema.include(path_regex="^/api/v1/subscriptions").as_state_machine()):  # type: ignore[misc]
    """A body that hypothesis gave consent is completed into a subscription that can be made (a real trip,
    a webhook); the others go as generated. Reads and deletes follow the links, with the token created.
    Every scenario starts without subscriptions, so that replays behave alike."""

    made = 0

    def setup(self) -> None:
        with APP.state.eta.engine.begin() as conn:  # type: ignore[attr-defined]
            conn.exec_driver_sql("DELETE FROM subscriptions")

    def before_call(self, case: schemathesis.Case) -> None:
        body = case.body
        if case.operation.method.upper() == "POST" and isinstance(body, dict) and body.get("consent") is True:
            webhook = {"url": f"http://127.0.0.1:9/hook/{zlib.crc32(repr(body).encode()) % 1000}"}
            case.body = {k: v for k, v in body.items() if k in ("watch", "travel_time_s")}
            case.body |= VALID_SUBSCRIPTION | {"webhook": webhook}

    def after_call(self, response: Any, case: schemathesis.Case) -> None:
        super().after_call(response, case)
        if case.operation.method.upper() == "POST" and response.status_code == 201:
            SubscriptionWorkflow.made += 1

    def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
        case.validate_response(response, checks=CHECKS + STATEFUL_CHECKS)


STATEFUL_CHECKS = [use_after_free, ensure_resource_availability]


def test_subscriptions_create_read_delete_statefully() -> None:
    """Scenarios along the links, with no 5xx, conforming answers, a made subscription readable and a
    deleted one gone; and they did make subscriptions to follow the links from (not all 422s)."""
    SubscriptionWorkflow.made = 0
    SubscriptionWorkflow.run(
        settings=settings(
            max_examples=25,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
    )
    assert SubscriptionWorkflow.made > 0
