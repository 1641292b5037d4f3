"""Collectors as configured instances: two GTFS-Realtime feeds side by side, each with its own URLs, key
and interval, loaded by name and run through the one runner over real loopback HTTP."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine, select

from eta import scheduler as eta_scheduler
from eta.api.app import create_app
from eta.clock import ManualClock
from eta.collectors import archive
from eta.collectors.registry import KINDS, described, instance, instances, make_adapter
from eta.collectors.runner import Runner
from eta.collectors.sources.gtfs.realtime import GtfsRtAdapter
from eta.config import Settings, get_settings
from eta.errors import InputError
from eta.store.schema import Call, CallRef, CollectorState, Location, Observation, RawPayload, Service
from tests.api.conftest import api_settings
from tests.collectors.loopback import Loopback, Reply
from tests.collectors.sources.gtfs.test_realtime import FETCHED, GTFS, RT, static_zip

OTHER = Loopback  # the second operator's server


@pytest.fixture
def two_feeds(
    settings: Settings, loopback: Loopback, monkeypatch: pytest.MonkeyPatch
) -> tuple[Settings, Loopback, Loopback]:
    """Operator A configured by one variable per setting, operator B by one JSON section, each on its
    own server; both enabled."""
    other = OTHER().__enter__()
    for server in (loopback, other):
        server.route("/gtfs.zip", Reply(static_zip(), content_type="application/zip"))
        server.route("/trip-updates.pb", Reply(RT, content_type="application/x-protobuf"))
    monkeypatch.setenv("ETA_COLLECTORS__ENABLED", '["gtfs-a", "gtfs-b"]')
    monkeypatch.setenv("ETA_COLLECTORS__GTFS_A__KIND", "gtfs-rt")
    monkeypatch.setenv("ETA_COLLECTORS__GTFS_A__STATIC_URL", f"{loopback.url}/gtfs.zip")
    monkeypatch.setenv("ETA_COLLECTORS__GTFS_A__REALTIME_URL", f"{loopback.url}/trip-updates.pb")
    monkeypatch.setenv("ETA_COLLECTORS__GTFS_A__INTERVAL_S", "30")
    monkeypatch.setenv(
        "ETA_COLLECTORS__GTFS_B",
        f'{{"kind": "gtfs-rt", "static_url": "{other.url}/gtfs.zip", '
        f'"realtime_url": "{other.url}/trip-updates.pb", "interval_s": 90, '
        '"api_key": "operator-b-key-0042", "api_key_header": "x-api-key", "timezone": "Europe/Berlin"}',
    )
    get_settings.cache_clear()
    yield get_settings(), loopback, other
    other.__exit__()


def test_instances_are_loaded_by_name_with_their_own_settings(
    two_feeds: tuple[Settings, Loopback, Loopback],
) -> None:
    settings, a_server, b_server = two_feeds
    a, b = make_adapter("gtfs-a", settings), make_adapter("gtfs-b", settings)
    assert isinstance(a, GtfsRtAdapter) and isinstance(b, GtfsRtAdapter)
    assert (a.name, a.source, a.interval_s) == ("gtfs-a", "gtfs-a", 30)
    assert (b.name, b.source, b.interval_s) == ("gtfs-b", "gtfs-b", 90)
    assert a.config.realtime_url.startswith(a_server.url) and b.config.realtime_url.startswith(b_server.url)
    assert b.headers() == {"x-api-key": "operator-b-key-0042"} and a.headers() == {}
    # the kind's default instance is still there, unchanged, beside them
    default = make_adapter("gtfs-rt", settings)
    assert (default.name, default.source) == ("gtfs-rt", "gtfs-rt")
    lines = {line.split()[0]: line for line in described(settings)}
    assert "every 30 s" in lines["gtfs-a"] and "enabled" in lines["gtfs-a"]
    assert "every 90 s" in lines["gtfs-b"] and "enabled" not in lines["gtfs-rt"]


def test_two_feeds_of_one_kind_run_side_by_side_without_mixing(
    two_feeds: tuple[Settings, Loopback, Loopback],
    store: Engine,
    make_runner: Callable[..., Runner],
) -> None:
    settings, a_server, b_server = two_feeds
    results = {}
    for name in ("gtfs-a", "gtfs-b"):
        runner = make_runner(make_adapter(name, settings), store, settings, now=FETCHED)
        results[name] = runner.run_once()
        assert results[name].ok, results[name].line()
    assert a_server.hits == ["/gtfs.zip", "/trip-updates.pb"] == b_server.hits
    assert a_server.headers_seen[-1].get("x-api-key") is None
    assert b_server.headers_seen[-1]["x-api-key"] == "operator-b-key-0042"  # B's key goes to B only
    with store.connect() as conn:
        states = dict(conn.execute(select(CollectorState.collector, CollectorState.primed_at)).all())
        raw = pd.read_sql(select(RawPayload.source, RawPayload.path), conn)
        refs = pd.read_sql(select(CallRef.source, CallRef.ref), conn)
        observed = pd.read_sql(select(Observation.source), conn)
    assert set(states) == {"gtfs-a", "gtfs-b"} and all(states.values())  # each primed on its own
    for name in ("gtfs-a", "gtfs-b"):
        own = raw[raw["source"] == name]
        assert len(own) == 2 and own["path"].str.startswith(f"{name}/").all()  # its own archive folder
        assert (archive.root(settings.data_dir) / own["path"].iloc[0]).exists()
    # each feed's trip ids stay its own: the same recorded trip of two operators is two refs
    by_source = refs.groupby("source")["ref"].apply(set)
    assert by_source["gtfs-a"] == by_source["gtfs-b"] and len(by_source["gtfs-a"]) > 100
    counts = observed["source"].value_counts()
    assert counts["gtfs-a"] == results["gtfs-a"].written["observations"] > 200
    assert counts["gtfs-b"] == results["gtfs-b"].written["observations"]


def _an_hour_later_zip() -> bytes:
    """Operator B's static feed: the same trip and service ids as A's (ids are only unique within a feed),
    its trips an hour later."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("stops.txt", "routes.txt", "trips.txt"):
            archive.write(GTFS / name, name)
        times = pd.read_csv(GTFS / "stop_times.txt", dtype=str, keep_default_na=False)
        for column in ("arrival_time", "departure_time"):
            parts = times[column].str.split(":", n=1, expand=True)
            times[column] = (parts[0].astype(int) + 1).astype(str).str.zfill(2) + ":" + parts[1]
        archive.writestr("stop_times.txt", times.to_csv(index=False))
    return buffer.getvalue()


def test_two_operators_sharing_trip_and_service_ids_keep_their_own_trips(
    two_feeds: tuple[Settings, Loopback, Loopback],
    store: Engine,
    make_runner: Callable[..., Runner],
    tmp_path: Path,
) -> None:
    """Two operators' feeds whose trips.txt name the same trip_id and service_id: each feed's trip is its
    own service, with its own calls and schedule, and each report lands on its own feed's call."""
    settings, _, b_server = two_feeds
    b_server.route("/gtfs.zip", Reply(_an_hour_later_zip(), content_type="application/zip"))
    for name in ("gtfs-a", "gtfs-b"):
        result = make_runner(make_adapter(name, settings), store, settings, now=FETCHED).run_once()
        assert result.ok, result.line()
    with store.connect() as conn:
        services = pd.read_sql(select(Service.id, Service.number, Service.source), conn)
        first = pd.read_sql(
            select(Service.number, Call.scheduled_departure)
            .join(Call, Call.service_id == Service.id)
            .where(Call.sequence == 0),
            conn,
        ).set_index("number")["scheduled_departure"]
        reports = pd.read_sql(
            select(Observation.source, Service.source.label("service_source"))
            .join(Call, Call.id == Observation.call_id)
            .join(Service, Service.id == Call.service_id),
            conn,
        )
    assert services["source"].value_counts().to_dict() == {"gtfs-a": 25, "gtfs-b": 25}
    assert services["id"].is_unique and services["number"].is_unique
    # ICE 1536569 leaves at 06:15 local in A's feed and at 07:15 in B's; neither overwrote the other
    a_trip, b_trip = "gtfs-a:1536569", "gtfs-b:1536569"
    assert pd.Timestamp(first[a_trip]).tz_localize(None) == datetime(2026, 8, 18, 4, 15)
    assert pd.Timestamp(first[b_trip]).tz_localize(None) == datetime(2026, 8, 18, 5, 15)
    assert len(reports) > 400 and (reports["source"] == reports["service_source"]).all()
    # and each is asked for by its number, in the API and on the traveller page
    app = create_app(
        api_settings(settings.resolved_database_url, tmp_path / "var"), clock=ManualClock(FETCHED)
    )
    with TestClient(app) as client:
        for trip, departs in ((a_trip, "06:15"), (b_trip, "07:15")):
            answer = client.get(f"/api/v1/trips/train/ICE/{trip}/2026-08-18")
            assert answer.status_code == 200, answer.text
            first_call = answer.json()["calls"][0]
            assert first_call["scheduled_departure"].startswith(f"2026-08-18T{departs}"), first_call
            assert client.get(f"/trip/train/ICE/{trip}/2026-08-18").status_code == 200


def _other_stations_zip() -> bytes:
    """Operator B's static feed: the same stop_ids as A's (ids are only unique within a feed), naming other
    stations — each renamed, its trips and times unchanged."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("routes.txt", "trips.txt", "stop_times.txt"):
            archive.write(GTFS / name, name)
        stops = pd.read_csv(GTFS / "stops.txt", dtype=str, keep_default_na=False)
        stops["stop_name"] = "Operator B " + stops["stop_name"]
        archive.writestr("stops.txt", stops.to_csv(index=False))
    return buffer.getvalue()


def test_two_operators_sharing_stop_ids_keep_their_own_stations(
    two_feeds: tuple[Settings, Loopback, Loopback],
    store: Engine,
    make_runner: Callable[..., Runner],
    tmp_path: Path,
) -> None:
    """Two operators' feeds whose stops.txt name different stations by the same stop_id: each feed's stop
    is its own location (``<instance>:<stop_id>``) with its own name, and its board lists its own trips."""
    settings, _, b_server = two_feeds
    b_server.route("/gtfs.zip", Reply(_other_stations_zip(), content_type="application/zip"))
    for name in ("gtfs-a", "gtfs-b"):
        result = make_runner(make_adapter(name, settings), store, settings, now=FETCHED).run_once()
        assert result.ok, result.line()
    with store.connect() as conn:
        places = pd.read_sql(select(Location.code, Location.name), conn).set_index("code")["name"]
        calls = pd.read_sql(
            select(Call.location, Call.sequence, Service.number, Service.source).join(
                Service, Service.id == Call.service_id
            ),
            conn,
        )
    feed, _, stop_id = (calls["location"].str.partition(":")[i] for i in range(3))
    assert (feed == calls["source"]).all()  # every call at its own feed's station
    assert set(stop_id[feed == "gtfs-a"]) == set(stop_id[feed == "gtfs-b"])  # the same stop ids
    assert places.index.str.startswith(("gtfs-a:", "gtfs-b:")).all()
    # ICE 1536569's second stop (Fulda in A's feed), due 05:10 UTC in both feeds
    second = calls[(calls["number"] == "gtfs-a:1536569") & (calls["sequence"] == 1)]["location"].item()
    station = second.partition(":")[2]
    a_code, b_code = f"gtfs-a:{station}", f"gtfs-b:{station}"
    assert places[b_code] == f"Operator B {places[a_code]}"
    app = create_app(
        api_settings(settings.resolved_database_url, tmp_path / "var"), clock=ManualClock(FETCHED)
    )
    with TestClient(app) as client:
        for code, feed_name in ((a_code, "gtfs-a"), (b_code, "gtfs-b")):
            answer = client.get(f"/api/v1/locations/{code}/arrivals")
            assert answer.status_code == 200, answer.text
            board = answer.json()
            assert board["location"] == {"code": code, "name": places[code], "tz": "Europe/Berlin"}
            numbers = [arrival["service"]["number"] for arrival in board["arrivals"]]
            assert f"{feed_name}:1536569" in numbers and all(n.startswith(f"{feed_name}:") for n in numbers)
            assert client.get(f"/board/{code}").status_code == 200
            trip_page = f"/trip/train/ICE/{feed_name}:1536569/2026-08-18?stop={code}"
            assert client.get(trip_page).status_code == 200
        # the bare stop id is neither feed's station; a long instance name and stop id is still a code
        assert client.get(f"/api/v1/locations/{station}/arrivals").status_code == 404
        long_code = f"{'operator-' * 7}x:de:11000:900100001::1"
        assert client.get(f"/api/v1/locations/{long_code}/arrivals").status_code == 404


def test_the_scheduler_runs_each_instance_on_its_own_interval(
    two_feeds: tuple[Settings, Loopback, Loopback], store: Engine
) -> None:
    settings = two_feeds[0]
    scheduler = BackgroundScheduler(timezone=UTC)
    assert eta_scheduler.add_collector_jobs(scheduler, settings, store) == [
        "collect:gtfs-a",
        "collect:gtfs-b",
    ]
    intervals = {job.id: job.trigger.interval.total_seconds() for job in scheduler.get_jobs()}
    assert intervals == {"collect:gtfs-a": 30, "collect:gtfs-b": 90}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"feed_x": {"realtime_url": "http://x"}}, r"'feed-x' has no kind: set ETA_COLLECTORS__FEED_X__KIND"),
        ({"feed_x": {"kind": "gtfs-tr"}}, r"unknown kind 'gtfs-tr'; known: .*gtfs-rt"),
        (
            {"feed_x": {"kind": "gtfs-rt", "realtim_url": "http://x"}},
            r"\(gtfs-rt\): realtim_url: Extra inputs",
        ),
        (
            {"feed_x": {"kind": "gtfs-rt", "interval_s": "soon"}},
            r"interval_s: Input should be a valid integer",
        ),
        ({"feed_x": "{not json"}, r"'feed-x': its section is not a JSON object"),
        (
            {"db_iris": {"stations": "8011160"}},
            r"'db-iris' \(db-iris\): stations: Input should be a valid list",
        ),
    ],
)
def test_a_misconfigured_instance_is_named_in_one_line(section: dict[str, object], message: str) -> None:
    settings = Settings(collectors=section)
    with pytest.raises(InputError, match=message):
        instances(settings)


def test_every_kind_has_a_default_instance_and_list_settings_come_as_json() -> None:
    settings = Settings(
        collectors={"db_iris": {"stations": '["8000105"]', "interval_s": "45"}, "enabled": ["db-iris"]}
    )
    assert set(KINDS) <= set(instances(settings))
    iris = instance("db-iris", settings).config
    assert iris.model_dump()["stations"] == ["8000105"] and iris.model_dump()["interval_s"] == 45
    with pytest.raises(InputError, match=r"unknown collector 'gtfs-x'; known: .*db-iris"):
        make_adapter("gtfs-x", settings)


def _eta(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eta.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_collect_help_and_list_name_the_sources_and_instances() -> None:
    env = {
        "ETA_COLLECTORS__GTFS_NL__KIND": "gtfs-rt",
        "ETA_COLLECTORS__GTFS_NL__API_KEY": "nl-secret-key-77",
        "ETA_COLLECTORS__ENABLED": '["gtfs-nl"]',
    }
    shown = _eta("collect", "--help", env=env)
    assert shown.returncode == 0
    for kind in ("db-iris", "gtfs-rt", "ns-infoplus", "flight-status", "opensky", "open-meteo", "metar"):
        assert kind in shown.stdout
    assert "NS via NDOV Loket" in shown.stdout and "push" in shown.stdout
    listed = _eta("collect", "--list", env=env)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith("gtfs-nl"))
    assert row.split()[:2] == ["gtfs-nl", "gtfs-rt"] and "enabled" in row
    config = _eta("config", env=env)
    assert config.returncode == 0 and '"gtfs-nl"' in config.stdout
    assert "nl-secret-key-77" not in config.stdout  # an instance's key is masked like any secret
    broken = _eta("collect", "--list", env={"ETA_COLLECTORS__FEED__REALTIME_URL": "http://x"})
    assert broken.returncode != 0 and "has no kind" in broken.stderr


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_builds_an_instance_of_its_settings(kind: str) -> None:
    """Each adapter is its instance's settings and what it derives from them (eta.collectors.base.Adapter),
    and each kind's settings refuse a mistyped key (eta.collectors.kind.SourceSettings)."""
    found = KINDS[kind]
    config = found.settings().model_copy(update={"interval_s": found.settings().interval_s + 7})
    adapter = found.build(config)
    assert adapter.config is config
    assert adapter.interval_s == config.interval_s
    assert adapter.named("other").name == "other"
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        found.settings.model_validate({"interval_sec": 60})
