"""The served interval's re-calibration on the champion's own served predictions
(eta/model/served_calibration.py): what it is fitted on, point in time, and how it is applied."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, delete, select, update

from eta.config import Settings
from eta.model import registry, served_calibration
from eta.model.artefact import Artefact
from eta.model.calibration import apply_interval_calibration, fit_interval_calibration
from eta.model.predict import predict_calls
from eta.scheduler import Repredictor
from eta.store import open_store
from eta.store.schema import Call, Observation, Prediction, ServedCalibration
from tests import slices
from tests.model.conftest import small_settings

SWEEPS = [datetime(2013, 1, 12, h, 0, tzinfo=UTC) for h in (6, 9, 12, 15, 18)]
NOW = datetime(2013, 1, 12, 20, 0, tzinfo=UTC)
LATER = datetime(2013, 1, 12, 21, 0, tzinfo=UTC)


@pytest.fixture
def served(flights_model: Artefact, tmp_path: Path) -> Iterator[tuple[Settings, Engine, str]]:
    """A flights store whose champion served five sweeps of predictions on 2013-01-12."""
    settings = small_settings(
        slices.copy_of(slices.flights_template(), tmp_path),
        tmp_path,
        served_calibration_min_calls=50,
        served_calibration_settle_s=3600,
        served_calibration_window_s=86_400,
    )
    engine = open_store(settings)
    entry = registry.register(engine, settings, copy.deepcopy(flights_model), "flight-arrival-served")
    registry.promote(engine, settings, entry.version)
    for made_at in SWEEPS:
        assert predict_calls(engine, settings, made_at) > 50
    yield settings, engine, entry.version
    engine.dispose()


def _expected_rows(engine: Engine, now: datetime, settle: timedelta, window: timedelta) -> pd.DataFrame:
    """The rows the re-calibration should be fitted on, read the plain way."""
    with engine.connect() as conn:
        predictions = pd.read_sql(select(Prediction), conn)
        calls = pd.read_sql(select(Call.id, Call.scheduled_arrival), conn).set_index("id")
        observed = pd.read_sql(
            select(Observation.call_id, Observation.observed_at, Observation.actual_arrival), conn
        )
    for frame, columns in (
        (predictions, ["made_at", "p50_arrival", "model_p10_arrival", "model_p90_arrival"]),
        (calls, ["scheduled_arrival"]),
        (observed, ["observed_at", "actual_arrival"]),
    ):
        for column in columns:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    known = observed[observed["actual_arrival"].notna() & (observed["observed_at"] <= pd.Timestamp(now))]
    actual = known.sort_values("observed_at").drop_duplicates("call_id", keep="last")
    actual = actual.set_index("call_id")["actual_arrival"]
    # predictions are stored on change: each stored row stands for every sweep from its made_at to its
    # confirmed_at (all the fixture's predictions are sweeps)
    predictions["confirmed_at"] = pd.to_datetime(predictions["confirmed_at"], utc=True, format="ISO8601")
    rows = pd.concat(
        [
            predictions[(predictions["made_at"] <= sweep) & (predictions["confirmed_at"] >= sweep)]
            for sweep in map(pd.Timestamp, SWEEPS)
            if sweep <= pd.Timestamp(now)
        ]
    )
    rows["sched"] = rows["call_id"].map(calls["scheduled_arrival"])
    until = pd.Timestamp(now - settle)
    rows = rows[(rows["sched"] >= until - pd.Timedelta(window)) & (rows["sched"] < until)]
    rows["actual"] = rows["call_id"].map(actual)
    rows = rows.dropna(subset=["actual"])

    def delay(column: str) -> np.ndarray:
        return (rows[column] - rows["sched"]).dt.total_seconds().to_numpy()

    return pd.DataFrame(
        {
            "y": delay("actual"),
            "p10": delay("model_p10_arrival"),
            "p50": delay("p50_arrival"),
            "p90": delay("model_p90_arrival"),
            "bucket": rows["interval_bucket"].to_numpy(),
        }
    )


def test_the_recalibration_is_split_conformal_on_the_model_bounds_of_calls_arrived_by_now(
    served: tuple[Settings, Engine, str],
) -> None:
    settings, engine, version = served
    fitted = served_calibration.fit(engine, settings, version, NOW)
    assert fitted is not None
    expected = _expected_rows(engine, NOW, timedelta(hours=1), timedelta(days=1))
    assert fitted.n == len(expected) > 300
    buckets = pd.Series(expected["bucket"].to_numpy())
    y, p10, p50, p90 = (expected[c].to_numpy() for c in ("y", "p10", "p50", "p90"))
    coverage = float(np.mean((y >= p10) & (y <= p90)))
    assert fitted.coverage_before == pytest.approx(coverage)
    # nothing re-calibrated yet: what was served is the model's own interval
    assert fitted.served_coverage == pytest.approx(coverage)
    tail = served_calibration.tail_for(coverage)
    assert tail == pytest.approx(np.clip(0.10 - (0.80 - coverage), 0.02, 0.18))
    expected_calibration = fit_interval_calibration(y, p10, p50, p90, buckets, tail=tail)
    assert fitted.calibration == expected_calibration | {"served_coverage": round(coverage, 4)}
    assert abs(fitted.coverage_after - (1 - 2 * tail)) < 0.03
    assert abs(coverage - 0.80) > 0.03  # it had something to fix


def test_the_recalibration_reads_nothing_made_or_observed_after_now(
    served: tuple[Settings, Engine, str],
) -> None:
    settings, engine, version = served
    before = served_calibration.fit(engine, settings, version, NOW)
    assert predict_calls(engine, settings, LATER) > 0  # predictions made after NOW
    after_later_predictions = served_calibration.fit(engine, settings, version, NOW)
    with engine.begin() as conn:
        conn.execute(delete(Observation).where(Observation.observed_at > NOW))
    without_later_reports = served_calibration.fit(engine, settings, version, NOW)
    assert before is not None and after_later_predictions is not None and without_later_reports is not None
    assert after_later_predictions.calibration == before.calibration
    assert without_later_reports.calibration == before.calibration
    assert served_calibration.fit(engine, settings, version, LATER) != before  # the test can fail


def test_served_bounds_apply_the_latest_recalibration_and_the_next_fit_learns_from_their_miss(
    served: tuple[Settings, Engine, str],
) -> None:
    settings, engine, version = served
    assert served_calibration.latest(engine, version, NOW) is None
    fitted = served_calibration.refresh(engine, settings, version, NOW)
    assert fitted is not None
    assert served_calibration.latest(engine, version, NOW - timedelta(seconds=1)) is None
    calibration = served_calibration.latest(engine, version, LATER)
    assert calibration == fitted.calibration
    assert predict_calls(engine, settings, LATER) > 50
    with engine.connect() as conn:
        rows = pd.read_sql(select(Prediction).where(Prediction.made_at == LATER), conn)
        stored = pd.read_sql(select(ServedCalibration), conn)
    assert len(stored) == 1 and stored["n"].iloc[0] == fitted.n
    sched = pd.Timestamp(0, tz=UTC)

    def s(column: str) -> np.ndarray:
        return (
            (pd.to_datetime(rows[column], utc=True, format="ISO8601") - sched).dt.total_seconds().to_numpy()
        )

    low, high = apply_interval_calibration(
        calibration, s("model_p10_arrival"), s("p50_arrival"), s("model_p90_arrival"), rows["interval_bucket"]
    )
    # served bounds = the model's bounds adjusted (to the second: both are rounded when stored)
    assert np.abs(s("p10_arrival") - low).max() <= 1.0
    assert np.abs(s("p90_arrival") - high).max() <= 1.0
    assert (np.abs(s("p90_arrival") - s("model_p90_arrival")) > 30).mean() > 0.5
    # the next re-calibration shifts the model's bounds, whatever was served; what was served sets its aim
    refit = served_calibration.fit(engine, settings, version, LATER + timedelta(hours=1))
    with engine.begin() as conn:
        conn.execute(
            update(Prediction).values(p10_arrival=Prediction.p50_arrival, p90_arrival=Prediction.p50_arrival)
        )
    missed = served_calibration.fit(engine, settings, version, LATER + timedelta(hours=1))
    assert refit is not None and missed is not None
    assert missed.served_coverage < 0.3 < refit.served_coverage
    assert missed.calibration["tail"] == 0.02 < refit.calibration["tail"]
    assert missed.coverage_before == refit.coverage_before
    assert missed.coverage_after > refit.coverage_after


def test_no_recalibration_from_too_few_arrived_calls(served: tuple[Settings, Engine, str]) -> None:
    settings, engine, version = served
    early = SWEEPS[0] + timedelta(minutes=30)  # almost nothing it predicted is due an hour before this
    assert served_calibration.refresh(engine, settings, version, early) is None
    assert served_calibration.latest(engine, version, early) is None


def test_the_repredictor_recalibrates_before_a_sweep_once_per_interval() -> None:
    repredictor = Repredictor(sweep_every_s=900, recalibrate_every_s=3600)
    start = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    due = [repredictor._recalibration_due(start + timedelta(minutes=m)) for m in (0, 15, 45, 60, 75, 130)]
    assert due == [True, False, False, True, False, True]
    assert not Repredictor(sweep_every_s=900)._recalibration_due(start)


def test_a_capped_read_takes_whole_calls_spread_over_the_window(
    served: tuple[Settings, Engine, str],
) -> None:
    """Over the cap, whole calls are read in an order blind to their time and delay (a hash of the id):
    the sample still spans the window (keeping the calls scheduled last would shrink it)."""
    _, engine, version = served
    until = NOW - timedelta(hours=1)
    since = until - timedelta(days=1)
    everything = served_calibration.served_rows(engine, version, NOW, since, until, limit=1_000_000)
    capped = served_calibration.served_rows(engine, version, NOW, since, until, limit=300)
    per_call = everything.groupby("call_id").size()
    kept = capped.groupby("call_id").size()
    assert 250 < len(capped) <= 300 and len(kept) < len(per_call)
    # every call read with all its predictions, the calls first in call_order
    assert kept.eq(per_call[kept.index]).all()
    order = served_calibration.call_order(per_call.index.to_numpy())
    assert order[per_call.index.isin(kept.index)].max() < order[~per_call.index.isin(kept.index)].min()
    # spread over the window's calls, not the latest ones
    with engine.connect() as conn:
        calls = pd.read_sql(select(Call.id, Call.scheduled_arrival), conn).set_index("id")
    times = pd.to_datetime(calls["scheduled_arrival"], utc=True, format="ISO8601")[per_call.index]
    earlier_half = times < times.median()
    assert 0.3 < earlier_half[kept.index].mean() < 0.7


def _predictions(n_days: int = 3, per_hour: int = 40, seed: int = 0) -> pd.DataFrame:
    """A model's predictions of arrivals every 90 s over ``n_days``, each made 10 min before its scheduled
    arrival, whose actual arrival is observed 2 min after it; the outcomes spread wider than the model's
    interval (it covers about 60 %), in two buckets."""
    rng = np.random.default_rng(seed)
    n = n_days * 24 * per_hour
    scheduled = pd.Timestamp("2026-04-07", tz="UTC") + pd.to_timedelta(
        np.arange(n) * 3600 / per_hour, unit="s"
    )
    actual_s = np.round(rng.normal(60, 240, n) / 60) * 60
    return pd.DataFrame(
        {
            "call_id": np.arange(n),
            "made_at": scheduled - pd.Timedelta(minutes=10),
            "scheduled": scheduled,
            "known_at": scheduled + pd.to_timedelta(np.maximum(actual_s, 0) + 120, unit="s"),
            "actual_s": actual_s,
            "p10_s": np.full(n, -120.0),
            "p50_s": np.full(n, 60.0),
            "p90_s": np.full(n, 240.0),
            "bucket": np.where(np.arange(n) % 2 == 0, "r1-s1-b3", "r1-s1-b4"),
        }
    )


def test_the_replay_serves_each_prediction_with_the_fit_in_force_when_it_was_made(tmp_path: Path) -> None:
    """What a backtest scores as served: each prediction gets the re-calibration that serving would have
    fitted at the last step before it was made, on the predictions made since deployment, of calls
    scheduled in the window before the settle time and arrived by that step."""
    settings = small_settings(
        f"sqlite:///{tmp_path / 'eta.sqlite3'}",
        tmp_path,
        served_calibration_every_s=1800,
        served_calibration_min_calls=300,
    )
    predictions = _predictions()
    deployed = datetime(2026, 4, 7, 6, 0, tzinfo=UTC)
    low, high = served_calibration.replay(predictions, settings, deployed)
    made = predictions["made_at"]
    # before the first fit (and before deployment) the model's own bounds are served
    early = (made < pd.Timestamp(deployed + timedelta(hours=2))).to_numpy()
    assert (low[early] == predictions["p10_s"].to_numpy()[early]).all()
    # a prediction made at 16:05 is served with the fit of 16:00, on what was known then
    now = pd.Timestamp("2026-04-07T16:00:00Z")
    until = now - pd.Timedelta(seconds=settings.model.served_calibration_settle_s)
    sample = (
        (made >= pd.Timestamp(deployed))
        & (made < now)
        & (predictions["scheduled"] >= until - pd.Timedelta(days=1))
        & (predictions["scheduled"] < until)
        & (predictions["known_at"] <= now)
    ).to_numpy()
    assert 300 <= sample.sum() < len(predictions)
    y, p10, p50, p90 = (predictions[c].to_numpy() for c in ("actual_s", "p10_s", "p50_s", "p90_s"))
    buckets = predictions["bucket"]
    fitted, _ = served_calibration.adjustment(
        y[sample], p10[sample], p50[sample], p90[sample], low[sample], high[sample], buckets[sample]
    )
    at = ((made >= now) & (made < now + pd.Timedelta(minutes=30))).to_numpy()
    expected_low, expected_high = apply_interval_calibration(fitted, p10[at], p50[at], p90[at], buckets[at])
    assert np.array_equal(low[at], expected_low) and np.array_equal(high[at], expected_high)
    # the model's interval covered too few; served, the later predictions are covered near 80 %
    late = (made >= pd.Timestamp("2026-04-08", tz="UTC")).to_numpy()
    assert np.mean((y >= p10) & (y <= p90)) < 0.7
    assert abs(np.mean((y[late] >= low[late]) & (y[late] <= high[late])) - 0.80) < 0.03


def test_the_replay_uses_no_outcome_observed_after_a_prediction_was_made(tmp_path: Path) -> None:
    settings = small_settings(
        f"sqlite:///{tmp_path / 'eta.sqlite3'}", tmp_path, served_calibration_min_calls=300
    )
    predictions = _predictions()
    deployed = datetime(2026, 4, 7, tzinfo=UTC)
    low, high = served_calibration.replay(predictions, settings, deployed)
    cut = pd.Timestamp("2026-04-08T12:00:00Z")
    changed = predictions.copy()
    later = changed["known_at"] > cut
    changed.loc[later, "actual_s"] = changed.loc[later, "actual_s"] * 3  # what became known after the cut
    low_changed, high_changed = served_calibration.replay(changed, settings, deployed)
    before = (predictions["made_at"] < cut).to_numpy()
    assert np.array_equal(low[before], low_changed[before]) and np.array_equal(
        high[before], high_changed[before]
    )
    assert not np.array_equal(high[~before], high_changed[~before])  # the test can fail


def test_without_served_calibration_the_replay_serves_the_model_bounds(tmp_path: Path) -> None:
    settings = small_settings(f"sqlite:///{tmp_path / 'eta.sqlite3'}", tmp_path, served_calibration=False)
    predictions = _predictions(n_days=2)
    low, high = served_calibration.replay(predictions, settings, datetime(2026, 4, 7, tzinfo=UTC))
    assert np.array_equal(low, predictions["p10_s"].to_numpy())
    assert np.array_equal(high, predictions["p90_s"].to_numpy())


def test_the_replay_fits_on_at_most_max_rows_whole_calls_as_serving_reads_them(tmp_path: Path) -> None:
    """As serving reads at most served_calibration_max_rows predictions (served_rows), each replayed fit
    takes whole calls of its sample, as many as fit in call_order."""
    settings = small_settings(
        f"sqlite:///{tmp_path / 'eta.sqlite3'}",
        tmp_path,
        served_calibration_min_calls=300,
        served_calibration_max_rows=1000,
    )
    one = _predictions(per_hour=120)
    # two predictions per call (10 and 20 min ahead), shuffled: the replay must not rely on the row order
    predictions = pd.concat([one, one.assign(made_at=one["made_at"] - pd.Timedelta(minutes=10))])
    predictions = predictions.sample(frac=1.0, random_state=0).reset_index(drop=True)
    deployed = datetime(2026, 4, 7, tzinfo=UTC)
    low, high = served_calibration.replay(predictions, settings, deployed)
    made = predictions["made_at"]
    now = pd.Timestamp("2026-04-08T16:00:00Z")
    until = now - pd.Timedelta(seconds=settings.model.served_calibration_settle_s)
    span = pd.Timedelta(seconds=settings.model.served_calibration_window_s)
    in_sample = (
        (made >= pd.Timestamp(deployed))
        & (made < now)
        & (predictions["scheduled"] >= until - span)
        & (predictions["scheduled"] < until)
        & (predictions["known_at"] <= now)
    ).to_numpy()
    assert in_sample.sum() > 2 * 1000  # the cap binds: the test can fail
    calls = predictions["call_id"].to_numpy()
    kept = served_calibration.calls_within(calls[in_sample], 1000)
    read = in_sample & np.isin(calls, kept)
    assert 998 <= read.sum() <= 1000  # whole calls (most with two predictions), as many as fit
    y, p10, p50, p90 = (predictions[c].to_numpy() for c in ("actual_s", "p10_s", "p50_s", "p90_s"))
    fitted, _ = served_calibration.adjustment(
        y[read], p10[read], p50[read], p90[read], low[read], high[read], predictions["bucket"][read]
    )
    at = ((made >= now) & (made < now + pd.Timedelta(minutes=30))).to_numpy()
    expected_low, expected_high = apply_interval_calibration(
        fitted, p10[at], p50[at], p90[at], predictions["bucket"][at]
    )
    assert np.array_equal(low[at], expected_low) and np.array_equal(high[at], expected_high)
