"""Alerts from the page: the page subscribes through its service worker with the API's VAPID key, eta
detects a change and sends the message, encrypted for that browser, to a push service on loopback; the
message, delivered to the service worker, becomes a notification in the page's language.

What cannot run here is the browser's own registration with its vendor's push service (Chromium's needs
Google's servers): ``PushManager.subscribe`` is replaced by one that makes real P-256 keys in the page
(WebCrypto) and hands out an endpoint on the loopback push service, exactly the shape of a browser's
``PushSubscription``. Everything else is the real path, and the message reaches the service worker
through DevTools' ``ServiceWorker.deliverPushMessage``, as the push service would deliver it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import http_ece
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import expect
from sqlalchemy import func, select

from eta.alerts import web_push
from eta.alerts.cycle import AlertCycle
from eta.store.schema import Subscription
from tests.api.helpers import add_prediction, call_at
from tests.api.test_web_push_alerts import SUBJECT, VAPID_KEY, _verify_vapid
from tests.api.webhook_receiver import Receiver, webhook_receiver
from tests.web.conftest import needs_chromium

pytestmark = needs_chromium
BERLIN = ZoneInfo("Europe/Berlin")

# A PushManager whose subscriptions point at the loopback push service, with keys made in the page.
FAKE_PUSH_MANAGER = """
(() => {
  const b64u = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  let current = null;
  PushManager.prototype.getSubscription = async function () { return current; };
  PushManager.prototype.subscribe = async function (options) {
    const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
    const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
    const auth = crypto.getRandomValues(new Uint8Array(16));
    const json = {
      endpoint: PUSH_SERVICE + "/push/" + b64u(crypto.getRandomValues(new Uint8Array(12))),
      expirationTime: null,
      keys: { p256dh: b64u(raw), auth: b64u(auth) },
    };
    window.__push = {
      privateJwk: await crypto.subtle.exportKey("jwk", pair.privateKey),
      json,
      serverKey: b64u(options.applicationServerKey),
      userVisibleOnly: options.userVisibleOnly,
    };
    current = { endpoint: json.endpoint, options, toJSON: () => json, unsubscribe: async () => true };
    return current;
  };
})();
"""


@pytest.fixture
def push_service() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        running.statuses = [201]
        yield running


def _private_key(jwk: dict[str, str]) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(web_push.b64url_decode(jwk["d"]), "big"), ec.SECP256R1())


def test_subscribe_on_the_page_then_a_change_arrives_as_a_notification(
    browser: Any, live_server: Any, seeded_url: str, push_service: Receiver
) -> None:
    live = live_server(seeded_url, alerts={"vapid_private_key": VAPID_KEY, "vapid_subject": SUBJECT})
    origin = push_service.url.split("/hooks")[0]
    context = browser.new_context(viewport={"width": 360, "height": 640}, locale="fr-FR")
    context.grant_permissions(["notifications"], origin=live.base)
    context.add_init_script(FAKE_PUSH_MANAGER.replace("PUSH_SERVICE", json.dumps(origin)))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(live.base + "/trip/train/ICE/1011/2026-05-04?stop=8000261")
    expect(page.locator("#alert-list")).to_contain_text("Aucune alerte sur cet appareil.")
    page.check("#w-consent")
    page.fill("#w-threshold", "10")
    page.check("#w-predicted")  # also eta's predicted platform before the announcement (an opt-in)
    page.get_by_role("button", name="Activer les alertes").click()
    expect(page.locator("#alert-msg")).to_have_text("Alertes activées pour ICE 1011 → München Hbf.")
    with live.app.state.eta.engine.connect() as conn:
        columns = (Subscription.watch_platform, Subscription.watch_predicted_platform)
        watched = conn.execute(select(*columns)).all()
    assert [tuple(row) for row in watched] == [(True, True)]
    browser_side = page.evaluate("window.__push")
    assert browser_side["serverKey"] == web_push.public_key(VAPID_KEY)  # the key from the API
    assert browser_side["userVisibleOnly"] is True
    expect(page.locator("#alert-list li.sub")).to_have_count(1)
    assert "ICE 1011 → München Hbf" in page.locator("#alert-list").inner_text()

    state = live.app.state.eta
    call = call_at(state.engine, "ICE", "1011", date(2026, 5, 4), "8000261")
    cycle = AlertCycle(state.engine, state.settings, state.clock, state.metrics)
    cycle.find_changes(live.clock.now)  # what the subscriber saw when subscribing
    for minutes in (1, 2):  # two agreeing updates confirm the change (confirm_updates = 2)
        live.clock.now += timedelta(minutes=1)
        add_prediction(state.engine, call, live.clock.now, 25 * 60 + minutes * 30)
        cycle.find_changes(live.clock.now)
    assert cycle.deliver_due()[0] == 1

    (received,) = push_service.received
    assert received.path == "/push/" + browser_side["json"]["endpoint"].rsplit("/push/", 1)[1]
    assert _verify_vapid(received.headers["authorization"], origin)["sub"] == SUBJECT
    plain = http_ece.decrypt(
        received.body,
        private_key=_private_key(browser_side["privateJwk"]),
        auth_secret=web_push.b64url_decode(browser_side["json"]["keys"]["auth"]),
    )
    message = json.loads(plain)
    assert message["type"] == "trip.arrival_changed"
    expected = datetime.fromisoformat(message["data"]["predicted_arrival"]).astimezone(BERLIN)

    cdp = context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"])
    )
    cdp.send("ServiceWorker.enable")
    page.wait_for_timeout(200)
    (registration,) = [r for r in registrations if r["scopeURL"] == live.base + "/" and not r["isDeleted"]][
        :1
    ]
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": live.base, "registrationId": registration["registrationId"], "data": plain.decode()},
    )
    shown: list[list[str]] = []
    for _ in range(50):
        shown = page.evaluate(
            "navigator.serviceWorker.ready.then(r => r.getNotifications())"
            ".then(list => list.map(n => [n.title, n.body, n.data.url]))"
        )
        if shown:
            break
        page.wait_for_timeout(100)
    assert shown == [
        [
            "ICE 1011 → München Hbf",
            f"Arrivée prévue à {expected:%H:%M}",
            "/trip/train/ICE/1011/2026-05-04?stop=8000261",
        ]
    ]

    page.locator("#alert-list").get_by_role("button", name="Supprimer").click()
    expect(page.locator("#alert-msg")).to_have_text("Alerte supprimée.")
    expect(page.locator("#alert-list")).to_contain_text("Aucune alerte sur cet appareil.")
    with state.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Subscription)).scalar_one() == 0
    assert errors == []
    context.close()


def test_the_pick_up_page_subscribes_on_its_own_without_sending_the_travel_time(
    browser: Any, live_server: Any, seeded_url: str, push_service: Receiver
) -> None:
    live = live_server(seeded_url, alerts={"vapid_private_key": VAPID_KEY, "vapid_subject": SUBJECT})
    trip = {"mode": "train", "operator": "ICE", "number": "1011", "service_date": "2026-05-04"}
    share = requests.post(f"{live.base}/api/v1/shares", json={"trip": trip}, timeout=30).json()
    context = browser.new_context(viewport={"width": 360, "height": 640}, locale="en-GB")
    context.grant_permissions(["notifications"], origin=live.base)
    context.add_init_script(
        FAKE_PUSH_MANAGER.replace("PUSH_SERVICE", json.dumps(push_service.url.split("/hooks")[0]))
    )
    page = context.new_page()
    sent: list[str] = []
    page.on(
        "request", lambda request: sent.append(request.post_data or "") if request.method == "POST" else None
    )
    page.goto(live.base + share["page"])
    page.fill("#travel", "35")
    page.check("#w-consent")
    page.get_by_role("button", name="Turn on alerts").click()
    expect(page.locator("#alert-msg")).to_have_text("Alerts are on for ICE 1011 → München Hbf.")
    (body,) = [json.loads(text) for text in sent if text]
    assert body["trip"] == trip | {"leg": None} and body["location"] == "8000261" and body["consent"] is True
    assert body["watch"] == {"platform_change": True, "arrival_change": True}
    # it stays in this browser (the push keys are random base64, where "35" may occur by chance)
    told = json.dumps({key: value for key, value in body.items() if key != "web_push"})
    assert "travel_time_s" not in body and "35" not in told and str(35 * 60) not in told
    (saved,) = page.evaluate("JSON.parse(localStorage.getItem('eta:subscriptions'))")
    info = requests.get(
        f"{live.base}/api/v1/subscriptions/{saved['id']}",
        headers={"Authorization": f"Bearer {saved['token']}"},
        timeout=30,
    ).json()
    assert info["channel"] == "web_push" and info["travel_time_s"] is None and info["location"] == "8000261"
    context.close()
