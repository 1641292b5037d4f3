"""The answer cache: reuse within the TTL, one build for concurrent misses, errors not cached."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from eta.api.cache import AnswerCache


def test_answers_are_reused_until_they_expire() -> None:
    cache = AnswerCache(ttl_s=0.05)
    builds: list[int] = []

    def build() -> bytes:
        builds.append(1)
        return b"answer"

    async def scenario() -> list[bool]:
        hits = [(await cache.get_or_build("k", build))[1] for _ in range(3)]
        time.sleep(0.06)
        hits.append((await cache.get_or_build("k", build))[1])
        return hits

    assert asyncio.run(scenario()) == [False, True, True, False]
    assert len(builds) == 2


def test_concurrent_misses_share_one_build() -> None:
    cache = AnswerCache(ttl_s=5)
    started = threading.Event()
    builds: list[int] = []

    def slow_build() -> bytes:
        builds.append(1)
        started.set()
        time.sleep(0.1)
        return b"answer"

    async def scenario() -> list[tuple[bytes, bool]]:
        return list(await asyncio.gather(*(cache.get_or_build("trip", slow_build) for _ in range(20))))

    results = asyncio.run(scenario())
    assert len(builds) == 1
    assert {body for body, _ in results} == {b"answer"}
    assert sum(1 for _, hit in results if not hit) == 1


def test_a_failed_build_is_not_cached_and_reaches_every_waiter() -> None:
    cache = AnswerCache(ttl_s=5)

    def failing() -> bytes:
        time.sleep(0.05)
        raise LookupError("no such trip")

    async def scenario() -> list[object]:
        return list(
            await asyncio.gather(
                *(cache.get_or_build("x", failing) for _ in range(3)), return_exceptions=True
            )
        )

    outcomes = asyncio.run(scenario())
    assert all(isinstance(o, LookupError) for o in outcomes)
    assert cache.get("x") is None


def test_a_zero_ttl_caches_nothing() -> None:
    cache = AnswerCache(ttl_s=0)
    cache.put("k", b"v")
    assert cache.get("k") is None
    with pytest.raises(ZeroDivisionError):
        asyncio.run(cache.get_or_build("k", lambda: bytes(1 // 0)))
