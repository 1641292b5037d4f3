"""Operator API: API keys, accuracy against actuals / timetable / operator estimates, collectors, models."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from eta.api import accuracy
from eta.api.apikeys import create_key, revoke_key
from eta.clock import ManualClock
from eta.store.schema import Call, CollectorRun, CollectorState, Observation, ServedCalibration
from tests.api import seed
from tests.api.helpers import add_observation, add_prediction, berlin, call_at
from tests.api.test_health import _register_champion

ACCURACY = "/api/v1/operator/accuracy"
DAY = {"from": "2026-05-03T22:00:00Z", "to": "2026-05-05T22:00:00Z"}


def test_operator_endpoints_need_a_valid_key(client: TestClient, engine: Engine) -> None:
    for path in (ACCURACY, "/api/v1/operator/collectors", "/api/v1/operator/models"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "ApiKey"
    key, info = create_key(engine, "ops team")
    assert client.get(ACCURACY, headers={"X-API-Key": key}).status_code == 200
    assert client.get(ACCURACY, headers={"X-API-Key": key + "x"}).status_code == 401
    revoke_key(engine, info.prefix)
    response = client.get(ACCURACY, headers={"X-API-Key": key})
    assert response.status_code == 401
    assert response.json()["detail"] == "this API key is unknown or revoked"


def _expected_timetable_mae_s() -> float:
    """Independently from the CSV: mean |arrival delay| of the arrivals (each predicted 4 times)."""
    rows = pd.read_csv(seed.DB_RUNS_SLICE, dtype=str)
    arrived = rows[rows["arrival_delay_min"].notna() & rows["cancelled"].eq("false")]
    return float(arrived["arrival_delay_min"].astype(float).abs().mean() * 60)


def test_accuracy_overall_and_by_horizon(client: TestClient, operator_key: str) -> None:
    headers = {"X-API-Key": operator_key}
    overall = client.get(ACCURACY, params=DAY, headers=headers).json()
    assert overall["group_by"] == "overall"
    (row,) = overall["rows"]
    assert row["timetable_mae_s"] == pytest.approx(_expected_timetable_mae_s(), abs=0.1)
    assert row["n_operator"] == 0 and row["operator_mae_s"] is None
    assert 0 <= row["p10_p90_coverage"] <= 1
    # the baseline knows more just before arrival: its error shrinks with the horizon
    by_horizon = client.get(ACCURACY, params=DAY | {"group_by": "horizon"}, headers=headers).json()["rows"]
    assert [r["group"] for r in by_horizon] == ["0-15 min", "30-60 min", "1-2 h", "2-6 h"]
    assert by_horizon[0]["model_mae_s"] < by_horizon[-1]["model_mae_s"]
    assert sum(r["n"] for r in by_horizon) == row["n"]
    for r in by_horizon:  # same calls at every horizon: the timetable's error is the same
        assert r["timetable_mae_s"] == pytest.approx(row["timetable_mae_s"], rel=0.05)


def test_accuracy_by_station_line_and_day(client: TestClient, operator_key: str) -> None:
    headers = {"X-API-Key": operator_key}
    stations = client.get(ACCURACY, params=DAY | {"group_by": "station"}, headers=headers).json()["rows"]
    assert "8000261" in {r["group"] for r in stations}
    days = client.get(ACCURACY, params=DAY | {"group_by": "day"}, headers=headers).json()["rows"]
    # a run starting just after midnight whose earlier stops are missing belongs to the previous service date
    assert (
        {"2026-05-04", "2026-05-05"}
        <= {r["group"] for r in days}
        <= {"2026-05-03", "2026-05-04", "2026-05-05"}
    )
    assert [r["group"] for r in days] == sorted(r["group"] for r in days)
    lines = client.get(ACCURACY, params=DAY | {"group_by": "line"}, headers=headers).json()["rows"]
    assert {"ICE", "IC"} <= {r["group"] for r in lines}  # DB runs carry no line for these: the category
    trains = client.get(ACCURACY, params=DAY | {"mode": "flight"}, headers=headers).json()["rows"]
    assert trains == []


def test_operator_estimates_are_compared_as_known_then(
    client: TestClient, engine: Engine, operator_key: str
) -> None:
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), "8000261")  # arrived 20:05
    add_observation(engine, call, berlin("2026-05-04 19:00"), estimated_arrival=berlin("2026-05-04 19:55"))
    add_observation(engine, call, berlin("2026-05-04 19:30"), estimated_arrival=berlin("2026-05-04 20:04"))
    window = {"from": "2026-05-04T16:00:00Z", "to": "2026-05-04T18:00:00Z", "group_by": "station"}
    rows = client.get(ACCURACY, params=window, headers={"X-API-Key": operator_key}).json()["rows"]
    munich = next(r for r in rows if r["group"] == "8000261")
    # predictions of 17:41, 18:41 saw no estimate; 19:11 saw 19:55 (10 min off); 19:31 saw 20:04 (1 min)
    assert munich["n_operator"] == 2
    assert munich["operator_mae_s"] == pytest.approx((600 + 60) / 2)


def test_served_predictions_only(client: TestClient, engine: Engine, operator_key: str) -> None:
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), "8000261")
    window = {"from": "2026-05-04T17:35:10Z", "to": "2026-05-04T17:35:40Z"}
    add_prediction(engine, call, datetime(2026, 5, 4, 17, 35, 15, tzinfo=UTC), 0, purpose="backtest")
    assert client.get(ACCURACY, params=window, headers={"X-API-Key": operator_key}).json()["rows"] == []
    add_prediction(engine, call, datetime(2026, 5, 4, 17, 35, 30, tzinfo=UTC), 1440)
    (row,) = client.get(ACCURACY, params=window, headers={"X-API-Key": operator_key}).json()["rows"]
    assert (row["n"], row["model_mae_s"], row["timetable_mae_s"]) == (1, 0.0, 1440.0)


def test_platform_hits_count_the_planned_platform_where_no_change_was_announced(
    client: TestClient, engine: Engine, operator_key: str
) -> None:
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), "8000261")  # arrived 20:05, reports no platform
    with engine.begin() as conn:
        conn.execute(update(Call).where(Call.id == call.id).values(planned_platform="12"))
    window = {"from": "2026-05-04T17:35:10Z", "to": "2026-05-04T17:35:40Z"}
    for second, platform in ((15, "12"), (20, "12"), (30, "27")):
        add_prediction(engine, call, datetime(2026, 5, 4, 17, 35, second, tzinfo=UTC), 0, platform=platform)

    def hits() -> tuple[int, float | None]:
        (row,) = client.get(ACCURACY, params=window, headers={"X-API-Key": operator_key}).json()["rows"]
        return row["n_platform"], row["platform_accuracy"]

    assert hits() == (3, 0.667)  # no change announced: the planned 12 was used
    # a change reported by a platform source; the later arrival report of the runs source has no
    # platform and says nothing about it
    add_observation(engine, call, berlin("2026-05-04 19:40"), platform="27")
    assert hits() == (3, 0.333)
    add_observation(engine, call, berlin("2026-05-04 19:50"))  # the change source's full state: withdrawn
    assert hits() == (3, 0.667)


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"from": "2026-05-05T00:00:00Z", "to": "2026-05-04T00:00:00Z"}, "`from` is after `to`"),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-05-04T00:00:00Z"}, "at most 92 days"),
        ({"group_by": "weather"}, "query.group_by"),
    ],
)
def test_bad_accuracy_queries(
    client: TestClient, operator_key: str, params: dict[str, str], detail: str
) -> None:
    response = client.get(ACCURACY, params=params, headers={"X-API-Key": operator_key})
    assert response.status_code == 422
    assert detail in response.json()["detail"]


def test_collectors_freshness_and_errors(client: TestClient, engine: Engine, operator_key: str) -> None:
    now = datetime(2026, 5, 4, 17, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            CollectorState.__table__.insert().values(
                collector="db-iris",
                primed_at=now - timedelta(days=1),
                last_success_at=now - timedelta(minutes=2),
                last_error_at=now - timedelta(minutes=30),
                last_error_kind="timeout",
                consecutive_failures=0,
                data_until=now - timedelta(minutes=3),
            )
        )
        runs = [
            (True, None, 120),
            (True, None, 80),
            (False, "timeout", 0),
            (False, "http_5xx", 0),
            (False, "timeout", 0),
        ]
        for i, (ok, kind, written) in enumerate(runs):
            conn.execute(
                CollectorRun.__table__.insert().values(
                    collector="db-iris",
                    started_at=now - timedelta(minutes=10 * (i + 1)),
                    ok=ok,
                    error_kind=kind,
                    rows_written=written,
                    rows_quarantined=1 if ok else 0,
                )
            )
        conn.execute(
            CollectorRun.__table__.insert().values(  # older than 24 h: not counted
                collector="db-iris",
                started_at=now - timedelta(days=2),
                ok=False,
                error_kind="parse",
                rows_written=0,
                rows_quarantined=0,
            )
        )
    rows = client.get("/api/v1/operator/collectors", headers={"X-API-Key": operator_key}).json()
    (iris,) = rows
    assert iris["data_age_s"] == 180
    assert (iris["runs_24h"], iris["failures_24h"]) == (5, 3)
    assert iris["errors_24h"] == {"timeout": 2, "http_5xx": 1}
    assert (iris["rows_written_24h"], iris["rows_quarantined_24h"]) == (200, 2)
    assert iris["last_error_kind"] == "timeout"


def test_models_lists_the_champion_with_its_metrics(
    client: TestClient, engine: Engine, operator_key: str, tmp_path
) -> None:
    _register_champion(engine, tmp_path / "m.ubj", "0" * 64)
    (model,) = client.get("/api/v1/operator/models", headers={"X-API-Key": operator_key}).json()
    assert (model["version"], model["role"], model["task"]) == ("arrival-train-1", "champion", "arrival")
    assert model["metrics"] == {"mae_s": 123.4}
    assert model["served_calibration"] is None  # nothing re-calibrated yet: the model's own interval


def test_models_show_the_newest_served_recalibration_by_now(
    client: TestClient, engine: Engine, operator_key: str, clock: ManualClock, tmp_path
) -> None:
    _register_champion(engine, tmp_path / "m.ubj", "0" * 64)
    now = clock()
    with engine.begin() as conn:
        for hours_ago, n, coverage in ((2, 900, 0.71), (1, 1200, 0.68), (-1, 1500, 0.65)):
            computed_at = now - timedelta(hours=hours_ago)
            conn.execute(
                ServedCalibration.__table__.insert().values(
                    model_version="arrival-train-1",
                    computed_at=computed_at,
                    arrivals_from=computed_at - timedelta(hours=25),
                    arrivals_until=computed_at - timedelta(hours=1),
                    n=n,
                    coverage_before=coverage,
                    calibration={"overall": [0.0, 0.0], "buckets": {}},
                )
            )
    (model,) = client.get("/api/v1/operator/models", headers={"X-API-Key": operator_key}).json()
    fitted = model["served_calibration"]
    assert (fitted["n"], fitted["model_coverage_p10_p90"]) == (1200, 0.68)  # not the one after now
    assert datetime.fromisoformat(fitted["computed_at"]) == now - timedelta(hours=1)


def test_accuracy_reads_the_arrived_calls_most_recent_predictions_first(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep predicts every call of the next hours: most served rows are about calls still to come.
    The read skips them, so a cap on rows keeps the latest predictions that can be scored."""
    start, end = (datetime.fromisoformat(DAY[k].replace("Z", "+00:00")) for k in ("from", "to"))
    scored = accuracy.served_vs_actual(engine, start, end)
    assert len(scored) > 20
    arrived = select(Observation.call_id).where(
        Observation.call_id == Call.id, Observation.actual_arrival.is_not(None)
    )
    with engine.connect() as conn:
        pending = conn.execute(
            select(Call.id, Call.scheduled_arrival)
            .where(Call.scheduled_arrival.is_not(None), ~arrived.exists())
            .order_by(Call.id)
        ).all()
    assert len(pending) > 10  # cancelled stops, runs that ended early
    latest = scored["made_at"].max().to_pydatetime()
    for call in pending:  # made after every scored prediction, about calls that have not arrived
        add_prediction(engine, call, latest + timedelta(seconds=1), 0)
    monkeypatch.setattr(accuracy, "MAX_ROWS", 10)
    capped = accuracy.served_vs_actual(engine, start, end)
    assert len(capped) == 10
    newest = scored["made_at"].sort_values(ascending=False).iloc[:10]
    assert sorted(capped["made_at"]) == sorted(newest)


def test_collectors_as_known_at_the_served_clock(
    client: TestClient, engine: Engine, operator_key: str
) -> None:
    """A replayed store holds runs after the served clock (the demo replays a whole day, then serves it
    from 17:30): what the operator sees is what was known by then, never a negative data age."""
    now = datetime(2026, 5, 4, 17, 0, tzinfo=UTC)  # the client's clock
    later = now + timedelta(hours=3)
    with engine.begin() as conn:
        conn.execute(
            CollectorState.__table__.insert().values(
                collector="db-iris",
                primed_at=now - timedelta(hours=17),
                last_success_at=later,
                consecutive_failures=0,
                data_until=later,
            )
        )
        for minutes, written in ((-40, 120), (-10, 80), (-5, 0), (180, 90)):
            conn.execute(
                CollectorRun.__table__.insert().values(
                    collector="db-iris",
                    started_at=now + timedelta(minutes=minutes),
                    ok=True,
                    rows_written=written,
                    rows_quarantined=0,
                )
            )
    (iris,) = client.get("/api/v1/operator/collectors", headers={"X-API-Key": operator_key}).json()
    assert iris["data_age_s"] == 600  # the newest run that brought rows by 17:00
    assert iris["last_success_at"] == (now - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    assert iris["runs_24h"] == 3


def test_a_prediction_stored_on_change_counts_at_every_sweep_it_stood_for(
    client: TestClient, engine: Engine, operator_key: str
) -> None:
    """Predictions are stored when they change: a row made at 19:35 and found unchanged by the sweeps of
    19:50 and 20:00 counts three times, each at its own horizon, with the operator's estimate as known at
    each sweep; a sweep after its confirmation (it had changed, or the call left the window) does not."""
    from sqlalchemy import insert

    from eta.store.schema import PredictionSweep

    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), "8000261")  # arrived 20:05
    sweeps = [berlin(f"2026-05-04 {at}") for at in ("19:35", "19:50", "20:00", "20:02")]
    with engine.begin() as conn:
        for at in sweeps:
            conn.execute(insert(PredictionSweep).values(mode="train", swept_at=at, n_calls=1, n_written=0))
    add_observation(
        engine,
        call,
        berlin("2026-05-04 19:45"),
        estimated_arrival=call.scheduled_arrival + timedelta(minutes=9),
    )
    add_prediction(engine, call, sweeps[0], 600, confirmed_at=sweeps[2])
    window = {"from": "2026-05-04T17:34:00Z", "to": "2026-05-04T18:03:00Z", "group_by": "horizon"}
    frame = accuracy.served_vs_actual(engine, *(datetime.fromisoformat(window[k]) for k in ("from", "to")))
    frame = frame[frame["call_id"] == call.id].sort_values("made_at")
    assert list(frame["made_at"]) == [pd.Timestamp(t) for t in sweeps[:3]]
    due = pd.Timestamp(call.scheduled_arrival)
    assert list(frame["horizon_s"]) == [round((due - pd.Timestamp(t)).total_seconds()) for t in sweeps[:3]]
    estimates = frame["operator_estimate"].tolist()
    assert (
        pd.isna(estimates[0])
        and estimates[1:] == [pd.Timestamp(call.scheduled_arrival + timedelta(minutes=9))] * 2
    )
    rows = client.get(ACCURACY, params=window, headers={"X-API-Key": operator_key}).json()["rows"]
    assert sum(r["n"] for r in rows) >= 3
