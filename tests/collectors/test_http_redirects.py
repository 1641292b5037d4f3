"""Redirects: a provider's credentials go only to the provider's own host. A redirect to another host is
followed without them; a redirect from https to http, or one too many, is an error of kind ``redirect``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from eta.collectors import http
from eta.collectors.base import FETCH_ERROR_KINDS, FetchError
from eta.config import HttpSettings
from tests.collectors.loopback import Loopback, Reply, serve

CREDENTIALS = {"DB-Api-Key": "key-123", "DB-Client-Id": "client-456", "x-apikey": "aero-789"}
SECRETS = ("key-123", "client-456", "aero-789", "Basic ")


@pytest.fixture
def elsewhere() -> Iterator[Loopback]:
    yield from serve()


def _get(url: str) -> bytes:
    with requests.Session() as session:
        reply = http.get(
            session, url, params={}, headers=CREDENTIALS, auth=("user", "password"), http=HttpSettings()
        )
    return reply.body


def _sent(server: Loopback) -> str:
    return str(server.headers_seen)


def test_a_redirect_to_another_host_carries_no_credentials(loopback: Loopback, elsewhere: Loopback) -> None:
    other_host = elsewhere.url.replace("127.0.0.1", "localhost")  # same machine, another host name
    loopback.route("/plan", Reply(status=302, headers={"Location": f"{other_host}/mirror/plan"}))
    elsewhere.route("/mirror/plan", Reply(body=b"<timetable/>"))
    assert _get(f"{loopback.url}/plan") == b"<timetable/>"
    assert all(secret in _sent(loopback) for secret in ("key-123", "client-456", "aero-789"))
    assert elsewhere.hits == ["/mirror/plan"]
    assert not any(secret in _sent(elsewhere) for secret in SECRETS)
    assert "eta" in elsewhere.headers_seen[0]["User-Agent"]


def test_a_redirect_on_the_same_host_keeps_them(loopback: Loopback) -> None:
    loopback.route("/old", Reply(status=301, headers={"Location": "/new?page=2"}))
    loopback.route("/new", Reply(body=b"<timetable/>"))
    assert _get(f"{loopback.url}/old") == b"<timetable/>"
    assert loopback.hits == ["/old", "/new"] and loopback.queries[-1] == {"page": "2"}
    assert loopback.headers_seen[-1]["DB-Api-Key"] == "key-123"
    assert loopback.headers_seen[-1]["Authorization"].startswith("Basic ")


def test_endless_redirects_are_an_error_kind(loopback: Loopback) -> None:
    loopback.route("/loop", Reply(status=302, headers={"Location": "/loop"}))
    with pytest.raises(FetchError) as caught:
        _get(f"{loopback.url}/loop")
    assert caught.value.kind == "redirect" and "redirect" in FETCH_ERROR_KINDS
    assert not caught.value.retryable
    assert len(loopback.hits) == http.MAX_REDIRECTS + 1


@pytest.mark.parametrize(
    ("current", "location", "expected"),
    [
        ("https://api.example.org/a", "/b", ("https://api.example.org/b", True)),
        ("http://api.example.org/a", "https://api.example.org/b", ("https://api.example.org/b", True)),
        ("https://api.example.org/a", "https://cdn.example.net/b", ("https://cdn.example.net/b", False)),
        (
            "https://api.example.org/a",
            "https://api.example.org:8443/b",
            ("https://api.example.org:8443/b", False),
        ),
        ("https://API.example.org/a", "https://api.example.org./b", ("https://api.example.org./b", False)),
    ],
)
def test_the_next_hop(current: str, location: str, expected: tuple[str, bool]) -> None:
    assert http.next_hop(current, location) == expected


@pytest.mark.parametrize(
    "location", ["http://api.example.org/b", "ftp://api.example.org/b", "file:///etc/passwd"]
)
def test_a_downgrade_or_another_scheme_is_refused(location: str) -> None:
    with pytest.raises(FetchError) as caught:
        http.next_hop("https://api.example.org/a", location)
    assert caught.value.kind == "redirect"
