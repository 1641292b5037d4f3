"""Behind a proxy the client is the right-most X-Forwarded-For address that is not a trusted proxy: what
a client writes into the header itself (the left of it) cannot change whose rate limit it spends."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from eta.api.proxies import client_address
from eta.clock import ManualClock

TRIP = "/api/v1/trips/train/ICE/1011/2026-05-04"


def _limited(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient], **api: object
) -> TestClient:
    settings = {"rate_limit_per_minute": 1, "rate_limit_burst": 5, "trust_forwarded_for": True} | api
    return make_client(seeded_url, clock, api=settings)


def test_rotating_the_left_of_x_forwarded_for_does_not_pass_the_limit(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    client = _limited(seeded_url, clock, make_client)
    proxy = TestClient(client.app, client=("127.0.0.1", 40000))
    statuses = [
        proxy.get(TRIP, headers={"X-Forwarded-For": f"10.9.8.{n}, 198.51.100.7"}).status_code
        for n in range(12)
    ]
    assert statuses == [200] * 5 + [429] * 7
    other = proxy.get(TRIP, headers={"X-Forwarded-For": "198.51.100.8"})
    assert other.status_code == 200  # another client behind the same proxy has its own bucket


def test_trusted_proxy_networks(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    client = _limited(seeded_url, clock, make_client, trusted_proxies=["127.0.0.0/8", "10.0.0.0/8"])
    proxy = TestClient(client.app, client=("127.0.0.1", 40000))
    # the client, then two proxies of ours: the client is 203.0.113.5, whatever it put first
    chain = "1.2.3.4, 203.0.113.5, 10.1.1.1"
    assert [proxy.get(TRIP, headers={"X-Forwarded-For": chain}).status_code for _ in range(6)] == [
        200
    ] * 5 + [429]
    # a peer that is not a trusted proxy is the client, whatever header it sends
    direct = TestClient(client.app, client=("198.51.100.9", 40000))
    statuses = [direct.get(TRIP, headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in range(6)]
    assert statuses == [200] * 5 + [429]


def test_forwarded_for_is_ignored_unless_trusted(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    client = _limited(seeded_url, clock, make_client, trust_forwarded_for=False)
    statuses = [client.get(TRIP, headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in range(6)]
    assert statuses == [200] * 5 + [429]


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("10.0.0.2", ["6.6.6.6", "198.51.100.7"], 1, "198.51.100.7"),
        ("10.0.0.2", ["6.6.6.6", "198.51.100.7", "10.0.0.1"], 2, "198.51.100.7"),
        ("10.0.0.2", ["198.51.100.7"], 3, "198.51.100.7"),  # fewer entries than proxies: the left-most
        ("10.0.0.2", [], 1, "10.0.0.2"),
        ("10.0.0.2", ["6.6.6.6", "198.51.100.7", "10.0.0.1"], ["10.0.0.0/8"], "198.51.100.7"),
        ("192.0.2.1", ["198.51.100.7"], ["10.0.0.0/8"], "192.0.2.1"),  # an untrusted peer
        ("10.0.0.2", ["10.0.0.5", "10.0.0.1"], ["10.0.0.0/8"], "10.0.0.5"),  # all trusted: the left-most
        ("10.0.0.2", ["not-an-ip", "10.0.0.1"], ["10.0.0.0/8"], "not-an-ip"),
        ("::1", ["2001:db8::7"], ["::1/128"], "2001:db8::7"),
    ],
)
def test_the_client_address(peer: str, forwarded: list[str], trusted: int | list[str], client: str) -> None:
    assert client_address(peer, forwarded, trusted) == client
