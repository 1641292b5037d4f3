"""Served against backtested: what a replayed (or live) day served, scored beside the backtest of the same
model on the same day at the same horizons.

The served side is the operator accuracy's join of served predictions with the actual arrivals (passed in
as a frame: :func:`eta.api.accuracy.served_vs_actual`). For every call of the day that arrived and every
named horizon of the backtest (``next_stop``, ``15min`` … for trains), the served prediction scored is the
one *in force* at the horizon's time t (the newest made by t: what a traveller saw then).

The backtest predicts the same calls with the same model from the final store, its features reading only
what was observed by the prediction time, twice:

* at the served prediction's own ``made_at`` — the same instant: with the same features code and the same
  knowledge, the P50s are equal (``same_p50`` is the share that are, to the model's resolution), and the
  served MAE is held to within :data:`TOLERANCE` of this backtest's at every horizon up to an hour;
* at t itself, as ``eta backtest`` predicts: the served prediction is up to one sweep older than t, and
  ``backtest_at_t_mae_s`` shows what that age costs.

The operator's estimate as known when the served prediction was made is scored on the same rows;
``very_late`` repeats it all on the rows where that estimate was 15 minutes late or more.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from eta.errors import InputError
from eta.features import Frames, compute_features, load_frames
from eta.features.queries import AT_PREVIOUS_DEPARTURE, HORIZONS, horizon_queries, target_calls
from eta.features.reports import delay_reports, lookup
from eta.model import registry
from eta.model.arrival import ArrivalPredictor
from eta.windows import Window

# How close the served MAE must be to the backtest's, and up to which horizon (issue 15).
TOLERANCE = 0.05
CHECKED_UP_TO_MIN = 60
VERY_LATE_S = 900
# How long after an event (a departure) the served prediction that took it in may come (one replayed cycle).
EVENT_LAG = pd.Timedelta(minutes=30)
# A P50 equal to the backtest's at made_at: within this many seconds (served times are whole seconds).
SAME_WITHIN_S = 1.0


def score(engine: Engine, mode: str, day: Window, served: pd.DataFrame) -> dict[str, Any]:
    """The report: per horizon, the served and the backtest MAE on the same calls, and how often the served
    P50 is the one the backtest computes at the same instant.

    ``served``: one row per served prediction with its call's actual arrival (the accuracy join's frame).
    """
    if mode not in HORIZONS:
        raise InputError(f"unknown mode {mode!r}; choose one of {sorted(HORIZONS)}")
    served = _of_day(served, day)
    if served.empty:
        raise InputError(
            f"no served {mode} predictions of calls scheduled in {day.label_from} … {day.label_until} that "
            "arrived; replay the day with re-prediction first (eta replay, or eta demo)"
        )
    versions = served["model_version"].value_counts()
    version = str(versions.index[0])
    served = served[served["model_version"] == version]
    rows, reach = compare(engine, mode, day, served, version)
    horizons = horizon_report(rows)
    report: dict[str, Any] = {
        "mode": mode,
        "window": day.as_list(),
        "model_version": version,
        "other_versions_left_out": {str(k): int(v) for k, v in versions.iloc[1:].items()},
        "n_served_predictions": len(served),
        "tolerance": TOLERANCE,
        "horizons": horizons,
        "very_late": horizon_report(rows[rows["operator_delay_s"] >= VERY_LATE_S]),
        "very_late_threshold_s": VERY_LATE_S,
        "served_at_horizon": reach,
        # a checked horizon without a served call is said, with why, not passed over
        "not_scored": unscored(mode, horizons, reach),
    }
    report["served_equals_backtest"], report["checked"] = verdict(horizons, report["not_scored"])
    return report


def unscored(
    mode: str, horizons: dict[str, dict[str, Any]], reached: dict[str, dict[str, int]]
) -> dict[str, dict[str, Any]]:
    """The mode's horizons without a scored row, each with why: no arrived call had a query there, or none
    was known by t (a recording whose plans came later than the horizon: nothing to serve), or calls were
    known and not served, which fails the check where the horizon is held to the tolerance."""
    out: dict[str, dict[str, Any]] = {}
    for name in HORIZONS[mode]:
        if name in horizons:
            continue
        block = reached.get(name, {})
        calls, missed = block.get("calls", 0), block.get("known_not_served", 0)
        minutes = name.removesuffix("min")
        ahead = f"{minutes} min ahead" if minutes.isdigit() else f"by the {name} horizon's time"
        why = {
            "known later": block.get("not_known_at_t", 0),
            "cancelled then": block.get("cancelled_at_t", 0),
            "before the first sweep": block.get("before_first_sweep", 0),
        }
        if calls == 0:
            reason = f"no arrived call had a query {ahead}"
        elif missed:
            reason = f"{missed:,} known and not served of {calls:,} arrived calls"
        elif why["known later"] == calls:
            reason = f"no call known {ahead} in this recording ({calls:,} arrived calls, all known later)"
        else:
            parts = ", ".join(f"{n:,} {what}" for what, n in why.items() if n)
            reason = f"no call known, not cancelled and swept {ahead} ({calls:,} arrived calls: {parts})"
        out[name] = {"reason": reason, "checked": _checked(name), "fails": bool(missed) and _checked(name)}
    return out


def verdict(
    horizons: dict[str, dict[str, Any]], missing: dict[str, dict[str, Any]]
) -> tuple[bool, list[str]]:
    """Whether the served MAE is within the tolerance at every checked horizon with served rows, and no
    checked horizon had known calls left unserved; and the checked horizons that were scored."""
    checked = [name for name in horizons if _checked(name)]
    held = all(horizons[name]["within_tolerance"] for name in checked)
    return held and not any(block["fails"] for block in missing.values()), checked


def _of_day(served: pd.DataFrame, day: Window) -> pd.DataFrame:
    if served.empty:
        return served
    sched = pd.to_datetime(served["scheduled_arrival"], utc=True)
    keep = (sched >= pd.Timestamp(day.start)) & (sched < pd.Timestamp(day.end))
    return served[keep & served["p50_arrival"].notna() & served["actual_arrival"].notna()]


def compare(
    engine: Engine, mode: str, day: Window, served: pd.DataFrame, version: str
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """One row per (arrived call, horizon) with a served prediction in force at the horizon's t: the
    served, backtest (at t) and replayed (at the served made_at) P50 delays, the operator's delay and the
    actual one, in seconds; and per horizon, how many of the day's arrived calls had one
    (:func:`reach`)."""
    artefact = registry.load(registry.get(engine, version))
    frames = load_frames(engine, mode, day.start, day.end)
    targets = target_calls(frames, day.start, day.end)
    every = horizon_queries(frames, targets, HORIZONS[mode])
    scheduled = frames.calls.set_index("call_id")["scheduled_arrival"]
    every = every.assign(scheduled_arrival=lookup(every["call_id"], scheduled))
    queries = _with_served_in_force(every, served)
    first_sweep = pd.to_datetime(served["made_at"], utc=True).min()
    reached = reach(frames, every, queries, first_sweep=first_sweep)
    if queries.empty:
        return _empty_rows(), reached
    predictor = ArrivalPredictor(artefact)
    at_t = queries.assign(qid=range(len(queries)))
    reports = delay_reports(frames.calls, frames.observations)
    features = compute_features(mode, frames, at_t, artefact.history, artefact.meta["vocabularies"], reports)
    backtest = predictor.predict(features)["p50_delay_s"].reindex(at_t["qid"]).to_numpy()
    replayed = _at_made(mode, frames, queries, predictor)
    sched = queries["scheduled_arrival"]

    def delay(when: pd.Series) -> np.ndarray:
        return np.asarray((pd.to_datetime(when, utc=True) - sched).dt.total_seconds(), dtype="float64")

    rows = pd.DataFrame(
        {
            "call_id": queries["call_id"].to_numpy(),
            "horizon": queries["horizon"].to_numpy(),
            "t": queries["t"].to_numpy(),
            "made_at": queries["made_at"].to_numpy(),
            "actual_s": delay(queries["actual_arrival_served"]),
            "served_s": delay(queries["p50_arrival"]),
            "backtest_s": backtest,
            "replayed_s": replayed,
            "operator_delay_s": delay(queries["operator_estimate"]),
        }
    )
    return rows, reached


def reach(
    frames: Frames, every: pd.DataFrame, matched: pd.DataFrame, first_sweep: pd.Timestamp | None = None
) -> dict[str, dict[str, int]]:
    """Per horizon: the day's arrived calls with a query there (not arrived by t), those with a served
    prediction in force, and of the others: those eta did not know yet at t (their plan came later:
    ``known_since`` after t); of the known ones, those whose t came before the store's first served
    prediction (``first_sweep``: a replay starting at midnight, a flight of the evening before) and those
    the operator had cancelled as known at t (cancelled, then reinstated), which no sweep predicts; the
    rest: those that had arrived by t (a report behind the horizon's event came late) and those known and
    not served."""
    known_since = frames.calls.set_index("call_id")["known_since"] if "known_since" in frames.calls else None
    out: dict[str, dict[str, int]] = {}
    for horizon, part in every.groupby("horizon", sort=False):
        served_ids = set(matched.loc[matched["horizon"] == horizon, "call_id"])
        missing = part[~part["call_id"].isin(served_ids)]
        t = pd.to_datetime(missing["t"], utc=True)
        unknown = pd.Series(False, index=missing.index)
        if known_since is not None:
            unknown = pd.to_datetime(lookup(missing["call_id"], known_since), utc=True) > t
        # a call not known yet could not have been served at any sweep: that reason first
        before = (t < first_sweep) & ~unknown if first_sweep is not None else unknown & False
        cancelled = _cancelled_at_t(frames.observations, missing) & ~unknown & ~before
        # an event horizon whose report came late (IRIS) can fall after the arrival itself, which eta,
        # seeing the train's time pass, may already have inferred: nothing left to serve
        arrived = pd.Series(False, index=missing.index)
        if "actual_arrival" in missing:
            arrived = pd.to_datetime(missing["actual_arrival"], utc=True) <= t
        arrived &= ~unknown & ~before & ~cancelled
        out[str(horizon)] = {
            "calls": len(part),
            "served": len(part) - len(missing),
            "before_first_sweep": int(before.sum()),
            "not_known_at_t": int(unknown.sum()),
            "cancelled_at_t": int(cancelled.sum()),
            "arrived_by_t": int(arrived.sum()),
            "known_not_served": int((~before & ~unknown & ~cancelled & ~arrived).sum()),
        }
    return out


def _cancelled_at_t(observations: pd.DataFrame, queries: pd.DataFrame) -> pd.Series:
    """Per query, whether the latest cancellation state of its call observed by t said cancelled."""
    none = pd.Series(False, index=queries.index)
    if queries.empty or "cancelled" not in observations:
        return none
    states = observations.dropna(subset=["cancelled"])
    states = states[states["call_id"].isin(queries["call_id"])][["call_id", "observed_at", "cancelled"]]
    if states.empty:
        return none
    states = states.assign(observed_at=pd.to_datetime(states["observed_at"], utc=True))
    left = queries[["call_id", "t"]].assign(t=pd.to_datetime(queries["t"], utc=True), row=queries.index)
    merged = pd.merge_asof(
        left.sort_values("t"),
        states.sort_values("observed_at").astype({"observed_at": left["t"].dtype}),
        left_on="t",
        right_on="observed_at",
        by="call_id",
        direction="backward",
    )
    return pd.Series(merged["cancelled"].fillna(False).astype(bool).to_numpy(), index=merged["row"]).reindex(
        queries.index, fill_value=False
    )


def _at_made(mode: str, frames: Frames, queries: pd.DataFrame, predictor: ArrivalPredictor) -> np.ndarray:
    """The backtest's P50 delay of each query at its served prediction's ``made_at``, from the frames as the
    store held them then: the calls known and the observations received by then (the features read only
    observations received by their t, but they take every call in the frames as known)."""
    artefact = predictor.artefact
    out = np.full(len(queries), np.nan)
    at_made = queries.assign(t=queries["made_at"].astype(queries["t"].dtype))
    for made_at, group in at_made.groupby("t", sort=True):
        known = frames.observed_until(cast(pd.Timestamp, made_at))
        batch = group.assign(qid=range(len(group)))
        features = compute_features(mode, known, batch, artefact.history, artefact.meta["vocabularies"])
        p50 = predictor.predict(features)["p50_delay_s"].reindex(batch["qid"]).to_numpy()
        out[group.index.to_numpy()] = p50
    return out


def _empty_rows() -> pd.DataFrame:
    columns = ["call_id", "horizon", "t", "made_at", "actual_s", "served_s", "backtest_s", "replayed_s"]
    return pd.DataFrame(columns=[*columns, "operator_delay_s"])


def _with_served_in_force(queries: pd.DataFrame, served: pd.DataFrame) -> pd.DataFrame:
    """Each query with the served prediction in force at its t (the newest made by t); queries with none
    are dropped.

    At the horizons whose t is an event (the service left its previous stop: ``next_stop``,
    ``at_departure``), t is when the report was observed, and the prediction that took it in is made after
    the cycle that brought it: there the served prediction is the first made at or after t (within
    :data:`EVENT_LAG`), what a traveller saw once eta knew of the departure.
    """
    columns = ["call_id", "made_at", "p50_arrival", "operator_estimate", "actual_arrival"]
    right = served[columns].rename(columns={"actual_arrival": "actual_arrival_served"})
    right = right.assign(made_at=pd.to_datetime(right["made_at"], utc=True).astype("datetime64[us, UTC]"))
    right = right.sort_values(["made_at", "call_id"], kind="stable").reset_index(drop=True)
    left = queries.sort_values("t", kind="stable").reset_index(drop=True)
    event = left["horizon"].isin(AT_PREVIOUS_DEPARTURE)
    parts = [
        pd.merge_asof(
            left[~event], right, left_on="t", right_on="made_at", by="call_id", direction="backward"
        ),
        pd.merge_asof(
            left[event],
            right,
            left_on="t",
            right_on="made_at",
            by="call_id",
            direction="forward",
            tolerance=EVENT_LAG,
        ),
    ]
    merged = (
        pd.concat([p for p in parts if not p.empty], ignore_index=True)
        if any(len(p) for p in parts)
        else parts[0]
    )
    return merged.dropna(subset=["made_at"]).reset_index(drop=True)


def horizon_report(rows: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per horizon: n, the served MAE beside the backtest's at the same instant (and its relative
    difference) and at t, the operator's and the timetable's MAE (s), and the share of served P50s that the
    backtest computes again at their made_at."""
    out: dict[str, dict[str, Any]] = {}
    for horizon in [h for h in (*HORIZONS["train"], *HORIZONS["flight"]) if h in set(rows["horizon"])]:
        part = rows[rows["horizon"] == horizon]
        actual = part["actual_s"].to_numpy(dtype="float64")
        served = _mae(part["served_s"], actual)
        backtest = _mae(part["replayed_s"], actual)
        operator = part.dropna(subset=["operator_delay_s"])
        gap = abs(part["served_s"].to_numpy(dtype="float64") - part["replayed_s"].to_numpy(dtype="float64"))
        difference = served / backtest - 1 if backtest else float("nan")
        out[horizon] = {
            "n": len(part),
            "served_mae_s": round(served, 1),
            "backtest_mae_s": round(backtest, 1),
            "difference": round(difference, 4),
            "within_tolerance": bool(abs(difference) <= TOLERANCE),
            "backtest_at_t_mae_s": round(_mae(part["backtest_s"], actual), 1),
            "operator_mae_s": round(_mae(operator["operator_delay_s"], operator["actual_s"]), 1)
            if len(operator)
            else None,
            "n_operator": len(operator),
            "served_mae_s_where_operator": round(_mae(operator["served_s"], operator["actual_s"]), 1)
            if len(operator)
            else None,
            "timetable_mae_s": round(float(np.mean(np.abs(actual))), 1),
            "same_p50": round(float(np.mean(gap <= SAME_WITHIN_S)), 4),
            "mean_abs_p50_gap_s": round(float(np.mean(gap)), 1),
        }
    return out


def _mae(predicted: pd.Series, actual: Any) -> float:
    error = np.abs(np.asarray(predicted, dtype="float64") - np.asarray(actual, dtype="float64"))
    return float(np.mean(error)) if len(error) else float("nan")


def _checked(horizon: str) -> bool:
    """Horizons held to the tolerance: those up to an hour before the arrival (or its last leg)."""
    minutes = horizon.removesuffix("min")
    return not minutes.isdigit() or int(minutes) <= CHECKED_UP_TO_MIN


def table(report: dict[str, Any]) -> str:
    """The report as a plain-text table, minutes."""
    lines = [
        f"served against backtested: {report['mode']}, {' … '.join(report['window'])}, "
        f"model {report['model_version']} ({report['n_served_predictions']:,} served predictions)",
        "MAE in minutes; backtest: at the instant the served prediction was made; at t: at the horizon's "
        "time, as eta backtest",
        f"{'horizon':<13}{'n':>7}{'served':>9}{'backtest':>10}{'diff':>8}{'same P50':>10}{'at t':>8}"
        f"{'operator':>10}{'timetable':>11}",
    ]
    lines += [_line(name, block) for name, block in report["horizons"].items()]
    missing = report.get("not_scored", {})
    lines += [f"{name:<13}{0:>7}  {block['reason']}" for name, block in missing.items()]
    late = report["very_late"]
    if late:
        minutes = report["very_late_threshold_s"] // 60
        lines.append(f"where the operator's estimate was {minutes} min late or more when served:")
        lines += [_line(name, block) for name, block in late.items()]
    reached = report.get("served_at_horizon", {})
    if reached:
        lines.append("arrived calls with a served prediction in force at each horizon's t:")
        lines += [
            f"  {name:<13}{block['served']:>7,} of {block['calls']:,}; "
            f"before the first sweep: {block.get('before_first_sweep', 0):,}, not yet known at t: "
            f"{block['not_known_at_t']:,}, cancelled at t: {block['cancelled_at_t']:,}, "
            f"arrived by t: {block.get('arrived_by_t', 0):,}, "
            f"known but not served: {block['known_not_served']:,}"
            for name, block in reached.items()
        ]
    held = "yes" if report["served_equals_backtest"] else "NO"
    checked = ", ".join(report.get("checked", []))
    skipped = "; ".join(
        f"{name} ({block['reason'].split(' (')[0]})"
        for name, block in missing.items()
        if block["checked"] and not block["fails"]
    )
    lines.append(
        f"served MAE within {report['tolerance']:.0%} of the backtest's at every horizon up to "
        f"{CHECKED_UP_TO_MIN} min with a served call: {held} ({checked})"
        + (f"; not checked: {skipped}" if skipped else "")
    )
    return "\n".join(lines)


def _line(name: str, block: dict[str, Any]) -> str:
    operator = "" if block["operator_mae_s"] is None else f"{block['operator_mae_s'] / 60:.2f}"
    return (
        f"{name:<13}{block['n']:>7,}{block['served_mae_s'] / 60:>9.2f}{block['backtest_mae_s'] / 60:>10.2f}"
        f"{block['difference']:>+8.1%}{block['same_p50']:>10.1%}{block['backtest_at_t_mae_s'] / 60:>8.2f}"
        f"{operator:>10}{block['timetable_mae_s'] / 60:>11.2f}"
    )
