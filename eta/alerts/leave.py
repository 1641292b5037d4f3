"""Time to leave: with the traveller's own travel time to the station or airport, leave so as to arrive
by the P10 arrival (9 in 10 arrivals are later). The notice goes out ``lead`` before that time; if the time
to leave then moves by at least ``threshold`` over ``confirm`` consecutive updates, a correction follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class LeaveWatch:
    notified_at: datetime | None = None  # the time to leave last sent
    streak: int = 0


@dataclass(frozen=True)
class LeaveNotice:
    kind: str  # leave_now | leave_time_changed
    leave_at: datetime
    previous: datetime | None


def leave_at(p10: datetime, travel_time_s: int) -> datetime:
    return p10 - timedelta(seconds=travel_time_s)


def check(
    watch: LeaveWatch,
    p10: datetime | None,
    travel_time_s: int,
    now: datetime,
    *,
    new_update: bool,
    lead_s: int,
    threshold_s: int,
    confirm: int,
) -> LeaveNotice | None:
    """The notice due now, if any (``watch`` is updated). Corrections count only new updates."""
    if p10 is None:
        return None
    target = leave_at(p10, travel_time_s)
    if watch.notified_at is None:
        if now >= target - timedelta(seconds=lead_s):
            watch.notified_at = target
            return LeaveNotice("leave_now", target, None)
        return None
    if not new_update:
        return None
    moved = abs((target - watch.notified_at).total_seconds()) >= threshold_s
    watch.streak = watch.streak + 1 if moved else 0
    if watch.streak < confirm:
        return None
    notice = LeaveNotice("leave_time_changed", target, watch.notified_at)
    watch.notified_at, watch.streak = target, 0
    return notice
