"""Arrival-lookup latency and throughput of the API under load on loopback, beside ``/livez`` in the same run.

    python bench/api_load.py [--days 14] [--duration 20] [--connections 64] [--rebuild]

1. Builds (once, cached in ``bench/.cache/``) a SQLite store with real data: the DB train runs of
   ``--days`` days from the bundled file, imported with ``eta import db-runs``'s code, plus served
   predictions at four horizons per arriving call (the "persistence" rule of ``tests/api/seed.py``;
   the table is what the API reads, whichever model wrote it).
2. Runs ``eta serve`` (one uvicorn worker, uvloop + httptools, JSON logs at WARNING) on 127.0.0.1 with
   the clock replaying the middle of that period and the rate limit raised out of the way.
3. Drives it with ``wrk`` (Debian package, installed here if missing; CI does not run this) at
   ``--connections`` concurrent connections on one thread: first ``/livez``, then trip lookups of the
   replayed day's trips in two mixes: *uniform* (every trip as often, round robin over about 1,200),
   *popular* (trip k asked with probability ∝ 1/k, Zipf, as travellers crowd onto busy trains), and
   *one trip* (the same trip every time: the cost of a cached answer, or of one lookup in the store);
   with the answer cache on (trip answers reused until the store changes or the replayed clock reaches
   their next stored row, eta/api/trip_cache.py), and with it off (every lookup reads the store).
   Before each lookup mix every trip in it is asked once (its mean time is reported as the cold
   lookup: store reads and rendering, one request at a time), then 3 s of wrk warm the server up.
4. Writes ``bench/results/api_load.json`` and ``.md``. Targets (issue 5): lookups reach at least half
   of ``/livez``'s throughput, with p99 under 25 ms at 64 concurrent clients.

The load generator and the server share the machine's cores, as on a developer's machine; the
1-minute load average before and after each measurement is recorded (other work on the machine
shows up there, and in the tail latencies).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from eta.config import Settings  # noqa: E402
from eta.importers import db_runs  # noqa: E402
from eta.store import open_store  # noqa: E402
from tests.api import seed  # noqa: E402

CACHE = HERE / ".cache"
RESULTS = HERE / "results"
FIRST_DAY = date(2026, 5, 4)


def build_store(days: int, rebuild: bool) -> Path:
    path = CACHE / f"api_load_{days}d.sqlite3"
    if path.exists() and not rebuild:
        return path
    CACHE.mkdir(exist_ok=True)
    path.unlink(missing_ok=True)
    settings = Settings(database_url=f"sqlite:///{path}", data_dir=CACHE)
    rows = pd.read_csv(db_runs.bundled_path(settings), dtype=str)
    last = FIRST_DAY + timedelta(days=days - 1)
    picked = rows[rows["service_date"].between(FIRST_DAY.isoformat(), last.isoformat())]
    csv = CACHE / f"db_runs_{days}d.csv"
    picked.to_csv(csv, index=False)
    engine = open_store(settings)
    t0 = time.perf_counter()
    db_runs.run(engine, settings, csv)
    n = seed.persistence_predictions(engine)
    engine.dispose()
    print(
        f"store built in {time.perf_counter() - t0:.0f} s: {len(picked):,} CSV rows, {n:,} predictions",
        file=sys.stderr,
    )
    return path


def store_counts(path: Path) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return {
            t: conn.execute(f"select count(*) from {t}").fetchone()[0]
            for t in ("services", "calls", "observations", "predictions")
        }


def trip_paths(path: Path, day: date, limit: int = 5_000) -> list[str]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "select operator, number from services where service_date = ? order by id limit ?",
            (day.isoformat(), limit),
        ).fetchall()
    return [f"/api/v1/trips/train/{op}/{num}/{day.isoformat()}" for op, num in rows]


def popular_mix(paths: list[str], n: int = 50_000, seed: int = 0) -> list[str]:
    """``n`` requests where the k-th trip is asked with probability proportional to 1/k (Zipf, s = 1)."""
    import numpy as np

    weights = 1.0 / np.arange(1, len(paths) + 1)
    picks = np.random.default_rng(seed).choice(len(paths), size=n, p=weights / weights.sum())
    return [paths[i] for i in picks]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    store: Path, replay_from: datetime, cache_ttl_s: float
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETA_")} | {
        "ETA_DATABASE_URL": f"sqlite:///{store}",
        "ETA_DATA_DIR": str(CACHE / "var"),
        "ETA_API__PORT": str(port),
        "ETA_API__REPLAY_FROM": replay_from.isoformat(),
        "ETA_API__CACHE_TTL_S": str(cache_ttl_s),
        "ETA_API__RATE_LIMIT_PER_MINUTE": "100000000",
        "ETA_API__RATE_LIMIT_BURST": "100000000",
        "ETA_ALERTS__CYCLE_INTERVAL_S": "0",
        "ETA_LOG_JSON": "true",
        "ETA_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "eta.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(f"{base}/livez", timeout=1).status_code == 200:
                return process, base
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("eta serve did not start")


def cache_hits(base: str) -> float:
    text = requests.get(f"{base}/metrics", timeout=10).text
    found = re.search(r"^eta_answer_cache_hits_total ([\d.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def ask_each_once(base: str, paths: list[str]) -> float:
    """Mean ms of one request per distinct path, one at a time (a cold cache: each reads the store)."""
    distinct = list(dict.fromkeys(paths))
    with requests.Session() as session:
        t0 = time.perf_counter()
        for path in distinct:
            session.get(base + path, timeout=30).raise_for_status()
    return round((time.perf_counter() - t0) * 1000 / len(distinct), 2)


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)
    return shutil.which("wrk") or "wrk"


LUA = """
paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


def run_wrk(wrk: str, base: str, paths: list[str], duration: int, connections: int) -> dict[str, float]:
    load_before = os.getloadavg()[0]
    script = CACHE / "paths.lua"
    listing = CACHE / "paths.txt"
    listing.write_text("\n".join(paths) + "\n")
    script.write_text(LUA % listing)
    out = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return parse_wrk(out) | {"load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def parse_wrk(out: str) -> dict[str, float]:
    def ms(text: str) -> float:
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    figures: dict[str, float] = {}
    for pct in ("50", "75", "90", "99"):
        found = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.MULTILINE)
        if found:
            figures[f"p{pct}_ms"] = round(ms(found.group(1)), 2)
    figures["requests_per_s"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    figures["requests"] = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures["non_2xx"] = float(errors.group(1)) if errors else 0.0
    socket_errors = re.search(r"Socket errors: (.*)", out)
    figures["socket_errors"] = socket_errors.group(1) if socket_errors else "none"  # type: ignore[assignment]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    store = build_store(args.days, args.rebuild)
    day = FIRST_DAY + timedelta(days=args.days // 2)
    replay_from = datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC)
    paths = trip_paths(store, day)
    wrk = ensure_wrk()
    results: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "store": store_counts(store) | {"days": args.days},
        "distinct_trips": len(paths),
        "connections": args.connections,
        "duration_s": args.duration,
        "runs": {},
    }
    mixes = {"uniform": paths, "popular": popular_mix(paths), "one_trip": paths[:1]}
    for label, ttl in (("answer cache", 5.0), ("no answer cache", 0.0)):
        process, base = start_server(store, replay_from, ttl)
        try:
            sample = requests.get(base + paths[0], timeout=10)
            assert sample.status_code == 200 and sample.json()["calls"], sample.text[:300]
            run_wrk(wrk, base, ["/livez"], 3, args.connections)  # warm-up
            livez = run_wrk(wrk, base, ["/livez"], args.duration, args.connections)
            run: dict[str, object] = {"livez": livez}
            for mix, mix_paths in mixes.items():
                cold_ms = ask_each_once(base, mix_paths)
                run_wrk(wrk, base, mix_paths, 3, args.connections)  # warm-up
                hits_before = cache_hits(base)
                lookup = run_wrk(wrk, base, mix_paths, args.duration, args.connections)
                lookup["cache_hit_rate"] = round((cache_hits(base) - hits_before) / lookup["requests"], 3)
                lookup["cold_lookup_ms"] = cold_ms
                ratio = lookup["requests_per_s"] / livez["requests_per_s"]
                run[f"lookup_{mix}"] = lookup | {
                    "to_livez_throughput": round(ratio, 3),
                    "meets_half_throughput": ratio >= 0.5,
                    "meets_p99_25ms": lookup["p99_ms"] < 25,
                }
        finally:
            process.terminate()
            process.wait(timeout=20)
        results["runs"][label] = run  # type: ignore[index]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "api_load.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "api_load.md").write_text(markdown(results))
    print(markdown(results))


def markdown(results: dict[str, object]) -> str:
    store = results["store"]
    lines = [
        "# API load: trip lookups against /livez (bench/api_load.py)",
        "",
        f"{results['when']} · {results['machine']} · wrk on the same machine, 1 thread, "
        f"{results['connections']} connections, {results['duration_s']} s per endpoint · store: SQLite, "
        f"{store['services']:,} services, {store['calls']:,} calls, {store['predictions']:,} predictions "  # type: ignore[index]
        f"({store['days']} days of DB runs) · {results['distinct_trips']:,} different trips requested",  # type: ignore[index]
        "",
        "| server | endpoint | req/s | p50 ms | p90 ms | p99 ms | non-2xx | cache hits | req/s vs livez "
        "| targets met | cold lookup ms | load avg before → after |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for label, run in results["runs"].items():  # type: ignore[attr-defined]
        for endpoint, f in run.items():
            ratio = met = hits = cold = ""
            if endpoint.startswith("lookup"):
                cold = str(f.get("cold_lookup_ms", ""))
                hits = f"{f['cache_hit_rate']:.0%}"
                ratio = f"{f['to_livez_throughput']:.2f}"
                met = (
                    f"≥ ½ livez: {'yes' if f['meets_half_throughput'] else 'no'}; "
                    f"p99 < 25 ms: {'yes' if f['meets_p99_25ms'] else 'no'}"
                )
            lines.append(
                f"| {label} | {endpoint} | {f['requests_per_s']:,.0f} | {f['p50_ms']} | {f['p90_ms']} | "
                f"{f['p99_ms']} | {f['non_2xx']:.0f} | {hits} | {ratio} | {met} | {cold} | "
                f"{f['load_avg_1m'][0]} → {f['load_avg_1m'][1]} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
