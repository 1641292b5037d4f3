"""``eta demo``: the whole service on bundled real data, offline, on the embedded database.

1. imports the bundled real data (nycflights13 without the demo day; the DB train runs);
2. loads the champion models bundled in ``data/models/`` (or trains them where none is bundled);
3. replays a real day of Berlin trains (DB IRIS snapshots) and a real day of New York flights through
   the collectors on a simulated clock, re-predicting after every cycle as the live scheduler does;
4. serves the API and dashboard on localhost — trains and flights each with a clock set inside its
   replayed day, because the two days are twelve years apart — and prints where to look.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import requests
from sqlalchemy import Engine, func, select

from eta.config import Settings
from eta.errors import EtaError
from eta.store import open_store
from eta.store.schema import Call, Location, Prediction, Service

FLIGHT_DAY = date(2013, 12, 20)  # a Friday in the flights backtest's test period
FLIGHT_TZ = ZoneInfo("America/New_York")
TRAIN_TZ = ZoneInfo("Europe/Berlin")
SERVE_AT = clock_time(17, 30)  # local time the served clocks start at, inside each replayed day
DEFAULT_WINDOWS = {
    ("flight", "arrival"): ("2013-01-01", "2013-10-31"),
    ("train", "arrival"): ("2026-03-01", "2026-04-30"),
}
BUNDLED_MODELS = "models"

Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoServer:
    name: str
    port: int
    clock_from: datetime
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# ---- 1. data ----------------------------------------------------------------------------------------


def _services_from(engine: Engine, source: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(Service).where(Service.source == source)
            ).scalar_one()
        )


def import_bundled_data(engine: Engine, settings: Settings, say: Say) -> None:
    """nycflights13 (all but the demo day, which is replayed) and the bundled DB runs; skipped if present."""
    from eta.importers import db_runs, nycflights13

    if _services_from(engine, nycflights13.SOURCE) == 0:
        say("importing nycflights13 (336,776 real NYC flights of 2013; the demo day is left for the replay)")
        tables = nycflights13.load_tables()
        flights, weather = tables["flights"], tables["weather"]
        tables["flights"] = flights[~_on_day(flights, FLIGHT_DAY)]
        tables["weather"] = weather[~_on_day(weather, FLIGHT_DAY)]
        nycflights13.run(engine, settings, tables)
    if _services_from(engine, db_runs.SOURCE) == 0:
        say("importing the bundled Deutsche Bahn runs (1.2 M real calls, Mar–May 2026)")
        db_runs.run(engine, settings, db_runs.bundled_path(settings))


def _on_day(frame: pd.DataFrame, day: date) -> pd.Series:
    return (frame["year"] == day.year) & (frame["month"] == day.month) & (frame["day"] == day.day)


# ---- 2. models --------------------------------------------------------------------------------------


def ensure_champions(engine: Engine, settings: Settings, say: Say) -> None:
    """Register and promote the bundled models where no champion exists; train the missing ones."""
    from eta.model import artefact, registry

    bundled = settings.reference_dir / BUNDLED_MODELS
    for directory in sorted(p for p in bundled.glob("*") if (p / "meta.json").exists()):
        model = artefact.load(directory)
        mode, task = model.meta["mode"], model.meta["task"]
        if registry.champion(engine, mode, task) is not None:
            continue
        version = directory.name
        known = {entry.version for entry in registry.entries(engine)}
        if version not in known:
            registry.register(engine, settings, model, version)
        registry.promote(engine, settings, version)
        say(f"loaded the bundled {mode} {task} model {version}")
    for (mode, task), (start, until) in DEFAULT_WINDOWS.items():
        if registry.champion(engine, mode, task) is None:
            _train_champion(engine, settings, mode, task, start, until, say)


def _train_champion(
    engine: Engine, settings: Settings, mode: str, task: str, start: str, until: str, say: Say
) -> None:
    from eta.model import registry
    from eta.model.training import train_and_register
    from eta.windows import window

    say(f"no bundled {mode} {task} model: training one on {start} … {until} (a few minutes)")
    for entry in train_and_register(engine, settings, mode, window(start, until, "training"), (task,)):
        registry.promote(engine, settings, entry.version)


# ---- 3. replays -------------------------------------------------------------------------------------


def _bundled_folder(settings: Settings) -> Path:
    from eta.collectors.replay import bundled_day

    return bundled_day(settings)


def replay_train_day(engine: Engine, settings: Settings, say: Say) -> date:
    """The bundled Berlin IRIS day through the IRIS collector path, re-predicting after each cycle."""
    from eta.collectors.replay import replay_iris
    from eta.scheduler import repredictor

    folder = _bundled_folder(settings)
    day = bundled_train_day(folder)
    say(f"replaying Berlin trains of {day} (DB IRIS snapshots, 133 stations) through the collectors")
    repredict = repredictor(settings)
    summary = replay_iris(engine, settings, folder, day=day, after_cycle=[repredict])
    say(f"  {summary.line()}")
    return day


def bundled_train_day(folder: Path) -> date:
    """The local day of the bundled IRIS snapshots (their archive is named YYMMDD.tar.gz)."""
    archive = next((folder / "timetables").glob("*.tar.gz"), None)
    if archive is None:
        raise EtaError(f"no IRIS plan archive in {folder / 'timetables'}")
    return datetime.strptime(archive.name[:6], "%y%m%d").replace(tzinfo=TRAIN_TZ).date()


def replay_flight_day(engine: Engine, settings: Settings, say: Say) -> None:
    """The demo day of nycflights13, staged in a store of its own, replayed through the collector runner."""
    from eta.collectors.replay import replay_store
    from eta.importers import nycflights13
    from eta.scheduler import repredictor
    from eta.store.engine import make_engine
    from eta.store.migrate import upgrade

    staging_path = settings.data_dir.resolve() / "demo-flights-staging.sqlite3"
    staging_path.unlink(missing_ok=True)
    staging = make_engine(f"sqlite:///{staging_path}")
    upgrade(staging)
    tables = nycflights13.load_tables()
    tables["flights"] = tables["flights"][_on_day(tables["flights"], FLIGHT_DAY)]
    tables["weather"] = tables["weather"][_on_day(tables["weather"], FLIGHT_DAY)]
    nycflights13.run(staging, settings, tables)
    start = datetime.combine(FLIGHT_DAY, clock_time(0), FLIGHT_TZ).astimezone(UTC)
    end = start + timedelta(hours=30)  # late departures land after midnight
    say(f"replaying New York flights of {FLIGHT_DAY} (nycflights13) through the collector runner")
    repredict = repredictor(settings)
    summary = replay_store(staging, engine, settings, start, end, mode="flight", after_cycle=[repredict])
    say(f"  {summary.line()}")
    staging.dispose()
    staging_path.unlink(missing_ok=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# ---- 4. serving -------------------------------------------------------------------------------------


def start_server(
    settings: Settings, name: str, port: int, clock_from: datetime, host: str = "127.0.0.1"
) -> DemoServer:
    env = {
        **os.environ,
        "ETA_DATA_DIR": str(settings.data_dir.resolve()),
        "ETA_DATABASE_URL": settings.resolved_database_url,
        "ETA_API__REPLAY_FROM": clock_from.isoformat(),
        "ETA_API__MAX_DAYS_BACK": "2",
        "ETA_LOG_LEVEL": "WARNING",  # the guide stays readable; requests are still counted in /metrics
    }
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "eta.cli", "serve", "--host", host, "--port", str(port)], env=env
    )
    return DemoServer(name, port, clock_from, process)


def wait_until_live(server: DemoServer, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise EtaError(f"the {server.name} server on port {server.port} exited (is the port taken?)")
        try:
            if requests.get(f"{server.url}/livez", timeout=1).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise EtaError(f"the {server.name} server on port {server.port} did not start within {timeout_s:.0f} s")


@dataclass(frozen=True)
class Example:
    operator: str
    number: str
    service_date: date
    leg: str | None
    origin: str | None
    destination: str | None


_EXAMPLE_COLUMNS = (
    Service.operator,
    Service.number,
    Service.service_date,
    Service.leg,
    Service.origin,
    Service.destination,
)


def example_train(engine: Engine, day: date, at: datetime) -> Example | None:
    """A train into Berlin Hbf shortly after ``at`` that has a served prediction, for the printed examples."""
    with engine.connect() as conn:
        row = conn.execute(
            select(*_EXAMPLE_COLUMNS)
            .join(Call, Call.service_id == Service.id)
            .join(Prediction, Prediction.call_id == Call.id)
            .where(Call.location == "8011160", Service.service_date == day)
            .where(Call.scheduled_arrival > at, Call.scheduled_arrival < at + timedelta(hours=2))
            .where(Service.category.in_(["ICE", "IC", "RE", "EC"]))
            .order_by(Call.scheduled_arrival)
            .limit(1)
        ).first()
    return None if row is None else Example(**row._mapping)


def example_flight(engine: Engine, at: datetime) -> Example | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(*_EXAMPLE_COLUMNS)
            .join(Call, Call.service_id == Service.id)
            .join(Prediction, Prediction.call_id == Call.id)
            .where(Service.mode == "flight", Service.service_date == FLIGHT_DAY, Call.sequence == 1)
            .where(Call.scheduled_arrival > at, Call.scheduled_arrival < at + timedelta(hours=3))
            .order_by(Call.scheduled_arrival)
            .limit(1)
        ).first()
    return None if row is None else Example(**row._mapping)


def station_name(engine: Engine, code: str) -> str:
    with engine.connect() as conn:
        name = conn.execute(select(Location.name).where(Location.code == code)).scalar_one_or_none()
    return name or code


def guide(engine: Engine, trains: DemoServer, flights: DemoServer, key: str, train_day: date) -> str:
    lines = [
        "",
        f"Open the traveller page: {trains.url}/   (Berlin trains; New York flights: {flights.url}/)",
        "",
        "eta demo is running (Ctrl-C stops it): real data, replayed; each server's clock runs from the time",
        "shown, at real speed.",
        "",
        f"Trains — Berlin, {trains.clock_from.astimezone(TRAIN_TZ):%A %Y-%m-%d %H:%M %Z}: {trains.url}",
        f"Flights — New York, {flights.clock_from.astimezone(FLIGHT_TZ):%A %Y-%m-%d %H:%M %Z}: {flights.url}",
        "",
        f"  API docs      {trains.url}/docs",
        f"  dashboard     {trains.url}/dashboard   (operator key below)",
        f"  GTFS-RT feed  {trains.url}/gtfs-rt/trip-updates",
        f"  metrics       {trains.url}/metrics",
        f"  operator key  {key}",
        "",
        "Try:",
        f"  curl -s '{trains.url}/api/v1/locations/8011160/arrivals' | python3 -m json.tool | less"
        f"     # {station_name(engine, '8011160')}, next 2 hours",
    ]
    service = example_train(engine, train_day, trains.clock_from)
    if service is not None:
        path = f"trips/train/{service.operator}/{service.number}/{service.service_date}"
        what = f"{service.operator} {service.number}"
        lines.append(f"  curl -s '{trains.url}/api/v1/{path}' | python3 -m json.tool     # {what}")
        lines.insert(3, f"  {what} on the page: {trains.url}/{path.replace('trips/', 'trip/', 1)}")
    flight = example_flight(engine, flights.clock_from)
    if flight is not None:
        path = f"trips/flight/{flight.operator}/{flight.number}/{flight.service_date}?leg={flight.leg}"
        lines.append(
            f"  curl -s '{flights.url}/api/v1/{path}' | python3 -m json.tool     "
            f"# {flight.operator} {flight.number} {flight.origin}→{flight.destination}"
        )
    lines += [
        f"  curl -s '{flights.url}/api/v1/locations/ORD/arrivals' | python3 -m json.tool | less"
        "     # New York flights into Chicago O'Hare",
        f"  curl -s -H 'X-API-Key: {key}' '{trains.url}/api/v1/operator/accuracy?group_by=horizon'",
        "",
    ]
    return "\n".join(lines)


def _replayed_marker(settings: Settings, what: str) -> Path:
    return settings.data_dir / f"demo-replayed-{what}"


def replay_once(settings: Settings, what: str, replay: Callable[[], object], force: bool, say: Say) -> None:
    """Run a replay unless an earlier demo finished it in this data directory (or ``force``)."""
    marker = _replayed_marker(settings, what)
    if marker.exists() and not force:
        say(f"the {what} day was replayed by an earlier demo run (--replay replays it again)")
        return
    marker.unlink(missing_ok=True)
    replay()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(datetime.now(UTC).isoformat() + "\n")


def run(
    settings: Settings,
    *,
    serve: bool,
    train_port: int,
    flight_port: int,
    say: Say,
    force_replay: bool = False,
    host: str = "127.0.0.1",
) -> None:
    from eta.api.apikeys import create_key

    engine = open_store(settings)
    import_bundled_data(engine, settings, say)
    ensure_champions(engine, settings, say)
    train_day = bundled_train_day(_bundled_folder(settings))
    replay_once(settings, "trains", lambda: replay_train_day(engine, settings, say), force_replay, say)
    replay_once(settings, "flights", lambda: replay_flight_day(engine, settings, say), force_replay, say)
    if not serve:
        return
    key, _ = create_key(engine, "eta demo")
    trains_at = datetime.combine(train_day, SERVE_AT, TRAIN_TZ)
    flights_at = datetime.combine(FLIGHT_DAY, SERVE_AT, FLIGHT_TZ)
    servers = [
        start_server(settings, "trains", train_port, trains_at, host),
        start_server(settings, "flights", flight_port, flights_at, host),
    ]
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        for server in servers:
            wait_until_live(server)
        say(guide(engine, servers[0], servers[1], key, train_day))
        while all(server.process.poll() is None for server in servers):
            time.sleep(0.5)
        raise EtaError("a demo server stopped; see its messages above")
    except KeyboardInterrupt:
        say("stopping the demo servers")
    finally:
        for server in servers:
            server.process.terminate()
        for server in servers:
            server.process.wait(timeout=10)
