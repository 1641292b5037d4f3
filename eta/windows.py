"""Backtest and training windows given on the command line: dates (whole days, UTC) or ISO times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from eta.errors import InputError


@dataclass(frozen=True)
class Window:
    """A half-open time range [start, end), with the text it was given as."""

    start: datetime
    end: datetime
    label_from: str
    label_until: str

    def as_list(self) -> list[str]:
        return [self.label_from, self.label_until]


def parse_instant(text: str, *, end_of_day: bool) -> datetime:
    """``2026-03-01`` → that day's UTC midnight (the next midnight when ``end_of_day``: dates are
    inclusive); a full ISO time with an offset is taken as it is."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end_of_day else start
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{text!r} is not a date (2026-03-01) or an ISO time with offset") from None
    if value.tzinfo is None:
        raise InputError(f"{text!r} has no UTC offset; write e.g. {text}+00:00")
    return value.astimezone(UTC)


def window(from_text: str, until_text: str, name: str) -> Window:
    start = parse_instant(from_text, end_of_day=False)
    end = parse_instant(until_text, end_of_day=True)
    if end <= start:
        raise InputError(f"the {name} window ends ({until_text}) before it starts ({from_text})")
    return Window(start, end, from_text, until_text)


def check_disjoint(train: Window, test: Window) -> None:
    """A backtest's test window must start after its training window ends (held-out time)."""
    if test.start < train.end:
        raise InputError(
            f"the test window ({test.label_from}) must start after the training window ends "
            f"({train.label_until}): accuracy is measured on held-out time"
        )
