"""Airport codes: eta keys airports by IATA code; METAR and OpenSky speak ICAO (package ``airportsdata``)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _by_icao() -> dict[str, dict[str, object]]:
    import airportsdata

    return {code: dict(airport) for code, airport in airportsdata.load("ICAO").items()}


def iata_of(icao: str | None) -> str | None:
    """The IATA code of an ICAO airport code; the ICAO code itself when it has none; None for None."""
    if not icao:
        return None
    found = _by_icao().get(icao.upper())
    iata = str(found["iata"]) if found and found.get("iata") else ""
    return iata or icao.upper()


def tz_of(icao: str) -> str | None:
    found = _by_icao().get(icao.upper())
    return str(found["tz"]) if found and found.get("tz") else None


@lru_cache(maxsize=1)
def _by_iata() -> dict[str, dict[str, object]]:
    import airportsdata

    return {code: dict(airport) for code, airport in airportsdata.load("IATA").items()}


def zone_of(icao: str | None, iata: str | None) -> str | None:
    """The airport's IANA time zone from the ICAO or else the IATA code (None when unknown)."""
    found = _by_icao().get(icao.upper()) if icao else None
    found = found or (_by_iata().get(iata.upper()) if iata else None)
    return str(found["tz"]) if found and found.get("tz") else None
