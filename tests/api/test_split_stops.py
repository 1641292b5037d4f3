"""A stop IRIS splits in two is one call: S 44130 on 2025-09-08, a train only change lists name, has two
stop ids at Berlin-Halensee (the trip's own stop, its arrival cancelled, departing; an added one a minute
earlier, arriving). The board and the trip show it once, as each snapshot described it when fetched."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from eta.clock import ManualClock
from eta.collectors.base import Payload, Request
from eta.collectors.registry import make_adapter
from eta.collectors.runner import Runner
from eta.collectors.sources.db import iris as db_iris
from eta.config import Settings
from eta.store import open_store
from tests.conftest import FIXTURES

BERLIN = ZoneInfo("Europe/Berlin")
HALENSEE = "8089109"
# the replay's fetch times: a minute after each snapshot's
SNAPSHOTS = {
    "2509080015": datetime(2025, 9, 8, 0, 16, tzinfo=BERLIN),
    "2509080030": datetime(2025, 9, 8, 0, 31, tzinfo=BERLIN),
}


def _payload(snapshot: str, at: datetime) -> Payload:
    body = (FIXTURES / "db_iris" / f"{HALENSEE}_fchg_{snapshot}_EXCERPT.xml").read_bytes()
    return Payload(db_iris.SOURCE, Request.of("fchg", eva=HALENSEE), at, body, None, f"{snapshot}:halensee")


def test_a_stop_iris_splits_in_two_is_one_row_of_the_board_and_one_call_of_the_trip(
    tmp_path: Path, make_client: Callable[..., TestClient]
) -> None:
    url = f"sqlite:///{tmp_path / 'split.sqlite3'}"
    settings = Settings(database_url=url, data_dir=tmp_path / "var")
    engine = open_store(settings)
    runner = Runner(make_adapter("db-iris", settings), engine, settings)
    for snapshot, at in SNAPSHOTS.items():
        runner.ingest([_payload(snapshot, at)], at)
    engine.dispose()
    clock = ManualClock(SNAPSHOTS["2509080015"])
    client = make_client(url, clock)

    def board(now: datetime) -> list[dict[str, object]]:
        clock.now = now
        answer = client.get(
            f"/api/v1/locations/{HALENSEE}/arrivals", params={"from": (now - timedelta(hours=1)).isoformat()}
        )
        assert answer.status_code == 200, answer.text
        return [a for a in answer.json()["arrivals"] if a["service"]["number"] == "44130"]

    # nothing before the first snapshot naming the train was fetched
    assert board(SNAPSHOTS["2509080015"] - timedelta(minutes=1)) == []
    # 00:20: arriving at 00:38 (the added stop's arrival), not cancelled (the own stop's arrival was)
    rows = board(datetime(2025, 9, 8, 0, 20, tzinfo=BERLIN))
    assert len(rows) == 1, [(r["scheduled_arrival"], r["status"]) for r in rows]
    assert rows[0]["status"] != "cancelled"
    assert datetime.fromisoformat(rows[0]["operator_estimate"]["arrival"]) == datetime(  # type: ignore[index]
        2025, 9, 8, 0, 38, tzinfo=BERLIN
    )
    trip = client.get("/api/v1/trips/train/S/44130/2025-09-08")
    assert trip.status_code == 200, trip.text
    assert [c["location"]["code"] for c in trip.json()["calls"]] == [HALENSEE]
    # 00:31: the 00:30 snapshot has the whole train cancelled
    rows = board(SNAPSHOTS["2509080030"])
    assert [r["status"] for r in rows] == ["cancelled"]
