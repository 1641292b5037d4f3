"""The one runner every collector goes through.

A run: skip while the circuit is open; pick up payloads archived earlier but never written (a crash, a
locked store); fetch each request with timeouts and retries (exponential backoff with jitter, honouring
``Retry-After``); archive every body before parsing; parse; quarantine what cannot be parsed and keep the
rest; resolve source ids to calls and drop unchanged reports; write the batch idempotently in one
transaction; then record the run, the collector's state (primed, last success, failures, circuit) and
the metrics. Nothing that was fetched is lost: if the write fails, the archived payloads are written by
the next run, read back from the archive (the source of truth): the runner keeps no payloads in memory
between runs, whatever the length of an outage. While the store refuses writes, the runs are counted and
remembered (the last ``MAX_UNRECORDED``) and written to ``collector_runs`` once it takes them; the circuit
opens after ``circuit_failures`` of them as it does for a failing source.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pandas as pd
import requests
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import DBAPIError

from eta._time import utcnow
from eta.collectors import archive, validate
from eta.collectors.base import Adapter, FetchError, Payload, PayloadError, Request, Response, Rows
from eta.collectors.http import with_retries
from eta.collectors.metrics import CollectorMetrics, default_metrics
from eta.collectors.resolve import Resolver
from eta.config import Settings
from eta.store.bulk import WRITE_ORDER, insert_ignore
from eta.store.schema import Call, CollectorRun, CollectorState, QuarantinedPayload, RawPayload, metadata

log = logging.getLogger("eta.collectors")
T = TypeVar("T")
MAX_UNRECORDED = 100  # failed runs remembered while the store cannot record them


@dataclass
class RunResult:
    """What one run (or one replayed cycle) did."""

    collector: str
    started_at: datetime
    ok: bool = False
    skipped: bool = False
    fetched: int = 0
    written: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)
    rows_rejected: Counter[str] = field(default_factory=Counter)  # invalid rows taken out (validate.py)
    errors: Counter[str] = field(default_factory=Counter)
    error_message: str | None = None
    unchanged: int = 0
    capped: int = 0  # requests with more pages than max_pages: the rest was not read
    pending: int = 0
    expired: int = 0
    duration_s: float = 0.0
    data_until: datetime | None = None
    touched_calls: set[int] = field(default_factory=set)  # calls with new observations or timetable rows

    @property
    def rows_written(self) -> int:
        return sum(self.written.values())

    @property
    def error_kind(self) -> str | None:
        return self.errors.most_common(1)[0][0] if self.errors else None

    def line(self) -> str:
        tables = ", ".join(f"{n:,} {t}" for t, n in sorted(self.written.items()) if n) or "no new rows"
        parts = [f"{self.collector}: {'ok' if self.ok else 'skipped' if self.skipped else 'FAILED'}"]
        parts.append(f"{self.fetched} payloads, {tables}")
        if self.quarantined:
            parts.append(f"{sum(self.quarantined.values())} quarantined {dict(self.quarantined)}")
        if self.rows_rejected:
            parts.append(f"{sum(self.rows_rejected.values())} rows rejected {dict(self.rows_rejected)}")
        if self.errors:
            parts.append(f"errors {dict(self.errors)}")
        if self.pending:
            parts.append(f"{self.pending} reports wait for their call")
        if self.capped:
            parts.append(f"{self.capped} requests had more pages than max_pages")
        return "; ".join(parts) + f" ({self.duration_s:.2f} s)"


class _View:
    """The adapter's window on its own history: the raw payload index."""

    def __init__(self, engine: Engine | None, source: str) -> None:
        self.engine = engine  # None: the store is away, nothing is known to be parsed
        self.source = source

    def parsed_since(self, kind: str, since: datetime) -> list[tuple[datetime, dict[str, str]]]:
        if self.engine is None:
            return []
        query = select(RawPayload.fetched_at, RawPayload.params).where(
            RawPayload.source == self.source,
            RawPayload.kind == kind,
            RawPayload.status == "parsed",
            RawPayload.fetched_at >= since,
        )
        with self.engine.connect() as conn:
            return [(at, dict(params)) for at, params in conn.execute(query)]


class Runner:
    """Runs one adapter: ``run_once`` (live), ``ingest`` (replay, reprocess), ``reprocess``."""

    def __init__(
        self,
        adapter: Adapter,
        engine: Engine,
        settings: Settings,
        *,
        session: requests.Session | None = None,
        metrics: CollectorMetrics | None = None,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.adapter = adapter
        self.engine = engine
        self.settings = settings
        self.session = session or requests.Session()
        self.metrics = metrics or default_metrics()
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.resolver = Resolver(engine, settings.collectors.pending_max_age_s)
        self._recovered = False
        self._unwritten_since: datetime | None = None  # oldest payload archived but not written
        # runs the store could not record, oldest first; and the circuit while it cannot hold it
        self._unrecorded: deque[RunResult] = deque(maxlen=MAX_UNRECORDED)
        self._failures_unrecorded = 0
        self._circuit_until: datetime | None = None
        self._secrets = [s for s in _secret_values(settings, adapter) if len(s) >= 4]

    @property
    def name(self) -> str:
        return self.adapter.name

    # ---- a live run ---------------------------------------------------------------------------------

    def run_once(self, now: datetime | None = None) -> RunResult:
        """One run starting at ``now`` (default: the clock); payloads carry the clock's time at fetch."""
        now = now or self.clock()
        started = time.monotonic()
        result = RunResult(self.name, now)
        if self._circuit_until is not None and now < self._circuit_until:
            return self._skip(result, self._circuit_until)
        store_down = False
        try:
            state = self._state()
            payloads = self._recover(now)
        except DBAPIError as exc:  # the store is away: fetch and archive anyway, written after it is back
            self._store_failed(result, exc)
            log.error("%s: the store is unavailable (%s)", self.name, result.error_message)
            store_down, state, payloads = True, None, []
        if state is not None and state.circuit_open_until is not None and now < state.circuit_open_until:
            return self._skip(result, state.circuit_open_until)
        circuit_until: datetime | None = None
        requests_: list[Request] = []
        receive_failed = False
        if self.adapter.push:
            receive_failed = not self._receive(payloads, result)
        else:
            try:
                view = _View(None if store_down else self.engine, self.adapter.source)
                requests_ = self.adapter.requests(now, view)
            except DBAPIError as exc:
                self._store_failed(result, exc)
        for request in requests_:
            page: Request | None = request
            pages = 0
            while page is not None:
                try:
                    payload = self._fetch(page, result)
                except FetchError as exc:  # pages fetched before this one are kept
                    result.error_message = self._redact(f"{page.kind} {page.as_dict()}: {exc}")
                    log.warning("%s: %s", self.name, result.error_message)
                    if (
                        exc.retry_after_s is not None
                        and exc.retry_after_s > self.settings.collectors.http.max_retry_after_s
                    ):
                        circuit_until = now + timedelta(seconds=exc.retry_after_s)
                    break
                payloads.append(payload)
                pages += 1
                page = self._next_page(page, payload, pages, result)
        if payloads and store_down:
            self._defer(payloads)
        elif payloads:
            self._ingest_into(result, payloads, now, external=False)
        fetch_failed = (bool(requests_) and result.fetched == 0) or receive_failed
        store_failed = any(kind.startswith("store") for kind in result.errors)
        all_quarantined = result.fetched > 0 and sum(result.quarantined.values()) >= len(payloads)
        result.ok = not (fetch_failed or store_failed or all_quarantined)
        result.duration_s = time.monotonic() - started
        if store_down:  # not one more wait on the store this run: recorded by the first run it takes
            self.metrics.runs.labels(self.name, "failed").inc()
            self.metrics.duration.labels(self.name).observe(result.duration_s)
            self._remember(result, now)
        else:
            self._record(result, now, circuit_until)
        return result

    def _defer(self, payloads: list[Payload]) -> None:
        """Archived payloads the store did not take: a later run reads them back from the archive."""
        self._recovered = False
        oldest = min(p.fetched_at for p in payloads)
        if self._unwritten_since is None or oldest < self._unwritten_since:
            self._unwritten_since = oldest

    def _skip(self, result: RunResult, until: datetime) -> RunResult:
        result.skipped = True
        self.metrics.runs.labels(self.name, "skipped").inc()
        log.warning("%s: circuit open until %s, run skipped", self.name, until.isoformat())
        return result

    def _store_failed(self, result: RunResult, exc: DBAPIError) -> None:
        kind = _store_kind(exc)
        result.errors[kind] += 1
        self.metrics.errors.labels(self.name, kind).inc()
        result.error_message = self._redact(_first_line(exc))

    def _fetch(self, request: Request, result: RunResult) -> Payload:
        http = self.settings.collectors.http

        def on_error(exc: FetchError) -> None:
            result.errors[exc.kind] += 1
            self.metrics.errors.labels(self.name, exc.kind).inc()
            self.metrics.fetches.labels(self.name, exc.kind).inc()

        response: Response = with_retries(
            lambda: self.adapter.fetch(self.session, request, http),
            http,
            sleep=self.sleep,
            rng=self.rng,
            on_error=on_error,
        )
        self.metrics.fetches.labels(self.name, "ok").inc()
        return self._archived(request, response.body, response.content_type, self.clock(), result)

    def _archived(
        self, request: Request, body: bytes, content_type: str | None, fetched_at: datetime, result: RunResult
    ) -> Payload:
        path = archive.relative_path(self.adapter.source, request, fetched_at, self.adapter.extension)
        archive.write(self.settings.data_dir, path, body)  # before parsing, always
        result.fetched += 1
        return Payload(self.adapter.source, request, fetched_at, body, content_type, path)

    def _receive(self, payloads: list[Payload], result: RunResult) -> bool:
        """A push source's messages since the last run, archived like fetched bodies; False if the feed
        could not be read (or fell silent), which fails the run like a failed fetch."""
        try:
            messages = self.adapter.receive(self.clock, self.settings.collectors.http.max_payload_bytes)
        except FetchError as exc:
            result.errors[exc.kind] += 1
            self.metrics.errors.labels(self.name, exc.kind).inc()
            self.metrics.fetches.labels(self.name, exc.kind).inc()
            result.error_message = self._redact(str(exc))
            log.warning("%s: %s", self.name, result.error_message)
            return False
        for message in messages:
            self.metrics.fetches.labels(self.name, "ok").inc()
            payloads.append(
                self._archived(
                    message.request, message.body, message.content_type, message.received_at, result
                )
            )
        return True

    def _next_page(self, request: Request, payload: Payload, pages: int, result: RunResult) -> Request | None:
        """The next page's request, if the adapter names one and fewer than ``max_pages`` were read."""
        try:
            following = self.adapter.next_page(request, payload.body)
        except Exception:  # a body the adapter cannot read: parse() quarantines it; no further pages
            log.exception("%s: cannot read the next page from %s", self.name, payload.ref)
            return None
        if following is None or following == request:
            return None
        if pages >= self.adapter.max_pages:
            result.capped += 1
            log.info(
                "%s: %s %s: %d pages read, more left unread (max_pages)",
                self.name,
                request.kind,
                self._redact(str(request.as_dict())),
                pages,
            )
            return None
        return following

    def _recover(self, now: datetime) -> list[Payload]:
        """Payloads archived but never written (an earlier process died, or the store failed), oldest
        first, at most ``recover_max_payloads`` per run: the rest come with the next runs."""
        if self._recovered:
            return []
        since = archive.days_back(now, self.settings.collectors.recover_days)
        if self._unwritten_since is not None:
            since = min(since, self._unwritten_since.date())
        on_disk = archive.archived_paths(self.settings.data_dir, self.adapter.source, since)
        if not on_disk:
            self._recovered = True
            self._unwritten_since = None
            return []
        with self.engine.connect() as conn:
            query = select(RawPayload.path).where(
                RawPayload.source == self.adapter.source,
                RawPayload.fetched_at >= datetime.combine(since, datetime.min.time(), tzinfo=UTC),
            )
            indexed = set(conn.execute(query).scalars())
        missing = [p for p in on_disk if p not in indexed]
        limit = self.settings.collectors.recover_max_payloads
        self._recovered = len(missing) <= limit
        if self._recovered:
            self._unwritten_since = None
        if missing:
            log.info(
                "%s: %d archived payloads were never written; writing %d now",
                self.name,
                len(missing),
                min(limit, len(missing)),
            )
        return [self._from_archive(path) for path in sorted(missing, key=_fetched_at)[:limit]]

    def _from_archive(self, path: str) -> Payload:
        fetched_at, request = archive.parse_name(path)
        body = archive.read(self.settings.data_dir, path)
        return Payload(self.adapter.source, request, fetched_at, body, None, path)

    # ---- parse and write ----------------------------------------------------------------------------

    def ingest(
        self, payloads: list[Payload], now: datetime, *, record: bool = True, reprocess: bool = False
    ) -> RunResult:
        """Parse and write payloads that were not fetched by this runner (a replay), as one batch."""
        started = time.monotonic()
        result = RunResult(self.name, now, fetched=len(payloads))
        self._ingest_into(result, payloads, now, external=True, reprocess=reprocess)
        store_failed = any(kind.startswith("store") for kind in result.errors)
        result.ok = not store_failed
        result.duration_s = time.monotonic() - started
        if record:
            self._record(result, now, None)
        return result

    def _ingest_into(
        self,
        result: RunResult,
        payloads: list[Payload],
        now: datetime,
        external: bool,
        reprocess: bool = False,
    ) -> None:
        payloads = sorted(payloads, key=lambda p: p.fetched_at)
        rows = Rows()
        raw_rows: list[dict[str, object]] = []
        quarantine_rows: list[dict[str, object]] = []
        for payload in payloads:
            status = "parsed"
            try:
                self._check(payload)
                parsed = self.adapter.parse(payload)
                if self.adapter.rows_source is not None:  # a named instance: its rows under its name
                    parsed.retag(self.adapter.rows_source, self.adapter.source)
                rows.extend(_known_since(parsed, payload.fetched_at))
            except PayloadError as exc:
                status = "quarantined"
                quarantine_rows.append(self._quarantine_row(payload, exc.kind, str(exc), now))
            except Exception as exc:  # a parser crash must not stop the batch: quarantine and log it
                log.exception("%s: parser crashed on %s", self.name, payload.ref)
                status = "quarantined"
                quarantine_rows.append(self._quarantine_row(payload, "parser_crash", repr(exc), now))
            raw_rows.append(
                {
                    "source": payload.source,
                    "kind": payload.request.kind,
                    "params": payload.request.as_dict(),
                    "fetched_at": payload.fetched_at,
                    "path": payload.ref,
                    "size_bytes": len(payload.body),
                    "sha256": archive.sha256(payload.body),
                    "status": status,
                }
            )
        try:
            prepared = self.resolver.prepare(rows, now)
            limits = self.settings.collectors
            rejected = validate.check(
                prepared.rows, self._schedules(prepared.rows), limits.max_early_s, limits.max_late_s
            )
            written = self._write(prepared.rows, raw_rows, quarantine_rows, reprocess)
        except DBAPIError as exc:
            self._store_failed(result, exc)
            log.error(
                "%s: writing the batch failed (%s); its payloads are written from the archive by a later run",
                self.name,
                _store_kind(exc),
            )
            if not external and payloads:
                self._defer(payloads)
            return
        self.resolver.commit(prepared)
        result.written.update(written)
        result.touched_calls.update(
            int(str(r["call_id"])) for r in prepared.rows.tables.get("observations", [])
        )
        result.touched_calls.update(int(str(r["id"])) for r in prepared.rows.tables.get("calls", []))
        for table, n in written.items():
            self.metrics.rows.labels(self.name, table).inc(n)
        for kind, n in rejected.items():  # rows taken out of the batch; the rest was written
            result.rows_rejected[kind] += n
            self.metrics.quarantined.labels(self.name, f"row_{kind}").inc(n)
            log.warning("%s: %d rows rejected (%s); the rest of the batch was written", self.name, n, kind)
        for row in quarantine_rows:
            kind = str(row["error_kind"])
            result.quarantined[kind] += 1
            result.errors[kind] += 1
            self.metrics.quarantined.labels(self.name, kind).inc()
            self.metrics.errors.labels(self.name, kind).inc()
            log.warning("%s: quarantined %s (%s: %s)", self.name, row["path"], kind, row["message"])
        result.unchanged += prepared.unchanged
        result.pending = len(prepared.pending)
        result.expired += prepared.expired
        if payloads:
            result.data_until = max(p.fetched_at for p in payloads)

    def _schedules(self, rows: Rows) -> validate.Schedules:
        """Scheduled arrival and departure by call id: the batch's own calls, else the store's."""
        in_batch = {
            int(str(r["id"])): (_when(r.get("scheduled_arrival")), _when(r.get("scheduled_departure")))
            for r in rows.tables.get("calls", [])
        }

        def lookup(ids: set[int]) -> dict[int, tuple[datetime | None, datetime | None]]:
            found = {i: in_batch[i] for i in ids if i in in_batch}
            missing = sorted(ids - found.keys())
            if missing:
                with self.engine.connect() as conn:
                    for chunk in _chunks(missing, 500):
                        query = select(Call.id, Call.scheduled_arrival, Call.scheduled_departure)
                        for call_id, arrival, departure in conn.execute(query.where(Call.id.in_(chunk))):
                            found[int(call_id)] = (arrival, departure)
            return found

        return lookup

    def _check(self, payload: Payload) -> None:
        if not payload.body.strip():
            raise PayloadError("empty body", kind="empty")
        if payload.content_type is not None:
            media = payload.content_type.split(";", 1)[0].strip().lower()
            if not any(media.startswith(t) for t in self.adapter.content_types):
                raise PayloadError(f"unexpected content type {media!r}", kind="content_type")

    def _quarantine_row(self, payload: Payload, kind: str, message: str, now: datetime) -> dict[str, object]:
        return {
            "source": payload.source,
            "path": payload.ref,
            "quarantined_at": now,
            "error_kind": kind,
            "message": self._redact(message)[:500],
        }

    def _write(
        self,
        rows: Rows,
        raw_rows: list[dict[str, object]],
        quarantine_rows: list[dict[str, object]],
        reprocess: bool = False,
    ) -> dict[str, int]:
        """One transaction: every row of the batch, the archive index and the quarantine, or nothing."""
        written: dict[str, int] = {}
        batch_size = self.settings.db_batch_size
        with self.engine.begin() as conn:
            for table in WRITE_ORDER:
                table_rows = rows.tables.get(table)
                if table_rows:
                    frame = _frame(table, table_rows)
                    written[table] = insert_ignore(conn, metadata.tables[table], frame, batch_size)
            if raw_rows:
                insert_ignore(conn, metadata.tables["raw_payloads"], pd.DataFrame(raw_rows), batch_size)
                parsed = [str(r["path"]) for r in raw_rows if r["status"] == "parsed"]
                if parsed and reprocess:  # a reprocessed payload that now parses
                    source = str(raw_rows[0]["source"])
                    for chunk in _chunks(parsed, 500):
                        conn.execute(
                            update(RawPayload)
                            .where(
                                RawPayload.source == source,
                                RawPayload.path.in_(chunk),
                                RawPayload.status != "parsed",
                            )
                            .values(status="parsed")
                        )
                        conn.execute(
                            update(QuarantinedPayload)
                            .where(
                                QuarantinedPayload.source == source,
                                QuarantinedPayload.path.in_(chunk),
                                QuarantinedPayload.resolved_at.is_(None),
                            )
                            .values(resolved_at=self.clock())
                        )
            if quarantine_rows:
                insert_ignore(conn, metadata.tables["quarantine"], pd.DataFrame(quarantine_rows), batch_size)
        return written

    # ---- reprocessing --------------------------------------------------------------------------------

    def reprocess(self, since: datetime, *, only_quarantined: bool = False) -> RunResult:
        """Parse archived payloads fetched since ``since`` again (after a parser fix); write what is new."""
        query = select(RawPayload.path).where(
            RawPayload.source == self.adapter.source, RawPayload.fetched_at >= since
        )
        if only_quarantined:
            query = query.where(RawPayload.status == "quarantined")
        with self.engine.connect() as conn:
            paths = list(conn.execute(query.order_by(RawPayload.fetched_at)).scalars())
        payloads = [
            self._from_archive(p) for p in paths if (archive.root(self.settings.data_dir) / p).exists()
        ]
        return self.ingest(payloads, self.clock(), record=False, reprocess=True)

    # ---- state, runs, metrics ----------------------------------------------------------------------

    def _state(self) -> CollectorState | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(CollectorState).where(CollectorState.collector == self.name)).first()
        return None if row is None else CollectorState(**row._mapping)

    def _record(self, result: RunResult, now: datetime, circuit_until: datetime | None) -> None:
        self.metrics.runs.labels(self.name, "ok" if result.ok else "failed").inc()
        self.metrics.duration.labels(self.name).observe(result.duration_s)
        try:
            state = self._update_state(result, now, circuit_until)
        except DBAPIError as exc:
            log.error("%s: cannot record the run (%s)", self.name, self._redact(_first_line(exc)))
            self._remember(result, now)
            return
        self._unrecorded.clear()
        self._failures_unrecorded = 0
        self._circuit_until = None
        if state.primed_at is not None:
            self.metrics.primed.labels(self.name).set(1)
        if state.last_success_at is not None:
            self.metrics.last_success.labels(self.name).set(state.last_success_at.timestamp())
        if state.data_until is not None:
            self.metrics.lag.labels(self.name).set(max(0.0, (now - state.data_until).total_seconds()))
        is_open = state.circuit_open_until is not None and state.circuit_open_until > now
        self.metrics.circuit_open.labels(self.name).set(1 if is_open else 0)
        log.info("%s", result.line())

    def _remember(self, result: RunResult, now: datetime) -> None:
        """The store could not record this run: keep it for later, and hold the circuit here meanwhile."""
        self._unrecorded.append(result)
        if result.ok:
            return
        self._failures_unrecorded += 1
        cfg = self.settings.collectors
        if self._failures_unrecorded >= cfg.circuit_failures:
            self._circuit_until = now + timedelta(seconds=cfg.circuit_open_s)
            self.metrics.circuit_open.labels(self.name).set(1)
            log.error(
                "%s: %d runs failed on the store; circuit open until %s",
                self.name,
                self._failures_unrecorded,
                self._circuit_until.isoformat(),
            )

    def _update_state(
        self, result: RunResult, now: datetime, circuit_until: datetime | None
    ) -> CollectorState:
        cfg = self.settings.collectors
        with self.engine.begin() as conn:
            row = conn.execute(select(CollectorState).where(CollectorState.collector == self.name)).first()
            state = (
                CollectorState(**row._mapping)
                if row
                else CollectorState(collector=self.name, consecutive_failures=0)
            )
            values: dict[str, object] = {"last_attempt_at": now}
            if result.ok:
                values |= {"last_success_at": now, "consecutive_failures": 0, "circuit_open_until": None}
                if state.primed_at is None:
                    values["primed_at"] = now
            else:
                failures = (state.consecutive_failures or 0) + self._failures_unrecorded + 1
                values |= {"consecutive_failures": failures}
                if failures >= cfg.circuit_failures:
                    circuit_until = max(
                        filter(None, [circuit_until, now + timedelta(seconds=cfg.circuit_open_s)])
                    )
            if circuit_until is not None:
                values["circuit_open_until"] = circuit_until
            if result.error_kind:
                values |= {"last_error_at": now, "last_error_kind": result.error_kind}
            if result.data_until is not None and (
                state.data_until is None or result.data_until > state.data_until
            ):
                values["data_until"] = result.data_until
            if row:
                conn.execute(
                    update(CollectorState).where(CollectorState.collector == self.name).values(**values)
                )
            else:
                conn.execute(
                    metadata.tables["collector_state"]
                    .insert()
                    .values(collector=self.name, **{"consecutive_failures": 0, **values})
                )
            conn.execute(
                metadata.tables["collector_runs"].insert(),
                [self._run_row(r) for r in (*self._unrecorded, result)],
            )
            merged = {**{c.name: getattr(state, c.name) for c in CollectorState.__table__.columns}, **values}
        return CollectorState(**merged)

    def _run_row(self, result: RunResult) -> dict[str, object]:
        return {
            "collector": self.name,
            "started_at": result.started_at,
            "finished_at": result.started_at + timedelta(seconds=result.duration_s),
            "duration_s": result.duration_s,
            "ok": result.ok,
            "rows_written": result.rows_written,
            "rows_quarantined": sum(result.quarantined.values()) + sum(result.rows_rejected.values()),
            "error_kind": result.error_kind,
            "error_message": (result.error_message or "")[:500] or None,
        }

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


@dataclass(frozen=True)
class Cycle:
    """What an ``after_cycle`` callback is told: which collector ran, what it did, and where."""

    collector: str
    result: RunResult
    engine: Engine
    settings: Settings

    @property
    def made_at(self) -> datetime:
        """The (possibly simulated) time a prediction made after this cycle carries: no earlier than
        any observation the cycle wrote, so that the prediction can use all of them."""
        if self.result.data_until is None:
            return self.result.started_at
        return max(self.result.started_at, self.result.data_until)

    @property
    def call_ids(self) -> list[int]:
        return sorted(self.result.touched_calls)


AfterCycle = Callable[[Cycle], None]


def last_runs(engine: Engine, collector: str, limit: int = 10) -> list[CollectorRun]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(CollectorRun)
            .where(CollectorRun.collector == collector)
            .order_by(CollectorRun.started_at.desc(), CollectorRun.id.desc())
            .limit(limit)
        ).all()
    return [CollectorRun(**row._mapping) for row in rows]


def _known_since(rows: Rows, fetched_at: datetime) -> Rows:
    """The payload's calls as first known when it was fetched (a replay's snapshot time), or later where
    the rows say so (a store replayed writes its timetable at the window's start, each call with the time
    the source store first knew it): a later payload listing them again writes nothing (the first row of
    a call is kept)."""
    for call in rows.tables.get("calls", []):
        own = call.get("known_since")
        call["known_since"] = own if isinstance(own, datetime) and own > fetched_at else fetched_at
    return rows


def _frame(table: str, rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    keys = {"services": ["id"], "calls": ["id"], "call_refs": ["source", "ref"], "locations": ["code"]}
    if table in keys:
        frame = frame.drop_duplicates(keys[table])
    return frame


def _when(value: object) -> datetime | None:
    return value if isinstance(value, datetime) else None


def _chunks(items: list[T], size: int) -> Iterable[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _fetched_at(path: str) -> datetime:
    return archive.parse_name(path)[0]


def _store_kind(exc: DBAPIError) -> str:
    return "store_locked" if "locked" in str(exc).lower() else "store"


def _secret_values(settings: Settings, adapter: Adapter) -> list[str]:
    """Every SecretStr value of the shared collector settings and of the adapter's instance, to be masked
    in messages and logs."""
    from pydantic import BaseModel, SecretStr

    found: list[str] = []

    def walk(model: BaseModel) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, SecretStr):
                found.append(value.get_secret_value())
            elif isinstance(value, BaseModel):
                walk(value)

    walk(settings.collectors)
    walk(adapter.config)
    return found


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
