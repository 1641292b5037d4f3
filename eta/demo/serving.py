"""The demo's servers: ``eta serve`` processes, each on a clock set inside its replayed day, and the guide
printed once they answer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import requests
from sqlalchemy import Engine, insert, select

from eta.config import Settings
from eta.demo.days import FLIGHT_DAY, FLIGHT_TZ, TRAIN_TZ
from eta.errors import EtaError
from eta.store.schema import ApiKey, Call, Location, Prediction, Service

BERLIN_HBF = "8011160"


@dataclass(frozen=True)
class DemoServer:
    name: str
    port: int
    clock_from: datetime
    process: subprocess.Popen[bytes]
    started: float  # time.monotonic() at start: where the served clock is now

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def clock_now(self) -> datetime:
        return self.clock_from + timedelta(seconds=time.monotonic() - self.started)


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
    return DemoServer(name, port, clock_from, process, time.monotonic())


def wait_until_live(server: DemoServer, timeout_s: float = 180) -> None:
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


def stop(servers: list[DemoServer]) -> None:
    for server in servers:
        if server.process.poll() is None:
            server.process.terminate()
    for server in servers:
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


def copy_key(source: Engine, target: Engine, prefix: str) -> None:
    """The demo's operator key, valid in ``target`` too (both stores keep only its hash)."""
    with source.connect() as conn:
        row = conn.execute(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    if row is None:
        raise EtaError(f"no demo key {prefix}… in the store")
    with target.begin() as conn:
        exists = conn.execute(select(ApiKey.id).where(ApiKey.key_hash == row.key_hash)).first()
        if exists is None:
            conn.execute(
                insert(ApiKey).values(
                    name=row.name,
                    prefix=row.prefix,
                    key_hash=row.key_hash,
                    created_at=row.created_at,
                    revoked_at=None,
                )
            )


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
    """A long-distance train into Berlin Hbf shortly after ``at`` that has a served prediction made by
    then, for the printed examples."""
    with engine.connect() as conn:
        row = conn.execute(
            select(*_EXAMPLE_COLUMNS)
            .join(Call, Call.service_id == Service.id)
            .join(Prediction, Prediction.call_id == Call.id)
            .where(Call.location == BERLIN_HBF, Service.service_date == day, Prediction.made_at <= at)
            .where(Call.scheduled_arrival > at, Call.scheduled_arrival < at + timedelta(hours=2))
            .where(Service.category.in_(["ICE", "IC", "EC"]))
            .order_by(Call.scheduled_arrival.desc())
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
            .where(Prediction.made_at <= at)
            .where(
                Call.scheduled_arrival > at + timedelta(hours=1),
                Call.scheduled_arrival < at + timedelta(hours=3),
            )
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
        "eta demo is serving (Ctrl-C stops it): real data, replayed; each server's clock runs from the time",
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
        f"  curl -s '{trains.url}/api/v1/locations/{BERLIN_HBF}/arrivals' | python3 -m json.tool | less"
        f"     # {station_name(engine, BERLIN_HBF)}, next 2 hours",
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
