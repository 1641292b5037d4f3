"""Stops whose status changes when IRIS's arrival and departure cancellations are stored apart (issue 15).

Usage: ``python bench/iris_partial_cancellations.py FOLDER`` where FOLDER holds the unpacked change
snapshot folders (``YYMMDDHHMM/<station>_change.xml``), e.g.
``data/iris-berlin-day/raw/timetable_changes/250908.tar.gz`` extracted. Every change record goes through the
parsing and :func:`eta.collectors.sources.db.iris.reported_state` eta uses; the old state merged both
events' statuses (either cancelled: the stop cancelled). Counted per stop (station file, IRIS stop id), by
its final state (the last snapshot listing it) and by any snapshot.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

from eta.collectors.sources.db import iris as db_iris


def _at(path: Path) -> datetime:
    return datetime.strptime(path.parent.name, "%y%m%d%H%M").replace(tzinfo=db_iris.TZ)


def _old(change: db_iris.ChangeStop) -> bool:
    return any(e is not None and e.status == "c" for e in (change.arrival, change.departure))


def _kind(change: db_iris.ChangeStop, at: datetime) -> str | None:
    """How the stop's status changed: ``arrives`` (was cancelled, its arrival stands: the train ends
    there), ``leaves`` (was cancelled on departures, its departure stands: it starts there)."""
    state = db_iris.reported_state(change, at)
    departure = state.cancelled if state.departure_cancelled is None else state.departure_cancelled
    if _old(change) and not state.cancelled:
        return "arrives"
    if _old(change) and not departure:
        return "leaves"
    return None


def main(root: Path) -> None:
    final: dict[tuple[str, str], str | None] = {}
    ever: dict[tuple[str, str], set[str]] = {}
    records = 0
    for path in sorted(root.glob("*/*_change.xml")):
        at = _at(path)
        for change in db_iris.parse_changes(path.read_bytes(), at).stops:
            records += 1
            key = (path.name, change.stop_id)
            kind = _kind(change, at)
            final[key] = kind
            if kind is not None:
                ever.setdefault(key, set()).add(kind)
    print(f"change records: {records:,}, stops: {len(final):,}")
    by_final = Counter(kind for kind in final.values() if kind is not None)
    print(f"final state: arrivals no longer cancelled {by_final['arrives']}, ", end="")
    print(f"departures no longer cancelled {by_final['leaves']}")
    by_ever = Counter(kind for kinds in ever.values() for kind in kinds)
    print(
        f"in any snapshot: arrivals {by_ever['arrives']}, departures {by_ever['leaves']} (stops: {len(ever)})"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
