"""Accuracy of served predictions against what happened, beside the timetable and the operator's own
estimates, grouped by station, line, horizon or day.

Each served prediction is joined with the call's final actual arrival (the latest reported), its
final platform (the latest announced, else the planned one: ``final_platform_of``) and with the
operator's estimate *as known when the prediction was made* (the prediction row's own, else the
latest ``estimated_arrival`` observed by ``made_at``), so all three are compared on equal information.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, func, select

from eta.features.platforms import final_platform_of
from eta.read.predictions import samples, sweep_times
from eta.store.schema import AccuracyDaily, Call, Observation, Prediction, Service

GroupBy = Literal["overall", "station", "line", "horizon", "day"]
HORIZON_EDGES_S = (0, 900, 1_800, 3_600, 7_200, 21_600, 86_400, np.inf)
HORIZON_LABELS = ("0-15 min", "15-30 min", "30-60 min", "1-2 h", "2-6 h", "6-24 h", "24 h+")
MAX_ROWS = 500_000


def served_vs_actual(engine: Engine, start: datetime, end: datetime, mode: str | None = None) -> pd.DataFrame:
    """One row per served prediction in force in [start, end] at a time it was made or confirmed, whose
    call has an actual arrival.

    Predictions are stored when they change (:mod:`eta.read.predictions`): each row counts where it was
    made and at every later sweep it stood for (``made_at`` is then that time, ``horizon_s`` the time
    from it to the scheduled arrival), as if every sweep had written a row. Only predictions of calls
    with a reported actual arrival are read (a sweep predicts every call in the next hours: most rows are
    about calls still to come), the most recent first, at most ``MAX_ROWS``; ``prediction_made_at`` is when
    the row in force was computed. Days already rolled up (``accuracy_daily``) are left out: see
    :func:`rolled_up`.
    """
    arrived = select(Observation.call_id).where(
        Observation.call_id == Prediction.call_id, Observation.actual_arrival.is_not(None)
    )
    query = (
        select(
            Prediction.call_id,
            Prediction.made_at,
            Prediction.confirmed_at,
            Prediction.horizon_s,
            Prediction.model_version,
            Prediction.p10_arrival,
            Prediction.p50_arrival,
            Prediction.p90_arrival,
            Prediction.operator_estimate,
            Prediction.platform,
            Prediction.platform_probability,
            Call.location,
            Call.scheduled_arrival,
            Call.planned_platform,
            Service.mode,
            Service.operator,
            Service.line,
            Service.service_date,
        )
        .join(Call, Call.id == Prediction.call_id)
        .join(Service, Service.id == Call.service_id)
        .where(
            Prediction.purpose == "served",
            Prediction.made_at <= end,
            func.coalesce(Prediction.confirmed_at, Prediction.made_at) >= start,
            Prediction.p50_arrival.is_not(None),
            Call.scheduled_arrival.is_not(None),
            arrived.exists(),
        )
        .order_by(Prediction.made_at.desc())
        .limit(MAX_ROWS)
    )
    if mode:
        query = query.where(Service.mode == mode)
    with engine.connect() as conn:
        rolled = rolled_until(conn)
        if rolled is not None and rolled > start:  # those days are counted in accuracy_daily
            start = rolled
            query = query.where(func.coalesce(Prediction.confirmed_at, Prediction.made_at) >= start)
        if start > end:
            return pd.DataFrame()
        frame = pd.DataFrame(conn.execute(query).mappings().all())
        if frame.empty:
            return frame
        frame = _sampled(frame, sweep_times(conn, start, end), start, end)
        if frame.empty:
            return frame
        ids = frame["call_id"].unique().tolist()
        reports = _reports(conn, ids)
    for col in (
        "p10_arrival",
        "p50_arrival",
        "p90_arrival",
        "operator_estimate",
        "scheduled_arrival",
    ):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    actual = _final(reports, "actual_arrival")
    planned = frame.drop_duplicates("call_id").set_index("call_id")["planned_platform"]
    platform = final_platform_of(reports, planned)
    frame = frame.join(actual.rename("actual_arrival"), on="call_id").join(
        platform.rename("actual_platform"), on="call_id"
    )
    frame = frame.dropna(subset=["actual_arrival"])
    frame["operator_estimate"] = frame["operator_estimate"].fillna(_estimate_as_of(frame, reports))
    return frame.reset_index(drop=True)


def _sampled(
    frame: pd.DataFrame, sweeps: dict[str, pd.DatetimeIndex], start: datetime, end: datetime
) -> pd.DataFrame:
    """The rows at every time they were made or confirmed at a sweep in [start, end], newest first."""
    made = pd.to_datetime(frame["made_at"], utc=True)
    out = samples(frame.assign(made_at=made), sweeps, start, end)
    later = out["sampled_at"] > out["made_at"]
    # at a later sweep, the operator's estimate as known then (filled from the reports below)
    out["operator_estimate"] = pd.to_datetime(out["operator_estimate"], utc=True).mask(later)
    out["prediction_made_at"] = out["made_at"]  # when the row in force was computed
    out["made_at"] = out["sampled_at"]
    sched = pd.to_datetime(out["scheduled_arrival"], utc=True)
    out["horizon_s"] = (sched - out["made_at"]).dt.total_seconds().round().astype("int64")
    out = out.drop(columns=["sampled_at", "confirmed_at"]).sort_values("made_at", ascending=False)
    return out.head(MAX_ROWS).reset_index(drop=True)


def _reports(conn: object, ids: list[int]) -> pd.DataFrame:
    chunks = []
    for start in range(0, len(ids), 5_000):
        part = ids[start : start + 5_000]
        rows = (
            conn.execute(  # type: ignore[attr-defined]
                select(
                    Observation.call_id,
                    Observation.observed_at,
                    Observation.source,
                    Observation.actual_arrival,
                    Observation.estimated_arrival,
                    Observation.platform,
                ).where(Observation.call_id.in_(part))
            )
            .mappings()
            .all()
        )
        chunks.append(
            pd.DataFrame(
                rows,
                columns=[
                    "call_id",
                    "observed_at",
                    "source",
                    "actual_arrival",
                    "estimated_arrival",
                    "platform",
                ],
            )
        )
    reports = pd.concat(chunks, ignore_index=True)
    for col in ("observed_at", "actual_arrival", "estimated_arrival"):
        reports[col] = pd.to_datetime(reports[col], utc=True)
    return reports.sort_values(["observed_at"], kind="stable")


def _final(reports: pd.DataFrame, column: str) -> pd.Series:
    known = reports.dropna(subset=[column])
    return known.groupby("call_id")[column].last()


def _estimate_as_of(frame: pd.DataFrame, reports: pd.DataFrame) -> pd.Series:
    """The operator's latest estimate observed by each prediction's made_at (point in time)."""
    estimates = reports.dropna(subset=["estimated_arrival"])[["call_id", "observed_at", "estimated_arrival"]]
    if estimates.empty:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    left = frame[["call_id", "made_at"]].reset_index().sort_values("made_at")
    left["made_at"] = left["made_at"].astype("datetime64[ns, UTC]")
    estimates = estimates.sort_values("observed_at").assign(
        observed_at=lambda e: e["observed_at"].astype("datetime64[ns, UTC]")
    )
    merged = pd.merge_asof(
        left, estimates, left_on="made_at", right_on="observed_at", by="call_id", direction="backward"
    )
    return merged.set_index("index")["estimated_arrival"].reindex(frame.index)


def add_errors(frame: pd.DataFrame) -> pd.DataFrame:
    """Absolute errors in seconds of the model (P50), the timetable and the operator's estimate."""
    out = frame.copy()
    actual = out["actual_arrival"]
    out["model_error_s"] = (out["p50_arrival"] - actual).dt.total_seconds()
    out["timetable_error_s"] = (out["scheduled_arrival"] - actual).dt.total_seconds()
    out["operator_error_s"] = (out["operator_estimate"] - actual).dt.total_seconds()
    out["delay_actual_s"] = (actual - out["scheduled_arrival"]).dt.total_seconds()
    out["delay_predicted_s"] = (out["p50_arrival"] - out["scheduled_arrival"]).dt.total_seconds()
    out["covered"] = (out["p10_arrival"] <= actual) & (actual <= out["p90_arrival"])
    out["horizon"] = pd.cut(
        out["horizon_s"].clip(lower=0),
        bins=list(HORIZON_EDGES_S),
        labels=list(HORIZON_LABELS),
        right=False,
        include_lowest=True,
    )
    has_platform = out["platform"].notna() & out["actual_platform"].notna()
    out["platform_hit"] = (out["platform"] == out["actual_platform"]).where(has_platform)
    return out


KEYS = ["mode", "service_date", "location", "line", "horizon"]
SUMS = [
    "n",
    "model_abs_s",
    "model_err_s",
    "timetable_abs_s",
    "n_operator",
    "operator_abs_s",
    "n_covered",
    "n_platform",
    "n_platform_hit",
]


def partial_sums(frame: pd.DataFrame) -> pd.DataFrame:
    """The sums accuracy is computed from, per mode, service date, station, line and horizon band: what
    ``accuracy_daily`` keeps of served predictions past their retention (eta.api.rollup)."""
    if frame.empty:
        return pd.DataFrame(columns=[*KEYS, *SUMS])
    scored = add_errors(frame)
    operator = scored["operator_error_s"]
    platform = scored["platform_hit"]
    parts = pd.DataFrame(
        {
            "mode": scored["mode"],
            "service_date": pd.to_datetime(scored["service_date"]).dt.date,
            "location": scored["location"],
            "line": scored["line"].fillna(scored["operator"]),
            "horizon": scored["horizon"].astype(str),
            "n": 1,
            "model_abs_s": scored["model_error_s"].abs(),
            "model_err_s": scored["model_error_s"],
            "timetable_abs_s": scored["timetable_error_s"].abs(),
            "n_operator": operator.notna().astype(int),
            "operator_abs_s": operator.abs().fillna(0.0),
            "n_covered": scored["covered"].astype(int),
            "n_platform": platform.notna().astype(int),
            "n_platform_hit": platform.fillna(False).astype(bool).astype(int),
        }
    )
    return parts.groupby(KEYS, sort=False, dropna=False).sum().reset_index()


def rolled_up(engine: Engine, start: datetime, end: datetime, mode: str | None = None) -> pd.DataFrame:
    """The daily aggregates of predictions past their retention for the days of [start, end]."""
    query = select(AccuracyDaily).where(
        AccuracyDaily.day >= start.date(), AccuracyDaily.day <= end.date(), AccuracyDaily.n > 0
    )
    if mode:
        query = query.where(AccuracyDaily.mode == mode)
    with engine.connect() as conn:
        rows = pd.DataFrame(conn.execute(query).mappings().all())
    return rows[[*KEYS, *SUMS]] if not rows.empty else pd.DataFrame(columns=[*KEYS, *SUMS])


def rolled_until(conn: Connection) -> datetime | None:
    """The end of the last day rolled up (predictions before it are only in ``accuracy_daily``)."""
    day = conn.execute(select(func.max(AccuracyDaily.day))).scalar()
    if day is None:
        return None
    day = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime.combine(day + timedelta(days=1), time(0), UTC)


def summarise(
    frame: pd.DataFrame, group_by: GroupBy, rolled: pd.DataFrame | None = None
) -> list[dict[str, object]]:
    """Per group: counts, mean absolute errors (model, timetable, operator), P10–P90 coverage, bias; of
    the served predictions in ``frame`` and of the days ``rolled`` up before them."""
    parts = [p for p in (partial_sums(frame), rolled) if p is not None and not p.empty]
    if not parts:
        return []
    sums = pd.concat(parts, ignore_index=True)
    keys = {
        "overall": pd.Series("all", index=sums.index),
        "station": sums["location"],
        "line": sums["line"],
        "horizon": sums["horizon"],
        "day": sums["service_date"].astype(str),
    }[group_by]
    rows = []
    for key, group in sums[SUMS].astype(float).groupby(keys, sort=True):
        total = group.sum()
        n, n_operator, n_platform = int(total["n"]), int(total["n_operator"]), int(total["n_platform"])
        rows.append(
            {
                "group": str(key),
                "n": n,
                "model_mae_s": _round(total["model_abs_s"] / n),
                "timetable_mae_s": _round(total["timetable_abs_s"] / n),
                "operator_mae_s": _round(total["operator_abs_s"] / n_operator) if n_operator else None,
                "n_operator": n_operator,
                "model_bias_s": _round(total["model_err_s"] / n),
                "p10_p90_coverage": round(float(total["n_covered"] / n), 3),
                "n_platform": n_platform,
                "platform_accuracy": round(float(total["n_platform_hit"] / n_platform), 3)
                if n_platform
                else None,
            }
        )
    if group_by == "horizon":
        order = {label: i for i, label in enumerate(HORIZON_LABELS)}
        rows.sort(key=lambda r: order.get(str(r["group"]), 99))
    return rows


def platform_calibration(frame: pd.DataFrame, bins: int = 10) -> list[dict[str, float | int]]:
    """Predicted probability of the top platform against how often it was right, in probability bins."""
    if frame.empty:
        return []
    scored = add_errors(frame).dropna(subset=["platform_hit", "platform_probability"])
    if scored.empty:
        return []
    probability = scored["platform_probability"].astype(float).clip(0, 1)
    scored["bin"] = np.minimum((probability * bins).astype(int), bins - 1)
    out = []
    for index, group in scored.groupby("bin"):
        out.append(
            {
                "predicted": round(float(group["platform_probability"].mean()), 3),
                "observed": round(float(group["platform_hit"].astype(float).mean()), 3),
                "n": len(group),
                "bin_low": round(int(str(index)) / bins, 2),
            }
        )
    return out


def _round(value: float) -> float | None:
    return None if pd.isna(value) else round(float(value), 1)
