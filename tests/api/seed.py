"""Stores for the API tests and the API benchmark: real imported calls, plus served predictions from a
simple, honest rule (not a trained model) written into ``predictions`` through the table's contract.

The rule, "persistence": at ``made_at`` = scheduled arrival − horizon, the predicted delay is the latest
delay reported for the same service by ``made_at`` (0 when none); P10/P90 widen with the horizon; the
platform is the planned one with probability 0.9. It uses only what was observed by ``made_at``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from eta.config import Settings
from eta.importers import calls_csv, db_runs, nycflights13
from eta.model import distribution
from eta.store.bulk import insert_ignore
from eta.store.schema import Call, Location, Observation, Prediction, Service

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "api"
DB_RUNS_SLICE = FIXTURES / "db_runs_munich_2026-05-04.csv"
BERLIN_HBF = FIXTURES / "berlin_hbf_2025-09-04.csv"
MODEL_VERSION = "persistence-baseline"


def import_db_runs(engine: Engine, settings: Settings, path: Path = DB_RUNS_SLICE) -> None:
    db_runs.run(engine, settings, path)


def import_berlin_hbf(engine: Engine, settings: Settings) -> None:
    summary = calls_csv.run(engine, settings, BERLIN_HBF)
    assert not summary.rejected, summary.rejected


def import_nyc_flights(
    engine: Engine,
    settings: Settings,
    days: tuple[date, ...],
    carrier: str | None = None,
    limit: int | None = None,
) -> None:
    """nycflights13 flights of the given days (real BTS rows), through the real importer."""
    tables = nycflights13.load_tables()
    flights = tables["flights"]
    keep = pd.Series(False, index=flights.index)
    for day in days:
        keep |= (flights["year"] == day.year) & (flights["month"] == day.month) & (flights["day"] == day.day)
    if carrier is not None:
        keep &= flights["carrier"] == carrier
    flights = flights[keep]
    if limit is not None:
        flights = flights.head(limit)
    tables["flights"] = flights
    tables["weather"] = tables["weather"].head(0)
    nycflights13.run(engine, settings, tables)


def jetblue_day_from_jfk(store_dir: Path, day: date, destination: str | None = None) -> tuple[str, str]:
    """A fresh SQLite store in ``store_dir`` holding JetBlue's nycflights13 flights of ``day``; returns its
    URL and the lowest flight number leaving JFK (for ``destination`` where given)."""
    from eta.store import open_store

    url = f"sqlite:///{store_dir / 'flights.sqlite3'}"
    settings = Settings(database_url=url, data_dir=store_dir)
    engine = open_store(settings)
    import_nyc_flights(engine, settings, (day,), carrier="B6")
    to = "" if destination is None else f" AND destination = '{destination}'"
    with engine.connect() as conn:
        number = conn.exec_driver_sql(
            f"SELECT number FROM services WHERE leg = 'JFK'{to} ORDER BY number LIMIT 1"
        ).scalar_one()
    engine.dispose()
    return url, str(number)


def persistence_predictions(
    engine: Engine,
    horizons_s: tuple[int, ...] = (7_200, 3_600, 1_800, 600),
    model_version: str = MODEL_VERSION,
) -> int:
    """Write one served prediction per call with a scheduled arrival and horizon; returns rows written."""
    with engine.connect() as conn:
        calls = pd.DataFrame(
            conn.execute(
                select(
                    Call.id,
                    Call.service_id,
                    Call.sequence,
                    Call.location,
                    Call.scheduled_arrival,
                    Call.scheduled_departure,
                    Call.planned_platform,
                    Service.mode,
                ).join(Service, Service.id == Call.service_id)
            )
            .mappings()
            .all()
        )
        obs = pd.DataFrame(
            conn.execute(
                select(
                    Observation.call_id,
                    Observation.observed_at,
                    Observation.actual_arrival,
                    Observation.actual_departure,
                )
            )
            .mappings()
            .all()
        )
        names = dict(conn.execute(select(Location.code, Location.name)).all())
    for col in ("scheduled_arrival", "scheduled_departure"):
        calls[col] = pd.to_datetime(calls[col], utc=True)
    for col in ("observed_at", "actual_arrival", "actual_departure"):
        obs[col] = pd.to_datetime(obs[col], utc=True)
    reports = _delay_reports(calls, obs)
    targets = calls.dropna(subset=["scheduled_arrival"])
    frames = []
    for horizon in horizons_s:
        t = targets.assign(
            made_at=targets["scheduled_arrival"] - pd.Timedelta(seconds=horizon), horizon_s=horizon
        )
        frames.append(_predict(t, reports, names))
    frame = pd.concat(frames, ignore_index=True)
    frame["model_version"] = model_version
    frame["purpose"] = "served"
    with engine.begin() as conn:
        return insert_ignore(conn, Prediction.__table__, frame)


def _delay_reports(calls: pd.DataFrame, obs: pd.DataFrame) -> pd.DataFrame:
    """Every actual arrival or departure as (service, observed_at, delay_s, where)."""
    joined = obs.merge(calls, left_on="call_id", right_on="id")
    arrival = joined.dropna(subset=["actual_arrival", "scheduled_arrival"]).assign(
        delay_s=lambda f: (f["actual_arrival"] - f["scheduled_arrival"]).dt.total_seconds()
    )
    planned_dep = joined["scheduled_departure"].fillna(joined["scheduled_arrival"])
    departure = (
        joined.assign(planned_dep=planned_dep)
        .dropna(subset=["actual_departure", "planned_dep"])
        .assign(delay_s=lambda f: (f["actual_departure"] - f["planned_dep"]).dt.total_seconds())
    )
    reports = pd.concat([arrival, departure], ignore_index=True)[
        ["service_id", "observed_at", "delay_s", "location", "mode"]
    ]
    reports["observed_at"] = reports["observed_at"].astype("datetime64[ns, UTC]")
    return reports.sort_values("observed_at")


def _predict(targets: pd.DataFrame, reports: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    left = targets.sort_values("made_at").assign(made_at=lambda f: f["made_at"].astype("datetime64[ns, UTC]"))
    merged = pd.merge_asof(
        left,
        reports.drop(columns=["mode"]).rename(columns={"location": "where"}),
        left_on="made_at",
        right_on="observed_at",
        by="service_id",
        direction="backward",
    )
    delay = merged["delay_s"].fillna(0.0).round()
    scheduled = merged["scheduled_arrival"]
    p50 = scheduled + pd.to_timedelta(delay, unit="s")
    spread = 60 + 0.15 * merged["horizon_s"] + 0.3 * delay.abs()
    has_platform = merged["planned_platform"].notna()
    # the whole distribution around that interval, in the normal distribution's proportions
    low, high = -(spread * 0.6).to_numpy(), (spread * 1.4).to_numpy()
    spreads = distribution.quantiles(None, low, np.zeros(len(low)), high, None)
    return pd.DataFrame(
        {
            "call_id": merged["id"],
            "made_at": merged["made_at"],
            "horizon_s": merged["horizon_s"],
            "p10_arrival": p50 - pd.to_timedelta(spread * 0.6, unit="s"),
            "p50_arrival": p50,
            "p90_arrival": p50 + pd.to_timedelta(spread * 1.4, unit="s"),
            "arrival_quantiles": [distribution.encode(row, 0.0) for row in spreads],
            "operator_estimate": pd.NaT,
            "platform": merged["planned_platform"],
            "platform_probability": np.where(has_platform, 0.9, np.nan),
            "platform_announced": np.where(has_platform, False, None),
            "platform_probs": [
                {str(p): 0.9} if isinstance(p, str) else None for p in merged["planned_platform"]
            ],
            "explanation": [
                _explain(d, w, names, m)
                for d, w, m in zip(merged["delay_s"], merged["where"], merged["mode"], strict=True)
            ],
        }
    )


def _explain(delay_s: float, where: object, names: dict[str, str], mode: str) -> dict[str, object]:
    if pd.isna(delay_s) or abs(delay_s) < 60:
        return {"baseline_delay_s": 0, "top": []}
    minutes = round(abs(delay_s) / 60)
    place = names.get(str(where)) or str(where)
    vehicle = "train" if mode == "train" else "flight"
    state = "late" if delay_s > 0 else "early"
    sign = "+" if delay_s > 0 else "−"
    return {
        "baseline_delay_s": 0,
        "top": [
            {
                "feature": "latest_delay_s",
                "contribution_s": round(delay_s),
                "text": f"{sign}{minutes} min: the {vehicle} was {minutes} min {state} at {place}",
            }
        ],
    }
