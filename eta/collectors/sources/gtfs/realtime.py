"""GTFS static + GTFS-Realtime TripUpdates (``gtfs-realtime-bindings``).

The static feed (a zip, refreshed every ``static_every_s``) gives stops with their ``platform_code`` and
parent station, routes (``route_short_name`` such as ``ICE 11``: category and line) and ``stop_times``.
Each TripUpdate then becomes a service (mode train, operator = the route's category, number = the trip
id — after ``<instance>:`` for a named instance, since trip ids are unique only within a feed — service
date = the trip's ``start_date``) with one call per stop sequence at the stop's station (its
``parent_station``, else the stop; also after ``<instance>:`` for a named instance, stop ids being as
local to a feed as trip ids), planned platform = the scheduled stop's ``platform_code``; and an
observation per stop with the estimated times (``time``, or scheduled + ``delay``), the platform of
``assigned_stop_id`` when the feed moves the train to another platform, and ``SKIPPED`` stops /
``CANCELED`` trips as cancelled.
A time at or before the feed's own timestamp is also recorded as actual (GTFS-RT has no such flag).
The static feed is held by the adapter once parsed; a TripUpdate is parsed against the latest one.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2

from eta.collectors.base import Adapter, Payload, PayloadError, Request, Row, Rows, StoreView
from eta.collectors.sources.gtfs.settings import GtfsRtSettings
from eta.store.ids import call_key_id, service_key_id

SOURCE = "gtfs-rt"
STATIC_FILES = ("stops.txt", "routes.txt", "trips.txt", "stop_times.txt")


@dataclass(frozen=True)
class Stop:
    stop_id: str
    name: str
    station: str  # the parent station's id, or the stop's own
    platform: str | None
    lat: float | None
    lon: float | None


@dataclass
class GtfsStatic:
    stops: dict[str, Stop] = field(default_factory=dict)
    route_of_trip: dict[str, str] = field(default_factory=dict)
    route_name: dict[str, str] = field(default_factory=dict)
    stop_times: dict[tuple[str, int], tuple[str, int | None, int | None]] = field(default_factory=dict)

    def category_line(self, trip_id: str, route_id: str | None) -> tuple[str, str | None]:
        name = self.route_name.get(self.route_of_trip.get(trip_id, route_id or ""), "")
        category, _, line = name.partition(" ")
        return (category or "train"), (line or None)


def parse_static(body: bytes) -> GtfsStatic:
    """Pure: a GTFS zip → the parts eta uses. Missing optional columns are tolerated."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except zipfile.BadZipFile as exc:
        raise PayloadError(f"not a zip file: {exc}") from exc
    names = {n.rsplit("/", 1)[-1]: n for n in archive.namelist()}
    missing = [f for f in STATIC_FILES if f not in names]
    if missing:
        raise PayloadError(f"GTFS feed without {', '.join(missing)}")

    def rows(name: str) -> list[dict[str, str]]:
        with archive.open(names[name]) as handle:
            return list(csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8-sig")))

    static = GtfsStatic()
    raw_stops = rows("stops.txt")
    for r in raw_stops:
        static.stops[r["stop_id"]] = Stop(
            stop_id=r["stop_id"],
            name=r.get("stop_name", ""),
            station=r.get("parent_station") or r["stop_id"],
            platform=r.get("platform_code") or None,
            lat=_float(r.get("stop_lat")),
            lon=_float(r.get("stop_lon")),
        )
    static.route_name = {
        r["route_id"]: r.get("route_short_name") or r.get("route_long_name", "") for r in rows("routes.txt")
    }
    static.route_of_trip = {r["trip_id"]: r["route_id"] for r in rows("trips.txt")}
    for r in rows("stop_times.txt"):
        static.stop_times[(r["trip_id"], int(r["stop_sequence"]))] = (
            r["stop_id"],
            _seconds(r.get("arrival_time")),
            _seconds(r.get("departure_time")),
        )
    return static


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _seconds(text: str | None) -> int | None:
    """GTFS ``HH:MM:SS`` (hours may exceed 24) → seconds after the service day's noon minus 12 h."""
    if not text:
        return None
    try:
        h, m, s = (int(part) for part in text.strip().split(":"))
    except ValueError as exc:
        raise PayloadError(f"stop time {text!r} is not HH:MM:SS") from exc
    return h * 3600 + m * 60 + s


def service_day_start(day: date, tz: ZoneInfo) -> datetime:
    """GTFS times count from noon minus 12 h, which differs from midnight on DST change days."""
    return datetime(day.year, day.month, day.day, 12, tzinfo=tz).astimezone(UTC) - timedelta(hours=12)


def parse_feed(body: bytes) -> gtfs_realtime_pb2.FeedMessage:
    feed = gtfs_realtime_pb2.FeedMessage()
    try:
        feed.ParseFromString(body)
    except DecodeError as exc:
        raise PayloadError(f"not a GTFS-Realtime FeedMessage: {exc}") from exc
    if not feed.HasField("header") or not feed.header.gtfs_realtime_version:
        raise PayloadError("FeedMessage without a header")
    return feed


def trip_update_rows(
    feed: gtfs_realtime_pb2.FeedMessage,
    static: GtfsStatic,
    tz: ZoneInfo,
    observed_at: datetime,
    raw_ref: str,
    feed_prefix: str = "",
) -> Rows:
    """Services, calls, refs and observations of every TripUpdate (pure). ``feed_prefix`` goes before
    each trip id in the service's number and each station's stop id in its location code: a feed's ids
    are unique only within it, so a named instance's trips and stations are stored as
    ``<instance>:<trip_id>`` and ``<instance>:<stop_id>`` and never meet another operator's."""
    feed_time = datetime.fromtimestamp(feed.header.timestamp, UTC) if feed.header.timestamp else observed_at
    out: dict[str, list[Row]] = {
        "locations": [],
        "services": [],
        "calls": [],
        "call_refs": [],
        "observations": [],
    }
    CANCELED = gtfs_realtime_pb2.TripDescriptor.CANCELED  # noqa: N806
    SKIPPED = gtfs_realtime_pb2.TripUpdate.StopTimeUpdate.SKIPPED  # noqa: N806
    for entity in feed.entity:
        if not entity.HasField("trip_update"):
            continue
        update = entity.trip_update
        trip = update.trip
        if not trip.trip_id or not trip.start_date:
            continue
        try:
            day = date(int(trip.start_date[:4]), int(trip.start_date[4:6]), int(trip.start_date[6:8]))
        except ValueError as exc:
            raise PayloadError(f"start_date {trip.start_date!r} is not YYYYMMDD") from exc
        category, line = static.category_line(trip.trip_id, trip.route_id)
        number = f"{feed_prefix}{trip.trip_id}"
        service_id = service_key_id("train", category, number, day.isoformat(), "")
        out["services"].append(
            {
                "id": service_id,
                "mode": "train",
                "operator": category,
                "number": number,
                "service_date": day,
                "leg": "",
                "category": category,
                "line": line,
                "source": SOURCE,
            }
        )
        day_start = service_day_start(day, tz)
        trip_cancelled = trip.schedule_relationship == CANCELED
        for stu in update.stop_time_update:
            sequence = stu.stop_sequence
            static_time = static.stop_times.get((trip.trip_id, sequence))
            stop_id = stu.stop_id or (static_time[0] if static_time else "")
            if not stop_id:
                continue
            stop = static.stops.get(stop_id)
            arrival = _event_time(stu, "arrival")
            departure = _event_time(stu, "departure")
            scheduled_arrival = _scheduled(static_time, 1, day_start) or _minus_delay(stu, "arrival")
            scheduled_departure = _scheduled(static_time, 2, day_start) or _minus_delay(stu, "departure")
            call_id = call_key_id(service_id, sequence)
            location = f"{feed_prefix}{stop.station if stop else stop_id}"
            out["calls"].append(
                {
                    "id": call_id,
                    "service_id": service_id,
                    "sequence": sequence,
                    "location": location,
                    "location_tz": str(tz),
                    "scheduled_arrival": scheduled_arrival,
                    "scheduled_departure": scheduled_departure,
                    "planned_platform": stop.platform if stop else None,
                }
            )
            out["call_refs"].append(
                {"source": SOURCE, "ref": f"{trip.trip_id}|{trip.start_date}|{sequence}", "call_id": call_id}
            )
            assigned = (
                stu.stop_time_properties.assigned_stop_id if stu.HasField("stop_time_properties") else ""
            )
            platform = static.stops[assigned].platform if assigned in static.stops else None
            cancelled = trip_cancelled or stu.schedule_relationship == SKIPPED
            out["observations"].append(
                {
                    "call_id": call_id,
                    "observed_at": observed_at,
                    "source": SOURCE,
                    "estimated_arrival": arrival,
                    "estimated_departure": departure,
                    "actual_arrival": arrival if arrival and arrival <= feed_time and not cancelled else None,
                    "actual_departure": departure
                    if departure and departure <= feed_time and not cancelled
                    else None,
                    "platform": platform,
                    "cancelled": cancelled,
                    "raw_ref": raw_ref,
                }
            )
            if stop is not None:
                station = static.stops.get(stop.station, stop)
                out["locations"].append(
                    {
                        "code": location,
                        "mode": "train",
                        "name": station.name,
                        "tz": str(tz),
                        "lat": station.lat,
                        "lon": station.lon,
                        "source": SOURCE,
                    }
                )
    rows = Rows()
    for table, table_rows in out.items():
        rows.add(table, table_rows)
    return rows


def _event_time(stu: object, name: str) -> datetime | None:
    """The event's absolute time; scheduled + delay is resolved later from the static schedule."""
    if not stu.HasField(name):  # type: ignore[attr-defined]
        return None
    event = getattr(stu, name)
    return datetime.fromtimestamp(event.time, UTC) if event.time else None


def _minus_delay(stu: object, name: str) -> datetime | None:
    if not stu.HasField(name):  # type: ignore[attr-defined]
        return None
    event = getattr(stu, name)
    if not event.time:
        return None
    return datetime.fromtimestamp(event.time - event.delay, UTC)


def _scheduled(
    static_time: tuple[str, int | None, int | None] | None, index: int, day_start: datetime
) -> datetime | None:
    if static_time is None or static_time[index] is None:
        return None
    return day_start + timedelta(seconds=static_time[index])  # type: ignore[arg-type]


class GtfsRtAdapter(Adapter[GtfsRtSettings]):
    name = "gtfs-rt"
    source = SOURCE
    content_types = (
        "application/x-protobuf",
        "application/octet-stream",
        "application/zip",
        "application/protobuf",
    )
    extension = "bin"

    def __init__(self, config: GtfsRtSettings) -> None:
        super().__init__(config)
        self.tz = ZoneInfo(config.timezone)
        self.static: GtfsStatic | None = None

    def requests(self, now: datetime, view: StoreView) -> list[Request]:
        recent = view.parsed_since("static", now - timedelta(seconds=self.config.static_every_s))
        wanted = [] if self.static is not None and recent else [Request.of("static")]
        return [*wanted, Request.of("realtime")]

    def url(self, request: Request) -> tuple[str, Mapping[str, str]]:
        return (self.config.static_url if request.kind == "static" else self.config.realtime_url), {}

    def headers(self) -> dict[str, str]:
        key = self.config.api_key
        return {self.config.api_key_header: key.get_secret_value()} if key is not None else {}

    def parse(self, payload: Payload) -> Rows:
        if payload.request.kind == "static":
            self.static = parse_static(payload.body)
            return Rows()
        if self.static is None:
            raise PayloadError(
                "no GTFS static feed parsed yet; the TripUpdates cannot be placed", kind="parse"
            )
        return trip_update_rows(
            parse_feed(payload.body), self.static, self.tz, payload.fetched_at, payload.ref, self.feed_prefix
        )

    @property
    def feed_prefix(self) -> str:
        """Empty for the kind's default instance (its stored trips and stations keep their bare ids),
        else the instance's name and a colon."""
        return "" if self.rows_source is None else f"{self.name}:"
