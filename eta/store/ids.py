"""Deterministic ids from natural keys, so bulk writes from any source are idempotent without lookups."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import pandas as pd

_MASK = (1 << 63) - 1
# A service's number as URLs take it: flight and train numbers, and GTFS trip ids as feeds write them
# (``de:vbb:…:2026-08-18T04:00:00+02:00:1``; a named GTFS instance's ``gtfs-nl:1536569``), no longer than
# the column; no ``/``, ``?``, ``#``, ``%`` or spaces.
SERVICE_NUMBER = r"^[A-Za-z0-9][A-Za-z0-9:._+-]{0,127}$"
# A station or airport code as URLs take it: EVA/UIC numbers, IATA codes, GTFS stop ids, and a named GTFS
# instance's ``<instance>:<stop_id>`` (``gtfs-nl:2422184``), no longer than the location columns (0022).
LOCATION_CODE = r"^[A-Za-z0-9:_.-]{1,128}$"


def stable_id(*parts: object) -> int:
    """A positive 63-bit id from the key parts (blake2b; collisions are ~1e-7 at 1e6 keys)."""
    key = "\x1f".join("" if p is None else str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") & _MASK


def service_key_id(mode: object, operator: object, number: object, service_date: object, leg: object) -> int:
    return stable_id("service", mode, operator, number, service_date, leg)


def call_key_id(service_id: int, sequence: int) -> int:
    return stable_id("call", service_id, sequence)


def service_ids(frame: pd.DataFrame) -> pd.Series:
    """Vectorised :func:`service_key_id` over columns mode, operator, number, service_date, leg."""
    keyed = frame[["mode", "operator", "number", "service_date", "leg"]].copy()
    keyed["service_date"] = pd.to_datetime(keyed["service_date"]).dt.strftime("%Y-%m-%d")
    rows: Iterable[tuple[object, ...]] = keyed.itertuples(index=False, name=None)
    ids: list[int] = [service_key_id(*r) for r in rows]
    return pd.Series(ids, index=frame.index, dtype="int64")


def call_ids(service_id: pd.Series, sequence: pd.Series) -> pd.Series:
    pairs = zip(service_id.tolist(), sequence.tolist(), strict=True)
    return pd.Series([call_key_id(s, q) for s, q in pairs], index=service_id.index, dtype="int64")
