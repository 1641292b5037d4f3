"""GTFS static + GTFS-Realtime TripUpdates on the real gtfs.de recordings, over loopback HTTP."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from google.transit import gtfs_realtime_pb2
from sqlalchemy import Engine, select

from eta.collectors.base import PayloadError
from eta.collectors.runner import Runner
from eta.collectors.sources.gtfs.realtime import GtfsRtAdapter, parse_feed, parse_static, trip_update_rows
from eta.collectors.sources.gtfs.settings import GtfsRtSettings
from eta.config import Settings
from eta.store.schema import Call, CallRef, Observation, Service
from tests.collectors.loopback import Loopback, Reply
from tests.conftest import FIXTURES

GTFS = FIXTURES / "gtfs"
RT = (GTFS / "de_gtfsde_realtime-free_2026-08-18T0457Z_subset.pb").read_bytes()
BERLIN = ZoneInfo("Europe/Berlin")
FETCHED = datetime(2026, 8, 18, 4, 58, tzinfo=UTC)


def static_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("stops.txt", "routes.txt", "trips.txt", "stop_times.txt"):
            archive.write(GTFS / name, name)
    return buffer.getvalue()


def test_static_feed_gives_stations_platforms_and_routes() -> None:
    static = parse_static(static_zip())
    celle = static.stops["558182"]
    assert (celle.platform, celle.station) == ("5", "657009")
    assert static.category_line("1536569", None) == ("ICE", "11")
    assert static.stop_times[("1536569", 0)] == ("540068", 6 * 3600 + 15 * 60, 6 * 3600 + 15 * 60)


def test_trip_updates_become_calls_and_observations() -> None:
    feed = parse_feed(RT)
    rows = trip_update_rows(feed, parse_static(static_zip()), BERLIN, FETCHED, "ref")
    assert len(rows.tables["services"]) == 25
    assert len(rows.tables["observations"]) == sum(len(e.trip_update.stop_time_update) for e in feed.entity)
    ice = next(s for s in rows.tables["services"] if s["number"] == "1536569")
    assert (ice["operator"], ice["line"], str(ice["service_date"])) == ("ICE", "11", "2026-08-18")
    calls = {c["sequence"]: c for c in rows.tables["calls"] if c["service_id"] == ice["id"]}
    # the static schedule (06:15 local) and the feed's own time minus its delay agree
    assert calls[0]["scheduled_departure"] == datetime(2026, 8, 18, 4, 15, tzinfo=UTC)
    assert calls[1]["scheduled_departure"] == datetime(2026, 8, 18, 5, 12, tzinfo=UTC)
    obs = {o["call_id"]: o for o in rows.tables["observations"]}
    first = obs[calls[0]["id"]]
    assert first["estimated_departure"] == datetime.fromtimestamp(1787026500, UTC)
    assert first["actual_departure"] == first["estimated_departure"]  # before the feed's timestamp
    second = obs[calls[1]["id"]]
    assert second["estimated_departure"] == datetime.fromtimestamp(1787029980, UTC)  # 60 s late
    assert second["actual_departure"] is None  # still in the future at 04:57:20
    skipped = [o for o in rows.tables["observations"] if o["cancelled"]]
    assert len(skipped) == 1  # the one SKIPPED stop in the feed


def test_an_assigned_stop_with_a_platform_code_is_a_platform_change() -> None:
    feed = parse_feed(RT)
    static = parse_static(static_zip())
    entity = next(
        e
        for e in feed.entity
        if any(s.HasField("stop_time_properties") for s in e.trip_update.stop_time_update)
    )
    stu = next(s for s in entity.trip_update.stop_time_update if s.HasField("stop_time_properties"))
    stu.stop_time_properties.assigned_stop_id = "629922"  # Celle platform 6 (a stop of the real static feed)
    message = gtfs_realtime_pb2.FeedMessage()
    message.header.CopyFrom(feed.header)
    message.entity.add().CopyFrom(entity)
    rows = trip_update_rows(message, static, BERLIN, FETCHED, "ref")
    assert {o["platform"] for o in rows.tables["observations"]} == {"6", None}


@pytest.mark.parametrize(("body", "message"), [(b"\x08\x96\x01garbage\xff", "FeedMessage"), (b"", "header")])
def test_bad_feeds_raise(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_feed(body)


def test_a_static_feed_missing_files_raises() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("stops.txt", "stop_id\n1\n")
    with pytest.raises(PayloadError, match=r"without routes\.txt"):
        parse_static(buffer.getvalue())


def test_gtfs_rt_collector_over_http(
    store: Engine, settings: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    loopback.route("/static.zip", Reply(static_zip(), content_type="application/zip"))
    loopback.route("/realtime.pb", Reply(RT, content_type="application/octet-stream"))
    config = GtfsRtSettings(
        static_url=f"{loopback.url}/static.zip", realtime_url=f"{loopback.url}/realtime.pb"
    )
    adapter = GtfsRtAdapter(config)
    runner = make_runner(adapter, store, settings, now=FETCHED)
    result = runner.run_once()
    assert result.ok, result.line()
    assert result.written["services"] == 25 and result.written["observations"] > 200
    runner.clock = lambda: datetime(2026, 8, 18, 4, 59, tzinfo=UTC)
    again = runner.run_once()
    assert loopback.hits == ["/static.zip", "/realtime.pb", "/realtime.pb"]  # the static feed once a day
    assert again.written.get("observations", 0) == 0  # the same feed says nothing new
    with store.connect() as conn:
        ref = conn.execute(select(CallRef.ref).where(CallRef.source == "gtfs-rt").limit(1)).scalar_one()
        n_calls = len(pd.read_sql(select(Call.id), conn))
        n_obs = len(pd.read_sql(select(Observation.id), conn))
        operators = set(pd.read_sql(select(Service.operator), conn)["operator"])
    assert ref.count("|") == 2 and n_calls == n_obs
    assert "ICE" in operators


def _long(trip_id: str) -> str:
    """A trip id as feeds outside gtfs.de write them (here 40 characters and more)."""
    return f"de:vbb:{trip_id}:2026-08-18T04:00:00+02:00:1"


def test_trip_ids_longer_than_16_characters_are_stored(
    store: Engine, settings: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    """Issue 21 §3: on PostgreSQL such a trip id (the service number) raised in the bulk write and every
    run crashed on the same batch; SQLite stored it. Both store it now."""
    feed = gtfs_realtime_pb2.FeedMessage()
    feed.ParseFromString(RT)
    for entity in feed.entity:
        if entity.HasField("trip_update"):
            entity.trip_update.trip.trip_id = _long(entity.trip_update.trip.trip_id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("stops.txt", "routes.txt"):
            archive.write(GTFS / name, name)
        for name in ("trips.txt", "stop_times.txt"):
            frame = pd.read_csv(GTFS / name, dtype=str, keep_default_na=False)
            frame["trip_id"] = frame["trip_id"].map(_long)
            archive.writestr(name, frame.to_csv(index=False))
    loopback.route("/static.zip", Reply(buffer.getvalue(), content_type="application/zip"))
    loopback.route("/realtime.pb", Reply(feed.SerializeToString(), content_type="application/octet-stream"))
    config = GtfsRtSettings(
        static_url=f"{loopback.url}/static.zip", realtime_url=f"{loopback.url}/realtime.pb"
    )
    result = make_runner(GtfsRtAdapter(config), store, settings, now=FETCHED).run_once()
    assert result.ok, result.line()
    assert result.written["services"] == 25 and result.written["observations"] > 200
    with store.connect() as conn:
        numbers = set(pd.read_sql(select(Service.number), conn)["number"])
    assert all(len(n) > 16 and n.startswith("de:vbb:") for n in numbers)
