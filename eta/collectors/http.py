"""One HTTP GET with a timeout and a size cap, its failures sorted into error kinds; retries with backoff."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import SplitResult, urljoin, urlsplit

import requests
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from eta.collectors.base import FetchError, Response
from eta.config import HttpSettings

CHUNK = 1 << 16


MAX_REDIRECTS = 5


def get(
    session: requests.Session,
    url: str,
    *,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    auth: tuple[str, str] | None,
    http: HttpSettings,
) -> Response:
    """GET ``url``; raise :class:`FetchError` with a kind for every way it can fail.

    Redirects are followed here, not by requests: the collector's headers and ``auth`` (its credentials)
    go only to the host it was configured with; a redirect elsewhere is followed without them, one from
    https to http or to another scheme is refused, and so is the :data:`MAX_REDIRECTS` + 1st.
    """
    query: Mapping[str, str] | None = params
    credentials = True
    for _ in range(MAX_REDIRECTS + 1):
        sent = {**headers} if credentials else {}
        try:
            with session.get(
                url,
                params=query,
                headers={"User-Agent": http.user_agent, **sent},
                auth=auth if credentials else None,
                timeout=http.timeout_s,
                stream=True,
                allow_redirects=False,
            ) as response:
                location = response.headers.get("Location") if response.is_redirect else None
                if location is None:
                    _check_status(response)
                    body = _read_capped(response, http.max_payload_bytes)
                    return Response(response.status_code, body, response.headers.get("Content-Type"))
                current = response.url
        except FetchError:
            raise
        except requests.RequestException as exc:
            raise _classified(exc, http) from exc
        url, same_host = next_hop(current, location)
        credentials = credentials and same_host
        query = None  # the Location is complete
    raise FetchError("redirect", f"more than {MAX_REDIRECTS} redirects", retryable=False)


def next_hop(current: str, location: str) -> tuple[str, bool]:
    """Where a redirect from ``current`` to ``location`` leads, and whether it is the same host (scheme
    upgrades allowed); :class:`FetchError` ``redirect`` for a downgrade to http or another scheme."""
    target = urljoin(current, location)
    before, after = urlsplit(current), urlsplit(target)
    if after.scheme not in ("http", "https") or (before.scheme == "https" and after.scheme == "http"):
        raise FetchError("redirect", f"refused a redirect to a {after.scheme}: URL", retryable=False)
    upgrade = (
        before.scheme == "http" and after.scheme == "https" and before.port is None and after.port is None
    )
    same_port = _port(before) == _port(after) or upgrade
    same = (before.hostname or "").lower() == (after.hostname or "").lower() and same_port
    return target, same


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _classified(exc: requests.RequestException, http: HttpSettings) -> FetchError:
    if isinstance(exc, requests.Timeout):
        return FetchError("timeout", f"timed out after {http.timeout_s:g} s")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return FetchError("truncated", f"the response ended early: {_first_line(exc)}")
    if isinstance(exc, requests.ConnectionError):
        if _caused_by(exc, ReadTimeoutError):
            return FetchError("timeout", f"read timed out after {http.timeout_s:g} s")
        if _caused_by(exc, ProtocolError) and "IncompleteRead" in str(exc):
            return FetchError("truncated", f"the response ended early: {_first_line(exc)}")
    return FetchError("connection", _first_line(exc))


def _check_status(response: requests.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 429:
        raise FetchError("http_429", "429 Too Many Requests", retry_after)
    if status >= 500:
        raise FetchError("http_5xx", f"{status} {response.reason}", retry_after)
    # 408 is a timeout on the server's side and worth another try; other 4xx are our mistake
    raise FetchError("http_4xx", f"{status} {response.reason}", retryable=status == 408)


def _read_capped(response: requests.Response, limit: int) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise FetchError("too_large", f"Content-Length {declared} exceeds {limit} bytes", retryable=False)
    chunks = []
    size = 0
    for chunk in response.iter_content(CHUNK):
        size += len(chunk)
        if size > limit:
            raise FetchError("too_large", f"payload exceeds {limit} bytes", retryable=False)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_s(attempt: int, http: HttpSettings, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(max, base·2^attempt)]."""
    return rng.uniform(0, min(http.backoff_max_s, http.backoff_base_s * (2**attempt)))


def with_retries(
    attempt_once: Callable[[], Response],
    http: HttpSettings,
    *,
    sleep: Callable[[float], None],
    rng: random.Random,
    on_error: Callable[[FetchError], None],
) -> Response:
    """Call ``attempt_once`` up to ``http.attempts`` times, honouring ``Retry-After`` when it is sensible.

    A ``Retry-After`` longer than ``http.max_retry_after_s`` is not slept through: the error is raised at
    once (the runner opens the circuit until then).
    """
    for attempt in range(http.attempts):
        try:
            return attempt_once()
        except FetchError as exc:
            on_error(exc)
            last = attempt == http.attempts - 1
            too_long = exc.retry_after_s is not None and exc.retry_after_s > http.max_retry_after_s
            if last or not exc.retryable or too_long:
                raise
            delay = exc.retry_after_s if exc.retry_after_s is not None else backoff_s(attempt, http, rng)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return True
        stack += [
            current.__cause__,
            current.__context__,
            *[a for a in current.args if isinstance(a, BaseException)],
        ]
    return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
