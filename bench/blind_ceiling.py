"""How far the day before can go on BayesianBahn's blind protocol (issue 19: blind CRPS ≤ 3.1).

Usage: ``python -m bench.blind_ceiling [--test-from 2026-04-07 --test-until 2026-05-31]`` on a store
holding the DB runs (``eta import db-runs``). The protocol's blind events (:mod:`eta.evaluation.bayesianbahn`:
the same events, outcomes, test days and scores as ``eta backtest --protocol bayesianbahn``) forecast by:

* ``history``: the quantiles of the connection's outcomes on every earlier day within ±20 min of the
  planned minute of day (the protocol's ``connection_history`` baseline, what BayesianBahn's blind model
  conditions on);
* ``history_halflife_28d``: the same outcomes weighted by their age (half-life 28 days);
* ``knowable``: xgboost quantile boosters (eta's 19 levels) on the residual from the history median, fed every
  signal found knowable at local midnight: the history's quantiles and moments, its last 7 days, the last
  outcome and its age, the day's plan (minutes from the previous stop, stops in the run, position, minutes
  from the origin, and each against the connection's usual), weekday, minute of day, category, station,
  arrival or departure, and the station's previous day (median residual and share over 5 min late of the
  events that had happened by midnight); retrained every 7 days on every earlier eligible event;
* ``oracle``: the same boosters also given what NOBODY knows at midnight: the median residual and the share
  over 5 min late of the station's other events within ±30, ±60 and ±180 min of this one on the same day.

The oracle bounds what a forecast made the day before could reach with any model of these boosters' kind:
the day's own disruptions at the station are more than the evening before can know. Writes
``bench/results/blind_ceiling_<test window>.{json,txt}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from sqlalchemy import func, select

from eta.config import get_settings
from eta.evaluation import bayesianbahn as bb
from eta.model.distribution import LEVELS
from eta.store import open_store
from eta.store.schema import Call
from eta.windows import window

RESULTS = Path(__file__).parent / "results"
HALF_LIFE_DAYS = 28
WEEK_DAYS = 7
LATE_MIN = 5.0
ORACLE_WINDOWS_MIN = (30, 60, 180)
BOOSTER = {
    "objective": "reg:quantileerror",
    "quantile_alpha": np.asarray(LEVELS),
    "learning_rate": 0.05,
    "max_depth": 5,
    "min_child_weight": 20,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "tree_method": "hist",
    "nthread": 2,
    "seed": 0,
}
ROUNDS = 300
QCOLS = [f"h{round(level * 100):02d}" for level in LEVELS]
PLAN = ["hop_min", "n_calls", "sequence", "from_origin_min"]
KNOWABLE = [
    *QCOLS,
    "n_hist",
    "h_mean",
    "h_std",
    "h_late",
    "h_weighted_mean",
    "last",
    "last_age_days",
    "median_7d",
    "mean_7d",
    "late_7d",
    *PLAN,
    *(f"{name}_vs_usual" for name in PLAN),
    "tod_vs_usual",
    "weekday",
    "tod_min",
    "category_code",
    "station_code",
    "is_departure",
    "station_yesterday_residual",
    "station_yesterday_late",
]
ORACLE = [
    *KNOWABLE,
    *(f"oracle_{kind}_{w}" for w in ORACLE_WINDOWS_MIN for kind in ("residual", "late")),
]

log = logging.getLogger("bench.blind_ceiling")


def run_plans(engine: Any, services: pd.Series) -> pd.DataFrame:
    """Per service: its number of calls and its first planned time (the day's plan, published ahead)."""
    planned = func.coalesce(Call.scheduled_departure, Call.scheduled_arrival)
    query = (
        select(Call.service_id, func.count().label("n_calls"), func.min(planned).label("origin_planned"))
        .where(Call.service_id.in_(select(Call.service_id).where(Call.location.in_(bb.STATIONS))))
        .group_by(Call.service_id)
    )
    with engine.connect() as conn:
        out = pd.DataFrame(
            conn.execute(query).mappings().all(), columns=["service_id", "n_calls", "origin_planned"]
        )
    out["origin_planned"] = pd.to_datetime(out["origin_planned"], utc=True, format="ISO8601")
    return out[out["service_id"].isin(services)]


def history_features(found: pd.DataFrame) -> pd.DataFrame:
    """Per eligible event (the positions of ``found``, :func:`eta.evaluation.bayesianbahn.events` with the
    plan's columns): its connection's outcomes on earlier days within ±20 min and its plan against the
    connection's usual one there."""
    day, tod = bb.local_days(found), found["tod_min"].to_numpy()
    y = found["y_min"].to_numpy(dtype="float64")
    plan = found[PLAN].to_numpy(dtype="float64")
    eligible = found["eligible"].to_numpy()
    rows: list[dict[str, Any]] = []
    for _, index in bb.connections(found):
        mine = index[eligible[index]]
        for i, similar in zip(mine, bb.earlier_similar(day, tod, mine, index), strict=True):
            rows.append(_event_row(i, index[similar], day, tod, y, plan))
    return pd.DataFrame(rows)


def _event_row(
    i: int, near: np.ndarray, day: np.ndarray, tod: np.ndarray, y: np.ndarray, plan: np.ndarray
) -> dict[str, Any]:
    h, age = y[near], day[i] - day[near]
    weight = 0.5 ** (age / HALF_LIFE_DAYS)
    recent = h[age <= WEEK_DAYS]
    row: dict[str, Any] = {"position": i}
    row |= dict(zip(QCOLS, np.quantile(h, LEVELS), strict=True))
    row |= dict(zip([f"w{c[1:]}" for c in QCOLS], _weighted_quantiles(h, weight), strict=True))
    row |= {
        "n_hist": len(h),
        "h_mean": h.mean(),
        "h_std": h.std(),
        "h_late": np.mean(h > LATE_MIN),
        "h_weighted_mean": np.sum(weight * h) / weight.sum(),
        "last": h[np.argmin(age)],
        "last_age_days": age.min(),
        "median_7d": np.median(recent) if len(recent) else np.nan,
        "mean_7d": recent.mean() if len(recent) else np.nan,
        "late_7d": np.mean(recent > LATE_MIN) if len(recent) else np.nan,
        "tod_vs_usual": tod[i] - np.median(tod[near]),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a plan column unknown on every earlier day
        usual = np.nanmedian(plan[near], axis=0) if len(near) else np.full(len(PLAN), np.nan)
    for k, name in enumerate(PLAN):
        row[name] = plan[i, k]
        row[f"{name}_vs_usual"] = plan[i, k] - usual[k]
    return row


def _weighted_quantiles(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    order = np.argsort(values)
    v, w = values[order], weight[order]
    at = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(LEVELS, at, v)


def station_yesterday(found: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Per station and local date: the previous day's median residual (outcome − its history median) and
    share over 5 min late, over that day's events that had happened by midnight."""
    local = found["planned"].dt.tz_convert(bb.TZ)
    happened = local + pd.to_timedelta(found["y_min"], unit="min")
    by_midnight = happened.dt.date == found["local_date"]
    day = rows[by_midnight.to_numpy()[rows["position"]]]
    out = day.groupby(["location", "local_date"]).agg(
        station_yesterday_residual=("residual", "median"),
        station_yesterday_late=("y_min", lambda s: float(np.mean(s > LATE_MIN))),
    )
    out = out.reset_index()
    out["local_date"] = out["local_date"] + pd.Timedelta(days=1)
    return out


def oracle(rows: pd.DataFrame) -> pd.DataFrame:
    """What nobody knows at midnight: per event, the median residual and the share over 5 min late of
    the station's other events that day within each of :data:`ORACLE_WINDOWS_MIN` minutes."""
    out = pd.DataFrame(index=rows.index)
    for _, index in rows.groupby(["location", "local_date"]).indices.items():
        group = rows.iloc[index]
        t = group["tod_min"].to_numpy()
        residual, late = group["residual"].to_numpy(), (group["y_min"].to_numpy() > LATE_MIN).astype(float)
        for width in ORACLE_WINDOWS_MIN:
            near = (np.abs(t[:, None] - t[None, :]) <= width) & ~np.eye(len(t), dtype=bool)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out.loc[group.index, f"oracle_residual_{width}"] = np.nanmedian(
                    np.where(near, residual[None, :], np.nan), axis=1
                )
                out.loc[group.index, f"oracle_late_{width}"] = np.nanmean(
                    np.where(near, late[None, :], np.nan), axis=1
                )
    return out


def walk_forward(rows: pd.DataFrame, test: pd.Series, columns: list[str], start: pd.Timestamp) -> np.ndarray:
    """Quantiles (minutes) of the test rows from boosters retrained every 7 days on every earlier row."""
    out = np.full((len(rows), len(LEVELS)), np.nan)
    end = rows.loc[test, "planned"].max()
    block = start
    while block <= end:
        after = block + pd.Timedelta(days=WEEK_DAYS)
        train = rows[rows["planned"] < block]
        chosen = test & (rows["planned"] >= block) & (rows["planned"] < after)
        if chosen.any():
            clock = time.perf_counter()
            booster = xgb.train(BOOSTER, xgb.DMatrix(train[columns], train["residual"]), ROUNDS)
            predicted = booster.predict(xgb.DMatrix(rows.loc[chosen, columns]))
            out[chosen.to_numpy()] = np.sort(predicted, axis=1) + rows.loc[chosen, ["h50"]].to_numpy()
            log.info(
                "week from %s: %d training rows, %d events, %.0f s",
                block.date(),
                len(train),
                int(chosen.sum()),
                time.perf_counter() - clock,
            )
        block = after
    return np.clip(out, *bb.CLIP_MIN)


def scores(rows: pd.DataFrame, quantiles: np.ndarray) -> dict[str, Any]:
    scored = rows[["y_min", "category", "is_departure", "local_date"]].copy()
    scored[[f"q{c[1:]}" for c in QCOLS]] = quantiles
    april = pd.to_datetime(scored["local_date"]).dt.month == 4
    return bb.score(scored) | {
        "april": bb.score(scored[april.to_numpy()]),
        "may": bb.score(scored[~april.to_numpy()]),
        "arrivals": bb.score(scored[~scored["is_departure"]]),
        "departures": bb.score(scored[scored["is_departure"]]),
        "by_category": {
            name: bb.score(scored[scored["category"] == name])
            for name in ("long_distance", "regional", "sbahn")
        },
    }


def table(report: dict[str, Any]) -> str:
    lines = [
        "BayesianBahn blind protocol, test " + " … ".join(report["test_window"]) + " (minutes)",
        "",
        f"{'forecast':<24}{'n':>8}{'CRPS':>8}{'MAE':>8}{'cov':>8}{'April':>8}{'May':>8}",
    ]
    for name, block in report["forecasts"].items():
        lines.append(
            f"{name:<24}{block['n']:>8,}{block['crps_min']:>8.3f}{block['mae_p50_min']:>8.3f}"
            f"{block['coverage_p10_p90']:>8.3f}{block['april']['crps_min']:>8.3f}{block['may']['crps_min']:>8.3f}"
        )
    lines += ["", "target (issue 19): CRPS <= 3.1; BayesianBahn published April 3.117, May 3.681"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-from", default="2026-04-07")
    parser.add_argument("--test-until", default="2026-05-31")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    test_window = window(args.test_from, args.test_until, "test")
    engine = open_store(get_settings())
    found = bb.events(*bb.station_calls(engine))
    if found.empty:
        raise SystemExit("no events at Augsburg Hbf or München Hbf; run `eta import db-runs` first")
    plans = run_plans(engine, found["service_id"]).set_index("service_id")
    found["n_calls"] = found["service_id"].map(plans["n_calls"])
    found["from_origin_min"] = (
        found["planned"] - found["service_id"].map(plans["origin_planned"])
    ).dt.total_seconds() / 60
    clock = time.perf_counter()
    rows = history_features(found)
    log.info("history of %d eligible events in %.0f s", len(rows), time.perf_counter() - clock)
    keep = [
        "call_id",
        "planned",
        "local_date",
        "tod_min",
        "y_min",
        "location",
        "category",
        "is_departure",
        "number",
    ]
    rows = pd.concat([rows, found[keep].iloc[rows["position"]].reset_index(drop=True)], axis=1)
    rows["local_date"] = pd.to_datetime(rows["local_date"])
    rows["residual"] = rows["y_min"] - rows["h50"]
    rows["weekday"] = rows["local_date"].dt.day_of_week
    rows["category_code"] = rows["category"].map({"long_distance": 0, "regional": 1, "sbahn": 2})
    rows["station_code"] = (rows["location"] == bb.STATIONS[1]).astype(int)
    rows["is_departure"] = rows["is_departure"].astype(bool)
    rows = rows.merge(station_yesterday(found, rows), on=["location", "local_date"], how="left")
    rows = pd.concat([rows, oracle(rows)], axis=1)
    test = (rows["planned"] >= pd.Timestamp(test_window.start)) & (
        rows["planned"] < pd.Timestamp(test_window.end)
    )
    start = pd.Timestamp(test_window.start)
    forecasts = {
        "history": rows[QCOLS].to_numpy(),
        f"history_halflife_{HALF_LIFE_DAYS}d": rows[[f"w{c[1:]}" for c in QCOLS]].to_numpy(),
        "knowable": walk_forward(rows, test, KNOWABLE, start),
        "oracle": walk_forward(rows, test, ORACLE, start),
    }
    mask = test.to_numpy()
    report = {
        "test_window": test_window.as_list(),
        "n_events": int(mask.sum()),
        "forecasts": {name: scores(rows[mask], q[mask]) for name, q in forecasts.items()},
        "features": {"knowable": KNOWABLE, "oracle_only": [c for c in ORACLE if c not in KNOWABLE]},
        "booster": {k: v for k, v in BOOSTER.items() if k != "quantile_alpha"} | {"rounds": ROUNDS},
        "retrained_every_days": WEEK_DAYS,
    }
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"blind_ceiling_{args.test_from}_{args.test_until}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1, default=float) + "\n")
    text = table(report)
    stem.with_suffix(".txt").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
