"""Accuracy of served predictions against what happened, beside the timetable and the operator's own
estimates, grouped by station, line, horizon or day.

Each served prediction is joined with the call's final actual arrival (the latest reported), its
final platform (the latest announced, else the planned one: ``final_platform_of``) and with the
operator's estimate *as known when the prediction was made* (the prediction row's own, else the
latest ``estimated_arrival`` observed by ``made_at``), so all three are compared on equal information.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from eta.features.platforms import final_platform_of
from eta.read.predictions import samples, sweep_times
from eta.store.schema import Call, Observation, Prediction, Service

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
    about calls still to come), the most recent first, at most ``MAX_ROWS``.
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


def summarise(frame: pd.DataFrame, group_by: GroupBy) -> list[dict[str, object]]:
    """Per group: counts, mean absolute errors (model, timetable, operator), P10–P90 coverage, bias."""
    if frame.empty:
        return []
    scored = add_errors(frame)
    keys = {
        "overall": pd.Series("all", index=scored.index),
        "station": scored["location"],
        "line": scored["line"].fillna(scored["operator"]),
        "horizon": scored["horizon"].astype(str),
        "day": scored["service_date"].astype(str),
    }[group_by]
    rows = []
    for key, group in scored.groupby(keys, sort=True, observed=True):
        with_operator = group["operator_error_s"].dropna()
        platform = group["platform_hit"].dropna()
        rows.append(
            {
                "group": str(key),
                "n": len(group),
                "model_mae_s": _round(group["model_error_s"].abs().mean()),
                "timetable_mae_s": _round(group["timetable_error_s"].abs().mean()),
                "operator_mae_s": _round(with_operator.abs().mean()) if len(with_operator) else None,
                "n_operator": len(with_operator),
                "model_bias_s": _round(group["model_error_s"].mean()),
                "p10_p90_coverage": round(float(group["covered"].mean()), 3),
                "n_platform": len(platform),
                "platform_accuracy": round(float(platform.mean()), 3) if len(platform) else None,
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
