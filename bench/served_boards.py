"""What the arrivals boards and trip answers served over the demo's Berlin day: predicted, arrived, late,
as known then.

    python bench/served_boards.py [--data-dir var] [--every-min 15] [--stations N] [--no-trips]

Reuses the Berlin day that ``eta demo`` replayed into ``--data-dir`` (or replays it there first, trains
only, as the demo does: the bundled models, the DB IRIS snapshots of 2025-09-08 through the IRIS
collector path, re-predicting after each cycle with the live scheduler's sweeps). Then, at every quarter
hour of the day (local time), it builds each station's default board (the next two hours, and the late
trains still to come) and the hour before it, with the API's own :class:`eta.api.lookup.Lookup` on a
clock at that time, and counts:

* **coverage**: of the listed calls neither arrived nor cancelled, the share with a prediction in force
  that the latest sweep by then made or confirmed (:func:`eta.read.predictions.current_at`); the others
  by why (known only after that sweep, no prediction at all, an older one);
* **passed**: of the listed calls shown not arrived, the share whose train had actually arrived more than
  10 minutes before (the arrival the day's store knows in the end: reported, else the operator's last
  estimate, else the timetable, counted apart); and the reverse, calls shown arrived more than 5 minutes
  before their train actually arrived. A call cancelled in the end (the last report that says so) never
  arrived: it is counted apart, in neither.

At the same times it builds the trip answer (:meth:`eta.api.lookup.Lookup.trip_and_skeleton`) of every
train with a call known then and scheduled inside the serving window (``serve_behind_hours`` before …
``serve_ahead_hours`` after), and counts the calls of those answers neither arrived nor cancelled, with
an arrival inside the window: the share predicted by the latest sweep, and of the others those whose
answer gives a reason (``unpredicted_reason``) and those that give none.

Targets (issue 15): coverage ≥ 99 %, en route 10 minutes after arriving < 1 %. Writes
``bench/results/served_boards.json`` and ``.md`` (``--out NAME``: ``NAME.json`` and ``.md``).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
WINDOW = timedelta(hours=2)  # the board's default window (ETA_API__BOARD_DEFAULT_WINDOW_S)
# ... and the hour before, where the calls that have passed are shown arrived (the board lists the late
# ones still to come before any window)
BEFORE = timedelta(hours=1)
LATE_ARRIVED = timedelta(minutes=10)
# Trip answers are built for the trains with a call arriving after now minus this (as the day's store knows
# it in the end): a train whose every call arrived an hour before shows them all arrived, nothing to predict.
ASKED_AFTER = timedelta(hours=1)
EARLY_ARRIVED = timedelta(minutes=5)


def ensure_day(data_dir: Path) -> Any:
    """The store with the Berlin day replayed (with re-prediction), replaying it first where needed."""
    from eta import demo
    from eta.config import Settings
    from eta.demo import data
    from eta.demo.days import replay_until, train_day
    from eta.store import open_store

    settings = Settings(data_dir=data_dir)
    engine = open_store(settings)
    marker = data_dir / "demo-replayed-trains"
    if not marker.exists():
        started = time.monotonic()
        data.ensure_champions(engine, settings, print, train_missing=False)
        day = train_day(engine, settings)
        replay_until(day, None, predict=True, what="Berlin trains, the whole day")
        print(day.replay.summary.line(), f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
        marker.write_text(datetime.now(UTC).isoformat() + "\n")
    return settings, engine, demo.bundled_train_day(demo.bundled_train_folder(settings))


def truth(engine: Any) -> pd.DataFrame:
    """Per call, when it arrived as the day's store knows in the end, and on what that rests."""
    from sqlalchemy import select

    from eta.store.schema import Call, Observation

    with engine.connect() as conn:
        calls = pd.DataFrame(
            conn.execute(select(Call.id, Call.scheduled_arrival)).all(), columns=["id", "sched"]
        )
        obs = pd.DataFrame(
            conn.execute(
                select(
                    Observation.call_id,
                    Observation.observed_at,
                    Observation.actual_arrival,
                    Observation.estimated_arrival,
                    Observation.cancelled,
                )
            ).all(),
            columns=["call_id", "observed_at", "actual", "estimate", "cancelled"],
        )
    obs = obs.sort_values("observed_at")
    # the last value each says (a report that does not say whether the call is cancelled leaves it)
    last = obs.groupby("call_id")[["actual", "estimate", "cancelled"]].last()
    out = calls.set_index("id").join(last)
    out["cancelled"] = out["cancelled"].eq(True)
    out["arrived"] = out["actual"].fillna(out["estimate"]).fillna(out["sched"])
    out["rests_on"] = "timetable"
    out.loc[out["estimate"].notna(), "rests_on"] = "last estimate"
    out.loc[out["actual"].notna(), "rests_on"] = "reported"
    out["arrived"] = pd.to_datetime(out["arrived"], utc=True)
    return out[["arrived", "rests_on", "cancelled"]]


def stations(engine: Any, limit: int | None) -> list[str]:
    """The stations with arrivals, busiest first."""
    from sqlalchemy import func, select

    from eta.store.schema import Call

    with engine.connect() as conn:
        rows = conn.execute(
            select(Call.location, func.count())
            .where(Call.scheduled_arrival.is_not(None))
            .group_by(Call.location)
            .order_by(func.count().desc())
        ).all()
    codes = [code for code, _ in rows]
    return codes[:limit] if limit else codes


def measure(
    settings: Any,
    engine: Any,
    day: Any,
    every: timedelta,
    codes: list[str],
    trips: bool = True,
    part: tuple[int, int] = (0, 1),
    raw_path: Path | None = None,
) -> dict[str, Any]:
    """The raw counts at the day's times (``part`` k of n: every n-th time from the k-th), written to
    ``raw_path`` after each time (a part stopped early still counts what it measured)."""
    from eta.api.lookup import Lookup
    from eta.demo.days import TRAIN_TZ
    from eta.parking import ParkingReference
    from eta.read.predictions import current_at, latest_sweep

    lookup = Lookup(
        ParkingReference.load(settings.reference_dir / "parking"),
        0,
        late_s=settings.model.serve_behind_hours * 3600,
        ahead_s=settings.model.serve_ahead_hours * 3600,
    )
    trip_counts: Counter[str] = Counter()
    trip_missed: list[dict[str, Any]] = []
    actual = truth(engine)
    trains = _Trains.load(engine, actual) if trips else None
    counts: Counter[str] = Counter()
    unpredicted: Counter[str] = Counter()
    en_route_late: Counter[str] = Counter()
    worst: list[dict[str, Any]] = []
    missed: list[dict[str, Any]] = []
    start = datetime.combine(day, clock_time(0), TRAIN_TZ).astimezone(UTC)
    times = [start + every * k for k in range(int(timedelta(days=1) / every))][part[0] :: part[1]]
    # in an order spread over the day, so that a part stopped early has measured every hour alike
    random.Random(0).shuffle(times)
    started = time.monotonic()
    done = 0
    raw: dict[str, Any] = {}
    for now in times:
        with engine.connect() as conn:
            sweep = latest_sweep(conn, "train", now)
            for code in codes:
                board = lookup.board(conn, code, now - BEFORE, now + WINDOW, now, settings.api.board_max_rows)
                counts["boards"] += 1
                open_ids = []
                for arrival in board.arrivals:
                    counts["listed"] += 1
                    call_id = int(arrival.call_id)
                    arrived = actual.at[call_id, "arrived"]
                    rests_on = actual.at[call_id, "rests_on"]
                    cancelled_in_the_end = bool(actual.at[call_id, "cancelled"])
                    if arrival.status == "cancelled":
                        counts["cancelled"] += 1
                        continue
                    if arrival.status == "arrived":
                        counts["shown arrived"] += 1
                        if cancelled_in_the_end:
                            counts["shown arrived, cancelled in the end"] += 1
                        elif pd.notna(arrived) and arrived > now + EARLY_ARRIVED:
                            counts["shown arrived > 5 min early"] += 1
                        continue
                    open_ids.append(call_id)
                    counts["open"] += 1
                    if cancelled_in_the_end:
                        counts["shown en route, cancelled in the end"] += 1
                    elif pd.notna(arrived) and arrived < now - LATE_ARRIVED:
                        en_route_late[rests_on] += 1
                        if len(worst) < 20:
                            worst.append(
                                {
                                    "at": now.isoformat(),
                                    "station": code,
                                    "train": f"{arrival.service.operator} {arrival.service.number}",
                                    "scheduled": str(arrival.scheduled_arrival),
                                    "arrived": arrived.isoformat(),
                                    "rests_on": rests_on,
                                }
                            )
                current = current_at(conn, open_ids, sweep) if sweep is not None and open_ids else set()
                counts["predicted at the latest sweep"] += len(current)
                for arrival in board.arrivals:
                    call_id = int(arrival.call_id)
                    if call_id in open_ids and call_id not in current:
                        why = _why(conn, arrival, sweep)
                        unpredicted[why] += 1
                        if len(missed) < 20:
                            made = arrival.predicted.made_at.isoformat() if arrival.predicted else None
                            missed.append(
                                {
                                    "at": now.isoformat(),
                                    "station": code,
                                    "call_id": call_id,
                                    "train": f"{arrival.service.operator} {arrival.service.number}",
                                    "scheduled": str(arrival.scheduled_arrival),
                                    "why": why,
                                    "prediction_made_at": made,
                                    "latest_sweep": None if sweep is None else sweep.isoformat(),
                                }
                            )
            if trips and sweep is not None:
                _trips(conn, lookup, settings, trains, now, sweep, trip_counts, trip_missed)
        print(f"{now.astimezone(TRAIN_TZ):%H:%M} {dict(counts)} trips {dict(trip_counts)}", file=sys.stderr)
        done += 1
        raw = {
            "stations": len(codes),
            "times": done,
            "trips": trips,
            "counts": dict(counts),
            "unpredicted": dict(unpredicted),
            "en_route_late": dict(en_route_late),
            "trip_counts": dict(trip_counts),
            "examples_trip_calls_unpredicted": trip_missed,
            "examples_en_route_after_arrival": worst,
            "examples_unpredicted": missed,
            "elapsed_s": round(time.monotonic() - started),
        }
        if raw_path is not None:
            raw_path.write_text(json.dumps(raw, indent=2, default=str) + "\n")
    return raw


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The raw counts of parts measured apart (``--part``), added up."""
    out: dict[str, Any] = {"stations": parts[0]["stations"], "trips": parts[0]["trips"]}
    out["times"] = sum(p["times"] for p in parts)
    out["elapsed_s"] = max(p["elapsed_s"] for p in parts)
    for key in ("counts", "unpredicted", "en_route_late", "trip_counts"):
        total: Counter[str] = Counter()
        for p in parts:
            total.update(p[key])
        out[key] = dict(total)
    for key in ("examples_trip_calls_unpredicted", "examples_en_route_after_arrival", "examples_unpredicted"):
        out[key] = [e for p in parts for e in p[key]][:20]
    return out


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    counts: Counter[str] = Counter(raw["counts"])
    en_route_late = raw["en_route_late"]
    open_calls = counts["open"]
    late_total = sum(en_route_late.values())
    return {
        "boards": counts["boards"],
        "stations": raw["stations"],
        "times": raw["times"],
        "listed": counts["listed"],
        "open": open_calls,
        "cancelled": counts["cancelled"],
        "shown_arrived": counts["shown arrived"],
        "coverage": counts["predicted at the latest sweep"] / open_calls if open_calls else None,
        "unpredicted_by_reason": raw["unpredicted"],
        "en_route_10min_after_arrival": late_total / open_calls if open_calls else None,
        "en_route_10min_after_arrival_by_truth": en_route_late,
        "shown_arrived_5min_early": counts["shown arrived > 5 min early"] / max(1, counts["shown arrived"]),
        "shown_en_route_cancelled_in_the_end": counts["shown en route, cancelled in the end"],
        "shown_arrived_cancelled_in_the_end": counts["shown arrived, cancelled in the end"],
        "trips": _trip_result(Counter(raw["trip_counts"])) if raw["trips"] else None,
        "examples_trip_calls_unpredicted": raw["examples_trip_calls_unpredicted"],
        "examples_en_route_after_arrival": raw["examples_en_route_after_arrival"],
        "examples_unpredicted": raw["examples_unpredicted"],
        "elapsed_s": raw["elapsed_s"],
    }


class _Trains:
    """The day's train calls (when known, scheduled, finally arrived) and services, for choosing the trips
    to ask for."""

    def __init__(self, calls: pd.DataFrame, services: pd.DataFrame) -> None:
        self.calls = calls
        self.services = services

    @classmethod
    def load(cls, engine: Any, actual: pd.DataFrame) -> _Trains:
        from sqlalchemy import select

        from eta.store.schema import Call, Service

        with engine.connect() as conn:
            calls = pd.DataFrame(
                conn.execute(
                    select(Call.id, Call.service_id, Call.scheduled_arrival, Call.known_since)
                    .join(Service, Service.id == Call.service_id)
                    .where(Service.mode == "train", Call.scheduled_arrival.is_not(None))
                ).all(),
                columns=["id", "service_id", "sched", "known_since"],
            )
            services = pd.DataFrame(
                conn.execute(
                    select(Service.id, Service.operator, Service.number, Service.service_date, Service.leg)
                ).all(),
                columns=["id", "operator", "number", "service_date", "leg"],
            ).set_index("id")
        for column in ("sched", "known_since"):
            calls[column] = pd.to_datetime(calls[column], utc=True)
        calls["arrived"] = calls["id"].map(actual["arrived"])
        return cls(calls, services)


def _trips(
    conn: Any,
    lookup: Any,
    settings: Any,
    trains: Any,
    now: datetime,
    sweep: datetime,
    counts: Counter[str],
    missed: list[dict[str, Any]],
) -> None:
    """The trip answers at ``now`` of every train with a known call inside the serving window."""
    from eta.read.predictions import current_at

    behind = now - timedelta(hours=settings.model.serve_behind_hours)
    ahead = now + timedelta(hours=settings.model.serve_ahead_hours)
    # trains with a call known by now inside the window whose arrival (as the day's store knows it in the
    # end) is not long past
    calls = trains.calls
    live = calls[
        (calls["known_since"] <= now)
        & (calls["sched"] >= behind)
        & (calls["sched"] <= ahead)
        & (calls["arrived"] >= now - ASKED_AFTER)
    ]
    services = trains.services.loc[live["service_id"].unique()].itertuples(index=False)
    for operator, number, service_date, leg in services:
        trip, _, _ = lookup.trip_and_skeleton(conn, "train", operator, number, service_date, leg, now, True)
        counts["answers"] += 1
        open_calls = [
            c
            for c in trip.calls
            if c.status not in ("arrived", "cancelled")
            and c.scheduled_arrival is not None
            and behind <= c.scheduled_arrival <= ahead
        ]
        counts["calls listed"] += len(trip.calls)
        counts["open"] += len(open_calls)
        current = current_at(conn, [int(c.call_id) for c in open_calls], sweep) if open_calls else set()
        counts["predicted at the latest sweep"] += len(current)
        for call in open_calls:
            if int(call.call_id) in current:
                continue
            counts["reason shown" if call.unpredicted_reason else "no reason shown"] += 1
            if len(missed) < 20:
                missed.append(
                    {
                        "at": now.isoformat(),
                        "train": f"{operator} {number}",
                        "call_id": call.call_id,
                        "station": call.location.code,
                        "scheduled": str(call.scheduled_arrival),
                        "prediction_made_at": call.predicted.made_at.isoformat() if call.predicted else None,
                        "reason": call.unpredicted_reason,
                        "latest_sweep": sweep.isoformat(),
                    }
                )


def _trip_result(counts: Counter[str]) -> dict[str, Any]:
    open_calls = counts["open"]
    predicted = counts["predicted at the latest sweep"]
    return {
        "answers": counts["answers"],
        "calls_listed": counts["calls listed"],
        "open_in_window": open_calls,
        "predicted_at_latest_sweep": predicted,
        "coverage": predicted / open_calls if open_calls else None,
        "coverage_or_reason": (predicted + counts["reason shown"]) / open_calls if open_calls else None,
        "unpredicted_reason_shown": counts["reason shown"],
        "unpredicted_no_reason": counts["no reason shown"],
    }


def _why(conn: Any, arrival: Any, sweep: datetime | None) -> str:
    from sqlalchemy import select

    from eta.store.schema import Call

    known = conn.execute(select(Call.known_since).where(Call.id == int(arrival.call_id))).scalar()
    if sweep is None:
        return "no sweep yet"
    if known is not None and known > sweep:
        return "known after the latest sweep"
    if arrival.predicted is None:
        return "no prediction"
    return "older prediction"


def write(result: dict[str, Any], args: argparse.Namespace) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": "python bench/served_boards.py " + " ".join(sys.argv[1:]),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
    }
    (RESULTS / f"{args.out}.json").write_text(json.dumps({**meta, **result}, indent=2, default=str) + "\n")
    cov = result["coverage"]
    late = result["en_route_10min_after_arrival"]
    early = result["shown_arrived_5min_early"]
    by_truth = result["en_route_10min_after_arrival_by_truth"]
    lines = [
        "# Served boards and trips over the demo's Berlin day (issue 15)",
        "",
        f"`{meta['command']}` — {meta['measured_at']}",
        "",
        f"{result['boards']:,} boards of the last hour and the next two ({result['stations']} stations × "
        f"{result['times']} times of the day's {24 * 60 // args.every_min} quarter hours, "
        f"every {args.every_min} min of 2025-09-08): {result['listed']:,} calls listed, "
        f"{result['open']:,} neither arrived nor cancelled.",
        "Measured in parts (`--part K/N --raw PATH`, each part's times in an order spread over the day, "
        "then `--merge`); a part stopped early leaves out the times it had not reached."
        if args.merge
        else "",
        "",
        "| measure | value | target |",
        "|---|---:|---:|",
        f"| predicted by the latest sweep (of calls not arrived) | {cov:.2%} | ≥ 99 % |",
        f"| shown en route > 10 min after arriving | {late:.3%} | < 1 % |",
        f"| shown arrived > 5 min before arriving (of shown arrived) | {early:.3%} | |",
        "",
        *_trip_lines(result.get("trips")),
        f"Not predicted, by why: {result['unpredicted_by_reason']}.",
        f"En route after arriving, by what the arrival rests on: {by_truth}.",
        "Not in either count: calls cancelled in the end (by the last report saying so), never arriving: "
        f"{result['shown_en_route_cancelled_in_the_end']:,} listings shown not arrived, "
        f"{result['shown_arrived_cancelled_in_the_end']:,} shown arrived.",
        "",
        "What is listed is what eta knew then: the recorded snapshots fetched each station's plan of the "
        "current hour at minute 1 (on 2025-09-08, calls became known 0-58 min before they were due, median "
        "28), so a board lists that hour's calls and the late ones; live, the collector fetches 3 h ahead.",
        "",
    ]
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines))


def _trip_lines(trips: dict[str, Any] | None) -> list[str]:
    if not trips:
        return []
    return [
        f"Trip answers at the same times ({trips['answers']:,}, every train with a known call inside the "
        f"serving window): {trips['open_in_window']:,} calls neither arrived nor cancelled with an arrival "
        f"inside the window, {trips['coverage']:.2%} predicted by the latest sweep, "
        f"{trips['coverage_or_reason']:.2%} predicted or with a reason shown "
        f"({trips['unpredicted_reason_shown']} with a reason, {trips['unpredicted_no_reason']} without).",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO / "var")
    parser.add_argument("--every-min", type=int, default=15)
    parser.add_argument("--stations", type=int, default=None, help="Only the N busiest stations.")
    parser.add_argument("--build-only", action="store_true", help="Replay the day, measure nothing.")
    parser.add_argument("--no-trips", action="store_true", help="Boards only, no trip answers.")
    parser.add_argument(
        "--part", default="0/1", help="K/N: measure every N-th time from the K-th only, into --raw."
    )
    parser.add_argument("--raw", type=Path, default=None, help="Write the part's raw counts here.")
    parser.add_argument("--merge", type=Path, nargs="+", default=None, help="Add up raw parts, then report.")
    parser.add_argument("--out", default="served_boards", help="Write bench/results/OUT.json and .md.")
    args = parser.parse_args()
    if args.merge:
        raw = merge([json.loads(path.read_text()) for path in args.merge])
    else:
        settings, engine, day = ensure_day(args.data_dir)
        if args.build_only:
            return
        codes = stations(engine, args.stations)
        k, n = (int(x) for x in args.part.split("/"))
        every = timedelta(minutes=args.every_min)
        raw = measure(settings, engine, day, every, codes, not args.no_trips, (k, n), args.raw)
        if args.raw is not None:
            return
    result = summarise(raw)
    write(result, args)
    print(json.dumps({k: v for k, v in result.items() if not k.startswith("examples")}, indent=2))


if __name__ == "__main__":
    main()
