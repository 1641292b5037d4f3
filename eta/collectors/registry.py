"""Collector names → adapters built from their settings section."""

from __future__ import annotations

from collections.abc import Callable

from eta.collectors.base import Adapter
from eta.config import Settings
from eta.errors import InputError


def _db_iris(settings: Settings) -> Adapter:
    from eta.collectors.db_iris_collector import DbIrisAdapter

    return DbIrisAdapter(settings.collectors.db_iris)


def _open_meteo(settings: Settings) -> Adapter:
    from eta.collectors.open_meteo import OpenMeteoAdapter

    return OpenMeteoAdapter(settings.collectors.open_meteo)


def _metar(settings: Settings) -> Adapter:
    from eta.collectors.metar import MetarAdapter

    return MetarAdapter(settings.collectors.metar)


def _opensky(settings: Settings) -> Adapter:
    from eta.collectors.opensky import OpenSkyAdapter

    return OpenSkyAdapter(settings.collectors.opensky)


def _flight_status(settings: Settings) -> Adapter:
    from eta.collectors.flight_status import FlightStatusAdapter

    return FlightStatusAdapter(settings.collectors.flight_status)


def _gtfs_rt(settings: Settings) -> Adapter:
    from eta.collectors.gtfs_rt import GtfsRtAdapter

    return GtfsRtAdapter(settings.collectors.gtfs_rt)


FACTORIES: dict[str, Callable[[Settings], Adapter]] = {
    "db-iris": _db_iris,
    "open-meteo": _open_meteo,
    "metar": _metar,
    "opensky": _opensky,
    "flight-status": _flight_status,
    "gtfs-rt": _gtfs_rt,
}


def register(name: str, factory: Callable[[Settings], Adapter]) -> None:
    FACTORIES[name] = factory


def make_adapter(name: str, settings: Settings) -> Adapter:
    factory = FACTORIES.get(name)
    if factory is None:
        raise InputError(f"unknown collector {name!r}; known: {', '.join(sorted(FACTORIES))}")
    return factory(settings)


def names() -> list[str]:
    return sorted(FACTORIES)
