"""Calls that IRIS change lists add to the plans of a recorded day (issue 15), by the parsing eta uses.

Usage: ``python bench/iris_change_calls.py FOLDER`` where FOLDER holds the unpacked snapshot folders
(``YYMMDDHHMM/<station>_timetable.xml`` and ``_change.xml``), e.g. both archives of
``data/iris-berlin-day/raw`` extracted into one folder.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from eta.collectors.sources.db import iris as db_iris


def _at(path: Path) -> datetime:
    return datetime.strptime(path.parent.name, "%y%m%d%H%M").replace(tzinfo=db_iris.TZ)


def main(root: Path) -> None:
    first_plan: dict[str, datetime] = {}
    for path in sorted(root.glob("*/*_timetable.xml")):
        for stop in db_iris.parse_plan(path.read_bytes(), _at(path)).stops:
            first_plan.setdefault(stop.stop_id, _at(path))
    named: dict[str, tuple[datetime, db_iris.PlanStop]] = {}
    for path in sorted(root.glob("*/*_change.xml")):
        for change in db_iris.parse_changes(path.read_bytes(), _at(path)).stops:
            planned = db_iris.planned_stop(change)
            if planned is not None:
                named.setdefault(change.stop_id, (_at(path), planned))
    only = {k: v for k, v in named.items() if k not in first_plan}
    earlier = {k: v[0] for k, v in named.items() if k in first_plan and v[0] < first_plan[k]}
    hour = [k for k, at in earlier.items() if (first_plan[k] - at).total_seconds() >= 3600]
    days = sorted({_at(p).date() for p in root.glob("*/*_change.xml")})
    due = sum((s.arrival or s.departure).time.astimezone(db_iris.TZ).date() in days for _, s in only.values())  # type: ignore[union-attr]
    print(f"stops named with planned times by change lists: {len(named)}")
    print(f"new calls (no plan lists them): {len(only)}, due on the recorded day(s): {due}")
    print(f"planned stops known earlier than their plan: {len(earlier)}, 60 min or more: {len(hour)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
