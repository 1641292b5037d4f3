"""Change detection with hysteresis: a change is notified only once ``confirm_updates`` consecutive
prediction updates agree on it, so one noisy update fires nothing. An operator's platform announcement
is not noise and is notified at once; a change of eta's predicted platform before any announcement is
notified only to those who opted in to it (``watch_predicted_platform``).

Until a first notice, the subscriber knows the timetable: the first prediction after subscribing is
compared with the scheduled arrival and notified at once when it already differs by the threshold (there
is nothing earlier it could be noise against). The updates since the last examination are judged
together, and a notice carries the newest of them — the prediction in force when it is sent — never
one it superseded; a change undone by then is no news.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Update:
    """One served prediction for the watched call."""

    made_at: datetime
    p10: datetime | None
    p50: datetime | None
    p90: datetime | None
    platform: str | None
    platform_probability: float | None
    platform_announced: bool


@dataclass
class Watch:
    """What was last told to the subscriber, and the changes being confirmed."""

    notified_arrival: datetime | None = None
    notified_platform: str | None = None
    arrival_streak: int = 0
    platform_candidate: str | None = None
    platform_streak: int = 0


@dataclass(frozen=True)
class Change:
    kind: str  # arrival_changed | platform_changed
    previous: str | datetime | None
    current: str | datetime
    update: Update | None = None  # the prediction the notice carries


def examine(
    watch: Watch,
    updates: Sequence[Update],
    *,
    scheduled: datetime | None,
    watch_platform: bool,
    arrival_threshold_s: int | None,
    confirm: int,
    watch_predicted_platform: bool = False,
) -> list[Change]:
    """Fold the updates since the last examination (oldest first) into ``watch`` (mutated) and return
    the changes to notify, each carrying the newest update that shows it."""
    changes: list[Change] = []
    if arrival_threshold_s is not None:
        timed = [u for u in updates if u.p50 is not None]
        if timed:
            change = _arrival(watch, timed, scheduled, arrival_threshold_s, confirm)
            changes += [] if change is None else [change]
    if watch_platform:
        placed = [u for u in updates if u.platform is not None]
        if placed:
            change = _platforms(watch, placed, confirm, watch_predicted_platform)
            changes += [] if change is None else [change]
    return changes


def observe(
    watch: Watch,
    update: Update,
    *,
    watch_platform: bool,
    arrival_threshold_s: int | None,
    confirm: int,
    watch_predicted_platform: bool = False,
    scheduled: datetime | None = None,
) -> list[Change]:
    """One update at a time (:func:`examine` of one)."""
    return examine(
        watch,
        [update],
        scheduled=scheduled,
        watch_platform=watch_platform,
        arrival_threshold_s=arrival_threshold_s,
        confirm=confirm,
        watch_predicted_platform=watch_predicted_platform,
    )


def _arrival(
    watch: Watch, updates: Sequence[Update], scheduled: datetime | None, threshold_s: int, confirm: int
) -> Change | None:
    told = watch.notified_arrival
    first = told is None  # nothing seen since subscribing: the subscriber knows the timetable
    if told is None:
        if scheduled is None:  # no timetable to compare with: the first prediction is the baseline
            told, updates = updates[0].p50, updates[1:]
            watch.notified_arrival = told
            first = False
        else:
            told = scheduled
    assert told is not None
    streak, fired = watch.arrival_streak, False
    for update in updates:
        assert update.p50 is not None
        moved = _moved(update.p50, told, threshold_s)
        streak = streak + 1 if moved else 0
        fired = fired or streak >= (1 if first else confirm)
        first = False
    watch.notified_arrival = told
    watch.arrival_streak = streak
    if not updates:
        return None
    newest = updates[-1]
    assert newest.p50 is not None
    if not fired:
        return None
    watch.arrival_streak = 0
    if not _moved(newest.p50, told, threshold_s):  # undone before it was sent
        return None
    watch.notified_arrival = newest.p50
    return Change("arrival_changed", told, newest.p50, newest)


def _moved(p50: datetime, told: datetime, threshold_s: int) -> bool:
    return abs((p50 - told).total_seconds()) >= threshold_s


def _platforms(watch: Watch, updates: Sequence[Update], confirm: int, predicted: bool) -> Change | None:
    told = watch.notified_platform
    fired = False
    for update in updates:
        assert update.platform is not None
        # the first platform seen is the baseline; after it, a prediction that nobody asked to hear of
        # changes nothing: the notified platform stands until the operator announces another
        if update.platform_announced or predicted or watch.notified_platform is None:
            fired = _platform(watch, update.platform, update.platform_announced, confirm) or fired
        else:
            watch.platform_candidate, watch.platform_streak = None, 0
    current = watch.notified_platform
    if not fired or current is None or current == told:
        return None
    carried = next(u for u in reversed(updates) if u.platform == current)
    return Change("platform_changed", told, current, carried)


def _platform(watch: Watch, platform: str, announced: bool, confirm: int) -> bool:
    """Fold one platform into ``watch``; True when it changes the notified platform."""
    if watch.notified_platform is None:
        watch.notified_platform = platform
        return False
    if platform == watch.notified_platform:
        watch.platform_candidate, watch.platform_streak = None, 0
        return False
    if platform == watch.platform_candidate:
        watch.platform_streak += 1
    else:
        watch.platform_candidate, watch.platform_streak = platform, 1
    if watch.platform_streak < confirm and not announced:
        return False
    watch.notified_platform, watch.platform_candidate, watch.platform_streak = platform, None, 0
    return True
