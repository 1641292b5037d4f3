"""The app's shutdown ends its background tasks even when one swallows a cancellation."""

from __future__ import annotations

import asyncio
import contextlib

from eta.api.app import cancel_all


async def _swallows_first_cancellation(ended: list[bool]) -> None:
    # What asyncio.wait_for does on Python 3.11 when the cancellation meets its inner future's completion.
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)
    await asyncio.sleep(3600)  # the probe loop's next sleep: only a second cancellation ends it
    ended.append(True)


def test_cancel_all_ends_a_task_that_swallowed_its_first_cancellation() -> None:
    async def main() -> bool:
        ended: list[bool] = []
        task = asyncio.create_task(_swallows_first_cancellation(ended))
        plain = asyncio.create_task(asyncio.sleep(3600))
        await asyncio.sleep(0)
        shutdown = asyncio.create_task(cancel_all([task, plain]))
        await asyncio.wait([shutdown], timeout=10)  # waits without cancelling anything
        return shutdown.done() and task.done() and plain.done() and not ended

    assert asyncio.run(main())
