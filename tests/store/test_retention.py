"""Retention of the plain tables on both backends (eta/store/retention.py): raw payloads with their files
and quarantine rows, collector runs, finished deliveries, old served calibrations; a dry run counts the
same and removes nothing."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, func, insert, select

from eta.config import Settings
from eta.store.ids import call_key_id, service_key_id
from eta.store.retention import prune_tables
from eta.store.schema import (
    Call,
    CollectorRun,
    NotificationDelivery,
    QuarantinedPayload,
    RawPayload,
    ServedCalibration,
    Service,
    Subscription,
    metadata,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=40)  # past every default retention but the aggregates'
RECENT = NOW - timedelta(days=2)


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(metadata.tables[table])).scalar_one())


def _payload(engine: Engine, settings: Settings, fetched_at: datetime, path: str, body: bytes | None) -> None:
    size = 0
    if body is not None:
        file = settings.data_dir / "raw" / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(gzip.compress(body))
        size = file.stat().st_size
    with engine.begin() as conn:
        conn.execute(
            insert(RawPayload).values(
                source="db-iris",
                kind="fchg",
                params={},
                fetched_at=fetched_at,
                path=path,
                size_bytes=size,
                sha256="0" * 64,
                status="parsed",
            )
        )


def _fill(engine: Engine, settings: Settings) -> None:
    old_path = f"db-iris/{OLD.date()}/old__fchg__eva=8011160.xml.gz"
    _payload(engine, settings, OLD, old_path, b"<timetable/>" * 100)
    _payload(engine, settings, OLD, "recorded.tar.gz:fchg/8011160.xml", None)  # a replay's: no file of ours
    _payload(engine, settings, RECENT, f"db-iris/{RECENT.date()}/new__fchg__eva=8011160.xml.gz", b"<x/>")
    service_id = service_key_id("train", "ICE", "598", "2026-06-01", "")
    call_id = call_key_id(service_id, 1)
    with engine.begin() as conn:
        conn.execute(
            insert(QuarantinedPayload).values(
                source="db-iris", path=old_path, quarantined_at=OLD, error_kind="xml", message="bad"
            )
        )
        for started in (OLD, RECENT):
            conn.execute(insert(CollectorRun).values(collector="db-iris", started_at=started, ok=True))
        conn.execute(
            insert(Service).values(
                id=service_id,
                mode="train",
                operator="ICE",
                number="598",
                service_date=date(2026, 6, 1),
                leg="",
                source="test",
            )
        )
        conn.execute(insert(Call).values(id=call_id, service_id=service_id, sequence=1, location="8011160"))
        conn.execute(
            insert(Subscription).values(
                id="sub",
                token_hash="0" * 64,
                call_id=call_id,
                target_url="enc1:x",
                secret="enc1:y",
                watch_platform=True,
                consent_at=OLD,
                created_at=OLD,
                expires_at=NOW,
            )
        )
        for i, (created, state) in enumerate(
            ((OLD, "delivered"), (OLD, "failed"), (OLD, "pending"), (RECENT, "delivered"))
        ):
            conn.execute(
                insert(NotificationDelivery).values(
                    subscription_id="sub",
                    message_id=f"msg_{i}",
                    event_type="arrival.changed",
                    payload={},
                    created_at=created,
                    state=state,
                )
            )
        for computed, version in ((OLD, "a"), (OLD + timedelta(hours=1), "a"), (OLD, "b"), (RECENT, "a")):
            conn.execute(
                insert(ServedCalibration).values(
                    model_version=version,
                    computed_at=computed,
                    arrivals_from=OLD,
                    arrivals_until=OLD,
                    n=1,
                    coverage_before=0.8,
                    calibration={},
                )
            )


def test_each_table_keeps_what_its_retention_says(store: Engine, settings: Settings) -> None:
    _fill(store, settings)
    before = {t: _count(store, t) for t in metadata.tables}
    counted = {p.table: p.rows for p in prune_tables(store, settings, NOW, dry_run=True)}
    assert {t: _count(store, t) for t in metadata.tables} == before  # a dry run removes nothing
    assert (settings.data_dir / "raw" / "db-iris" / str(OLD.date())).is_dir()
    pruned = {p.table: p for p in prune_tables(store, settings, NOW)}
    assert (
        {t: p.rows for t, p in pruned.items()}
        == counted
        == {
            "raw_payloads": 2,  # the old fetched one and the old replayed one
            "collector_runs": 1,
            "notification_deliveries": 2,  # the pending one stays, however old
            "served_calibrations": 2,  # the newest of model b stays though old; of a, the recent one
            "accuracy_daily": 0,
            "services": 0,  # 40 days is well inside the history kept (400 days)
            "weather": 0,
        }
    )
    assert pruned["raw_payloads"].bytes > 0
    assert not (settings.data_dir / "raw" / "db-iris" / str(OLD.date())).exists()  # file and folder gone
    assert (settings.data_dir / "raw" / "db-iris" / str(RECENT.date())).is_dir()
    assert (_count(store, "raw_payloads"), _count(store, "quarantine"), _count(store, "collector_runs")) == (
        1,
        0,
        1,
    )
    with store.connect() as conn:
        states = sorted(conn.execute(select(NotificationDelivery.state)).scalars())
        kept = sorted(
            tuple(row)
            for row in conn.execute(select(ServedCalibration.model_version, ServedCalibration.computed_at))
        )
    assert states == ["delivered", "pending"]
    assert [version for version, _ in kept] == ["a", "b"] and kept[0][1] == RECENT
    assert all(p.rows == 0 for p in prune_tables(store, settings, NOW))  # nothing left to remove
    # the history: a service past it goes with its calls and subscriptions (and their deliveries)
    history = settings.model_copy(
        update={"store": settings.store.model_copy(update={"history_keep_days": 1})}
    )
    assert {p.table: p.rows for p in prune_tables(store, history, NOW + timedelta(days=2))}["services"] == 1
    assert (
        _count(store, "calls"),
        _count(store, "subscriptions"),
        _count(store, "notification_deliveries"),
    ) == (
        0,
        0,
        0,
    )
