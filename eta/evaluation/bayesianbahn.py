"""BayesianBahn's backtest protocol (github.com/DerWeh/BayesianBahn, ``pipeline/backtest.py``), scored on eta.

Events: every non-cancelled stop at Augsburg Hbf or München Hbf with a delay value; the outcome is the
arrival delay in whole minutes (the departure delay for trains starting there), clipped to [−30, 360]. A
connection is (station, train category, train number); connections with fewer than
:data:`MIN_CONNECTION_EVENTS` events in the whole store are skipped, and an event is scored only where
the same connection has :data:`MIN_EARLIER_EVENTS` events on earlier dates within ±20 minutes of its planned
minute of day (local time). Two scenarios:

* **live**: the train has left its previous stop (its final delay there is known): eta's ``next_stop``
  query, at the time that departure was reported; the interval (and the quantiles around it) as served:
  the model deployed at the test window's start (each block's, walking forward) and re-calibrated on its
  own live predictions of the arrivals there that have arrived, as serving re-calibrates it
  (:func:`eta.model.served_calibration.replay`); ``live_model_interval`` scores the model's own interval;
* **blind**: nothing live: a query at the local midnight starting the run's service date (the day
  before, for a planner; the ``day_before`` horizon the models also train on), with everything observed
  by then.

Predictions come from the same features and model as every other backtest; each test event is predicted
by a model trained only on a window that ends before it (with ``walk_forward``, the training window moved
forward with each block of the test window, as the retraining job would). Scores in minutes: exact CRPS
of the 19 quantiles (:func:`eta.evaluation.metrics.crps_rows`), pinball loss at 0.1/0.5/0.9, MAE of the
P50 and the share inside [P10, P90], overall, by category and by hop (planned minutes from the previous
stop). Trains starting at the station are events of the blind scenario with a departure delay: the
departure model (:mod:`eta.model.departure`, trained on the same window) predicts them, with the same
features on the departure view; the blind block is scored on all events and by event (``by_event``:
arrival, departure), and the report carries a ``departure`` section beside ``arrival`` (the blind events
of each model).

Beside eta, every blind event is also scored for ``connection_history``: the quantiles of the same
connection's outcomes on every earlier day (within ±20 minutes of its planned minute of day), the data
BayesianBahn's blind forecast conditions on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, func, select
from sqlalchemy.orm import aliased

from eta.config import Settings
from eta.errors import InputError
from eta.evaluation import as_served
from eta.evaluation.baselines import arrival_baselines
from eta.evaluation.metrics import crps_rows, pinball_at
from eta.evaluation.walk_forward import blocks
from eta.features import compute_features, departures, load_frames
from eta.features.frames import Frames
from eta.features.queries import DAY_BEFORE, horizon_queries, target_calls
from eta.features.reports import delay_reports, first_event, lookup, seconds
from eta.model import arrival, departure
from eta.model.artefact import Artefact
from eta.model.distribution import LEVELS
from eta.store.schema import Call, Observation, Service
from eta.windows import Window, check_disjoint

log = logging.getLogger(__name__)

PROTOCOL = "bayesianbahn"
STATIONS = ("8000013", "8000261")  # Augsburg Hbf, München Hbf
TZ = ZoneInfo("Europe/Berlin")
CLIP_MIN = (-30.0, 360.0)
MIN_CONNECTION_EVENTS = 15
MIN_EARLIER_EVENTS = 10
TOD_TOLERANCE_MIN = 20
LONG_DISTANCE = frozenset({"ICE", "IC", "EC", "ECE", "RJ", "RJX", "NJ", "EN", "FLX", "TGV", "D", "IR"})
HOP_BUCKETS = (("<=5", 5.0), ("5-10", 10.0), ("10-20", 20.0), ("20-40", 40.0), (">40", np.inf))
# BayesianBahn's published figures on this protocol (issue 19; its whole test period for the hops).
REFERENCE: dict[str, Any] = {
    "live": {
        "april": {"n": 15_949, "crps_min": 1.415, "mae_p50_min": 1.786, "coverage_p10_p90": 0.860},
        "may": {"n": 20_573, "crps_min": 1.539, "mae_p50_min": 1.970, "coverage_p10_p90": 0.856},
        "by_hop": {
            "<=5": {"crps_min": 0.539, "mae_p50_min": 0.680, "coverage_p10_p90": 0.894},
            "5-10": {"crps_min": 0.839, "mae_p50_min": 1.091, "coverage_p10_p90": 0.873},
            "10-20": {"crps_min": 1.249, "mae_p50_min": 1.607, "coverage_p10_p90": 0.861},
            "20-40": {"crps_min": 2.354, "mae_p50_min": 2.994, "coverage_p10_p90": 0.825},
            ">40": {"crps_min": 4.107, "mae_p50_min": 5.199, "coverage_p10_p90": 0.800},
        },
    },
    "blind": {
        "april": {"n": 25_914, "crps_min": 3.117, "mae_p50_min": 3.986},
        "may": {"n": 33_159, "crps_min": 3.681, "mae_p50_min": 4.760},
    },
    "persistence_mae_min": {"april": 2.116, "may": 2.264},
}


_QCOLS = [f"q{round(level * 100):02d}" for level in LEVELS]


@dataclass
class Scored:
    """Every scored event of one scenario: outcome, quantiles (minutes) and groups."""

    rows: pd.DataFrame  # call_id, y_min, category, hop, persistence_min, q05 … q95 (minutes)


def category_of(operator: str) -> str:
    if operator in LONG_DISTANCE:
        return "long_distance"
    return "sbahn" if operator == "S" else "regional"


def hop_bucket(hop_min: float) -> str | None:
    if not np.isfinite(hop_min):
        return None
    for name, upper in HOP_BUCKETS:
        if hop_min <= upper:
            return name
    return None


def station_calls(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every train call at the protocol's stations in the store (with its service and the previous stop's
    planned time), and their observations: the whole data the events are counted on."""
    previous = aliased(Call)
    at_stations = and_(Call.location.in_(STATIONS), Service.mode == "train")
    calls_query = (
        select(
            Call.id.label("call_id"),
            Call.service_id,
            Call.sequence,
            Call.location,
            Call.scheduled_arrival,
            Call.scheduled_departure,
            Service.operator,
            Service.number,
            func.coalesce(previous.scheduled_arrival, previous.scheduled_departure).label("prev_planned"),
        )
        .join(Service, Service.id == Call.service_id)
        .outerjoin(
            previous, and_(previous.service_id == Call.service_id, previous.sequence == Call.sequence - 1)
        )
        .where(at_stations)
    )
    ids = select(Call.id).join(Service, Service.id == Call.service_id).where(at_stations)
    observations_query = select(
        Observation.call_id,
        Observation.observed_at,
        Observation.actual_arrival,
        Observation.actual_departure,
        Observation.cancelled,
    ).where(Observation.call_id.in_(ids))
    with engine.connect() as conn:
        calls = pd.DataFrame(
            conn.execute(calls_query).mappings().all(), columns=list(calls_query.selected_columns.keys())
        )
        observations = pd.DataFrame(
            conn.execute(observations_query).mappings().all(),
            columns=list(observations_query.selected_columns.keys()),
        )
    for frame, columns in (
        (calls, ("scheduled_arrival", "scheduled_departure", "prev_planned")),
        (observations, ("observed_at", "actual_arrival", "actual_departure")),
    ):
        for column in columns:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return calls, observations


def events(calls: pd.DataFrame, observations: pd.DataFrame) -> pd.DataFrame:
    """The protocol's events among ``calls`` (:func:`station_calls`), each with its outcome and whether
    it may be scored.

    Columns: call_id, service_id, sequence, location, operator, number, planned, local_date, tod_min,
    y_min, is_departure (no scheduled arrival: the train starts there), hop_min, category, eligible.
    """
    at = calls[calls["location"].isin(STATIONS)]
    cancelled = observations.loc[observations["cancelled"].fillna(False).astype(bool), "call_id"].unique()
    at = at[~at["call_id"].isin(cancelled)]
    arrived = first_event(observations, "actual_arrival")["actual_arrival"]
    departed = first_event(observations, "actual_departure")["actual_departure"]
    is_departure = at["scheduled_arrival"].isna()
    planned = at["scheduled_arrival"].where(~is_departure, at["scheduled_departure"])
    actual = lookup(at["call_id"], arrived).where(~is_departure, lookup(at["call_id"], departed))
    local = planned.dt.tz_convert(TZ)
    out = pd.DataFrame(
        {
            "call_id": at["call_id"],
            "service_id": at["service_id"],
            "sequence": at["sequence"],
            "location": at["location"],
            "operator": at["operator"],
            "number": at["number"],
            "planned": planned,
            "local_date": local.dt.date,
            "tod_min": local.dt.hour * 60 + local.dt.minute,
            "y_min": (seconds(actual - planned) / 60).clip(*CLIP_MIN),
            "is_departure": is_departure,
            "hop_min": seconds(planned - at["prev_planned"]) / 60,
        }
    )
    out = out[out["y_min"].notna()].reset_index(drop=True)
    out["category"] = out["operator"].map(category_of)
    out["eligible"] = _eligible(out)
    return out


def _eligible(events: pd.DataFrame) -> np.ndarray:
    """Whether the connection has enough events overall, and this event enough earlier similar ones."""
    eligible = np.zeros(len(events), dtype=bool)
    day, tod = local_days(events), events["tod_min"].to_numpy()
    for _, index in connections(events):
        if len(index) < MIN_CONNECTION_EVENTS:
            continue
        eligible[index] = earlier_similar(day, tod, index, index).sum(axis=1) >= MIN_EARLIER_EVENTS
    return eligible


def connections(events: pd.DataFrame) -> list[tuple[Any, np.ndarray]]:
    """Each connection (station, train category, train number) and the positions of its events."""
    return [
        (key, np.asarray(index))
        for key, index in events.groupby(["location", "operator", "number"]).indices.items()
    ]


def local_days(events: pd.DataFrame) -> np.ndarray:
    """Each event's local service date as a day number (comparable, one apart from day to day)."""
    return pd.to_datetime(events["local_date"]).to_numpy().astype("datetime64[D]").astype("int64")


def earlier_similar(day: np.ndarray, tod: np.ndarray, mine: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """For each event at positions ``mine``, which events at positions ``pool`` (its connection's) ran
    on an earlier day within ±:data:`TOD_TOLERANCE_MIN` of its planned minute of day: a boolean matrix."""
    earlier = day[pool][None, :] < day[mine][:, None]
    near = np.abs(tod[pool][None, :] - tod[mine][:, None]) <= TOD_TOLERANCE_MIN
    return earlier & near


def connection_history(found: pd.DataFrame, chosen: pd.DataFrame) -> pd.DataFrame:
    """Per ``chosen`` event (of ``found``, :func:`events`), the quantiles (minutes) at :data:`LEVELS` of
    the outcomes of the same connection on every earlier day within ±:data:`TOD_TOLERANCE_MIN` of its
    planned minute of day (the data BayesianBahn's blind forecast conditions on)."""
    day, tod = local_days(found), found["tod_min"].to_numpy()
    y = found["y_min"].to_numpy(dtype="float64")
    wanted = found["call_id"].isin(chosen["call_id"]).to_numpy()
    parts: list[pd.DataFrame] = []
    for _, index in connections(found):
        mine = index[wanted[index]]
        if len(mine) == 0:
            continue
        values = np.where(earlier_similar(day, tod, mine, index), y[index][None, :], np.nan)
        with np.errstate(all="ignore"):
            q = np.nanquantile(values, LEVELS, axis=1).T
        parts.append(pd.DataFrame(q, columns=_QCOLS).assign(call_id=found["call_id"].to_numpy()[mine]))
    if not parts:
        return pd.DataFrame(columns=["call_id", *_QCOLS])
    return pd.concat(parts, ignore_index=True).dropna()


def scenario_queries(frames: Frames, targets: pd.DataFrame, scenario: str) -> pd.DataFrame:
    """The live (``next_stop``) or blind query of each target call (arrival calls with an outcome)."""
    return horizon_queries(frames, targets, ("next_stop",) if scenario == "live" else (DAY_BEFORE,))


def predict_events(
    frames: Frames,
    artefact: Artefact,
    chosen: pd.DataFrame,
    scenario: str,
    reports: pd.DataFrame,
    served: tuple[Settings, datetime] | None = None,
) -> pd.DataFrame:
    """Quantiles (minutes, clipped like the outcome) and the persistence baseline of ``chosen`` events:
    their arrivals, or their departures where ``frames`` is the departure view (``reports`` of the same
    frames).

    ``served`` (settings, the model's deployment): the interval as served, re-calibrated on the model's
    own predictions of ``chosen`` as serving re-calibrates it (:func:`eta.model.served_calibration.replay`);
    the rows of the model's own interval follow with the scenario ``<scenario>_model``.
    """
    targets = target_calls(frames)
    targets = targets[targets["call_id"].isin(chosen["call_id"])]
    queries = scenario_queries(frames, targets, scenario)
    if queries.empty:
        return pd.DataFrame()
    features = compute_features(
        "train", frames, queries, artefact.history, artefact.meta["vocabularies"], reports
    )
    predictor = arrival.ArrivalPredictor(artefact)
    predicted = predictor.predict(features)
    persistence = np.clip(arrival_baselines("train", features)["persistence"].to_numpy() / 60, *CLIP_MIN)
    q = queries.set_index("qid").reindex(features.index)
    call_id = q["call_id"].to_numpy()

    def rows(spread_s: np.ndarray, name: str) -> pd.DataFrame:
        spread = np.clip(spread_s / 60, *CLIP_MIN)
        out = pd.DataFrame(spread, columns=[f"q{round(level * 100):02d}" for level in LEVELS])
        out.insert(0, "call_id", call_id)
        out["persistence_min"] = persistence
        out["scenario"] = name
        return out

    own = rows(predictor.quantiles(features, predicted), scenario)
    if served is None:
        return own
    settings, deployed = served
    given = as_served.served(features, q, predicted, artefact, settings, deployed)
    served_rows = rows(given.quantiles_s, scenario)
    return pd.concat([served_rows, own.assign(scenario=f"{scenario}_model")], ignore_index=True)


def score(rows: pd.DataFrame) -> dict[str, Any]:
    """n, CRPS, MAE of the P50, pinball at 0.1/0.5/0.9 and P10–P90 coverage (minutes) of ``rows``."""
    if rows.empty:
        return {"n": 0}
    y = rows["y_min"].to_numpy(dtype="float64")
    q = rows[[f"q{round(level * 100):02d}" for level in LEVELS]].to_numpy(dtype="float64")
    p10, p50, p90 = (q[:, LEVELS.index(level)] for level in (0.1, 0.5, 0.9))
    return {
        "n": len(rows),
        "crps_min": round(float(np.mean(crps_rows(y, q, LEVELS))), 3),
        "mae_p50_min": round(float(np.mean(np.abs(y - p50))), 3),
        "pinball_min": {
            str(level): round(pinball_at(y, q[:, LEVELS.index(level)], level), 3) for level in (0.1, 0.5, 0.9)
        },
        "coverage_p10_p90": round(float(np.mean((y >= p10) & (y <= p90))), 3),
    }


def scenario_block(rows: pd.DataFrame) -> dict[str, Any]:
    block = score(rows)
    if rows.empty:
        return block
    block["by_category"] = {
        name: score(rows[rows["category"] == name]) for name in ("long_distance", "regional", "sbahn")
    }
    hops = rows["hop_min"].map(hop_bucket)
    block["by_hop"] = {name: score(rows[hops == name]) for name, _ in HOP_BUCKETS}
    return block


def run(
    engine: Engine,
    settings: Settings,
    train: Window,
    test: Window,
    walk_forward: timedelta | None = None,
    tasks: tuple[str, ...] = ("arrival", departure.TASK),
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The protocol's report and every scored event (both scenarios).

    ``tasks`` without the departure model leaves the departures of trains starting at the stations
    unpredicted (counted as without a query): a live-only run, or a walk-forward, trains half the models.
    """
    unknown = set(tasks) - {"arrival", departure.TASK}
    if unknown or "arrival" not in tasks:
        raise InputError(
            f"the {PROTOCOL} protocol scores the arrival model, with or without the departure model"
        )
    check_disjoint(train, test)
    plan = blocks(train, test, walk_forward)
    clock = time.perf_counter()
    found = events(*station_calls(engine))
    frames = load_frames(engine, "train", train.start, test.end)
    log.info("read %d calls in %.0f s", len(frames.calls), time.perf_counter() - clock)
    # test days are UTC days, as in every eta backtest: a model never predicts its own training window
    in_test = found[
        (found["planned"] >= pd.Timestamp(test.start)) & (found["planned"] < pd.Timestamp(test.end))
    ]
    scored = in_test[in_test["eligible"]]
    if scored.empty:
        raise InputError(
            f"no events of the {PROTOCOL} protocol (Augsburg Hbf or München Hbf, with {MIN_EARLIER_EVENTS} "
            f"earlier runs) in the test window {test.label_from} … {test.label_until}; import db-runs first"
        )
    views = {"arrival": (frames, delay_reports(frames.calls, frames.observations))}
    if departure.TASK in tasks:
        view = departures.view(frames)
        views[departure.TASK] = (view, delay_reports(view.calls, view.observations))
    parts: list[pd.DataFrame] = []
    models = []
    for block in plan:
        in_block = (in_test["planned"] >= block.test.start) & (in_test["planned"] < block.test.end)
        block_events = in_test[in_block & in_test["eligible"]]
        if block_events.empty:
            continue
        # the served interval is re-calibrated on every arrival the model served, scored or not
        served_sample = in_test[in_block & ~in_test["is_departure"]]
        models.append(
            _block_models(frames, block, block_events, served_sample, views, settings, parts, tasks)
        )
    predicted: pd.DataFrame = pd.concat(parts, ignore_index=True)
    rows = predicted.merge(scored.drop(columns=["planned"]), on="call_id", how="inner")
    live, live_model, blind = (rows[rows["scenario"] == name] for name in ("live", "live_model", "blind"))
    history = connection_history(found, blind)
    history_rows = history.merge(
        blind[["call_id", "y_min", "category", "hop_min", "is_departure"]], on="call_id"
    )
    # arrivals without a query: live, no report of the previous stop's departure before the arrival
    n_arrivals = int((~scored["is_departure"]).sum())
    n_departures = int(scored["is_departure"].sum())
    report = {
        "protocol": PROTOCOL,
        "train_window": train.as_list(),
        "test_window": test.as_list(),
        "walk_forward_days": walk_forward.days if walk_forward else None,
        "tasks": list(tasks),
        "models": models,
        "live": scenario_block(live) | {"n_arrivals_without_query": n_arrivals - len(live)},
        # the model's own interval, before serving's re-calibration (the same P50)
        "live_model_interval": scenario_block(live_model),
        "blind": scenario_block(blind)
        | {
            "by_event": {
                name: score(blind[blind["is_departure"] == is_departure])
                for name, is_departure in (("arrival", False), (departure.TASK, True))
            },
            "n_arrivals_without_query": n_arrivals - int((~blind["is_departure"]).sum()),
            "n_departures_without_query": n_departures - int(blind["is_departure"].sum()),
        },
        "arrival": {"blind": score(blind[~blind["is_departure"]]), "live": score(live)},
        "departure": {"blind": score(blind[blind["is_departure"]])},
        "baselines": {
            "persistence": {
                "mae_min": round(float(np.mean(np.abs(live["y_min"] - live["persistence_min"]))), 3)
                if len(live)
                else None,
                "n": len(live),
                "definition": "live: the latest delay the train reported by t (its previous stop), unchanged",
            },
            "connection_history": scenario_block(history_rows)
            | {
                "definition": "blind: quantiles of the same connection's outcomes on every earlier day "
                f"within ±{TOD_TOLERANCE_MIN} min of its planned minute of day",
            },
        },
        "events": {
            "at_the_stations_in_test_window": len(in_test),
            "eligible": len(scored),
            "arrivals": n_arrivals,
            "departures": n_departures,
        },
        "reference_bayesianbahn": REFERENCE,
    }
    return report, rows


def _block_models(
    frames: Frames,
    block: Any,
    block_events: pd.DataFrame,
    served_sample: pd.DataFrame,
    views: dict[str, tuple[Frames, pd.DataFrame]],
    settings: Settings,
    parts: list[pd.DataFrame],
    tasks: tuple[str, ...],
) -> dict[str, Any]:
    """Train the arrival and departure models on the block's training window and predict its events
    into ``parts``: arrivals live and blind, departures of trains starting there blind. Live, the interval
    is the served one: the model deployed at the block's start, re-calibrated on its live predictions of
    ``served_sample`` (every arrival at the stations) as serving does; its own interval as ``live_model``."""
    summary: dict[str, Any] = {"train_window": block.train.as_list(), "test_window": block.test.as_list()}
    for task, kind in (("arrival", arrival), (departure.TASK, departure)):
        if task not in tasks:
            continue
        chosen = block_events[block_events["is_departure"] == (task == departure.TASK)]
        if chosen.empty:
            continue
        clock = time.perf_counter()
        artefact = kind.train(frames, "train", block.train.start, block.train.end, settings)
        log.info(
            "trained the %s model on %s … %s in %.0f s",
            task,
            block.train.label_from,
            block.train.label_until,
            time.perf_counter() - clock,
        )
        summary["n_train" if task == "arrival" else f"n_train_{task}"] = artefact.meta["n_train"]
        on, reports = views[task]
        if task == "arrival":
            served = (settings, block.test.start)
            parts.append(predict_events(on, artefact, served_sample, "live", reports, served))
        parts.append(predict_events(on, artefact, chosen, "blind", reports))
    return summary


def table(report: dict[str, Any]) -> str:
    """The report as a readable table: each scenario overall, by category and by hop."""
    lines = [
        f"{PROTOCOL} protocol: trained {report['train_window'][0]} … {report['train_window'][1]}"
        + (f", retrained every {report['walk_forward_days']} days" if report["walk_forward_days"] else "")
        + f", tested {report['test_window'][0]} … {report['test_window'][1]} (minutes)",
        "",
        f"{'scenario':<8}{'group':<15}{'n':>8}{'CRPS':>8}{'MAE':>8}{'pin.1':>8}{'pin.5':>8}{'pin.9':>8}{'cov':>8}",
    ]
    for scenario in ("live", "blind"):
        block = report[scenario]
        groups = [("all", block)]
        groups += [(name, part) for name, part in block.get("by_category", {}).items()]
        groups += [(f"hop {name}", part) for name, part in block.get("by_hop", {}).items()]
        for name, part in groups:
            if not part.get("n"):
                continue
            pin = part["pinball_min"]
            lines.append(
                f"{scenario:<8}{name:<15}{part['n']:>8,}{part['crps_min']:>8.3f}{part['mae_p50_min']:>8.3f}"
                f"{pin['0.1']:>8.3f}{pin['0.5']:>8.3f}{pin['0.9']:>8.3f}{part['coverage_p10_p90']:>8.3f}"
            )
    own = report.get("live_model_interval", {})
    if own.get("n"):
        lines += [
            "",
            f"live, the model's own interval (before serving's re-calibration): CRPS {own['crps_min']:.3f}, "
            f"coverage {own['coverage_p10_p90']:.3f}",
        ]
    persistence = report["baselines"]["persistence"]["mae_min"]
    if persistence is not None:
        lines += ["", f"live persistence (previous stop's delay) MAE {persistence:.3f}"]
    for name, part in report["blind"].get("by_event", {}).items():
        if part.get("n"):
            lines.append(
                f"blind {name}s: n {part['n']:,}, CRPS {part['crps_min']:.3f}, MAE {part['mae_p50_min']:.3f}"
            )
    history = report["baselines"]["connection_history"]
    if history.get("n"):
        lines.append(
            f"blind connection history (earlier days): n {history['n']:,}, CRPS {history['crps_min']:.3f}, "
            f"MAE {history['mae_p50_min']:.3f}"
        )
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Any) -> Any:
    """CRPS and P10–P90 coverage by hop, live, beside BayesianBahn's published figures; a PNG by ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [name for name, _ in HOP_BUCKETS]
    hops = report["live"].get("by_hop", {})
    ours = [hops.get(n, {}).get("crps_min", np.nan) for n in names]
    theirs = [REFERENCE["live"]["by_hop"][n]["crps_min"] for n in names]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    x = np.arange(len(names))
    left.bar(x - 0.2, ours, 0.4, label="eta")
    left.bar(x + 0.2, theirs, 0.4, label="BayesianBahn (published)")
    left.set_xticks(x, [f"{n} min" for n in names])
    left.set_ylabel("CRPS (min)")
    left.set_title("live, by planned minutes from the previous stop")
    left.legend()
    right.plot(names, [hops.get(n, {}).get("coverage_p10_p90", np.nan) for n in names], "o-", label="eta")
    right.plot(
        names,
        [REFERENCE["live"]["by_hop"][n]["coverage_p10_p90"] for n in names],
        "s--",
        label="BayesianBahn",
    )
    right.axhspan(0.77, 0.83, color="grey", alpha=0.2, linewidth=0)
    right.set_ylim(0.6, 1.0)
    right.set_ylabel("share inside P10–P90")
    right.set_title("coverage (target 0.80 ± 0.03)")
    right.legend()
    fig.suptitle(f"{PROTOCOL} protocol, test {' … '.join(report['test_window'])}")
    fig.tight_layout()
    target = path.with_suffix(f".{PROTOCOL}.png")
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target
