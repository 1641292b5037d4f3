"""Benchmark: the operator accuracy and the dashboard on a demo store (issue 18: within 1 s).

Builds the app on the store (its served clock fixed at the demo's 17:30 CEST), then measures
* the join each request used to make (``accuracy.served_vs_actual`` + ``summarise``), once;
* the precomputed join (``eta.api.accuracy_view``) the app starts in the background, until it is kept;
* then each operator accuracy grouping and the dashboard over HTTP (FastAPI's TestClient), ``--runs``
  times each: the answer time a user sees.
The machine may be shared: the load average is sampled before and after.

    python -m bench.operator_accuracy STORE_URL [--now 2025-09-08T15:30:00Z] [--runs 5]

Appends a run to ``bench/results/operator_accuracy.json`` and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from eta.api import accuracy
from eta.api.apikeys import create_key
from eta.api.app import create_app
from eta.clock import ManualClock
from eta.config import Settings
from eta.store.engine import make_engine

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "operator_accuracy.json"
TARGET_S = 1.0
GROUPS = ("overall", "horizon", "station", "line", "day")


def _timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    out = call()
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store_url")
    parser.add_argument("--now", default="2025-09-08T15:30:00+00:00", help="the served clock (UTC)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now.replace("Z", "+00:00")).astimezone(UTC)
    load_before = os.getloadavg()
    engine = make_engine(args.store_url)

    # what every request did before: the whole join, then the grouping
    start = now - timedelta(days=7)
    join_s, frame = _timed(lambda: accuracy.served_vs_actual(engine, start, now))
    summarise_s, _ = _timed(lambda: accuracy.summarise(frame, "horizon"))

    data_dir = Path(tempfile.mkdtemp(prefix="eta-bench-accuracy-"))
    settings = Settings(
        database_url=args.store_url, data_dir=data_dir, api={"rate_limit_per_minute": 100_000}
    )
    app = create_app(settings, clock=ManualClock(now))
    key, _ = create_key(engine, "bench")
    timings: dict[str, list[float]] = {}
    with TestClient(app) as client:
        view = app.state.eta.accuracy
        started = time.perf_counter()
        while view.kept is None:  # the join the app started in the background
            time.sleep(0.1)
        warm_s = time.perf_counter() - started
        headers = {"X-API-Key": key}
        for _ in range(args.runs):
            for group in GROUPS:
                took, answer = _timed(
                    lambda g=group: client.get(
                        "/api/v1/operator/accuracy", params={"group_by": g}, headers=headers
                    )
                )
                assert answer.status_code == 200, answer.text
                timings.setdefault(f"accuracy group_by={group}", []).append(took)
        login = client.post(
            "/dashboard/login",
            data={"api_key": key},
            headers={"Origin": "http://testserver"},
            follow_redirects=False,
        )
        assert login.status_code == 303
        for _ in range(args.runs):
            took, page = _timed(lambda: client.get("/dashboard"))
            assert page.status_code == 200
            timings.setdefault("dashboard", []).append(took)
        samples = len(view.kept.frame)
    load_after = os.getloadavg()
    run = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "store": args.store_url.rsplit("/", 1)[-1],
        "served_clock": now.isoformat(),
        "samples_7_days": len(frame),
        "kept_samples": samples,
        "before_join_s": round(join_s, 2),
        "before_summarise_s": round(summarise_s, 2),
        "background_join_s": round(warm_s, 2),
        "answers_s": {
            name: {"median": round(statistics.median(t), 3), "max": round(max(t), 3)}
            for name, t in timings.items()
        },
        "within_target": all(max(t) <= TARGET_S for t in timings.values()),
        "load_average_1m": {"before": round(load_before[0], 2), "after": round(load_after[0], 2)},
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "target_s": TARGET_S,
    }
    runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    runs.append(run)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(runs, indent=2) + "\n")
    print(json.dumps(run, indent=2))


if __name__ == "__main__":
    main()
