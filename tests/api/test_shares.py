"""Share links: unguessable, read-only, no personal data, revocable, gone after the arrival."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from eta.api import shares
from eta.clock import ManualClock
from eta.store.schema import Share
from tests.api.helpers import add_prediction, call_at

SHARES = "/api/v1/shares"
TRIP = {"mode": "train", "operator": "ICE", "number": "1011", "service_date": "2026-05-04"}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def make(client: TestClient, **changes: Any) -> dict[str, Any]:
    response = client.post(SHARES, json={"trip": TRIP, "location": "8000261"} | changes)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_share_opens_with_its_key_only_and_shows_the_trip_and_stop(
    client: TestClient, engine: Engine
) -> None:
    made = make(client)
    assert made["id"].startswith("shr_") and len(made["key"]) >= 32 and len(made["revoke_token"]) >= 32
    assert made["page"] == f"/pickup/{made['id']}#{made['key']}"
    assert made["location"] == "8000261"
    opened = client.get(f"{SHARES}/{made['id']}", headers=bearer(made["key"]))
    assert opened.status_code == 200
    body = opened.json()
    assert body["trip"] == TRIP | {"leg": None}
    assert body["location"] == "8000261"
    assert body["valid_until"].endswith("+02:00")  # Berlin's offset, after the expected arrival
    trip = client.get("/api/v1/trips/train/ICE/1011/2026-05-04").json()
    munich = trip["calls"][-1]
    assert body["valid_until"] > munich["predicted"]["p90"]

    for headers in ({}, bearer(made["revoke_token"]), bearer(made["key"] + "x")):
        refused = client.get(f"{SHARES}/{made['id']}", headers=headers)
        assert refused.status_code in (401, 404), headers
        assert refused.headers["content-type"] == "application/problem+json"
    assert client.get(f"{SHARES}/shr_guessed", headers=bearer(made["key"])).status_code == 404

    with engine.connect() as conn:
        row = conn.execute(select(Share)).one()
    assert made["key"] not in str(tuple(row)) and made["revoke_token"] not in str(tuple(row))  # hashed


def test_the_traveller_revokes_a_share_with_the_revocation_token(client: TestClient) -> None:
    made = make(client)
    assert client.delete(f"{SHARES}/{made['id']}", headers=bearer(made["key"])).status_code == 404
    assert client.delete(f"{SHARES}/{made['id']}", headers=bearer(made["revoke_token"])).status_code == 204
    assert client.get(f"{SHARES}/{made['id']}", headers=bearer(made["key"])).status_code == 404


def test_a_share_stops_working_after_the_arrival_and_is_deleted(
    client: TestClient, engine: Engine, clock: ManualClock
) -> None:
    made = make(client)
    start = clock.now
    clock.now = start + timedelta(hours=2)  # the seeded store reports the arrival at München by then
    actual = client.get("/api/v1/trips/train/ICE/1011/2026-05-04").json()["calls"][-1]["actual_arrival"]
    arrived = datetime.fromisoformat(actual)
    clock.now = arrived + timedelta(minutes=29)  # the grace period (30 min by default) still runs
    still = client.get(f"{SHARES}/{made['id']}", headers=bearer(made["key"]))
    assert still.status_code == 200
    assert datetime.fromisoformat(still.json()["valid_until"]) == arrived + timedelta(minutes=30)
    clock.now = arrived + timedelta(minutes=31)
    gone = client.get(f"{SHARES}/{made['id']}", headers=bearer(made["key"]))
    assert gone.status_code == 410 and gone.json()["type"] == "/problems/share-expired"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Share)).scalar_one() == 0
    refused = client.post(SHARES, json={"trip": TRIP, "location": "8000261"})
    assert refused.status_code == 422 and "already arrived" in refused.json()["detail"]


def test_a_later_prediction_keeps_the_share_open_past_the_schedule(
    client: TestClient, engine: Engine, clock: ManualClock
) -> None:
    made = make(client)
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), "8000261")
    add_prediction(engine, call, clock.now + timedelta(minutes=1), 90 * 60, above_s=600)
    clock.now = call.scheduled_arrival + timedelta(minutes=45)  # past schedule + grace, before the P90
    assert client.get(f"{SHARES}/{made['id']}", headers=bearer(made["key"])).status_code == 200


def test_share_requests_carry_nothing_personal_and_name_a_real_stop(client: TestClient) -> None:
    extra = client.post(SHARES, json={"trip": TRIP, "name": "Alice", "location": "8000261"})
    assert extra.status_code == 422 and "Extra inputs are not permitted" in extra.json()["detail"]
    elsewhere = client.post(SHARES, json={"trip": TRIP, "location": "8000001"})
    assert elsewhere.status_code == 422 and "does not stop at 8000001" in elsewhere.json()["detail"]
    origin = client.post(SHARES, json={"trip": TRIP, "location": "8000080"})
    assert origin.status_code == 422 and "no arrival" in origin.json()["detail"]
    unknown = client.post(SHARES, json={"trip": TRIP | {"number": "1"}})
    assert unknown.status_code == 404


def test_links_past_their_latest_life_are_purged(
    client: TestClient, engine: Engine, clock: ManualClock
) -> None:
    make(client)
    with engine.connect() as conn:
        (expires_at,) = conn.execute(select(Share.expires_at)).one()
    assert shares.purge_expired(engine, expires_at - timedelta(seconds=1)) == 0
    assert shares.purge_expired(engine, expires_at + timedelta(seconds=1)) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Share)).scalar_one() == 0
