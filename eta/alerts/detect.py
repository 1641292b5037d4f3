"""Change detection with hysteresis: a change is notified only once ``confirm_updates`` consecutive
prediction updates agree on it, so one noisy update fires nothing. An operator's platform announcement
is not noise and is notified at once; a change of eta's predicted platform before any announcement is
notified only to those who opted in to it (``watch_predicted_platform``).
"""

from __future__ import annotations

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


def observe(
    watch: Watch,
    update: Update,
    *,
    watch_platform: bool,
    arrival_threshold_s: int | None,
    confirm: int,
    watch_predicted_platform: bool = False,
) -> list[Change]:
    """Fold one update into ``watch`` (mutated) and return the changes to notify."""
    changes: list[Change] = []
    if update.p50 is not None and arrival_threshold_s is not None:
        changes += _arrival(watch, update.p50, arrival_threshold_s, confirm)
    if watch_platform and update.platform is not None:
        # the first platform seen is the baseline; after it, a prediction that nobody asked to hear of
        # changes nothing: the notified platform stands until the operator announces another
        if update.platform_announced or watch_predicted_platform or watch.notified_platform is None:
            changes += _platform(watch, update.platform, update.platform_announced, confirm)
        else:
            watch.platform_candidate, watch.platform_streak = None, 0
    return changes


def _arrival(watch: Watch, p50: datetime, threshold_s: int, confirm: int) -> list[Change]:
    if watch.notified_arrival is None:  # the first prediction seen is the baseline, not a change
        watch.notified_arrival = p50
        return []
    moved = abs((p50 - watch.notified_arrival).total_seconds()) >= threshold_s
    watch.arrival_streak = watch.arrival_streak + 1 if moved else 0
    if watch.arrival_streak < confirm:
        return []
    change = Change("arrival_changed", watch.notified_arrival, p50)
    watch.notified_arrival, watch.arrival_streak = p50, 0
    return [change]


def _platform(watch: Watch, platform: str, announced: bool, confirm: int) -> list[Change]:
    if watch.notified_platform is None:
        watch.notified_platform = platform
        return []
    if platform == watch.notified_platform:
        watch.platform_candidate, watch.platform_streak = None, 0
        return []
    if platform == watch.platform_candidate:
        watch.platform_streak += 1
    else:
        watch.platform_candidate, watch.platform_streak = platform, 1
    if watch.platform_streak < confirm and not announced:
        return []
    change = Change("platform_changed", watch.notified_platform, platform)
    watch.notified_platform, watch.platform_candidate, watch.platform_streak = platform, None, 0
    return [change]
