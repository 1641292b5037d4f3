"""Real IRIS records of two S-Bahn calls at Berlin Nordbahnhof on 2025-09-08 (bundled day, change snapshot
``2509080600``), each with one of its two events cancelled:

- S 26527 (plan ``2509080600``), due 06:09 on its way to Teltow Stadt, ends at Nordbahnhof: its arrival
  stands (changed platform 2, 06:09), its departure is cancelled;
- S 26532 (plan ``2509080700``), due 07:26, starts at Nordbahnhof instead: its arrival is cancelled, its
  departure at 07:27 (platform 3) stands.

:func:`store_url` replays the two plan snapshots and the change snapshot through the IRIS adapter into a
SQLite store, each a minute after its snapshot time (when DAMS Lab fetched it, as ``eta replay`` does):
S 26532's change waits for its plan, fetched at 07:01.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from eta.collectors.base import Payload, Request
from eta.collectors.registry import make_adapter
from eta.collectors.runner import Runner
from eta.collectors.sources.db import iris as db_iris
from eta.config import Settings
from eta.store import open_store
from tests.conftest import FIXTURES

BERLIN = ZoneInfo("Europe/Berlin")
NORDBAHNHOF = "8089024"
ENDS_HERE = "S/26527/2025-09-08"  # arrives, does not leave
STARTS_HERE = "S/26532/2025-09-08"  # does not arrive, leaves
ENDS_HERE_STOP = "-4938533506523138056-2509080554-7"
STARTS_HERE_STOP = "7576356083121382619-2509080655-15"
CHANGES_FETCHED = datetime(2025, 9, 8, 6, 1, tzinfo=BERLIN)


def _payloads() -> list[tuple[datetime, Payload]]:
    out = []
    for hour in ("06", "07"):
        at = datetime(2025, 9, 8, int(hour), 1, tzinfo=BERLIN)
        body = (FIXTURES / "db_iris" / f"{NORDBAHNHOF}_plan_250908{hour}00_EXCERPT.xml").read_bytes()
        request = Request.of("plan", eva=NORDBAHNHOF, date="250908", hour=hour)
        out.append((at, Payload(db_iris.SOURCE, request, at, body, None, f"250908{hour}00:plan")))
    body = (FIXTURES / "db_iris" / f"{NORDBAHNHOF}_fchg_2509080600_EXCERPT.xml").read_bytes()
    request = Request.of("fchg", eva=NORDBAHNHOF)
    out.append(
        (CHANGES_FETCHED, Payload(db_iris.SOURCE, request, CHANGES_FETCHED, body, None, "2509080600:fchg"))
    )
    return out


def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'nordbahnhof.sqlite3'}"
    settings = Settings(database_url=url, data_dir=tmp_path / "var")
    engine = open_store(settings)
    runner = Runner(make_adapter("db-iris", settings), engine, settings)
    for at, payload in sorted(_payloads(), key=lambda item: item[0]):
        runner.ingest([payload], at)
    engine.dispose()
    return url
