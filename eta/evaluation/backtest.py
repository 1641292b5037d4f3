"""``eta backtest``: train only on the training window, then predict every test call at every horizon with
point-in-time features, and score the model and the baselines in the same run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from eta.config import Settings
from eta.errors import InputError
from eta.evaluation.as_served import served
from eta.evaluation.baselines import ARRIVAL_BASELINES, arrival_baselines
from eta.evaluation.metrics import arrival_metrics, band_hits, point_errors
from eta.evaluation.walk_forward import blocks
from eta.features import compute_features, departures, load_frames
from eta.features.frames import Frames
from eta.features.queries import HORIZONS, horizon_queries, target_calls
from eta.features.reports import delay_reports, seconds
from eta.model import arrival, departure
from eta.model.artefact import Artefact
from eta.model.distribution import LEVELS
from eta.windows import Window, check_disjoint

log = logging.getLogger(__name__)

QUANTILE_COLUMNS = [f"q{round(level * 100):02d}_delay_s" for level in LEVELS]
# The model's own interval and quantiles, kept beside the served ones where the arrivals are scored as served.
OWN_COLUMNS = [f"own_{c}" for c in ("p10_delay_s", "p90_delay_s", *QUANTILE_COLUMNS)]


@dataclass
class ArrivalBacktest:
    """Every test prediction with its baselines and outcome, kept for the report and the plots."""

    rows: pd.DataFrame  # qid, call_id, horizon, t, actual_s, p10/p50/p90, q05…q95, baseline columns
    artefact: Artefact


def run(
    engine: Engine,
    settings: Settings,
    mode: str,
    train: Window,
    test: Window,
    dask_client: Any = None,
    tasks: tuple[str, ...] = ("arrival", "platform"),
    walk_forward: timedelta | None = None,
) -> tuple[dict[str, Any], ArrivalBacktest | None, Any]:
    """The report dict, the arrival rows and the platform rows (None where there was nothing to test).

    ``walk_forward``: the arrival model is retrained for each such block of the test window on the
    training window moved forward to it (:mod:`eta.evaluation.walk_forward`); platforms are scored once.

    The platform rows are a dict: ``published`` (task ``platform``) and ``unpublished`` (task
    ``platform_unpublished``: every station treated as announcing its platforms shortly before arrival).
    Task ``departure`` (trains) scores the departure model the same way on the departure view, in the
    report's ``departure`` section (its rows are not returned).
    """
    if mode not in HORIZONS:
        raise InputError(f"unknown mode {mode!r}; choose one of {sorted(HORIZONS)}")
    check_disjoint(train, test)
    clock = time.perf_counter()
    frames = load_frames(engine, mode, train.start, test.end)
    log.info(
        "read %d calls and %d observations in %.0f s",
        len(frames.calls),
        len(frames.observations),
        time.perf_counter() - clock,
    )
    report: dict[str, Any] = {
        "mode": mode,
        "train_window": train.as_list(),
        "test_window": test.as_list(),
        "arrival": {},
        "platform": {},
    }
    arrival_rows = None
    if "arrival" in tasks:
        arrival_rows = _event_section(
            report, "arrival", frames, mode, train, test, settings, dask_client, walk_forward
        )
    if departure.TASK in tasks and mode in departure.MODES:
        _event_section(
            report,
            departure.TASK,
            departures.view(frames),
            mode,
            train,
            test,
            settings,
            dask_client,
            walk_forward,
        )
    platform_rows: dict[str, pd.DataFrame] = {}
    if mode == "train" and "platform" in tasks:
        from eta.evaluation import platform_backtest

        rows = platform_backtest.run(frames, train, test, settings)
        if rows is not None:
            platform_rows["published"] = rows
            report["platform"] = platform_backtest.report(rows, settings.platforms.change_flag_probability)
            report["platform_change_flag_probability"] = settings.platforms.change_flag_probability
            report["platform_baseline_probabilities"] = platform_backtest.BASELINE_PROBABILITIES
    if mode == "train" and "platform_unpublished" in tasks:
        from eta.evaluation import unpublished_backtest

        rows = unpublished_backtest.run(frames, train, test, settings)
        if rows is not None:
            platform_rows["unpublished"] = rows
            report["platform_unpublished"] = unpublished_backtest.report(rows)
            report["platform_unpublished_announce_lead_min"] = settings.platforms.announce_lead_min
            report["platform_unpublished_baseline"] = unpublished_backtest.BASELINE_DEFINITION
    if not any(report.get(name) for name in ("arrival", "departure", "platform", "platform_unpublished")):
        raise InputError(
            f"no {mode} calls with outcomes in both the training window ({train.label_from} … "
            f"{train.label_until}) and the test window ({test.label_from} … {test.label_until}); "
            "import data for these periods first (eta import …)"
        )
    report["baseline_definitions"] = BASELINE_DEFINITIONS
    return report, arrival_rows, platform_rows


BASELINE_DEFINITIONS = {
    "timetable": "no delay: the scheduled arrival",
    "persistence": (
        "the operator's latest estimate for the call where one was published by t, else the latest delay "
        "the service reported by t carried forward (flights at departure: scheduled arrival + departure "
        "delay), else no delay"
    ),
    "historical_mean": (
        "mean arrival delay of this train/flight number at this station over the training window "
        "(no delay where it arrived there fewer than 3 times)"
    ),
}


def _event_section(
    report: dict[str, Any],
    task: str,
    frames: Frames,
    mode: str,
    train: Window,
    test: Window,
    settings: Settings,
    dask_client: Any,
    walk_forward: timedelta | None,
) -> ArrivalBacktest | None:
    """Backtest the ``task`` model (arrival, or departure on the departure view ``frames``) into
    ``report[task]`` (per horizon), ``report[f"{task}_model"]`` and, walking forward, its models."""
    if not (_has_arrivals(frames, train) and _has_arrivals(frames, test)):
        return None
    parts = [
        (block, arrival_backtest(frames, mode, block.train, block.test, settings, dask_client, task))
        for block in blocks(train, test, walk_forward)
        if _has_arrivals(frames, block.test)
    ]
    rows = ArrivalBacktest(rows=pd.concat([part.rows for _, part in parts]), artefact=parts[-1][1].artefact)
    report[task] = arrival_report(rows.rows)
    report[f"{task}_model"] = _model_summary(rows.artefact)
    if walk_forward is not None:
        report["walk_forward_days"] = walk_forward.days
        report[f"{task}_models"] = [
            {
                "train_window": block.train.as_list(),
                "test_window": block.test.as_list(),
                "n_train": part.artefact.meta["n_train"],
            }
            for block, part in parts
        ]
    return rows


def _has_arrivals(frames: Frames, window: Window) -> bool:
    return len(target_calls(frames, window.start, window.end)) > 0


def _model_summary(artefact: Artefact) -> dict[str, Any]:
    meta = artefact.meta
    return {
        "n_train": meta["n_train"],
        "n_calibration": meta["n_calibration"],
        "calibration_from": meta["calibration_from"],
        "calibration_metrics": meta.get("metrics", {}),
        "features": meta["features"],
    }


def arrival_backtest(
    frames: Frames,
    mode: str,
    train: Window,
    test: Window,
    settings: Settings,
    dask_client: Any = None,
    task: str = "arrival",
) -> ArrivalBacktest:
    """Train the ``task`` model on ``train`` and predict every test call of ``frames`` at every horizon
    (for ``departure``, ``frames`` is the departure view and its "arrivals" are departures)."""
    kind = departure if task == departure.TASK else arrival
    artefact = kind.train(frames, mode, train.start, train.end, settings, dask_client=dask_client)
    predictor = arrival.ArrivalPredictor(artefact)
    targets = target_calls(frames, test.start, test.end)
    queries = horizon_queries(frames, targets, HORIZONS[mode])
    reports = delay_reports(frames.calls, frames.observations)
    features = compute_features(
        mode, frames, queries, artefact.history, artefact.meta["vocabularies"], reports
    )
    predicted = predictor.predict(features)
    spread = predictor.quantiles(features, predicted)
    q = queries.set_index("qid").reindex(features.index)
    rows = pd.DataFrame(
        {
            "call_id": q["call_id"],
            "horizon": q["horizon"],
            "t": q["t"],
            "scheduled_arrival": features["scheduled_arrival"],
            "actual_s": seconds(q["actual_arrival"] - features["scheduled_arrival"]),
            "time_to_arrival_s": features["time_to_arrival_s"],
        }
    ).join(predicted)
    rows = rows.join(pd.DataFrame(spread, columns=QUANTILE_COLUMNS, index=features.index))
    if task == "arrival" and settings.model.served_calibration:
        rows = as_served(rows, features, q, artefact, settings, test)
    for name, series in arrival_baselines(mode, features).items():
        rows[f"baseline_{name}"] = series
    return ArrivalBacktest(rows=rows, artefact=artefact)


def as_served(
    rows: pd.DataFrame,
    features: pd.DataFrame,
    queries: pd.DataFrame,
    artefact: Artefact,
    settings: Settings,
    test: Window,
) -> pd.DataFrame:
    """``rows`` with the interval and quantiles serving would have given, the model deployed at the test
    window's start (:func:`eta.evaluation.as_served.served`); the model's own in :data:`OWN_COLUMNS`. The
    P50 is the model's either way."""
    given = served(features, queries, rows, artefact, settings, test.start)
    own = rows[["p10_delay_s", "p90_delay_s", *QUANTILE_COLUMNS]].set_axis(OWN_COLUMNS, axis=1)
    rows = rows.assign(p10_delay_s=given.p10_s, p90_delay_s=given.p90_s)
    rows[QUANTILE_COLUMNS] = given.quantiles_s
    return pd.concat([rows, own], axis=1)


def arrival_report(rows: pd.DataFrame) -> dict[str, Any]:
    """Per horizon: n, the model's metrics and each baseline's point errors."""
    out: dict[str, Any] = {}
    order = [h for h in (*HORIZONS["train"], *HORIZONS["flight"]) if h in set(rows["horizon"])]
    for horizon in order:
        part = rows[rows["horizon"] == horizon]
        actual = part["actual_s"].to_numpy()
        t_to_sched = part["time_to_arrival_s"].to_numpy()
        model = _model_metrics(part, "p10_delay_s", "p90_delay_s", QUANTILE_COLUMNS)
        baselines = {}
        for name in ARRIVAL_BASELINES:
            predicted = part[f"baseline_{name}"].to_numpy()
            block = point_errors(actual, predicted)
            block["band_hit_rate"] = round(
                float(np.mean(band_hits(actual, predicted, t_to_sched + predicted))), 4
            )
            baselines[name] = block
        out[horizon] = {"n": len(part), "model": model, "baselines": baselines}
        if OWN_COLUMNS[0] in part:
            out[horizon]["model_own_interval"] = own_interval(part)
    return out


def own_interval(part: pd.DataFrame) -> dict[str, Any]:
    """Coverage and CRPS of the model's own interval and quantiles, where ``model`` is scored as served."""
    metrics = _model_metrics(part, "own_p10_delay_s", "own_p90_delay_s", OWN_COLUMNS[2:])
    return {key: metrics[key] for key in ("coverage_p10_p90", "crps_s") if key in metrics}


def _model_metrics(part: pd.DataFrame, p10: str, p90: str, quantiles: list[str]) -> dict[str, Any]:
    """The model's metrics on ``part`` with the interval and quantiles of those columns (its P50)."""
    p50 = part["p50_delay_s"].to_numpy()
    return arrival_metrics(
        part["actual_s"].to_numpy(),
        part[p10].to_numpy(),
        p50,
        part[p90].to_numpy(),
        part["time_to_arrival_s"].to_numpy() + p50,
        part[quantiles].to_numpy() if quantiles[0] in part else None,
        LEVELS,
    )
