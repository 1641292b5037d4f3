"""RFC 9457 problems for every error, body size limit, and the rate limits."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient

from eta.api.ratelimit import TokenBuckets


def test_unknown_paths_and_methods_are_problems(client: TestClient) -> None:
    response = client.get("/api/v2/everything")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "there is nothing at /api/v2/everything; see /docs for the API",
        "instance": "/api/v2/everything",
    }
    response = client.put("/livez")
    assert response.status_code == 405
    assert response.json()["detail"] == "PUT is not allowed on /livez"


def test_oversized_bodies_are_refused_before_parsing(client: TestClient) -> None:
    response = client.post(
        "/api/v1/subscriptions",
        content=b"{" + b" " * 20_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "the request body is larger than 16384 bytes"

    def chunks():  # no Content-Length: counted while streaming
        for _ in range(40):
            yield b" " * 1000

    response = client.post(
        "/api/v1/subscriptions", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_malformed_json_is_a_problem(client: TestClient) -> None:
    response = client.post(
        "/api/v1/subscriptions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "/problems/invalid-request"
    assert body["errors"][0]["location"].startswith("body")

    response = client.post(  # not even text (schemathesis sends such bodies)
        "/api/v1/subscriptions", content=b"\xd02\xa7\x13", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "the request body could not be read: JSON in UTF-8 is expected"


def test_traveller_endpoints_are_rate_limited_per_client(
    seeded_url: str, clock, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(seeded_url, clock, api={"rate_limit_per_minute": 60, "rate_limit_burst": 3})
    trip = "/api/v1/trips/train/ICE/1011/2026-05-04"
    assert [client.get(trip).status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get(trip)
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.headers["retry-after"] == "1"
    assert "too many requests" in limited.json()["detail"]
    assert client.get("/livez").status_code == 200  # probes are never limited
    # scrapes have buckets of their own
    assert "eta_rate_limited_requests_total 1.0" in client.get("/metrics").text


def _assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    problem = response.json()
    assert problem["type"] == "/problems/rate-limited"
    assert problem["status"] == 429
    assert problem["instance"] == response.request.url.path


def test_feed_and_metrics_are_rate_limited_and_probes_are_not(
    seeded_url: str, clock, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(seeded_url, clock, api={"rate_limit_per_minute": 60, "rate_limit_burst": 2})
    feed = "/gtfs-rt/trip-updates"
    assert [client.get(feed).status_code for _ in range(2)] == [200, 200]
    _assert_rate_limited(client.get(feed))
    # the feed spends the traveller buckets: the API is refused too
    _assert_rate_limited(client.get("/api/v1/trips/train/ICE/1011/2026-05-04"))
    # /metrics has its own, so the scrape still sees the refusals, until it asks too often itself
    assert "eta_rate_limited_requests_total 2.0" in client.get("/metrics").text
    assert client.get("/metrics").status_code == 200
    _assert_rate_limited(client.get("/metrics"))
    assert "too many scrapes" in client.get("/metrics").json()["detail"]
    assert 429 not in {client.get(probe).status_code for probe in ["/livez", "/readyz"] * 10}


def test_token_bucket_refills_at_the_configured_rate() -> None:
    buckets = TokenBuckets(rate_per_minute=30, burst=2)
    assert buckets.take("a", now=0.0) == 0.0
    assert buckets.take("a", now=0.0) == 0.0
    assert buckets.take("a", now=0.0) == 2.0  # one token every 2 s
    assert buckets.take("b", now=0.0) == 0.0  # another client has its own bucket
    assert buckets.take("a", now=1.0) == 1.0
    assert buckets.take("a", now=2.0) == 0.0
    assert buckets.retry_after_s(0.2) == 1


def test_idle_buckets_are_forgotten() -> None:
    buckets = TokenBuckets(rate_per_minute=60, burst=1)
    buckets.MAX_CLIENTS = 2
    for i, client in enumerate(("a", "b", "c")):
        buckets.take(client, now=float(i))
    assert len(buckets._buckets) <= 2
