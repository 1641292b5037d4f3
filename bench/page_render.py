"""The traveller page's first render and weight, on loopback, with the demo's data.

    python bench/page_render.py [--data-dir var] [--runs 15] [--screenshots]

Serves the store that ``eta demo`` built in ``--data-dir`` with ``eta serve`` (its clock replaying the
demo's Berlin evening, 17:30, as the demo does), picks the demo's example train into Berlin Hbf, and opens
its page in headless Chromium (Debian's ``chromium``), each run in a fresh browser context (nothing cached,
no service worker: a first visit), then once more in the same context (assets from the cache: a return).
Measured in the browser: first contentful paint (the page's frame) and ``eta-trip-rendered``, the mark
the page sets when the trip's arrival card is drawn from the API answer (first render with data), both
from the start of navigation; and the bytes the page loaded, without images, before compression.
Target (issue 17): first render under 500 ms, page weight under 150 KB.
Writes ``bench/results/page_render.json`` and ``.md``; with ``--screenshots`` also the page's pictures in
``docs/`` (trip at 360x640 and 1280x900, pick-up page, search), shown in the README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(data_dir: Path, at: datetime, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "ETA_DATA_DIR": str(data_dir.resolve()),
        "ETA_API__REPLAY_FROM": at.isoformat(),
        "ETA_API__MAX_DAYS_BACK": "2",
        "ETA_LOG_LEVEL": "WARNING",
        "ETA_ALERTS__CYCLE_INTERVAL_S": "0",
    }
    process = subprocess.Popen([sys.executable, "-m", "eta.cli", "serve", "--port", str(port)], env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/livez", timeout=1).ok:
                return process
        except requests.ConnectionError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit("eta serve did not start within 120 s")


def measure(page: Any, url: str) -> dict[str, float]:
    loaded: list[tuple[str, int]] = []
    page.on("requestfinished", lambda r: loaded.append((r.resource_type, r.sizes()["responseBodySize"])))
    page.goto(url)
    page.locator("#p50").wait_for()
    page.wait_for_load_state("networkidle")
    timing = page.evaluate(
        """() => ({
            fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
            rendered: (performance.getEntriesByName('eta-trip-rendered')[0] || {}).startTime,
            html: performance.getEntriesByType('navigation')[0].responseEnd,
            api: (performance.getEntriesByType('resource')
                  .find(e => e.name.includes('/api/v1/trips/')) || {}).responseEnd,
        })"""
    )
    weight = sum(size for kind, size in loaded if kind not in ("image", "media", "font"))
    return {
        "fcp_ms": timing["fcp"],
        "rendered_ms": timing["rendered"],
        "html_ms": timing["html"],
        "api_ms": timing["api"] or 0.0,
        "bytes": weight,
    }


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 1),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1),
        "max": round(ordered[-1], 1),
    }


def screenshots(browser: Any, base: str, trip: str) -> list[str]:
    made = []
    for name, viewport in (("mobile", (360, 640)), ("desktop", (1280, 900))):
        page = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, locale="en-GB"
        ).new_page()
        page.goto(base + trip)
        page.locator("#parking-title").wait_for()
        page.screenshot(path=str(REPO / "docs" / f"page-trip-{name}.png"), full_page=True)
        made.append(f"docs/page-trip-{name}.png")
    key = dict(
        zip(("mode", "operator", "number", "service_date"), trip.split("?")[0].split("/")[2:], strict=True)
    )
    share = requests.post(
        f"{base}/api/v1/shares", json={"trip": key, "location": "8011160"}, timeout=30
    ).json()
    page = browser.new_context(viewport={"width": 360, "height": 640}, locale="de-DE").new_page()
    page.goto(base + share["page"])
    page.locator("#p50").wait_for()
    page.fill("#travel", "25")
    page.screenshot(path=str(REPO / "docs" / "page-pickup-mobile.png"), full_page=True)
    page = browser.new_context(viewport={"width": 360, "height": 640}, locale="fr-FR").new_page()
    page.goto(base + "/")
    page.fill("#number", "ICE")
    page.locator("#suggestions li a").first.wait_for()
    page.screenshot(path=str(REPO / "docs" / "page-home-mobile.png"), full_page=True)
    return [*made, "docs/page-pickup-mobile.png", "docs/page-home-mobile.png"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", type=Path, default=REPO / "var", help="Where `eta demo` built its store."
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--at",
        default=None,
        help="Local time in the replayed Berlin day to serve at (default: the demo's, 17:30).",
    )
    parser.add_argument("--screenshots", action="store_true", help="Also write the page's pictures in docs/.")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from playwright.sync_api import sync_playwright

    from eta import demo
    from eta.config import Settings
    from eta.store import open_store

    settings = Settings(data_dir=args.data_dir)
    if not Path(settings.resolved_database_url.removeprefix("sqlite:///")).exists():
        raise SystemExit(
            f"no demo store in {args.data_dir}: run `eta demo --no-serve` with ETA_DATA_DIR there"
        )
    engine = open_store(settings)
    day = demo.bundled_train_day(demo.bundled_train_folder(settings))
    serve_at = clock_time.fromisoformat(args.at) if args.at else demo.SERVE_AT
    at = datetime.combine(day, serve_at, demo.TRAIN_TZ)
    example = demo.example_train(engine, day, at)
    engine.dispose()
    if example is None:
        raise SystemExit(f"the demo store has no served train into Berlin Hbf after {serve_at:%H:%M}")
    trip = f"/trip/train/{example.operator}/{example.number}/{example.service_date}?stop=8011160"
    port = free_port()
    server = serve(args.data_dir, at, port)
    base = f"http://127.0.0.1:{port}"
    load_before = os.getloadavg()[0]
    cold: list[dict[str, float]] = []
    warm: list[dict[str, float]] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            measure(
                browser.new_page(), base + trip
            )  # the server's first answer (caches, imports) not counted
            for _ in range(args.runs):
                context = browser.new_context(viewport={"width": 360, "height": 640})
                cold.append(measure(context.new_page(), base + trip))
                warm.append(measure(context.new_page(), base + trip))
                context.close()
            shots = screenshots(browser, base, trip) if args.screenshots else []
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_1min_before": round(load_before, 2),
        "load_1min_after": round(os.getloadavg()[0], 2),
        "served_at": at.isoformat(),
        "trip": trip,
        "runs": args.runs,
        "first_visit": {
            "first_contentful_paint_ms": summary([r["fcp_ms"] for r in cold]),
            "first_render_with_data_ms": summary([r["rendered_ms"] for r in cold]),
            "page_html_received_ms": summary([r["html_ms"] for r in cold]),
            "trip_answer_received_ms": summary([r["api_ms"] for r in cold]),
            "bytes_without_images": int(statistics.median(r["bytes"] for r in cold)),
        },
        "return_visit": {
            "first_contentful_paint_ms": summary([r["fcp_ms"] for r in warm]),
            "first_render_with_data_ms": summary([r["rendered_ms"] for r in warm]),
            "page_html_received_ms": summary([r["html_ms"] for r in warm]),
            "trip_answer_received_ms": summary([r["api_ms"] for r in warm]),
            "bytes_without_images": int(statistics.median(r["bytes"] for r in warm)),
        },
        "targets": {"first_render_ms": 500, "page_weight_bytes": 150_000},
        "screenshots": shots,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "page_render.json").write_text(json.dumps(result, indent=2) + "\n")
    first, again = result["first_visit"], result["return_visit"]
    lines = [
        "# Traveller page: first render and weight (bench/page_render.py)",
        "",
        f"{result['measured_at']}, {result['machine']}, load {result['load_1min_before']} → "
        f"{result['load_1min_after']}; demo data served at {at:%Y-%m-%d %H:%M %Z}, page {trip}, "
        f"{args.runs} runs, headless Chromium on loopback.",
        "",
        "| visit | page HTML received | trip answer received | first contentful paint "
        "| first render with data | bytes without images |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in (("first (nothing cached)", first), ("return (cached assets)", again)):
        cells = [
            row[key]
            for key in (
                "page_html_received_ms",
                "trip_answer_received_ms",
                "first_contentful_paint_ms",
                "first_render_with_data_ms",
            )
        ]
        timings = " | ".join(f"{c['median']} / {c['p90']} ms" for c in cells)
        lines.append(f"| {name} | {timings} | {row['bytes_without_images']:,} |")
    lines += ["", "Times from the start of navigation, median / p90."]
    lines += ["", "Targets: first render under 500 ms, page weight under 150 KB (150,000 bytes)."]
    (RESULTS / "page_render.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
