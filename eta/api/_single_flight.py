"""One build per key at a time: concurrent callers asking for the same missing answer share it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """Builds in flight by key; a caller that finds one awaits its result instead of building again."""

    def __init__(self) -> None:
        self._building: dict[Hashable, asyncio.Future[T]] = {}

    def pending(self, key: Hashable) -> asyncio.Future[T] | None:
        """The build in flight for ``key``, if any (await it through :func:`asyncio.shield`)."""
        return self._building.get(key)

    async def run(self, key: Hashable, build: Callable[[], Awaitable[T]]) -> T:
        """Run ``build`` as the one build for ``key``; its result or exception reaches every waiter."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._building[key] = future
        try:
            result = await build()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            self._building.pop(key, None)
        future.set_result(result)
        return result
