"""The two replayed days: a Monday of Berlin trains (DB IRIS snapshots, bundled) and a Friday of New York
flights (nycflights13), each replayed through the live collector path in parts — up to the time the demo
serves from, then the rest — with the live scheduler's re-prediction after each cycle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from eta.collectors.replay import Replay
from eta.config import Settings
from eta.errors import EtaError
from eta.scheduler import Repredictor

FLIGHT_DAY = date(2013, 12, 20)  # a Friday in the flights backtest's test period
FLIGHT_TZ = ZoneInfo("America/New_York")
TRAIN_TZ = ZoneInfo("Europe/Berlin")
SERVE_AT = clock_time(17, 30)  # local time the served clocks start at, inside each replayed day
FLIGHT_REPLAY_SPAN = timedelta(hours=30)  # late departures land after midnight


@dataclass
class Day:
    """One replayed day: its replay (driven in parts) and its re-predictor (one sweep schedule)."""

    name: str  # what a traveller would call it: "Berlin trains of Monday 2025-09-08"
    tz: ZoneInfo
    day: date
    replay: Replay
    repredict: Repredictor

    @property
    def serve_from(self) -> datetime:
        return datetime.combine(self.day, SERVE_AT, self.tz)

    def local(self, when: datetime) -> str:
        return f"{when.astimezone(self.tz):%H:%M}"


def bundled_train_folder(settings: Settings) -> Path:
    from eta.collectors.replay import bundled_day

    return bundled_day(settings)


def bundled_train_day(folder: Path) -> date:
    """The local day of the bundled IRIS snapshots (their archive is named YYMMDD.tar.gz)."""
    archive = next((folder / "timetables").glob("*.tar.gz"), None)
    if archive is None:
        raise EtaError(f"no IRIS plan archive in {folder / 'timetables'}")
    return datetime.strptime(archive.name[:6], "%y%m%d").replace(tzinfo=TRAIN_TZ).date()


def train_day(engine: Engine, settings: Settings) -> Day:
    """The bundled Berlin IRIS day, ready to replay through the IRIS collector path."""
    from eta.collectors.replay import iris_replay
    from eta.scheduler import repredictor

    folder = bundled_train_folder(settings)
    day = bundled_train_day(folder)
    replay = iris_replay(engine, settings, folder, day=day)
    return Day(f"Berlin trains of {day:%A %Y-%m-%d}", TRAIN_TZ, day, replay, repredictor(settings))


def flight_day(engine: Engine, settings: Settings) -> Day:
    """The demo day of nycflights13, staged in a store of its own and read from it, ready to replay
    through the collector runner."""
    from eta.collectors.replay import store_replay
    from eta.demo.data import flight_tables
    from eta.importers import nycflights13
    from eta.scheduler import repredictor
    from eta.store.engine import make_engine
    from eta.store.migrate import upgrade

    staging_path = settings.data_dir.resolve() / "demo-flights-staging.sqlite3"
    staging_path.unlink(missing_ok=True)
    staging = make_engine(f"sqlite:///{staging_path}")
    try:
        upgrade(staging)
        nycflights13.run(staging, settings, flight_tables([FLIGHT_DAY]))
        start = datetime.combine(FLIGHT_DAY, clock_time(0), FLIGHT_TZ).astimezone(UTC)
        replay = store_replay(staging, engine, settings, start, start + FLIGHT_REPLAY_SPAN, mode="flight")
    finally:
        staging.dispose()
        staging_path.unlink(missing_ok=True)
    name = f"New York flights of {FLIGHT_DAY:%A %Y-%m-%d}"
    return Day(name, FLIGHT_TZ, FLIGHT_DAY, replay, repredictor(settings))


def replay_until(day: Day, end: datetime | None, *, predict: bool, what: str) -> None:
    """Replay ``day`` up to ``end`` (to its end where None), re-predicting after each cycle or not."""
    after = [day.repredict] if predict else []
    day.replay.until(end, after_cycle=after, desc=what, tz=day.tz)  # the bar shows the day's local time
