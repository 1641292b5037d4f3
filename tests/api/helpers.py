"""Small helpers shared by the API tests: find calls, write predictions and observations."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select

from eta.alerts.cycle import AlertCycle
from eta.store.ids import call_key_id, service_key_id
from eta.store.schema import Call, Observation, Prediction


def berlin(text: str) -> datetime:
    """'2026-05-04 19:41' in Berlin summer time → aware UTC."""
    return (datetime.fromisoformat(text) - timedelta(hours=2)).replace(tzinfo=UTC)


def call_at(engine: Engine, operator: str, number: str, service_date: date, location: str) -> Any:
    service_id = service_key_id("train", operator, number, service_date, "")
    with engine.connect() as conn:
        return conn.execute(
            select(Call).where(Call.service_id == service_id, Call.location == location)
        ).one()


def fresh_munich_call(engine: Engine) -> Any:
    """ICE 1011 into München Hbf, 19:41 on 4 May 2026, its seeded predictions deleted: the test writes its
    own."""
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), "8000261")
    with engine.begin() as conn:
        conn.execute(delete(Prediction).where(Prediction.call_id == call.id))
    return call


def alert_cycle(client: TestClient) -> AlertCycle:
    """The alert cycle of ``client``'s app, driven by the test (the app's own is off in tests)."""
    state = client.app.state.eta  # type: ignore[attr-defined]
    return AlertCycle(state.engine, state.settings, state.clock, state.metrics)


def add_prediction(engine: Engine, call: Any, made_at: datetime, delay_s: int, **extra: Any) -> None:
    p50 = call.scheduled_arrival + timedelta(seconds=delay_s)
    values = {
        "call_id": call.id,
        "made_at": made_at,
        "model_version": extra.pop("model_version", "test-model"),
        "purpose": extra.pop("purpose", "served"),
        "horizon_s": round((call.scheduled_arrival - made_at).total_seconds()),
        "p10_arrival": p50 - timedelta(seconds=extra.pop("below_s", 120)),
        "p50_arrival": p50,
        "p90_arrival": p50 + timedelta(seconds=extra.pop("above_s", 300)),
    } | extra
    with engine.begin() as conn:
        conn.execute(Prediction.__table__.insert().values(**values))


def add_observation(engine: Engine, call: Any, observed_at: datetime, **fields: Any) -> None:
    with engine.begin() as conn:
        conn.execute(
            Observation.__table__.insert().values(
                call_id=call.id, observed_at=observed_at, source="test-live", **fields
            )
        )


__all__ = ["add_observation", "add_prediction", "berlin", "call_at", "call_key_id"]
