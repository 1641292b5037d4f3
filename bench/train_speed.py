"""Benchmark: training the train arrival model on every DB call in the store (1.2 M calls of Mar–May 2026).

Measures wall time and peak memory (RSS) of ``eta train`` without the registry write: reading the store,
computing point-in-time features, fitting and calibrating. Target: under 5 minutes and 4 GiB on a 2-core
machine. Run after ``eta import db-runs``:

    ETA_DATA_DIR=var python -m bench.train_speed [--from 2026-02-28 --until 2026-05-31]

Writes ``bench/results/train_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

from eta.config import get_settings
from eta.features import load_frames
from eta.model import arrival
from eta.store import open_store
from eta.windows import window

RESULTS = Path(__file__).resolve().parent / "results" / "train_speed.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="start", default="2026-02-28")
    parser.add_argument("--until", default="2026-05-31")
    args = parser.parse_args()
    settings = get_settings()
    span = window(args.start, args.until, "training")
    engine = open_store(settings)
    began = time.perf_counter()
    frames = load_frames(engine, "train", span.start, span.end)
    read_s = time.perf_counter() - began
    model = arrival.train(frames, "train", span.start, span.end, settings)
    total_s = time.perf_counter() - began
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    figures = {
        "measured_at": datetime.now(UTC).isoformat(),
        "window": span.as_list(),
        "calls": len(frames.calls),
        "observations": len(frames.observations),
        "training_rows": model.meta["n_train"],
        "calibration_rows": model.meta["n_calibration"],
        "read_s": round(read_s, 1),
        "wall_s": round(total_s, 1),
        "peak_rss_mib": round(peak_rss_mib),
        "cpu_count": os.cpu_count(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "settings": settings.model.model_dump(mode="json"),
        "targets": {"wall_s": 300, "peak_rss_mib": 4096},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
