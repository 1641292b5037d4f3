"""``eta import calls FILE.csv``: eta's generic one-row-per-call format (see docs/calls-csv.md).

Every row is validated on its own: a bad row is reported with its line number and reason and
skipped; the good rows are kept.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from sqlalchemy import Engine, select

from eta.config import Settings
from eta.errors import InputError
from eta.importers._write import ImportSummary, chunk_by, write_batches
from eta.store.ids import call_ids, service_ids
from eta.store.schema import Location, metadata

SOURCE = "calls-csv"
REQUIRED = ("mode", "operator", "number", "service_date", "location", "sequence")
SCHEDULED = ("scheduled_arrival", "scheduled_departure")  # at least one of the two columns
# optional columns (docs/calls-csv.md): a file may leave them out; they read as empty
OPTIONAL = (
    "actual_arrival",
    "actual_departure",
    "planned_platform",
    "actual_platform",
    "cancelled",
    "location_tz",
)
COLUMNS = REQUIRED + SCHEDULED + OPTIONAL
MODES = ("flight", "train")
TRUE = {"true", "1", "yes"}
FALSE = {"false", "0", "no", ""}
SERVICES_PER_BATCH = 10_000


def _length(table: str, column: str) -> int:
    length = metadata.tables[table].c[column].type.length  # type: ignore[attr-defined]
    return int(length)


# A value longer than its column would make PostgreSQL refuse the whole batch: such a row is rejected
# alone. The limits are the store's columns' (a location is also a service's leg, origin and destination).
LIMITS = {
    "operator": _length("services", "operator"),
    "number": _length("services", "number"),
    "location": min(_length("calls", "location"), _length("locations", "code"), _length("services", "leg")),
    "planned_platform": _length("calls", "planned_platform"),
    "actual_platform": _length("observations", "platform"),
}


class RowError(ValueError):
    """One row is malformed; the message says which field and why."""


@dataclass(frozen=True)
class CallRow:
    line: int
    mode: str
    operator: str
    number: str
    service_date: date
    location: str
    sequence: int
    scheduled_arrival: datetime | None
    scheduled_departure: datetime | None
    actual_arrival: datetime | None
    actual_departure: datetime | None
    planned_platform: str | None
    actual_platform: str | None
    cancelled: bool
    location_tz: str | None


def run(engine: Engine, settings: Settings, path: Path) -> ImportSummary:
    summary = ImportSummary(SOURCE)
    rows = list(read_rows(path, summary))
    summary.read["rows"] = len(rows) + len(summary.rejected)
    if not rows:
        return summary
    frame = pd.DataFrame([r.__dict__ for r in rows])
    frame = _with_ids(frame)
    known_tz = _known_time_zones(engine, frame["location"].unique().tolist())
    frame["location_tz"] = frame["location_tz"].fillna(frame["location"].map(known_tz))

    def batches() -> Iterator[dict[str, pd.DataFrame]]:
        yield {"locations": locations_frame(frame)}
        for chunk in chunk_by(frame, "service_id", SERVICES_PER_BATCH):
            yield {
                "services": services_frame(chunk),
                "calls": calls_frame(chunk),
                "observations": observations_frame(chunk, path.name),
            }

    return write_batches(engine, batches(), summary, settings.db_batch_size)


def read_rows(path: Path, summary: ImportSummary) -> Iterator[CallRow]:
    """Valid rows of ``path``; each invalid one is appended to ``summary.rejected`` as "line N: why"."""
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    seen: dict[tuple[object, ...], int] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in header]
        if not any(c in header for c in SCHEDULED):
            missing.append(" or ".join(SCHEDULED))
        if missing:
            raise InputError(f"{path} lacks the columns {', '.join(missing)} (see docs/calls-csv.md)")
        reader.fieldnames = header
        try:
            for record in reader:
                line = reader.line_num
                try:
                    row = parse_row(record, line)
                except RowError as exc:
                    summary.rejected.append(f"line {line}: {exc}")
                    continue
                key = (row.mode, row.operator, row.number, row.service_date, row.sequence)
                if key in seen:
                    summary.rejected.append(f"line {line}: same service and sequence as line {seen[key]}")
                    continue
                seen[key] = line
                yield row
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: unreadable CSV near line {reader.line_num}: {exc}") from exc


def parse_row(record: dict[str, str | None], line: int) -> CallRow:
    """Validate one CSV record; raise :class:`RowError` naming the first bad field."""
    if None in record:
        raise RowError("more fields than the header has")
    value = dict.fromkeys(SCHEDULED + OPTIONAL, "")
    value |= {k: (v or "").strip() for k, v in record.items() if k is not None}
    mode = value["mode"].lower()
    if mode not in MODES:
        raise RowError(f"mode must be flight or train, not {value['mode']!r}")
    row = CallRow(
        line=line,
        mode=mode,
        operator=_code(value, "operator"),
        number=_code(value, "number"),
        service_date=_date(value["service_date"]),
        location=_code(value, "location"),
        sequence=_sequence(value["sequence"]),
        scheduled_arrival=_time(value, "scheduled_arrival"),
        scheduled_departure=_time(value, "scheduled_departure"),
        actual_arrival=_time(value, "actual_arrival"),
        actual_departure=_time(value, "actual_departure"),
        planned_platform=_optional_code(value, "planned_platform"),
        actual_platform=_optional_code(value, "actual_platform"),
        cancelled=_flag(value["cancelled"]),
        location_tz=_zone(value["location_tz"]),
    )
    if row.scheduled_arrival is None and row.scheduled_departure is None:
        raise RowError("needs scheduled_arrival or scheduled_departure")
    if row.scheduled_arrival and row.scheduled_departure and row.scheduled_departure < row.scheduled_arrival:
        raise RowError("scheduled_departure is before scheduled_arrival")
    return row


def _code(value: dict[str, str], name: str) -> str:
    text = value[name]
    if not text:
        raise RowError(f"{name} is empty")
    if len(text) > LIMITS[name]:
        raise RowError(f"{name} is longer than {LIMITS[name]} characters")
    return text


def _optional_code(value: dict[str, str], name: str) -> str | None:
    return _code(value, name) if value[name] else None


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RowError(f"service_date {text!r} is not a date like 2026-05-01") from None


def _sequence(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise RowError(f"sequence {text!r} is not a whole number") from None
    if number < 0:
        raise RowError("sequence is negative")
    return number


def _time(value: dict[str, str], name: str) -> datetime | None:
    text = value[name]
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise RowError(f"{name} {text!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise RowError(f"{name} {text!r} has no UTC offset")
    return parsed


def _flag(text: str) -> bool:
    lowered = text.lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise RowError(f"cancelled must be true or false, not {text!r}")


def _zone(text: str) -> str | None:
    if not text:
        return None
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise RowError(f"location_tz {text!r} is not an IANA time zone") from None
    return text


def _with_ids(frame: pd.DataFrame) -> pd.DataFrame:
    key = ["mode", "operator", "number", "service_date"]
    frame = frame.sort_values([*key, "sequence"]).reset_index(drop=True)
    first_location = frame.groupby(key)["location"].transform("first")
    frame["leg"] = first_location.where(frame["mode"].eq("flight"), "")
    frame["service_id"] = service_ids(frame)
    frame["call_id"] = call_ids(frame["service_id"], frame["sequence"])
    for col in ("scheduled_arrival", "scheduled_departure", "actual_arrival", "actual_departure"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def _known_time_zones(engine: Engine, codes: list[str]) -> dict[str, str]:
    with engine.connect() as conn:
        found = conn.execute(
            select(Location.code, Location.tz).where(Location.code.in_(codes), Location.tz.is_not(None))
        ).all()
    return {code: tz for code, tz in found if tz}


def locations_frame(frame: pd.DataFrame) -> pd.DataFrame:
    first = frame.drop_duplicates("location")
    return pd.DataFrame(
        {"code": first["location"], "mode": first["mode"], "tz": first["location_tz"], "source": SOURCE}
    )


def services_frame(frame: pd.DataFrame) -> pd.DataFrame:
    grouped = frame.groupby("service_id", sort=False)
    first = grouped.head(1).set_index("service_id")
    last = grouped.tail(1).set_index("service_id")
    return pd.DataFrame(
        {
            "id": first.index,
            "mode": first["mode"],
            "operator": first["operator"],
            "number": first["number"],
            "service_date": first["service_date"],
            "leg": first["leg"],
            "origin": first["location"],
            "destination": last["location"],
            "source": SOURCE,
        }
    ).reset_index(drop=True)


def calls_frame(frame: pd.DataFrame) -> pd.DataFrame:
    columns = ["call_id", "service_id", "sequence", "location", "location_tz", "scheduled_arrival"]
    columns += ["scheduled_departure", "planned_platform"]
    return frame[columns].rename(columns={"call_id": "id"})


def observations_frame(frame: pd.DataFrame, file_name: str) -> pd.DataFrame:
    """Actual times known when they happen; the final platform and a cancellation as of the call."""
    ref = f"{SOURCE}:{file_name}:" + frame["line"].astype(str)
    scheduled = frame["scheduled_arrival"].fillna(frame["scheduled_departure"])
    platform_at = frame["actual_arrival"].fillna(frame["actual_departure"]).fillna(scheduled)
    parts = [
        pd.DataFrame(
            {
                "call_id": frame["call_id"],
                "observed_at": frame["actual_arrival"],
                "actual_arrival": frame["actual_arrival"],
                "raw_ref": ref,
            }
        ),
        pd.DataFrame(
            {
                "call_id": frame["call_id"],
                "observed_at": frame["actual_departure"],
                "actual_departure": frame["actual_departure"],
                "raw_ref": ref,
            }
        ),
        pd.DataFrame(
            {
                "call_id": frame["call_id"],
                "observed_at": platform_at,
                "platform": frame["actual_platform"],
                "raw_ref": ref,
            }
        ).dropna(subset=["platform"]),
        pd.DataFrame(
            {"call_id": frame["call_id"], "observed_at": scheduled, "cancelled": True, "raw_ref": ref}
        )[frame["cancelled"].to_numpy()],
    ]
    stacked = pd.concat(parts, ignore_index=True).dropna(subset=["observed_at"])
    merged = stacked.groupby(["call_id", "observed_at"], as_index=False).first()
    merged["source"] = SOURCE
    return merged
