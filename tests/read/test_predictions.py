"""The prediction in force at t when predictions are stored on change (both backends): which row is in
force, whether it is current as of a sweep, and the samples accuracy and the served calibration read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, insert

from eta.read.predictions import current_at, in_force, latest_sweep, samples, sweep_times
from eta.store.ids import call_key_id, service_key_id
from eta.store.schema import Call, Prediction, PredictionSweep, Service

T0 = datetime(2026, 5, 12, 8, 0, tzinfo=UTC)
SWEEPS = [T0 + timedelta(minutes=15 * i) for i in range(5)]  # 08:00 … 09:00


def _calls(engine: Engine) -> list[int]:
    service_id = service_key_id("train", "ICE", "598", "2026-05-12", "")
    ids = [call_key_id(service_id, seq) for seq in (1, 2)]
    with engine.begin() as conn:
        conn.execute(
            insert(Service).values(
                id=service_id,
                mode="train",
                operator="ICE",
                number="598",
                service_date=date(2026, 5, 12),
                leg="",
                source="test",
            )
        )
        for seq, call_id in zip((1, 2), ids, strict=True):
            conn.execute(
                insert(Call).values(
                    id=call_id,
                    service_id=service_id,
                    sequence=seq,
                    location=f"80000{seq}",
                    scheduled_arrival=T0 + timedelta(hours=2 * seq),
                )
            )
    return ids


def _prediction(
    engine: Engine, call_id: int, made_at: datetime, confirmed_at: datetime, delay_s: int
) -> None:
    p50 = T0 + timedelta(hours=2, seconds=delay_s)
    with engine.begin() as conn:
        conn.execute(
            insert(Prediction).values(
                call_id=call_id,
                made_at=made_at,
                confirmed_at=confirmed_at,
                model_version="m",
                purpose="served",
                horizon_s=0,
                p10_arrival=p50,
                p50_arrival=p50,
                p90_arrival=p50,
            )
        )


def _sweeps(engine: Engine, times: list[datetime]) -> None:
    with engine.begin() as conn:
        for at in times:
            conn.execute(insert(PredictionSweep).values(mode="train", swept_at=at, n_calls=2, n_written=0))


def test_a_row_stands_for_every_sweep_that_confirmed_it(store: Engine) -> None:
    first, second = _calls(store)
    _sweeps(store, SWEEPS)
    # first call: made at 08:00, unchanged at 08:15 and 08:30, changed at 08:40 (news), confirmed at 09:00
    _prediction(store, first, SWEEPS[0], SWEEPS[2], 60)
    _prediction(store, first, SWEEPS[2] + timedelta(minutes=10), SWEEPS[4], 300)
    # second call: predicted at 08:00, never swept again (it arrived)
    _prediction(store, second, SWEEPS[0], SWEEPS[0], 0)
    with store.connect() as conn:
        assert latest_sweep(conn, "train", SWEEPS[3] + timedelta(minutes=1)) == SWEEPS[3]
        assert latest_sweep(conn, "train", T0 - timedelta(seconds=1)) is None
        assert latest_sweep(conn, "flight", SWEEPS[4]) is None
        assert in_force(conn, [first], SWEEPS[2])[first].p50_arrival == T0 + timedelta(hours=2, seconds=60)
        assert in_force(conn, [first], SWEEPS[3])[first].p50_arrival == T0 + timedelta(hours=2, seconds=300)
        assert current_at(conn, [first, second], SWEEPS[0]) == {first, second}
        assert current_at(conn, [first, second], SWEEPS[1]) == {first}  # the second was not swept again
        assert current_at(conn, [first, second], SWEEPS[4]) == {first}
        sweeps = sweep_times(conn, T0, SWEEPS[-1])
    assert list(sweeps["train"]) == [pd.Timestamp(t) for t in SWEEPS]
    rows = pd.DataFrame(
        {
            "call_id": [first, first, second],
            "mode": "train",
            "made_at": [SWEEPS[0], SWEEPS[2] + timedelta(minutes=10), SWEEPS[0]],
            "confirmed_at": [SWEEPS[2], SWEEPS[4], SWEEPS[0]],
            "p50_s": [60, 300, 0],
        }
    )
    got = samples(rows, sweeps, T0, SWEEPS[-1]).sort_values(["call_id", "sampled_at"])
    expected_first = [
        (SWEEPS[0], 60),
        (SWEEPS[1], 60),
        (SWEEPS[2], 60),
        (SWEEPS[2] + timedelta(minutes=10), 300),
        (SWEEPS[3], 300),
        (SWEEPS[4], 300),
    ]
    mine = got[got["call_id"] == first]
    assert list(zip(mine["sampled_at"], mine["p50_s"], strict=True)) == [
        (pd.Timestamp(at), p50) for at, p50 in expected_first
    ]
    assert list(got.loc[got["call_id"] == second, "sampled_at"]) == [pd.Timestamp(SWEEPS[0])]
    # a window keeps only the samples inside it; a row confirmed after the window ends is cut there
    window = samples(rows, sweeps, SWEEPS[1], SWEEPS[3])
    assert sorted(window["sampled_at"]) == [
        pd.Timestamp(t) for t in (SWEEPS[1], SWEEPS[2], SWEEPS[2] + timedelta(minutes=10), SWEEPS[3])
    ]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_rows_of_a_store_without_sweeps_count_once(store: Engine) -> None:
    rows = pd.DataFrame(
        {"call_id": [1, 2], "mode": "flight", "made_at": SWEEPS[:2], "confirmed_at": SWEEPS[3:]}
    )
    got = samples(rows, {}, T0, SWEEPS[-1])
    assert list(got["sampled_at"]) == [pd.Timestamp(t) for t in SWEEPS[:2]]
    assert samples(rows.iloc[:0], {}, T0, SWEEPS[-1]).empty
