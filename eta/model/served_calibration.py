"""Re-calibrating the served P10–P90 interval on the champion's own served predictions.

A model's interval is calibrated at training time on the most recent part of its training window
(:mod:`eta.model.calibration`), with features computed on the final store. Serving sees less: IRIS brings
a station's plan hour by hour, reports arrive minutes after the event, so a live interval covers fewer
arrivals than the backtest says (67–70 % instead of 80 % in the demo). Here the same split-conformal
adjustment is fitted on what was served: every served prediction keeps the model's own bounds and its
bucket, and once the calls it was about have arrived, the adjustment that brings the model's bounds to
80 % per bucket is stored (``served_calibrations``) and applied to the next predictions. The shifts are
fitted on the model's bounds, never the served ones, so they do not chase their own output.

Delays drift within a day (the demo's Monday: the model's own interval held 80 % of the night's arrivals
and 62 % of the afternoon's), so an adjustment fitted on the last hours lags behind: alone it brought the
demo's served coverage from 68 % to 75 %. As in adaptive conformal inference (Gibbs and Candès, 2021), the
target moves with the served interval's own miss on the rows fitted on (:func:`tail_for`): where it held
74 %, the next adjustment aims at 86 % of the model's bounds on those rows.

Point in time: a re-calibration computed at ``now`` reads predictions made by ``now`` and actual arrivals
observed by ``now``, of calls scheduled to arrive before ``now`` minus a settle time (so the sample is
chosen by the timetable, not by who has already arrived: late trains would otherwise be missing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Connection, Engine, cast, insert, select

from eta._time import ensure_utc, utc_naive
from eta.config import Settings
from eta.model.calibration import TAIL, apply_interval_calibration, fit_interval_calibration
from eta.read.predictions import samples, sweep_times
from eta.read.reports import actual_arrivals
from eta.store.schema import Call, Prediction, ServedCalibration, Service

log = logging.getLogger(__name__)

TARGET_COVERAGE = 1 - 2 * TAIL
# How strongly the served interval's miss on the fitted rows moves the next target (1: a 5-point shortfall
# of coverage aims 5 points higher), and the tails the target stays between.
FEEDBACK = 1.0
MIN_TAIL, MAX_TAIL = 0.02, 0.18


@dataclass(frozen=True)
class Fitted:
    """A re-calibration and what it was fitted on."""

    model_version: str
    computed_at: datetime
    arrivals_from: datetime
    arrivals_until: datetime
    n: int
    n_calls: int
    coverage_before: float
    served_coverage: float
    coverage_after: float
    calibration: dict[str, Any]


# Whole calls are read in the order of a hash of their id when a window holds more than the read's cap: a
# sample spread evenly over the window and blind to when a call was scheduled or how late it ran (the calls
# scheduled last would keep, at network scale, less than a day of a week's window). Multiplying by an odd
# number modulo 2**31 is a bijection: no two calls share a place.
_SPREAD, _MOD = 2_654_435_761, 2**31


def call_order(call_ids: np.ndarray) -> np.ndarray:
    """Each call's place in the order whole calls are read when a window holds more than the cap."""
    return (np.asarray(call_ids, dtype="int64") % _MOD) * _SPREAD % _MOD


def calls_within(call_ids: np.ndarray, limit: int) -> np.ndarray:
    """The calls kept of ``call_ids`` (one entry per row) so that at most ``limit`` rows are read: whole
    calls in :func:`call_order`, as many as fit."""
    calls, counts = np.unique(np.asarray(call_ids, dtype="int64"), return_counts=True)
    if counts.sum() <= limit:
        return calls
    order = np.argsort(call_order(calls), kind="stable")
    fits = np.cumsum(counts[order]) <= limit
    return np.sort(calls[order][fits])


def served_rows(
    engine: Engine, version: str, now: datetime, arrivals_from: datetime, arrivals_until: datetime, limit: int
) -> pd.DataFrame:
    """Served predictions of ``version`` made by ``now`` of calls scheduled in [from, until), each where it
    was made and at every later sweep by ``now`` it stood for (:func:`eta.read.predictions.samples`: what a
    store writing every prediction would hold), with the latest actual arrival observed by ``now`` (rows
    without one are left out), as delays in s. At most ``limit`` such rows: whole calls, chosen by
    :func:`calls_within` (cutting by the time a prediction was made would keep, of the earlier calls, only
    the late ones still being predicted; keeping the calls scheduled last would shrink the window)."""
    where = (
        Prediction.purpose == "served",
        Prediction.model_version == version,
        Prediction.made_at <= now,
        Prediction.model_p10_arrival.is_not(None),
        Prediction.model_p90_arrival.is_not(None),
        Prediction.interval_bucket.is_not(None),
        Call.scheduled_arrival >= arrivals_from,
        Call.scheduled_arrival < arrivals_until,
    )
    with engine.connect() as conn:
        # which calls fit: their sample counts from the light columns first
        light = _rows(
            conn, [Prediction.call_id, Prediction.made_at, Prediction.confirmed_at, Service.mode], where
        )
        if light.empty:
            return light
        first = pd.to_datetime(light["made_at"], utc=True).min().to_pydatetime()
        sweeps = sweep_times(conn, first, now)
        kept = calls_within(samples(light, sweeps, first, now)["call_id"].to_numpy(), limit)
        order = (cast(Prediction.call_id, BigInteger) % _MOD) * _SPREAD % _MOD
        last = int(call_order(kept).max()) if len(kept) else -1
        rows = _rows(
            conn,
            [
                Prediction.call_id,
                Prediction.made_at,
                Prediction.confirmed_at,
                Prediction.p10_arrival,
                Prediction.p50_arrival,
                Prediction.p90_arrival,
                Prediction.model_p10_arrival,
                Prediction.model_p90_arrival,
                Prediction.interval_bucket,
                Call.scheduled_arrival,
                Service.mode,
            ],
            (*where, order <= last),
        )
        if rows.empty:
            return rows
        # rows written between the two reads are not counted in the cap: leave them out
        rows = samples(rows[rows["call_id"].isin(kept)], sweeps, first, now)
        rows["made_at"] = rows["sampled_at"]
        actual = actual_arrivals(conn, rows["call_id"].unique().tolist(), now)
    rows["actual_arrival"] = rows["call_id"].map(actual)
    rows = rows.dropna(subset=["actual_arrival"])
    sched = pd.to_datetime(rows["scheduled_arrival"], utc=True)

    def delay(column: str) -> pd.Series:
        return (pd.to_datetime(rows[column], utc=True) - sched).dt.total_seconds()

    return pd.DataFrame(
        {
            "call_id": rows["call_id"],
            "made_at": pd.to_datetime(rows["made_at"], utc=True),
            "bucket": rows["interval_bucket"].astype(str),
            "actual_s": delay("actual_arrival"),
            "p10_s": delay("model_p10_arrival"),
            "p50_s": delay("p50_arrival"),
            "p90_s": delay("model_p90_arrival"),
            "served_p10_s": delay("p10_arrival"),
            "served_p90_s": delay("p90_arrival"),
        }
    ).reset_index(drop=True)


def _rows(conn: Connection, columns: list[Any], where: tuple[Any, ...]) -> pd.DataFrame:
    query = (
        select(*columns)
        .join(Call, Call.id == Prediction.call_id)
        .join(Service, Service.id == Call.service_id)
        .where(*where)
    )
    return pd.DataFrame(conn.execute(query).mappings().all())


def tail_for(served_coverage: float) -> float:
    """The share of arrivals to leave beyond each bound: 10 %, less where the served interval held fewer
    than 80 % of the arrivals it was fitted on (more where it held more), as adaptive conformal inference
    does under drift."""
    return float(np.clip(TAIL - FEEDBACK * (TARGET_COVERAGE - served_coverage), MIN_TAIL, MAX_TAIL))


def adjustment(
    y: np.ndarray,
    p10: np.ndarray,
    p50: np.ndarray,
    p90: np.ndarray,
    served_p10: np.ndarray,
    served_p90: np.ndarray,
    buckets: pd.Series,
) -> tuple[dict[str, Any], float]:
    """The re-calibration of the model's bounds ``p10``/``p90`` on outcomes ``y`` (s), aiming where the
    served bounds' coverage says (:func:`tail_for`), and that coverage."""
    served = float(np.mean((y >= served_p10) & (y <= served_p90)))
    calibration = fit_interval_calibration(y, p10, p50, p90, buckets, tail=tail_for(served))
    calibration["served_coverage"] = round(served, 4)
    return calibration, served


def fit(engine: Engine, settings: Settings, version: str, now: datetime) -> Fitted | None:
    """The re-calibration of ``version`` as of ``now`` (None: too few arrived calls to fit on)."""
    now = ensure_utc(now)
    model = settings.model
    arrivals_until = now - timedelta(seconds=model.served_calibration_settle_s)
    arrivals_from = arrivals_until - timedelta(seconds=model.served_calibration_window_s)
    rows = served_rows(engine, version, now, arrivals_from, arrivals_until, model.served_calibration_max_rows)
    n_calls = int(rows["call_id"].nunique()) if len(rows) else 0
    if n_calls < model.served_calibration_min_calls:
        return None
    y, p10, p50, p90 = (rows[c].to_numpy(dtype="float64") for c in ("actual_s", "p10_s", "p50_s", "p90_s"))
    calibration, served = adjustment(
        y, p10, p50, p90, rows["served_p10_s"].to_numpy(), rows["served_p90_s"].to_numpy(), rows["bucket"]
    )
    low, high = apply_interval_calibration(calibration, p10, p50, p90, rows["bucket"])
    return Fitted(
        model_version=version,
        computed_at=now,
        arrivals_from=arrivals_from,
        arrivals_until=arrivals_until,
        n=len(rows),
        n_calls=n_calls,
        coverage_before=float(np.mean((y >= p10) & (y <= p90))),
        served_coverage=served,
        coverage_after=float(np.mean((y >= low) & (y <= high))),
        calibration=calibration,
    )


def refresh(engine: Engine, settings: Settings, version: str, now: datetime) -> Fitted | None:
    """Fit the re-calibration of ``version`` as of ``now`` and store it (nothing stored when too few)."""
    fitted = fit(engine, settings, version, now)
    if fitted is None:
        log.info("served calibration of %s: too few arrived calls before %s", version, now.isoformat())
        return None
    with engine.begin() as conn:
        conn.execute(
            insert(ServedCalibration).values(
                model_version=fitted.model_version,
                computed_at=fitted.computed_at,
                arrivals_from=fitted.arrivals_from,
                arrivals_until=fitted.arrivals_until,
                n=fitted.n,
                coverage_before=fitted.coverage_before,
                calibration=fitted.calibration,
            )
        )
    log.info(
        "served calibration of %s on %d predictions of %d calls: the model's interval held %.1f %%, the "
        "served one %.1f %%; adjusted to hold %.1f %% of them",
        version,
        fitted.n,
        fitted.n_calls,
        100 * fitted.coverage_before,
        100 * fitted.served_coverage,
        100 * fitted.coverage_after,
    )
    return fitted


def newest(engine: Engine, version: str, as_of: datetime) -> ServedCalibration | None:
    """The newest re-calibration of ``version`` computed by ``as_of`` (None: none yet)."""
    query = (
        select(ServedCalibration)
        .where(ServedCalibration.model_version == version, ServedCalibration.computed_at <= ensure_utc(as_of))
        .order_by(ServedCalibration.computed_at.desc(), ServedCalibration.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else ServedCalibration(**row._mapping)


def latest(engine: Engine, version: str, as_of: datetime) -> dict[str, Any] | None:
    """The adjustments of the newest re-calibration of ``version`` computed by ``as_of`` (None: none yet)."""
    found = newest(engine, version, as_of)
    return None if found is None else dict(found.calibration)


def replay(
    predictions: pd.DataFrame, settings: Settings, deployed: datetime
) -> tuple[np.ndarray, np.ndarray]:
    """The served P10/P90 (s) of a model's ``predictions`` had it been deployed at ``deployed`` and
    re-calibrated as serving does (:func:`fit` every ``served_calibration_every_s``, each applying to the
    predictions made until the next): what a backtest scores as served.

    ``predictions``: one row per prediction, with ``call_id``, ``made_at``, ``scheduled`` (the arrival),
    ``known_at`` (when its actual arrival was observed; NaT: never), ``actual_s``, the model's ``p10_s``,
    ``p50_s``, ``p90_s`` and its calibration ``bucket``. Each fit reads, as :func:`served_rows` does, only
    predictions made since ``deployed`` and by then, of calls scheduled in the window before the settle
    time, whose arrival was observed by then, at most ``served_calibration_max_rows`` of them (whole calls,
    :func:`calls_within`); before the first fit, the model's own bounds are served.
    """
    model = settings.model
    low = predictions["p10_s"].to_numpy(dtype="float64").copy()
    high = predictions["p90_s"].to_numpy(dtype="float64").copy()
    if predictions.empty or not model.served_calibration:
        return low, high
    y, p10, p50, p90 = (
        predictions[c].to_numpy(dtype="float64") for c in ("actual_s", "p10_s", "p50_s", "p90_s")
    )
    # a categorical's codes: hundreds of fits on subsets of one set of labels
    buckets = predictions["bucket"].astype(str).astype("category").reset_index(drop=True)
    calls = predictions["call_id"].to_numpy(dtype="int64")
    made, scheduled, known = (utc_naive(predictions[c]) for c in ("made_at", "scheduled", "known_at"))
    since = np.datetime64(ensure_utc(deployed).replace(tzinfo=None), "us")
    every = np.timedelta64(model.served_calibration_every_s, "s")
    settle = np.timedelta64(model.served_calibration_settle_s, "s")
    span = np.timedelta64(model.served_calibration_window_s, "s")
    in_force: dict[str, Any] | None = None
    for now in np.arange(since, made.max() + every, every):
        served = np.flatnonzero((made >= now - every) & (made < now))
        if in_force is not None and served.size:
            low[served], high[served] = apply_interval_calibration(
                in_force, p10[served], p50[served], p90[served], buckets.iloc[served]
            )
        until = now - settle
        sample = np.flatnonzero(
            (made >= since)
            & (made < now)
            & (scheduled >= until - span)
            & (scheduled < until)
            & (known <= now)
        )
        if sample.size > model.served_calibration_max_rows:
            sample = sample[
                np.isin(calls[sample], calls_within(calls[sample], model.served_calibration_max_rows))
            ]
        if pd.unique(calls[sample]).size >= model.served_calibration_min_calls:
            in_force, _ = adjustment(
                y[sample],
                p10[sample],
                p50[sample],
                p90[sample],
                low[sample],
                high[sample],
                buckets.iloc[sample],
            )
    return low, high
