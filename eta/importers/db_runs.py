"""``eta import db-runs``: Deutsche Bahn train runs, one CSV row per (train, station, calendar day).

The rows carry one planned time per stop (the arrival where the stop has one, else the departure)
and minute delays. Each train's rows are cut into runs where consecutive planned times are more
than :data:`RUN_GAP` apart, so a run crossing midnight (whose later stops carry the next calendar
date) stays whole; the stop order is the order of planned times within a run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from eta._time import local_to_utc
from eta.config import Settings
from eta.errors import InputError
from eta.importers._write import ImportSummary, chunk_by, write_batches
from eta.store.ids import call_ids, service_ids

SOURCE = "db-runs"
TZ = "Europe/Berlin"
RUN_GAP = pd.Timedelta(hours=4)
SERVICES_PER_BATCH = 10_000
BUNDLED = "db-runs/db_train_station_runs_2026-02-28_to_2026-05-31.csv.gz"
REQUIRED = (
    "train",
    "train_type",
    "line",
    "station",
    "eva",
    "service_date",
    "planned_minute_of_day",
    "arrival_delay_min",
    "departure_delay_min_raw",
    "prev_stop_delay_min",
    "cancelled",
)


def bundled_path(settings: Settings) -> Path:
    return settings.reference_dir / BUNDLED


def read_rows(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputError(f"no such file: {path}")
    try:
        rows = pd.read_csv(
            path,
            dtype={"line": str, "eva": str, "station": str, "train": str},
            keep_default_na=True,
        )
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a readable DB runs CSV: {exc}") from exc
    missing = [c for c in REQUIRED if c not in rows.columns]
    if missing:
        raise InputError(f"{path} lacks the columns {missing} of a DB runs CSV")
    rows["line_no"] = rows.index + 2  # header is line 1
    rows["cancelled"] = rows["cancelled"].astype(str).str.lower().isin(["true", "1"])
    return rows


def run(engine: Engine, settings: Settings, path: Path, label: str | None = None) -> ImportSummary:
    """Import the runs of ``path``; ``label`` names the progress bar."""
    rows = read_rows(path)
    stops = reconstruct_runs(rows)
    summary = ImportSummary(SOURCE)
    summary.read["rows"] = len(rows)
    dropped = len(rows) - len(stops)
    if dropped:
        summary.notes.append(
            f"{dropped:,} rows of run fragments that share a train, date and number were skipped"
        )
    locations = locations_frame(stops)
    n_batches = -(-stops["service_id"].nunique() // SERVICES_PER_BATCH)

    def batches() -> Iterator[dict[str, pd.DataFrame]]:
        yield {"locations": locations}
        for chunk in chunk_by(stops, "service_id", SERVICES_PER_BATCH):
            yield {
                "services": services_frame(chunk),
                "calls": calls_frame(chunk),
                "observations": observations_frame(chunk, path.name),
            }

    return write_batches(engine, batches(), summary, settings.db_batch_size, total=n_batches + 1, label=label)


def reconstruct_runs(rows: pd.DataFrame) -> pd.DataFrame:
    """Assign each row to a run, a sequence within it, and UTC planned times."""
    frame = rows.copy()
    frame["local"] = pd.to_datetime(frame["service_date"]) + pd.to_timedelta(
        frame["planned_minute_of_day"], unit="min"
    )
    frame = frame.sort_values(["train", "local", "line_no"], kind="stable").reset_index(drop=True)
    same_train = frame["train"].eq(frame["train"].shift())
    gap = frame["local"] - frame["local"].shift()
    frame["run"] = (~same_train | (gap > RUN_GAP)).cumsum()
    frame["sequence"] = frame.groupby("run").cumcount()
    first = frame.groupby("run")["local"].transform("min")
    frame["service_date"] = first.dt.date
    frame["mode"] = "train"
    frame["operator"] = frame["train_type"]
    frame["number"] = frame["train"].str.split(" ").str[-1]
    frame["leg"] = ""
    frame["planned"] = local_to_utc(frame["local"].dt.normalize(), frame["planned_minute_of_day"], TZ)
    frame["service_id"] = service_ids(frame)
    frame = _drop_key_collisions(frame)
    frame["call_id"] = call_ids(frame["service_id"], frame["sequence"])
    last = frame.groupby("run")["sequence"].transform("max")
    frame["is_last"] = frame["sequence"].eq(last)
    frame["departure_only"] = (
        frame["arrival_delay_min"].isna()
        & ~frame["is_last"]
        & (frame["sequence"].eq(0) | frame["departure_delay_min_raw"].notna())
    )
    return frame


def _drop_key_collisions(frame: pd.DataFrame) -> pd.DataFrame:
    """Resolve two runs of one train on one date.

    An earlier run that starts within :data:`RUN_GAP` after midnight is the tail of a run begun the
    evening before whose first stops are missing from the data: it moves to the previous service
    date. Where runs still share a key, the one not moved and with most stops is kept; the caller
    reports the rows dropped.
    """
    runs = frame.drop_duplicates("run")[["run", "service_id", "local"]]
    clash = runs[runs["service_id"].duplicated(keep="last")]
    after_midnight = clash["local"] - clash["local"].dt.normalize() < RUN_GAP
    moved_runs = clash.loc[after_midnight, "run"]
    moved = frame["run"].isin(moved_runs)
    if moved.any():
        frame.loc[moved, "service_date"] = (
            pd.to_datetime(frame.loc[moved, "service_date"]) - pd.Timedelta(days=1)
        ).dt.date
        frame.loc[moved, "service_id"] = service_ids(frame.loc[moved])
    runs = frame.drop_duplicates("run")[["run", "service_id"]].assign(
        moved=lambda r: r["run"].isin(moved_runs),
        n_stops=lambda r: r["run"].map(frame.groupby("run").size()),
    )
    keep = runs.sort_values(["moved", "n_stops", "run"], ascending=[True, False, True]).drop_duplicates(
        "service_id"
    )
    return frame[frame["run"].isin(keep["run"])].reset_index(drop=True)


def locations_frame(stops: pd.DataFrame) -> pd.DataFrame:
    names = stops.dropna(subset=["station"]).drop_duplicates("eva").set_index("eva")["station"]
    codes = stops["eva"].drop_duplicates()
    return pd.DataFrame(
        {
            "code": codes.to_numpy(),
            "mode": "train",
            "name": codes.map(names).to_numpy(),
            "tz": TZ,
            "source": SOURCE,
        }
    )


def services_frame(stops: pd.DataFrame) -> pd.DataFrame:
    by_run = stops.groupby("run")
    first = by_run.head(1).set_index("run")
    lasts = by_run.tail(1).set_index("run")
    return pd.DataFrame(
        {
            "id": first["service_id"],
            "mode": "train",
            "operator": first["operator"],
            "number": first["number"],
            "service_date": first["service_date"],
            "leg": "",
            "category": first["train_type"],
            "line": first["line"],
            "agency": "DB",
            "origin": first["eva"],
            "destination": lasts["eva"],
            "source": SOURCE,
        }
    ).reset_index(drop=True)


def calls_frame(stops: pd.DataFrame) -> pd.DataFrame:
    planned = stops["planned"]
    return pd.DataFrame(
        {
            "id": stops["call_id"],
            "service_id": stops["service_id"],
            "sequence": stops["sequence"],
            "location": stops["eva"],
            "location_tz": TZ,
            "scheduled_arrival": planned.where(~stops["departure_only"]),
            "scheduled_departure": planned.where(stops["departure_only"]),
        }
    )


def departure_delay_min(stops: pd.DataFrame) -> pd.Series:
    """The raw departure delay; empty means "same as arrival" except at the terminus (no departure)."""
    inferred = stops["arrival_delay_min"].where(~stops["is_last"])
    return stops["departure_delay_min_raw"].fillna(inferred)


def observations_frame(stops: pd.DataFrame, file_name: str) -> pd.DataFrame:
    """Actual arrival and departure, each known when it happens; a cancellation at the planned time.

    Intermediate stops carry only their planned arrival, so their actual departure is taken as planned
    arrival + departure delay: up to one dwell time (usually 0–2 min) early.
    """
    live = ~stops["cancelled"]
    planned = stops["planned"]
    arrival = planned + pd.to_timedelta(stops["arrival_delay_min"].where(live), unit="min")
    departure = planned + pd.to_timedelta(departure_delay_min(stops).where(live), unit="min")
    ref = f"{SOURCE}:{file_name}:" + stops["line_no"].astype(str)
    arrivals = pd.DataFrame(
        {"call_id": stops["call_id"], "observed_at": arrival, "actual_arrival": arrival, "raw_ref": ref}
    ).dropna(subset=["observed_at"])
    departures = pd.DataFrame(
        {"call_id": stops["call_id"], "observed_at": departure, "actual_departure": departure, "raw_ref": ref}
    ).dropna(subset=["observed_at"])
    cancels = pd.DataFrame(
        {"call_id": stops["call_id"], "observed_at": planned, "cancelled": True, "raw_ref": ref}
    )[stops["cancelled"].to_numpy()]
    merged = arrivals.merge(departures, on=["call_id", "observed_at"], how="outer", suffixes=("", "_d"))
    merged["raw_ref"] = merged["raw_ref"].fillna(merged.pop("raw_ref_d"))
    frame = pd.concat([merged, cancels], ignore_index=True)
    frame["source"] = SOURCE
    return frame
