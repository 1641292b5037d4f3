"""Time helpers: everything is timezone-aware; the store keeps UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

UTC_ZONE = UTC


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_naive(times: pd.Series) -> np.ndarray:
    """Times as naive UTC ``datetime64[us]`` values (NaT kept), for vectorised comparisons."""
    return pd.to_datetime(times, utc=True).dt.tz_localize(None).to_numpy(dtype="datetime64[us]")


def utc_micros(times: pd.Series) -> np.ndarray:
    """UTC times as integer microseconds since the epoch."""
    return utc_naive(times).astype("int64")


def ensure_utc(value: datetime) -> datetime:
    """Convert an aware datetime to UTC; refuse naive ones (their zone is a guess)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no time zone")
    return value.astimezone(UTC)


def local_to_utc(dates: pd.Series, minutes_of_day: pd.Series, tz: str | pd.Series) -> pd.Series:
    """Local wall-clock (date + minutes after midnight) in zone ``tz`` → UTC timestamps.

    Nonexistent times (spring-forward gap) move forward; ambiguous ones (autumn fold) take the
    first occurrence (summer time), which is how timetables print them.
    """
    naive = pd.to_datetime(dates) + pd.to_timedelta(minutes_of_day, unit="min")
    if isinstance(tz, str):
        return _localize(naive, tz)
    out = pd.Series(pd.NaT, index=naive.index, dtype="datetime64[us, UTC]")
    for zone, idx in naive.groupby(tz).groups.items():
        out.loc[idx] = _localize(naive.loc[idx], str(zone))
    return out


def _localize(naive: pd.Series, tz: str) -> pd.Series:
    dst_first = pd.Series(True, index=naive.index).to_numpy()
    local = naive.dt.tz_localize(tz, ambiguous=dst_first, nonexistent="shift_forward")
    return local.dt.tz_convert("UTC").astype("datetime64[us, UTC]")


def local_iso(value: datetime, tz: str | None) -> str:
    """RFC 3339 string in the location's own offset (UTC when the zone is unknown)."""
    zone = ZoneInfo(tz) if tz else UTC
    return ensure_utc(value).astimezone(zone).isoformat()


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date like 2026-05-01") from exc
