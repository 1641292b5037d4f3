"""Benchmark: a newcomer's first minutes with ``eta demo``, in a fresh data directory.

Starts ``eta demo`` (after the install: the clock starts at the command) and measures the wall time until
the first correct trip answer from each server — a trip asked for by the number an arrivals board lists,
answered 200 with a prediction made by the served clock at most 20 minutes before it, for its call there —
then until the servers switch to the full store and until everything is ready; runs every example of the
README's "What to look at" against the servers; samples the load average throughout (the machine may be
shared) and the CPU seconds the demo and its servers used (on two idle cores, wall time is close to them).
Target: the first answer within 180 s on two cores.

    python -m bench.demo_first_answer [--until first|switch|ready] [--data-dir DIR] [--eta COMMAND]

``--eta`` is the command that stands for ``eta``, e.g. the image built from the Dockerfile run on the host's
network: ``--eta "docker run --rm --network host eta"`` (``ENTRYPOINT ["eta"]``; the image's own, fresh
``/var/lib/eta`` is the data directory then).

Appends a run to ``bench/results/demo_first_answer.json`` and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import requests

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "demo_first_answer.json"
TARGET_FIRST_ANSWER_S = 180
FRESH_S = 20 * 60  # a served prediction older than this, on the served clock, does not count
BOARDS = {"trains": "8011160", "flights": "ORD"}  # Berlin Hbf; New York flights into Chicago O'Hare


@dataclass
class Watch:
    """What the demo printed, when (seconds since its start), and the load average meanwhile."""

    started: float
    lines: list[tuple[float, str]] = field(default_factory=list)
    load: list[tuple[float, float]] = field(default_factory=list)
    cpu_s: float = 0.0
    cpu: list[tuple[float, float]] = field(default_factory=list)  # (when, CPU seconds used by then)

    def at(self) -> float:
        return round(time.monotonic() - self.started, 1)

    def first(self, pattern: str) -> float | None:
        return next((t for t, line in self.lines if re.search(pattern, line)), None)

    def cpu_by(self, when: float) -> float:
        """CPU seconds of the demo and its servers by ``when`` (the last sample before it, 5 s apart):
        on two otherwise idle cores a stage's wall time is close to its CPU time."""
        return round(max((cpu for t, cpu in self.cpu if t <= when), default=0.0), 1)

    def key(self) -> str | None:
        for _, line in self.lines:
            if match := re.search(r"operator key\s+(eta_\S+)", line):
                return match.group(1)
        return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _read(process: subprocess.Popen[str], watch: Watch) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        watch.lines.append((watch.at(), line.rstrip()))
        print(f"{watch.at():7.1f}  {line.rstrip()}", flush=True)


def _sample(process: subprocess.Popen[str], watch: Watch, stop: threading.Event) -> None:
    """Load average every 5 s; the CPU seconds of the demo and every process it started."""
    root = psutil.Process(process.pid)
    seen: dict[int, float] = {}
    while not stop.is_set():
        watch.load.append((watch.at(), os.getloadavg()[0]))
        try:
            for proc in [root, *root.children(recursive=True)]:
                times = proc.cpu_times()
                seen[proc.pid] = times.user + times.system + times.children_user + times.children_system
        except psutil.Error:
            pass
        watch.cpu_s = sum(seen.values())
        watch.cpu.append((watch.at(), watch.cpu_s))
        stop.wait(5)


def _correct_trip(base: str, board_code: str) -> dict[str, Any] | None:
    """A trip from the board that answers with a fresh prediction at the board's location, or None."""
    try:
        board = requests.get(f"{base}/api/v1/locations/{board_code}/arrivals", timeout=10)
    except requests.RequestException:
        return None
    if board.status_code != 200:
        return None
    answer = board.json()
    now = datetime.fromisoformat(answer["as_of"])
    for arrival in answer["arrivals"]:
        if arrival["predicted"] is None:
            continue
        service = arrival["service"]
        path = f"trips/{service['mode']}/{service['operator']}/{service['number']}/{service['service_date']}"
        trip = requests.get(f"{base}/api/v1/{path}", params={"leg": service["leg"] or None}, timeout=10)
        if trip.status_code != 200:
            continue
        for call in trip.json()["calls"]:
            predicted = call["predicted"]
            if call["location"]["code"] != board_code or predicted is None:
                continue
            made_at = datetime.fromisoformat(predicted["made_at"])
            if now - timedelta(seconds=FRESH_S) <= made_at <= now:
                return {"request": f"/api/v1/{path}", "clock": answer["as_of"], "p50": predicted["p50"]}
    return None


def _readme_examples(ports: dict[str, int], key: str | None) -> list[dict[str, Any]]:
    """Each ``curl`` of the README's "What to look at", against the benchmark's ports."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## What to look at", 1)[1].split("\n## ", 1)[0]
    results = []
    for address in re.findall(r"curl [^\n]*?'?(http://127\.0\.0\.1:\d+[^'\s]*)'?", section):
        local = address.replace(":8000", f":{ports['trains']}").replace(":8001", f":{ports['flights']}")
        headers = {"X-API-Key": key} if key and "operator" in address else {}
        answer = requests.get(local, headers=headers, timeout=30)
        body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
        rows = body.get("arrivals") or body.get("calls") or body.get("rows") or []
        results.append({"example": address, "status": answer.status_code, "rows": len(rows)})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--until", choices=["first", "switch", "ready"], default="ready")
    parser.add_argument("--data-dir", type=Path, help="default: a fresh temporary directory, removed after")
    parser.add_argument("--timeout-s", type=float, default=3600)
    parser.add_argument("--eta", help="the command that stands for eta (default: this Python's eta.cli)")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="eta-demo-bench-"))
    ports = {"trains": _free_port(), "flights": _free_port()}
    env = {**os.environ, "ETA_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    env.pop("ETA_DATABASE_URL", None)
    eta = shlex.split(args.eta) if args.eta else [sys.executable, "-m", "eta.cli"]
    command = [*eta, "demo", "--port", str(ports["trains"])]
    command += ["--flight-port", str(ports["flights"])]
    load_before = os.getloadavg()
    watch = Watch(time.monotonic())
    process = subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    stop = threading.Event()
    threading.Thread(target=_read, args=(process, watch), daemon=True).start()
    threading.Thread(target=_sample, args=(process, watch, stop), daemon=True).start()
    first: dict[str, dict[str, Any]] = {}
    examples: list[dict[str, Any]] = []
    try:
        while watch.at() < args.timeout_s and process.poll() is None:
            for name, board in BOARDS.items():
                if name not in first and (answer := _correct_trip(f"http://127.0.0.1:{ports[name]}", board)):
                    first[name] = {"after_s": watch.at(), **answer}
            switched = watch.first(r"^ready for: trip answers, boards, the feed")
            ready = watch.first(r"eta train and eta backtest on all the bundled data")
            done = {"first": len(first) == 2, "switch": switched is not None, "ready": ready is not None}
            if done[args.until] and len(first) == 2:
                break
            time.sleep(1)
        if len(first) == 2:
            examples = _readme_examples(ports, watch.key())
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        stop.set()
        if args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)
    stages = [
        {"stage": line[2:].split(" (")[0], "done_after_s": t, "cpu_s_by_then": watch.cpu_by(t)}
        for t, line in watch.lines
        if line.startswith("✓ ")
    ]
    loads = [load for _, load in watch.load]
    run = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "first_answer_s": max((f["after_s"] for f in first.values()), default=None),
        "first_answers": first,
        "serving_line_s": watch.first(r"^serving \d+ s after the start"),
        "switched_to_full_store_s": watch.first(r"^ready for: trip answers, boards, the feed"),
        "everything_ready_s": watch.first(r"eta train and eta backtest on all the bundled data"),
        "stages": stages,
        "readme_examples": examples,
        "cpu_s_demo_and_servers": round(watch.cpu_s, 1),
        "load_average_1m": {
            "before": round(load_before[0], 2),
            "min": round(min(loads), 2) if loads else None,
            "mean": round(sum(loads) / len(loads), 2) if loads else None,
            "max": round(max(loads), 2) if loads else None,
        },
        "uptime_before": " ".join(f"{x:.2f}" for x in load_before),
        "eta": args.eta or "python -m eta.cli",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "target_first_answer_s": TARGET_FIRST_ANSWER_S,
    }
    runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    runs.append(run)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(runs, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(run, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
