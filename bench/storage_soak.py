"""Soak: the Berlin IRIS week replayed through the live path with a 2-day retention — does the store stay
bounded, and do traveller lookups stay as fast?

    python -m bench.storage_soak [--days 7] [--predict-from 06:00] [--predict-until 22:00] [--fresh]

Replays ``../shared/data/trains/platforms/db-iris-berlin-dams/raw`` day by day (local days) into a SQLite
store under ``bench/.cache/storage_soak/`` with the bundled champion models, re-predicting after every
cycle as the live scheduler does between ``--predict-from`` and ``--predict-until`` local time (reports
only outside, to fit a slow machine), and applies every retention (``ETA_STORE__*_KEEP_DAYS`` = 2) once an
hour of the replayed clock, as the scheduler's job does. After each day: the store's file size, rows and
bytes per table, and the latency of 300 trip lookups (the trip API in-process, answer cache off) of that
day's trains at its end. Resumable: each finished day is recorded in ``state.json`` beside the store and
a later run goes on from the next day (``--fresh`` starts over). Figures to
``bench/results/storage_soak.json``; targets (issue 21): size on day 7 ≤ 1.3 × day 3, lookup p99 at the
end within 20 % of the start.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
WEEK = REPO.parent / "shared" / "data" / "trains" / "platforms" / "db-iris-berlin-dams" / "raw"
CACHE = REPO / "bench" / ".cache" / "storage_soak"
BERLIN = ZoneInfo("Europe/Berlin")
KEEP_DAYS = 2
LOOKUPS = 300


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--predict-from", default="06:00")
    parser.add_argument("--predict-until", default="22:00")
    parser.add_argument("--fresh", action="store_true", help="start over from the first day")
    parser.add_argument("--lookups", type=int, default=LOOKUPS, help="trip lookups timed after each day")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "storage_soak.json")
    args = parser.parse_args()
    if not WEEK.is_dir():
        print(f"skipped: the Berlin IRIS week is not at {WEEK}", file=sys.stderr)
        return 0
    if args.fresh and CACHE.exists():
        shutil.rmtree(CACHE)
    CACHE.mkdir(parents=True, exist_ok=True)
    state_path = CACHE / "state.json"
    state: dict[str, Any] = json.loads(state_path.read_text()) if state_path.exists() else {"days": []}
    settings = _settings()
    from eta.demo import data
    from eta.store import open_store

    engine = open_store(settings)
    data.ensure_champions(engine, settings, lambda _: None, train_missing=False)
    days = _days()[: args.days]
    for day in days[len(state["days"]) :]:
        started = time.perf_counter()
        _replay_day(engine, settings, day, args.predict_from, args.predict_until)
        figures = {"day": day.isoformat(), "replay_wall_s": round(time.perf_counter() - started, 1)}
        figures |= _measure(engine, settings, day, args.lookups)
        state["days"].append(figures)
        state_path.write_text(json.dumps(state, indent=2))
        print(json.dumps(figures), file=sys.stderr)
        _write(args, state)
    engine.dispose()
    _write(args, state)
    return 0


def _settings() -> Any:
    from eta.config import Settings, StoreSettings

    keep = {
        f"{table}_keep_days": KEEP_DAYS
        for table in ("raw", "predictions", "collector_runs", "deliveries", "history")
    }
    return Settings(data_dir=CACHE, store=StoreSettings(**keep))


def _days() -> list[date]:
    """The local days the week's snapshots cover (the first one from the afternoon on)."""
    from eta.collectors.sources.db import iris_snapshots

    plans, changes = iris_snapshots.archives(WEEK)
    days = sorted({at.astimezone(BERLIN).date() for at in iris_snapshots.snapshot_times(plans + changes)})
    return days


class HourlyRetention:
    """The scheduler's retention job on the replayed clock: once per hour of the cycles' time."""

    def __init__(self) -> None:
        self.last: datetime | None = None
        self.pruned: dict[str, int] = {}

    def __call__(self, cycle: Any) -> None:
        from eta.scheduler import prune_store

        if self.last is not None and cycle.made_at - self.last < timedelta(hours=1):
            return
        self.last = cycle.made_at
        for item in prune_store(cycle.engine, cycle.settings, cycle.made_at):
            if item.rows > 0:
                self.pruned[item.table] = self.pruned.get(item.table, 0) + item.rows


def _replay_day(engine: Any, settings: Any, day: date, predict_from: str, predict_until: str) -> None:
    from eta.collectors.replay import iris_replay
    from eta.scheduler import repredictor

    replay = iris_replay(engine, settings, WEEK, day=day)
    retention = HourlyRetention()
    predicting = repredictor(settings)
    begin = datetime.combine(day, clock_time.fromisoformat(predict_from), BERLIN)
    end = datetime.combine(day, clock_time.fromisoformat(predict_until), BERLIN)
    replay.until(begin, after_cycle=[retention], desc=f"{day} reports")
    replay.until(end, after_cycle=[predicting, retention], desc=f"{day} re-predicting")
    replay.until(None, after_cycle=[retention], desc=f"{day} reports")


def _measure(engine: Any, settings: Any, day: date, lookups: int) -> dict[str, Any]:
    from eta.store.sizes import table_sizes

    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    file = CACHE / "eta.sqlite3"
    sizes = table_sizes(engine)
    return {
        "file_bytes": file.stat().st_size,
        "used_bytes": sum(s.bytes for s in sizes.values()),
        "rows": {name: s.rows for name, s in sizes.items() if s.rows},
        "bytes": {name: s.bytes for name, s in sizes.items() if s.rows},
        "lookup": _lookups(settings, day, lookups),
    }


def _lookups(settings: Any, day: date, lookups: int) -> dict[str, Any]:
    """Trip lookups at the day's end of trains of that day, in-process through the API (no answer cache)."""
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from eta.api.app import create_app
    from eta.clock import ManualClock
    from eta.store.schema import Service

    now = datetime.combine(day, clock_time(20, 0), BERLIN).astimezone(UTC)
    lookup_settings = settings.model_copy(
        update={
            "api": settings.api.model_copy(
                update={"cache_ttl_s": 0, "rate_limit_per_minute": 10**6, "rate_limit_burst": 10**6}
            )
        }
    )
    app = create_app(lookup_settings, clock=ManualClock(now))
    with TestClient(app) as client:
        engine = app.state.eta.engine
        with engine.connect() as conn:
            services = conn.execute(
                select(Service.operator, Service.number).where(
                    Service.mode == "train", Service.service_date == day
                )
            ).all()
        picked = random.Random(day.toordinal()).sample(services, min(lookups, len(services)))
        timings, unknown = [], 0
        for operator, number in picked:
            started = time.perf_counter()
            response = client.get(f"/api/v1/trips/train/{operator}/{number}/{day.isoformat()}")
            elapsed = time.perf_counter() - started
            if response.status_code == 404:  # its plan was first fetched after 20:00: not known then
                unknown += 1
                continue
            assert response.status_code == 200, response.text
            timings.append(elapsed)
    timings.sort()
    return {
        "n": len(timings),
        "not_known_yet": unknown,
        "p50_ms": round(1000 * timings[len(timings) // 2], 1),
        "p99_ms": round(1000 * timings[min(len(timings) - 1, int(0.99 * len(timings)))], 1),
        "load_avg": os.getloadavg(),
    }


def _write(args: argparse.Namespace, state: dict[str, Any]) -> None:
    days = state["days"]
    summary: dict[str, Any] = {
        "benchmark": "storage_soak",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.storage_soak " + " ".join(sys.argv[1:]),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "input": str(WEEK),
        "retention_days": KEEP_DAYS,
        "re_predicting_local": f"{args.predict_from}-{args.predict_until}",
        "days_replayed": len(days),
        "days": days,
    }
    if len(days) >= 3:
        last = days[-1]
        summary["size_last_over_day3"] = round(last["file_bytes"] / days[2]["file_bytes"], 3)
        summary["used_last_over_day3"] = round(last["used_bytes"] / days[2]["used_bytes"], 3)
    if len(days) >= 2:
        summary["lookup_p99_last_over_first"] = round(
            days[-1]["lookup"]["p99_ms"] / days[0]["lookup"]["p99_ms"], 3
        )
    summary["targets"] = {"size_day7_over_day3_at_most": 1.3, "lookup_p99_end_over_start_at_most": 1.2}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2, default=str) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
