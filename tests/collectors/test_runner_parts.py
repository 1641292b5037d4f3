"""The runner's parts: archive names, Retry-After, backoff, metrics labels, secret masking."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from eta.collectors import archive
from eta.collectors.base import FetchError, Request, Response
from eta.collectors.http import backoff_s, parse_retry_after, with_retries
from eta.collectors.metrics import CollectorMetrics
from eta.collectors.registry import make_adapter
from eta.collectors.runner import _secret_values
from eta.config import HttpSettings, Settings


def test_archive_names_round_trip_and_sort_by_fetch_time() -> None:
    request = Request.of("plan", eva="8011160", date="250903", hour="07")
    at = datetime(2025, 9, 3, 5, 1, 2, 345678, tzinfo=UTC)
    path = archive.relative_path("db-iris", request, at, "xml")
    assert path.startswith("db-iris/2025-09-03/20250903T050102345678Z__plan__")
    assert archive.parse_name(path) == (at, request)
    odd = Request.of("flights", ids="WSSS,YMML", q="a=b/c")
    assert archive.parse_name(archive.relative_path("metar", odd, at, "json"))[1] == odd


def test_archive_write_is_whole_and_reproducible(tmp_path) -> None:  # type: ignore[no-untyped-def]
    archive.write(tmp_path, "x/2025-01-01/a.gz", b"payload")
    first = (tmp_path / "raw" / "x/2025-01-01/a.gz").read_bytes()
    archive.write(tmp_path, "x/2025-01-01/a.gz", b"payload")
    assert (tmp_path / "raw" / "x/2025-01-01/a.gz").read_bytes() == first
    assert archive.read(tmp_path, "x/2025-01-01/a.gz") == b"payload"
    assert not list((tmp_path / "raw" / "x/2025-01-01").glob(".*tmp"))


def test_retry_after_as_seconds_or_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Thu, 01 Jan 2026 12:02:00 GMT", now) == 120
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    http = HttpSettings(backoff_base_s=1, backoff_max_s=10)
    rng = random.Random(1)
    delays = [[backoff_s(attempt, http, rng) for _ in range(200)] for attempt in range(6)]
    assert all(0 <= d <= min(10, 2**a) for a, ds in enumerate(delays) for d in ds)
    assert max(delays[2]) > 2 and max(delays[5]) <= 10


def test_retries_stop_at_the_attempt_limit_and_on_non_retryable_errors() -> None:
    http = HttpSettings(attempts=3, backoff_base_s=0.5)
    slept: list[float] = []
    seen: list[str] = []
    calls = [0]

    def failing() -> Response:
        calls[0] += 1
        raise FetchError("http_5xx", "503")

    with pytest.raises(FetchError):
        with_retries(
            failing, http, sleep=slept.append, rng=random.Random(0), on_error=lambda e: seen.append(e.kind)
        )
    assert calls[0] == 3 and len(slept) == 2 and seen == ["http_5xx"] * 3

    def forbidden() -> Response:
        raise FetchError("http_4xx", "403", retryable=False)

    slept.clear()
    with pytest.raises(FetchError):
        with_retries(forbidden, http, sleep=slept.append, rng=random.Random(0), on_error=lambda e: None)
    assert slept == []


def test_metrics_carry_only_collector_and_kind_labels() -> None:
    metrics = CollectorMetrics(CollectorRegistry())
    metrics.fetches.labels("db-iris", "ok").inc()
    metrics.errors.labels("db-iris", "timeout").inc(2)
    metrics.lag.labels("db-iris").set(30)
    text = generate_latest(metrics.registry).decode()
    assert 'eta_collector_errors_total{collector="db-iris",kind="timeout"} 2.0' in text
    for family in metrics.registry.collect():
        for sample in family.samples:
            assert set(sample.labels) <= {"collector", "kind", "le"}


def test_every_secret_setting_of_the_instance_is_masked() -> None:
    settings = Settings(
        collectors={
            "db_iris": {"api_key": "k1-abcdef"},
            "flights_b": {"kind": "flight-status", "api_key": "k2-ghijkl"},
        }
    )
    iris, flights = make_adapter("db-iris", settings), make_adapter("flights-b", settings)
    assert "k1-abcdef" in _secret_values(settings, iris) and "k2-ghijkl" in _secret_values(settings, flights)
    assert "k2-ghijkl" not in _secret_values(settings, iris)  # an instance masks its own secrets
