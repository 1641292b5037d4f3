"""Replay one of the demo's days from midnight with re-prediction into a data directory of its own, as
``eta demo`` does (bundled models, the collector path, the live scheduler's sweep after each cycle), for
``eta served-accuracy`` to score:

    python bench/served_day.py --day new-york --data-dir var/new-york
    ETA_DATA_DIR=var/new-york eta served-accuracy --mode flight --from 2013-12-20 --until 2013-12-21

The Berlin day is built the same way by ``python bench/served_boards.py --data-dir var/berlin --build-only``
(``--day berlin`` here does the same replay). A day already replayed into the directory is not replayed again.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--day", choices=["berlin", "new-york"], required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()

    from eta.config import Settings
    from eta.demo import data
    from eta.demo.days import flight_day, replay_until, train_day
    from eta.store import open_store

    settings = Settings(data_dir=args.data_dir)
    marker = args.data_dir / f"demo-replayed-{args.day}"
    if marker.exists():
        print(
            f"{args.day} already replayed into {args.data_dir} ({marker.read_text().strip()})",
            file=sys.stderr,
        )
        return
    engine = open_store(settings)
    started, cpu = time.monotonic(), time.process_time()
    data.ensure_champions(engine, settings, print, train_missing=False)
    if args.day == "berlin":
        day = train_day(engine, settings)
    else:
        # the days around it, as the demo imports them before replaying (features of the day's first flights)
        data.import_flight_neighbours(engine, settings)
        day = flight_day(engine, settings)
    replay_until(day, None, predict=True, what=f"{day.name}, the whole day")
    print(
        day.replay.summary.line(),
        f"({time.monotonic() - started:.0f} s, {time.process_time() - cpu:.0f} CPU s)",
        file=sys.stderr,
    )
    marker.write_text(datetime.now(UTC).isoformat() + "\n")


if __name__ == "__main__":
    main()
