"""The store on both backends: migrations, UTC round trips, idempotent bulk writes, atomic batches."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from eta.importers._write import write_batch
from eta.store.bulk import insert_ignore
from eta.store.engine import make_engine
from eta.store.ids import call_key_id, service_key_id
from eta.store.migrate import current_revisions, head_revisions, upgrade
from eta.store.queries import latest_state, observations_as_of
from eta.store.schema import TABLES, Call, Service, metadata

CEST = timezone(timedelta(hours=2))


def _service(number: str = "598") -> dict[str, object]:
    return {
        "id": service_key_id("train", "ICE", number, "2026-05-12", ""),
        "mode": "train",
        "operator": "ICE",
        "number": number,
        "service_date": date(2026, 5, 12),
        "leg": "",
        "source": "test",
    }


def _call(service_id: int, sequence: int, arrival: datetime) -> dict[str, object]:
    return {
        "id": call_key_id(service_id, sequence),
        "service_id": service_id,
        "sequence": sequence,
        "location": f"80000{sequence}",
        "location_tz": "Europe/Berlin",
        "scheduled_arrival": arrival,
    }


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(metadata.tables[table])).scalar_one())


def test_upgrade_creates_every_table_and_is_idempotent(store: Engine) -> None:
    assert set(TABLES) <= set(inspect(store).get_table_names())
    assert current_revisions(store) == head_revisions(store)
    assert upgrade(store) == ", ".join(sorted(head_revisions(store)))


_UPGRADE_AT = """
import sys, time
from eta.store.engine import make_engine
from eta.store.migrate import upgrade
engine = make_engine(sys.argv[1])
while time.time() < float(sys.argv[2]):  # all start migrating at the same instant
    time.sleep(0.001)
print(upgrade(engine))
"""


def test_processes_opening_a_fresh_store_together_migrate_it_once(store_url: str) -> None:
    start = time.time() + 4  # after every interpreter has imported eta
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _UPGRADE_AT, store_url, str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outcomes = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    engine = make_engine(store_url)
    heads = ", ".join(sorted(head_revisions(engine)))
    assert [(rc, out.strip()) for rc, out, _ in outcomes] == [(0, heads)] * 3, [
        e[-300:] for *_, e in outcomes
    ]
    assert current_revisions(engine) == head_revisions(engine)
    engine.dispose()


def test_times_round_trip_as_utc(store: Engine) -> None:
    service = _service()
    local = datetime(2026, 5, 12, 14, 32, tzinfo=CEST)
    with Session(store) as session, session.begin():
        session.add(Service(**service))
        session.flush()
        session.add(Call(**_call(int(service["id"]), 1, local)))  # type: ignore[arg-type]
    with Session(store) as session:
        stored = session.scalars(select(Call)).one().scheduled_arrival
    assert stored == local
    assert stored is not None and stored.utcoffset() == timedelta(0)
    assert stored.hour == 12


def test_naive_datetimes_are_refused(store: Engine) -> None:
    service = _service()
    with pytest.raises(StatementError, match="naive datetime"), Session(store) as session, session.begin():
        session.add(Service(**service))
        session.add(Call(**_call(int(service["id"]), 1, datetime(2026, 5, 12, 14, 32))))  # type: ignore[arg-type]


def test_bulk_insert_skips_existing_keys(store: Engine) -> None:
    service = _service()
    arrival = datetime(2026, 5, 12, 12, 32, tzinfo=UTC)
    calls = pd.DataFrame([_call(int(service["id"]), q, arrival + timedelta(minutes=q)) for q in range(5)])
    with store.begin() as conn:
        assert insert_ignore(conn, metadata.tables["services"], pd.DataFrame([service])) == 1
        assert insert_ignore(conn, metadata.tables["calls"], calls) == 5
    with store.begin() as conn:
        assert insert_ignore(conn, metadata.tables["services"], pd.DataFrame([service])) == 0
        assert insert_ignore(conn, metadata.tables["calls"], calls, batch_size=2) == 0
    assert _count(store, "calls") == 5
    with store.connect() as conn:
        first = conn.execute(select(Call.scheduled_arrival).where(Call.sequence == 0)).scalar_one()
    assert first == arrival


def test_observations_are_unique_per_call_source_and_time(store: Engine) -> None:
    service = _service()
    at = datetime(2026, 5, 12, 12, 0, tzinfo=UTC)
    call = _call(int(service["id"]), 0, at)
    obs = pd.DataFrame(
        [
            {"call_id": call["id"], "observed_at": at, "source": "a", "platform": "12"},
            {"call_id": call["id"], "observed_at": at, "source": "b", "platform": "13"},
            {
                "call_id": call["id"],
                "observed_at": at + timedelta(minutes=1),
                "source": "a",
                "platform": "14",
            },
        ]
    )
    frames = {"services": pd.DataFrame([service]), "calls": pd.DataFrame([call]), "observations": obs}
    assert write_batch(store, frames, 100)["observations"] == 3
    assert write_batch(store, frames, 100).get("observations", 0) == 0
    assert _count(store, "observations") == 3


def test_a_failing_batch_writes_nothing(store: Engine) -> None:
    service = _service()
    orphan = _call(service_key_id("train", "RE", "1", "2026-05-12", ""), 0, datetime(2026, 5, 12, tzinfo=UTC))
    frames = {"services": pd.DataFrame([service]), "calls": pd.DataFrame([orphan])}
    with pytest.raises(IntegrityError):
        write_batch(store, frames, 100)
    assert _count(store, "services") == 0


def test_state_as_of_t_uses_only_what_was_observed_by_t(store: Engine) -> None:
    service = _service()
    t0 = datetime(2026, 5, 12, 12, 0, tzinfo=UTC)
    call = _call(int(service["id"]), 0, t0 + timedelta(hours=1))
    obs = pd.DataFrame(
        [
            {
                "call_id": call["id"],
                "observed_at": t0,
                "source": "iris",
                "platform": "12",
                "estimated_arrival": t0 + timedelta(hours=1, minutes=5),
            },
            {
                "call_id": call["id"],
                "observed_at": t0 + timedelta(minutes=30),
                "source": "iris",
                "estimated_arrival": t0 + timedelta(hours=1, minutes=9),
            },
            {
                "call_id": call["id"],
                "observed_at": t0 + timedelta(minutes=50),
                "source": "iris",
                "platform": "14",
            },
        ]
    )
    write_batch(
        store, {"services": pd.DataFrame([service]), "calls": pd.DataFrame([call]), "observations": obs}, 100
    )

    before_change = latest_state(observations_as_of(store, t0 + timedelta(minutes=40))).loc[call["id"]]
    assert before_change["platform"] == "12"
    assert before_change["estimated_arrival"] == pd.Timestamp(t0 + timedelta(hours=1, minutes=9))

    after_change = latest_state(observations_as_of(store, t0 + timedelta(minutes=50))).loc[call["id"]]
    assert after_change["platform"] == "14"
    assert after_change["estimated_arrival"] == pd.Timestamp(t0 + timedelta(hours=1, minutes=9))

    assert observations_as_of(store, t0 - timedelta(seconds=1)).empty


def test_migrations_create_exactly_the_declared_schema(store: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with store.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], "a model changed without a migration: run alembic revision --autogenerate"
