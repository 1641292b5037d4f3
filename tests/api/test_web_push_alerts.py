"""Web Push alerts end to end: a browser's subscription → change detection → a message encrypted for that
browser (RFC 8291) with a VAPID signature (RFC 8292), POSTed to a real push service stand-in on loopback;
the browser's keys decrypt it. 404/410 from the push service disables the subscription."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from fastapi.testclient import TestClient
from sqlalchemy import select

from eta.alerts import web_push
from eta.alerts.cycle import AlertCycle
from eta.clock import ManualClock
from eta.store.schema import Subscription
from tests.alerts.test_web_push import browser_keys
from tests.api.helpers import add_prediction, alert_cycle, berlin, call_at, fresh_munich_call
from tests.api.test_subscriptions import SUBSCRIBE, request_body
from tests.api.webhook_receiver import Receiver, webhook_receiver

SUBJECT = "mailto:alerts@eta.example.org"
VAPID_KEY = web_push.new_private_key()


@pytest.fixture
def push_service() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running


@pytest.fixture
def push_client(seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]) -> TestClient:
    client = make_client(seeded_url, clock, alerts={"vapid_private_key": VAPID_KEY, "vapid_subject": SUBJECT})
    engine = client.app.state.eta.engine  # type: ignore[attr-defined]
    fresh_munich_call(engine)  # the test writes its own predictions
    return client


def _push_body(endpoint: str, p256dh: str, auth: str) -> dict[str, Any]:
    body = request_body(travel_time_s=None)
    del body["webhook"]
    return body | {
        "web_push": {"endpoint": endpoint, "expirationTime": None, "keys": {"p256dh": p256dh, "auth": auth}}
    }


def _queue_one_change(client: TestClient, clock: ManualClock) -> AlertCycle:
    state = client.app.state.eta  # type: ignore[attr-defined]
    call = call_at(state.engine, "ICE", "1011", date(2026, 5, 4), "8000261")
    cycle = alert_cycle(client)
    for at, delay in (("17:35", 0), ("17:50", 600), ("17:55", 660)):
        clock.now = berlin(f"2026-05-04 {at}")
        add_prediction(state.engine, call, clock.now, delay)
        cycle.find_changes(clock.now)
    return cycle


def _verify_vapid(authorization: str, endpoint_origin: str) -> dict[str, Any]:
    """The claims of a VAPID header (``vapid t=<JWT>, k=<key>``), after checking its signature."""
    scheme, params = authorization.split(" ", 1)
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == web_push.public_key(VAPID_KEY)
    header, claims, signature = fields["t"].split(".")
    raw = web_push.b64url_decode(signature)
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), web_push.b64url_decode(fields["k"]))
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if forged
    decoded: dict[str, Any] = json.loads(web_push.b64url_decode(claims))
    assert decoded["aud"] == endpoint_origin
    return decoded


def test_a_change_reaches_the_browser_encrypted_for_it_alone(
    push_client: TestClient, clock: ManualClock, push_service: Receiver
) -> None:
    clock.now = berlin("2026-05-04 17:30")
    browser, p256dh, auth_secret, auth = browser_keys()
    endpoint = push_service.url.split("?")[0] + "/push/abc123"
    response = push_client.post(SUBSCRIBE, json=_push_body(endpoint, p256dh, auth))
    assert response.status_code == 201, response.text
    sub = response.json()
    assert (sub["channel"], sub["secret"]) == ("web_push", None)
    with push_client.app.state.eta.engine.connect() as conn:  # type: ignore[attr-defined]
        stored = conn.execute(select(Subscription)).one()
    assert stored.push_p256dh.startswith("enc1:") and stored.push_auth.startswith("enc1:")
    assert p256dh not in str(stored) and auth not in str(stored) and "abc123" not in str(stored)
    info = push_client.get(f"{SUBSCRIBE}/{sub['id']}", headers={"Authorization": f"Bearer {sub['token']}"})
    assert info.json()["channel"] == "web_push"

    cycle = _queue_one_change(push_client, clock)
    push_service.statuses = [201]
    assert cycle.deliver_due() == (1, 0, 0, 0)
    (received,) = push_service.received
    assert received.path == "/hooks/eta/push/abc123"
    assert received.headers["content-encoding"] == "aes128gcm"
    assert int(received.headers["ttl"]) == 3600
    claims = _verify_vapid(received.headers["authorization"], push_service.url.split("/hooks")[0])
    assert claims["sub"] == SUBJECT and claims["exp"] > time.time()
    assert b"arrival_changed" not in received.body  # encrypted: the push service cannot read it

    message = json.loads(http_ece.decrypt(received.body, private_key=browser, auth_secret=auth_secret))
    assert message["id"].startswith("msg_")
    assert message["type"] == "trip.arrival_changed"
    assert message["data"]["subscription_id"] == sub["id"]
    assert message["data"]["predicted_arrival"] == berlin("2026-05-04 19:52").isoformat()
    other, _, other_secret, _ = browser_keys()
    with pytest.raises(Exception):  # noqa: B017 (any failure: the wrong browser cannot read it)
        http_ece.decrypt(received.body, private_key=other, auth_secret=other_secret)


@pytest.mark.parametrize("status", [404, 410])
def test_a_subscription_the_push_service_says_is_gone_is_disabled(
    push_client: TestClient, clock: ManualClock, push_service: Receiver, status: int
) -> None:
    clock.now = berlin("2026-05-04 17:30")
    _, p256dh, _, auth = browser_keys()
    sub = push_client.post(SUBSCRIBE, json=_push_body(push_service.url, p256dh, auth)).json()
    cycle = _queue_one_change(push_client, clock)
    push_service.statuses = [status]
    assert cycle.deliver_due() == (0, 0, 0, 1)
    info = push_client.get(f"{SUBSCRIBE}/{sub['id']}", headers={"Authorization": f"Bearer {sub['token']}"})
    assert info.json()["active"] is False
    assert info.json()["disabled_reason"] == "failing"


def test_the_public_key_and_refusals(
    push_client: TestClient, client: TestClient, push_service: Receiver
) -> None:
    key = push_client.get("/api/v1/web-push/public-key")
    assert key.json() == {"public_key": web_push.public_key(VAPID_KEY)}
    _, p256dh, _, auth = browser_keys()
    bad = push_client.post(SUBSCRIBE, json=_push_body(push_service.url, p256dh, web_push.b64url(b"short")))
    assert bad.status_code == 422 and "16 bytes" in bad.json()["detail"]
    both = _push_body(push_service.url, p256dh, auth) | {"webhook": {"url": push_service.url}}
    response = push_client.post(SUBSCRIBE, json=both)
    assert response.status_code == 422 and "exactly one of webhook and web_push" in response.text
    # a server without VAPID settings: no key to subscribe with, no Web Push subscriptions
    missing = client.get("/api/v1/web-push/public-key")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    refused = client.post(SUBSCRIBE, json=_push_body(push_service.url, p256dh, auth))
    assert refused.status_code == 422 and "does not send Web Push" in refused.json()["detail"]
