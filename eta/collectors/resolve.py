"""Observation rows → the rows to write: source ids resolved to call ids, unchanged reports dropped.

A source names its calls by its own ids (an IRIS stop id, a GTFS trip + stop sequence); ``call_refs``
maps them to eta's call ids. A report whose call is not known yet (its plan comes later) waits here
until it is, for at most ``pending_max_age_s``. A report whose state equals the last state written for
its call and source adds nothing and is dropped, so polling a source every minute does not multiply
rows. Both caches are only changed once the batch is committed (:meth:`Resolver.commit`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, select

from eta.collectors.base import Row, Rows
from eta.store.queries import STATE_FIELDS
from eta.store.schema import CallRef, Observation

State = tuple[object, ...]
LOOKUP_CHUNK = 500


def state_of(row: Row) -> State:
    return tuple(_normal(row.get(name)) for name in STATE_FIELDS)


def _normal(value: object) -> object:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


@dataclass
class Prepared:
    """The rows of a batch ready to write, and the cache updates to apply once they are committed."""

    rows: Rows
    refs: dict[tuple[str, str], int] = field(default_factory=dict)
    states: dict[tuple[int, str], State] = field(default_factory=dict)
    pending: list[Row] = field(default_factory=list)
    unchanged: int = 0
    expired: int = 0


class Resolver:
    def __init__(self, engine: Engine, pending_max_age_s: int) -> None:
        self.engine = engine
        self.max_age = timedelta(seconds=pending_max_age_s)
        self.refs: dict[tuple[str, str], int] = {}
        self.states: dict[tuple[int, str], State | None] = {}
        self.pending: list[Row] = []
        self._looked_up: set[tuple[str, str]] = set()

    def prepare(self, rows: Rows, now: datetime) -> Prepared:
        out = Rows()
        for table, table_rows in rows.tables.items():
            if table != "observations":
                out.add(table, table_rows)
        prepared = Prepared(out)
        new_refs = {
            (str(r["source"]), str(r["ref"])): _int(r["call_id"]) for r in rows.tables.get("call_refs", [])
        }
        prepared.refs = new_refs
        candidates = sorted([*self.pending, *rows.tables.get("observations", [])], key=_observed_at)
        self._look_up_refs([r for r in candidates if "call_id" not in r and _ref(r) not in new_refs])
        resolved = []
        for row in candidates:
            call_id = row.get("call_id")
            if call_id is None:
                call_id = self.refs.get(_ref(row)) or new_refs.get(_ref(row))
            if call_id is None:
                if now - _observed_at(row) <= self.max_age:
                    prepared.pending.append(row)
                else:
                    prepared.expired += 1
                continue
            resolved.append(
                {**{k: v for k, v in row.items() if k not in ("ref", "ref_source")}, "call_id": call_id}
            )
        self._load_states({(_int(r["call_id"]), str(r["source"])) for r in resolved})
        for row in resolved:
            key = (_int(row["call_id"]), str(row["source"]))
            state = state_of(row)
            last = prepared.states.get(key, self.states.get(key))
            if last == state:
                prepared.unchanged += 1
                continue
            prepared.states[key] = state
            out.add("observations", [row])
        return prepared

    def commit(self, prepared: Prepared) -> None:
        for key, call_id in prepared.refs.items():
            self.refs.setdefault(key, call_id)  # the first mapping wins, as in the store (insert-ignore)
        self.states.update(prepared.states)
        self.pending = prepared.pending

    def _look_up_refs(self, rows: Iterable[Row]) -> None:
        """Load unknown refs from the store, once each (later ones arrive with the batches that add them)."""
        wanted = {_ref(r) for r in rows} - self.refs.keys() - self._looked_up
        if not wanted:
            return
        self._looked_up |= wanted
        by_source: dict[str, list[str]] = {}
        for source, ref in wanted:
            by_source.setdefault(source, []).append(ref)
        with self.engine.connect() as conn:
            for source, refs in by_source.items():
                for start in range(0, len(refs), LOOKUP_CHUNK):
                    chunk = refs[start : start + LOOKUP_CHUNK]
                    query = select(CallRef.ref, CallRef.call_id).where(
                        CallRef.source == source, CallRef.ref.in_(chunk)
                    )
                    for ref, call_id in conn.execute(query):
                        self.refs[(source, ref)] = call_id

    def _load_states(self, keys: set[tuple[int, str]]) -> None:
        """The last state written per (call, source), for keys not yet cached (None: nothing written yet)."""
        missing = keys - self.states.keys()
        if not missing:
            return
        for key in missing:
            self.states[key] = None
        by_source: dict[str, list[int]] = {}
        for call_id, source in missing:
            by_source.setdefault(source, []).append(call_id)
        columns = [getattr(Observation, name) for name in STATE_FIELDS]
        with self.engine.connect() as conn:
            for source, call_ids in by_source.items():
                for start in range(0, len(call_ids), LOOKUP_CHUNK):
                    chunk = call_ids[start : start + LOOKUP_CHUNK]
                    query = (
                        select(Observation.call_id, *columns)
                        .where(Observation.source == source, Observation.call_id.in_(chunk))
                        .order_by(Observation.call_id, Observation.observed_at)
                    )
                    for call_id, *values in conn.execute(query):
                        self.states[(call_id, source)] = tuple(values)

    def preload(self, source: str, since: datetime) -> None:
        """Warm both caches for ``source`` (replays and restarts): refs and last states since ``since``."""
        with self.engine.connect() as conn:
            for ref, call_id in conn.execute(
                select(CallRef.ref, CallRef.call_id).where(CallRef.source == source)
            ):
                self.refs[(source, ref)] = call_id
            columns = [getattr(Observation, name) for name in STATE_FIELDS]
            query = (
                select(Observation.call_id, *columns)
                .where(Observation.source == source, Observation.observed_at >= since)
                .order_by(Observation.call_id, Observation.observed_at)
            )
            for call_id, *values in conn.execute(query):
                self.states[(call_id, source)] = tuple(values)


def _ref(row: Row) -> tuple[str, str]:
    return (str(row.get("ref_source") or row["source"]), str(row["ref"]))


def _observed_at(row: Row) -> datetime:
    value = row["observed_at"]
    assert isinstance(value, datetime)
    return value


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value
