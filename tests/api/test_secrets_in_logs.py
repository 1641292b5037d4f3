"""No secret reaches the log: a subscription insert that fails is logged without the webhook URL's secret
parts, the signing secret (whsec_…) or any other SQL parameter."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from eta.clock import ManualClock
from eta.config import Settings
from eta.logging import configure_logging
from tests.api.test_subscriptions import SUBSCRIBE, request_body

URL_SECRET = "receiver-token-5b1f0c"


@pytest.mark.parametrize("log_json", [False, True])
def test_a_failed_subscription_insert_logs_no_secret(
    seeded_url: str,
    clock: ManualClock,
    make_client: Callable[..., TestClient],
    capsys: pytest.CaptureFixture[str],
    log_json: bool,
) -> None:
    client = make_client(seeded_url, clock)
    engine = client.app.state.eta.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:  # the store refuses every new subscription, as a full disk would
        conn.execute(
            text(
                "CREATE TRIGGER refuse_subscriptions BEFORE INSERT ON subscriptions "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        )
    configure_logging(Settings(log_json=log_json))
    url = f"http://127.0.0.1:9/hooks/{URL_SECRET}?token={URL_SECRET}"
    response = client.post(SUBSCRIBE, json=request_body(url))
    assert response.status_code == 500
    logged = capsys.readouterr().err
    assert "disk full" in logged  # the failure itself is logged, with its traceback
    assert "Traceback" in logged
    assert URL_SECRET not in logged
    assert "whsec_" not in logged
    assert "[SQL parameters hidden" in logged
