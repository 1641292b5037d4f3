"""'Will I make it?' scored on held-out time: the probability that a connection between two trains holds.

A connection is a pair of calls at one station: a train arriving (the first call) and another train
leaving after it (the second), the second's scheduled departure between ``min_transfer_s`` and
``min_transfer_s + window_s`` after the first's scheduled arrival. It holds when the second train actually
left at least ``min_transfer_s`` after the first actually arrived. Pairs are drawn from every station in
the test window (at most ``max_pairs``, at random), both events known; the same service never connects
with itself.

At each horizon both calls are predicted at the same time t, with the features known then: the arrival by
the arrival model, the departure by the departure model, both trained on the training window only
(:func:`eta.model.distribution.connection_probability`, the two delays taken as independent). Horizons:
``blind`` (the local midnight starting the first train's service date, nothing live: the models'
``day_before`` horizon) and ``30min`` (30
minutes before the first train's scheduled arrival).

Scores per horizon: the Brier score; its skill over each station's base rate (the share of its
connections that held in the training window, built by the same rules; all stations' share where a
station had fewer than :data:`MIN_STATION_PAIRS`); the calibration error (the mean, weighted by count, of
|mean probability − share held| over ten bins of probability) and the reliability table.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from eta.config import Settings
from eta.errors import InputError
from eta.evaluation.metrics import reliability
from eta.features import compute_features, departures, load_frames
from eta.features.frames import Frames
from eta.features.queries import QUERY_COLUMNS, day_start, target_calls
from eta.features.reports import delay_reports, lookup, seconds
from eta.model import arrival, departure, distribution
from eta.model.artefact import Artefact
from eta.windows import Window, check_disjoint

log = logging.getLogger(__name__)

TASK = "connection"
HORIZONS = ("blind", "30min")
MIN_STATION_PAIRS = 20
# Outcomes are whole minutes: a transfer of exactly the minimum holds, so the comparison is made half a
# minute beyond it.
TIE_S = 30.0


def connection_pairs(
    frames: Frames, window: Window, min_transfer_s: int, window_s: int, max_pairs: int, seed: int = 0
) -> pd.DataFrame:
    """Pairs (arrival call, departure call) at one station in ``window`` and whether each held.

    Columns: arrival_call_id, arrival_service_id, departure_call_id, departure_service_id, location,
    scheduled_arrival, scheduled_departure, arrival_known_at, departure_known_at, slack_s (scheduled
    transfer time less the minimum), held.
    """
    view = departures.view(frames)
    arrivals = _events(frames, target_calls(frames, window.start, window.end))
    leaving = _events(view, target_calls(view, window.start, window.end))
    codes, _ = pd.factorize(pd.concat([arrivals["location"], leaving["location"]], ignore_index=True))
    span = 10**12  # seconds in a key: stations apart by far more than any window
    arr_key = codes[: len(arrivals)].astype("int64") * span + arrivals["planned_s"].to_numpy()
    dep_key = codes[len(arrivals) :].astype("int64") * span + leaving["planned_s"].to_numpy()
    order = np.argsort(dep_key, kind="stable")
    dep_sorted = dep_key[order]
    low = np.searchsorted(dep_sorted, arr_key + min_transfer_s, side="left")
    high = np.searchsorted(dep_sorted, arr_key + min_transfer_s + window_s, side="right")
    count = high - low
    first = np.repeat(np.arange(len(arrivals)), count)
    offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    second = order[np.repeat(low, count) + offsets]
    a, d = arrivals.iloc[first].reset_index(drop=True), leaving.iloc[second].reset_index(drop=True)
    pairs = pd.DataFrame(
        {
            "arrival_call_id": a["call_id"],
            "arrival_service_id": a["service_id"],
            "departure_call_id": d["call_id"],
            "departure_service_id": d["service_id"],
            "location": a["location"],
            "scheduled_arrival": a["scheduled_arrival"],
            "scheduled_departure": d["scheduled_arrival"],
            "arrival_known_at": a["arrival_known_at"],
            "departure_known_at": d["arrival_known_at"],
            "slack_s": seconds(d["scheduled_arrival"] - a["scheduled_arrival"]) - min_transfer_s,
            "held": seconds(d["actual_arrival"] - a["actual_arrival"]) >= min_transfer_s,
        }
    )
    pairs = pairs[pairs["arrival_service_id"] != pairs["departure_service_id"]]
    if len(pairs) > max_pairs:
        pairs = pairs.sample(max_pairs, random_state=seed)
    return pairs.reset_index(drop=True)


def _events(frames: Frames, targets: pd.DataFrame) -> pd.DataFrame:
    location = frames.calls.set_index("call_id")["location"].astype(str)
    planned_s = (targets["scheduled_arrival"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return targets.assign(location=lookup(targets["call_id"], location), planned_s=planned_s.astype("int64"))


def pair_times(frames: Frames, pairs: pd.DataFrame, horizon: str) -> pd.Series:
    """The time t both calls of each pair are predicted at."""
    if horizon == "30min":
        return pairs["scheduled_arrival"] - pd.Timedelta(minutes=30)
    if horizon == "blind":
        return day_start(frames, pairs["arrival_service_id"])
    raise ValueError(f"unknown horizon {horizon!r}")


def event_quantiles(
    frames: Frames, artefact: Artefact, reports: pd.DataFrame, call_ids: pd.Series, t: pd.Series
) -> np.ndarray:
    """The 19 quantiles (s of delay) of each call's event (its arrival; its departure where ``frames``
    is the departure view), predicted at its t with the features known then."""
    calls = frames.calls.set_index("call_id")
    queries = pd.DataFrame(
        {
            "qid": range(len(call_ids)),
            "call_id": call_ids.to_numpy(),
            "service_id": calls.loc[call_ids.to_numpy(), "service_id"].to_numpy(),
            "sequence": calls.loc[call_ids.to_numpy(), "sequence"].to_numpy(),
            "t": pd.to_datetime(t.to_numpy(), utc=True).astype("datetime64[us, UTC]"),
            "horizon": "connection",
        }
    )[QUERY_COLUMNS]
    features = compute_features(
        "train", frames, queries, artefact.history, artefact.meta["vocabularies"], reports
    )
    predictor = arrival.ArrivalPredictor(artefact)
    predicted = predictor.predict(features)
    spread = predictor.quantiles(features, predicted)
    return np.asarray(pd.DataFrame(spread, index=features.index).reindex(queries["qid"]).to_numpy())


def probabilities(
    frames: Frames,
    models: dict[str, tuple[Artefact, Frames, pd.DataFrame]],
    pairs: pd.DataFrame,
    t: pd.Series,
) -> np.ndarray:
    """P(held) of each pair, both calls predicted at ``t``."""
    arr_model, arr_frames, arr_reports = models["arrival"]
    dep_model, dep_frames, dep_reports = models[departure.TASK]
    arriving = event_quantiles(arr_frames, arr_model, arr_reports, pairs["arrival_call_id"], t)
    leaving = event_quantiles(dep_frames, dep_model, dep_reports, pairs["departure_call_id"], t)
    slack = pairs["slack_s"].to_numpy(dtype="float64") + TIE_S
    return distribution.connection_probability(arriving, leaving, slack)


def scores(p: np.ndarray, held: np.ndarray, base: np.ndarray) -> dict[str, Any]:
    """Brier score, its skill over ``base`` and the calibration error (with the reliability table)."""
    y = held.astype("float64")
    brier = float(np.mean((p - y) ** 2))
    brier_base = float(np.mean((base - y) ** 2))
    table = reliability(p, y)
    error = float(np.sum(table["n"] * (table["confidence"] - table["accuracy"]).abs()) / len(p))
    return {
        "n": len(p),
        "held_share": round(float(y.mean()), 4),
        "brier": round(brier, 4),
        "brier_station_base_rate": round(brier_base, 4),
        "brier_skill": round(1 - brier / brier_base, 4) if brier_base > 0 else None,
        "calibration_error": round(error, 4),
        "reliability": [
            {"p_mean": round(float(confidence), 4), "held_share": round(float(share), 4), "n": int(n)}
            for confidence, share, n in zip(table["confidence"], table["accuracy"], table["n"], strict=True)
        ],
    }


def station_base_rates(train_pairs: pd.DataFrame) -> tuple[pd.Series, float]:
    """Per station, the share of its training-window connections that held; and all stations' share."""
    overall = float(train_pairs["held"].mean()) if len(train_pairs) else 0.5
    grouped = train_pairs.groupby("location")["held"].agg(["mean", "size"])
    return grouped.loc[grouped["size"] >= MIN_STATION_PAIRS, "mean"], overall


def run(
    engine: Engine,
    settings: Settings,
    train: Window,
    test: Window,
    min_transfer_s: int = 300,
    window_s: int = 600,
    max_pairs: int = 20_000,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train both models on ``train``, score connection probabilities of pairs in ``test``."""
    check_disjoint(train, test)
    frames = load_frames(engine, "train", train.start, test.end)
    train_pairs = connection_pairs(frames, train, min_transfer_s, window_s, 10**7)
    pairs = connection_pairs(frames, test, min_transfer_s, window_s, max_pairs)
    if pairs.empty or train_pairs.empty:
        raise InputError(
            f"no connections between trains in the training ({train.label_from} … {train.label_until}) or "
            f"test window ({test.label_from} … {test.label_until}); import db-runs first"
        )
    rates, overall = station_base_rates(train_pairs)
    base = lookup(pairs["location"], rates).astype("float64").fillna(overall).to_numpy()
    view = departures.view(frames)
    models: dict[str, tuple[Artefact, Frames, pd.DataFrame]] = {}
    for task, kind, on in (("arrival", arrival, frames), (departure.TASK, departure, view)):
        clock = time.perf_counter()
        artefact = kind.train(frames, "train", train.start, train.end, settings)
        log.info("trained the %s model in %.0f s", task, time.perf_counter() - clock)
        models[task] = (artefact, on, delay_reports(on.calls, on.observations))
    report: dict[str, Any] = {
        "task": TASK,
        "train_window": train.as_list(),
        "test_window": test.as_list(),
        "min_transfer_s": min_transfer_s,
        "transfer_window_s": [min_transfer_s, min_transfer_s + window_s],
        "n_pairs_in_test_window": len(pairs),
        "n_training_pairs": len(train_pairs),
        "independence": "the two trains' delays are taken as independent (the second does not wait)",
        "horizons": {},
    }
    scored = []
    for horizon in HORIZONS:
        t = pair_times(frames, pairs, horizon)
        ok = (t.notna() & (t < pairs["arrival_known_at"]) & (t < pairs["departure_known_at"])).to_numpy()
        part = pairs[ok].reset_index(drop=True)
        p = probabilities(frames, models, part, t[ok].reset_index(drop=True))
        report["horizons"][horizon] = scores(p, part["held"].to_numpy(), base[ok])
        scored.append(part.assign(horizon=horizon, probability=p, base_rate=base[ok]))
    return report, pd.concat(scored, ignore_index=True)


def table(report: dict[str, Any]) -> str:
    lines = [
        f"connections: trained {report['train_window'][0]} … {report['train_window'][1]}, tested "
        f"{report['test_window'][0]} … {report['test_window'][1]}, minimum transfer "
        f"{report['min_transfer_s'] // 60} min, scheduled {report['transfer_window_s'][0] // 60}–"
        f"{report['transfer_window_s'][1] // 60} min",
        "",
        f"{'horizon':<9}{'n':>8}{'held':>8}{'Brier':>8}{'base':>8}{'skill':>8}{'cal.err':>9}",
    ]
    for horizon, block in report["horizons"].items():
        lines.append(
            f"{horizon:<9}{block['n']:>8,}{block['held_share']:>8.3f}{block['brier']:>8.4f}"
            f"{block['brier_station_base_rate']:>8.4f}{block['brier_skill']:>8.1%}{block['calibration_error']:>9.4f}"
        )
    return "\n".join(lines)
