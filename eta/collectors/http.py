"""One HTTP GET with a timeout and a size cap, its failures sorted into error kinds; retries with backoff."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from eta.collectors.base import FetchError, Response
from eta.config import HttpSettings

CHUNK = 1 << 16


def get(
    session: requests.Session,
    url: str,
    *,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    auth: tuple[str, str] | None,
    http: HttpSettings,
) -> Response:
    """GET ``url``; raise :class:`FetchError` with a kind for every way it can fail."""
    try:
        with session.get(
            url,
            params=dict(params),
            headers={"User-Agent": http.user_agent, **headers},
            auth=auth,
            timeout=http.timeout_s,
            stream=True,
        ) as response:
            _check_status(response)
            body = _read_capped(response, http.max_payload_bytes)
            return Response(response.status_code, body, response.headers.get("Content-Type"))
    except FetchError:
        raise
    except requests.Timeout as exc:
        raise FetchError("timeout", f"timed out after {http.timeout_s:g} s") from exc
    except requests.exceptions.ChunkedEncodingError as exc:
        raise FetchError("truncated", f"the response ended early: {_first_line(exc)}") from exc
    except requests.ConnectionError as exc:
        if _caused_by(exc, ReadTimeoutError):
            raise FetchError("timeout", f"read timed out after {http.timeout_s:g} s") from exc
        if _caused_by(exc, ProtocolError) and "IncompleteRead" in str(exc):
            raise FetchError("truncated", f"the response ended early: {_first_line(exc)}") from exc
        raise FetchError("connection", _first_line(exc)) from exc
    except requests.RequestException as exc:
        raise FetchError("connection", _first_line(exc)) from exc


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
