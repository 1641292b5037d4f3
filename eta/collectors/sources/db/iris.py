"""Deutsche Bahn Timetables API (IRIS): pure parsing of ``plan`` and ``fchg``/``rchg`` XML into store rows.

``/plan/{eva}/{yymmdd}/{hh}`` lists the planned stops of one station and hour: ``<s id>`` with ``<tl>``
(category ``c``, number ``n``, filter ``f``, owner ``o``) and ``<ar>``/``<dp>`` events (planned time
``pt``, planned platform ``pp``, line ``l``, path ``ppth``, hidden ``hi``). ``/fchg/{eva}`` lists every
change currently known for the station (changed time ``ct``, changed platform ``cp``, changed status
``cs`` with ``c`` = cancelled, ``p`` = planned again, ``a`` = added); ``/rchg`` only the recent ones.
Times are ``YYMMDDHHMM`` local Europe/Berlin. A stop id is
``<daily trip id>-<YYMMDDHHMM of the trip's start>-<stop index>``; it joins plan and changes.

Nothing here does I/O: bytes in, typed records and DataFrames out, shared by the live collector and by
``eta import iris-archive``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import pandas as pd

from eta.store.ids import call_key_id, service_key_id

SOURCE = "db-iris"
# services.source of a train first known from a change list, not from a plan (additional trains)
CHANGES_SOURCE = "db-iris-changes"
TZ = ZoneInfo("Europe/Berlin")


class IrisParseError(ValueError):
    """The payload is not IRIS XML eta can read; the collector quarantines it."""


@dataclass(frozen=True)
class Event:
    """One arrival or departure event of a stop, as planned (``p*``) or as changed (``c*``)."""

    time: datetime | None
    platform: str | None
    line: str | None
    status: str | None
    hidden: bool
    path: str | None


@dataclass(frozen=True)
class PlanStop:
    stop_id: str
    trip_start: datetime
    stop_index: int
    category: str
    number: str
    filter_flag: str | None
    owner: str | None
    arrival: Event | None
    departure: Event | None

    @property
    def service_date(self) -> date:
        return self.trip_start.date()


@dataclass(frozen=True)
class Message:
    """An ``<m>`` message: ``type`` h = HIM notice, q = quality, d = delay cause, f = free text, …;
    ``code`` is the cause code for delay messages; ``priority`` 1 (high) … 4 (done)."""

    id: str | None
    type: str | None
    code: int | None
    category: str | None
    timestamp: datetime | None
    priority: int | None
    event: str | None  # "ar", "dp", or None for the stop


@dataclass(frozen=True)
class ChangeStop:
    stop_id: str
    eva: str | None
    arrival: Event | None
    departure: Event | None
    category: str | None
    number: str | None
    messages: tuple[Message, ...] = ()
    # IRIS lists additional trains (and stops a plan does not list yet) in change lists with their own
    # planned time, platform and path (``pt``, ``pp``, ``ppth``); None where the change carries none
    planned_arrival: Event | None = None
    planned_departure: Event | None = None
    filter_flag: str | None = None
    owner: str | None = None


@dataclass(frozen=True)
class PlanPayload:
    station: str | None
    eva: str | None
    stops: list[PlanStop]


@dataclass(frozen=True)
class ChangePayload:
    station: str | None
    eva: str | None
    stops: list[ChangeStop]


def parse_time(text: str | None, near: datetime | None = None) -> datetime | None:
    """``YYMMDDHHMM`` local Berlin time → aware datetime (None when absent).

    In the hour the autumn clock change repeats (02:00-03:00 twice), the local time is the one nearer
    ``near`` (the snapshot's time: IRIS reports times around it); without it, the first (summer time).
    """
    if not text:
        return None
    parsed = _parse_time(text)
    if parsed.month == 10 and parsed.hour == 2:
        later = parsed.replace(fold=1)
        if later.utcoffset() != parsed.utcoffset():
            if near is not None and abs(later - near) < abs(parsed - near):
                parsed = later
            # a fixed offset: an ambiguous zoned time compares unequal to every other zone's (PEP 495)
            return parsed.astimezone(timezone(parsed.utcoffset() or timedelta(0)))
    return parsed


@lru_cache(maxsize=65_536)
def _parse_time(text: str) -> datetime:
    # cached: a week of snapshots repeats the same few thousand minutes millions of times
    if len(text) != 10 or not text.isdigit():
        raise IrisParseError(f"time {text!r} is not YYMMDDHHMM")
    try:
        return datetime(
            2000 + int(text[0:2]), int(text[2:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), tzinfo=TZ
        )
    except ValueError as exc:
        raise IrisParseError(f"time {text!r} is not a valid date") from exc


def split_stop_id(stop_id: str, near: datetime | None = None) -> tuple[datetime, int]:
    """The trip's start (local) and this stop's index, from ``<trip id>-<YYMMDDHHMM>-<index>``."""
    parts = stop_id.rsplit("-", 2)
    if len(parts) != 3 or not parts[2].isdigit():
        raise IrisParseError(f"stop id {stop_id!r} is not <trip>-<YYMMDDHHMM>-<index>")
    start = parse_time(parts[1], near)
    assert start is not None
    return start, int(parts[2])


def _root(payload: bytes) -> ET.Element:
    if not payload.strip():
        raise IrisParseError("empty payload")
    try:
        root = ET.fromstring(payload)  # noqa: S314 - DB's own XML, no entity expansion in ElementTree
    except ET.ParseError as exc:
        raise IrisParseError(f"malformed XML: {exc}") from exc
    if root.tag != "timetable":
        raise IrisParseError(f"root element is <{root.tag}>, not <timetable>")
    return root


def _event(element: ET.Element | None, prefix: str, near: datetime | None) -> Event | None:
    if element is None:
        return None
    platform = element.get(f"{prefix}p") or None
    return Event(
        time=parse_time(element.get(f"{prefix}t"), near),
        platform=platform,
        line=element.get("l") or None,
        status=element.get(f"{prefix}s") or None,
        hidden=element.get("hi") == "1",
        path=element.get(f"{prefix}pth"),
    )


def parse_plan(payload: bytes, near: datetime | None = None) -> PlanPayload:
    """Parse a ``/plan`` response. Stops without ``<tl>`` are skipped: they name no train.

    ``near``: when it was fetched (times in the repeated autumn hour are read as the nearer one)."""
    root = _root(payload)
    stops = []
    for s in root.iter("s"):
        stop_id = s.get("id")
        tl = s.find("tl")
        if not stop_id or tl is None or not tl.get("n") or not tl.get("c"):
            continue
        start, index = split_stop_id(stop_id, near)
        stops.append(
            PlanStop(
                stop_id=stop_id,
                trip_start=start,
                stop_index=index,
                category=str(tl.get("c")),
                number=str(tl.get("n")),
                filter_flag=tl.get("f"),
                owner=tl.get("o"),
                arrival=_event(s.find("ar"), "p", near),
                departure=_event(s.find("dp"), "p", near),
            )
        )
    return PlanPayload(station=root.get("station"), eva=root.get("eva"), stops=stops)


def parse_changes(payload: bytes, near: datetime | None = None) -> ChangePayload:
    """Parse a ``/fchg`` or ``/rchg`` response (``near``: when it was fetched, as for :func:`parse_plan`)."""
    root = _root(payload)
    stops = []
    for s in root.iter("s"):
        stop_id = s.get("id")
        if not stop_id:
            continue
        split_stop_id(stop_id)  # validates the id
        tl = s.find("tl")
        stops.append(
            ChangeStop(
                stop_id=stop_id,
                eva=s.get("eva") or root.get("eva"),
                arrival=_event(s.find("ar"), "c", near),
                departure=_event(s.find("dp"), "c", near),
                category=None if tl is None else tl.get("c"),
                number=None if tl is None else tl.get("n"),
                messages=_messages(s, near),
                planned_arrival=_planned(s.find("ar"), near),
                planned_departure=_planned(s.find("dp"), near),
                filter_flag=None if tl is None else tl.get("f"),
                owner=None if tl is None else tl.get("o"),
            )
        )
    return ChangePayload(station=root.get("station"), eva=root.get("eva"), stops=merge_split_stops(stops))


# an added stop planned this close to its trip's own stop at the same station is that stop, split in two
SPLIT_STOP_MAX = timedelta(minutes=10)


def merge_split_stops(stops: list[ChangeStop]) -> list[ChangeStop]:
    """One record per stop a traveller meets, where IRIS lists it twice.

    A change list may list a stop of a train twice: the trip's own stop with its arrival cancelled (it
    still departs) and an added stop (planned status ``a``) of the same trip at the same station, planned
    a minute or so earlier, that arrives (S 44130 on 2025-09-08). Two such records become one, under the
    own stop's id (its index keeps the trip's order): each event, as planned and as changed, from the
    record that says more of it (a time or a status over nothing, not cancelled over cancelled, a time
    over none; the own stop's on a tie). Only records of one payload are merged: what that fetch said.
    Records listed alone (a ring train's start and end at one station, an hour apart) stay as they are.
    """
    by_stop: dict[tuple[str, str | None], list[int]] = {}
    for i, stop in enumerate(stops):
        by_stop.setdefault((stop.stop_id.rsplit("-", 1)[0], stop.eva), []).append(i)
    merged: dict[int, ChangeStop] = {}
    dropped: set[int] = set()
    for indexes in by_stop.values():
        if len(indexes) != 2:
            continue
        first, second = indexes
        if _added(stops[first]) == _added(stops[second]):
            continue
        own, added = (first, second) if _added(stops[second]) else (second, first)
        if not _planned_near(stops[own], stops[added]):
            continue
        merged[own] = _merged(stops[own], stops[added])
        dropped.add(added)
    if not merged:
        return stops
    return [merged.get(i, stop) for i, stop in enumerate(stops) if i not in dropped]


def _added(stop: ChangeStop) -> bool:
    return any(e is not None and e.status == "a" for e in (stop.planned_arrival, stop.planned_departure))


def _planned_near(own: ChangeStop, added: ChangeStop) -> bool:
    def times(stop: ChangeStop) -> list[datetime]:
        return [e.time for e in (stop.planned_arrival, stop.planned_departure) if e is not None and e.time]

    return any(abs(a - b) <= SPLIT_STOP_MAX for a in times(own) for b in times(added))


def _says(event: Event | None) -> tuple[bool, bool, bool]:
    """How much a changed event says: something at all, not cancelled, a time."""
    if event is None:
        return (False, False, False)
    return (event.time is not None or event.status is not None, event.status != "c", event.time is not None)


def _merged(own: ChangeStop, added: ChangeStop) -> ChangeStop:
    arrival = added if _says(added.arrival) > _says(own.arrival) else own
    departure = added if _says(added.departure) > _says(own.departure) else own
    other_arrival = own if arrival is added else added
    other_departure = own if departure is added else added
    return ChangeStop(
        stop_id=own.stop_id,
        eva=own.eva,
        arrival=arrival.arrival,
        departure=departure.departure,
        category=own.category or added.category,
        number=own.number or added.number,
        messages=own.messages + added.messages,
        planned_arrival=arrival.planned_arrival or other_arrival.planned_arrival,
        planned_departure=departure.planned_departure or other_departure.planned_departure,
        filter_flag=own.filter_flag or added.filter_flag,
        owner=own.owner or added.owner,
    )


def _planned(element: ET.Element | None, near: datetime | None) -> Event | None:
    """A change's event as planned, where it carries its planned time (``pt``)."""
    if element is None or not element.get("pt"):
        return None
    return _event(element, "p", near)


def planned_stop(change: ChangeStop) -> PlanStop | None:
    """The plan stop a change record describes on its own: its train (``tl``) and at least one planned
    time. Same stop id, so the same call as the plan that lists it (earlier or later)."""
    if not change.category or not change.number:
        return None
    if change.planned_arrival is None and change.planned_departure is None:
        return None
    start, index = split_stop_id(change.stop_id)
    return PlanStop(
        stop_id=change.stop_id,
        trip_start=start,
        stop_index=index,
        category=change.category,
        number=change.number,
        filter_flag=change.filter_flag,
        owner=change.owner,
        arrival=change.planned_arrival,
        departure=change.planned_departure,
    )


def _messages(stop: ET.Element, near: datetime | None) -> tuple[Message, ...]:
    found = [_message(m, None, near) for m in stop.findall("m")]
    for event in ("ar", "dp"):
        element = stop.find(event)
        if element is not None:
            found += [_message(m, event, near) for m in element.findall("m")]
    return tuple(found)


def _lenient_time(text: str | None, near: datetime | None) -> datetime | None:
    """A message's time; a malformed one drops the time, not the whole payload (messages are secondary)."""
    try:
        return parse_time(text, near)
    except IrisParseError:
        return None


def _message(m: ET.Element, event: str | None, near: datetime | None) -> Message:
    code, priority = m.get("c"), m.get("pr")
    return Message(
        id=m.get("id"),
        type=m.get("t"),
        code=int(code) if code and code.isdigit() else None,
        category=m.get("cat"),
        timestamp=_lenient_time(m.get("ts"), near),
        priority=int(priority) if priority and priority.isdigit() else None,
        event=event,
    )


# ---- rows for the store ---------------------------------------------------------------------------

Row = dict[str, object]


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def service_id_of(stop: PlanStop) -> int:
    return service_key_id("train", stop.category, stop.number, stop.service_date.isoformat(), "")


def call_id_of(stop: PlanStop) -> int:
    return call_key_id(service_id_of(stop), stop.stop_index)


@dataclass
class PlanRows:
    """Rows for services, calls and call references (IRIS stop id → call id) from plan stops."""

    services: list[Row] = field(default_factory=list)
    calls: list[Row] = field(default_factory=list)
    call_refs: list[Row] = field(default_factory=list)

    def extend(self, other: PlanRows) -> None:
        self.services += other.services
        self.calls += other.calls
        self.call_refs += other.call_refs

    def frames(self) -> dict[str, pd.DataFrame]:
        return {
            "services": pd.DataFrame(self.services).drop_duplicates("id"),
            "calls": pd.DataFrame(self.calls).drop_duplicates("id"),
            "call_refs": pd.DataFrame(self.call_refs).drop_duplicates(["source", "ref"]),
        }


def plan_rows(
    stops: Iterable[PlanStop], eva: str, station: str | None = None, source: str = SOURCE
) -> PlanRows:
    """Store rows for one station's plan stops (``station``: its name, the train's origin or destination
    where it starts or ends there; ``source``: the services' provenance)."""
    rows = PlanRows()
    for stop in stops:
        service_id = service_id_of(stop)
        call_id = call_key_id(service_id, stop.stop_index)
        events = [e for e in (stop.arrival, stop.departure) if e is not None]
        origin, destination = ends_of(stop, station)
        rows.services.append(
            {
                "id": service_id,
                "mode": "train",
                "operator": stop.category,
                "number": stop.number,
                "service_date": stop.service_date,
                "leg": "",
                "category": stop.category,
                "line": next((e.line for e in events if e.line), None),
                "agency": stop.owner,
                "origin": origin,
                "destination": destination,
                "source": source,
            }
        )
        rows.calls.append(
            {
                "id": call_id,
                "service_id": service_id,
                "sequence": stop.stop_index,
                "location": eva,
                "location_tz": "Europe/Berlin",
                "scheduled_arrival": _utc(stop.arrival.time) if stop.arrival else None,
                "scheduled_departure": _utc(stop.departure.time) if stop.departure else None,
                "planned_platform": _platform_of(stop.arrival, stop.departure),
            }
        )
        rows.call_refs.append({"source": SOURCE, "ref": stop.stop_id, "call_id": call_id})
    return rows


def change_plan_rows(changes: Iterable[ChangeStop], eva: str, station: str | None = None) -> PlanRows:
    """Store rows for the change records that carry their own planned times (see :func:`planned_stop`).

    Written insert-ignore like a plan's: a call a plan listed first stays as it is; one only a change
    list names (an additional train) is created, known from the change's fetch on."""
    stops = [stop for stop in map(planned_stop, changes) if stop is not None]
    return plan_rows(stops, eva, station, source=CHANGES_SOURCE)


NAME_LENGTH = 32  # services.origin and .destination


def ends_of(stop: PlanStop, station: str | None) -> tuple[str | None, str | None]:
    """Where the train comes from and goes to, by station name: the first station of the arrival's
    planned path (``ppth``, the stations before this one) and the last of the departure's (those after);
    this station where it has no arrival (it starts here) or no departure (it ends here)."""

    def end(event: Event | None, last: bool) -> str | None:
        if event is None:
            return station
        names = [name for name in (event.path or "").split("|") if name.strip()]
        return (names[-1] if last else names[0]) if names else station

    origin, destination = end(stop.arrival, last=False), end(stop.departure, last=True)
    return (
        None if origin is None else origin.strip()[:NAME_LENGTH],
        None if destination is None else destination.strip()[:NAME_LENGTH],
    )


def _platform_of(arrival: Event | None, departure: Event | None) -> str | None:
    """The arrival's platform where the stop has an arrival (what travellers meet), else the departure's."""
    return arrival.platform if arrival is not None else (departure.platform if departure else None)


@dataclass(frozen=True)
class ReportedState:
    """What one fchg snapshot says about one stop; consecutive equal states are written once.

    ``cancelled`` is the arrival's cancellation (the departure's where the record has no arrival, the trip
    starting there), ``departure_cancelled`` the departure's (None: as ``cancelled``): IRIS cancels each
    event apart, and a train ending early arrives at the stop whose departure it cancels."""

    estimated_arrival: datetime | None
    estimated_departure: datetime | None
    actual_arrival: datetime | None
    actual_departure: datetime | None
    platform: str | None
    cancelled: bool | None
    departure_cancelled: bool | None = None


def _cancelled(event: Event | None, said: bool) -> bool | None:
    """An event's cancellation: ``c`` cancelled, ``p`` (planned again) and ``a`` (added) not; an event
    listed without a status is not cancelled where the record gives the other event one (``said``: the
    change list is the stop's whole current state), else None (nothing said)."""
    if event is None:
        return None
    if event.status == "c":
        return True
    if event.status in ("p", "a") or said:
        return False
    return None


def reported_state(change: ChangeStop, observed_at: datetime) -> ReportedState:
    """The state a change record reports at ``observed_at``.

    IRIS has no "actual" flag: a changed time that lies in the past when the snapshot was taken is what
    happened, so it is reported as actual as well as estimated, unless that event is cancelled.
    """
    arrival = _utc(change.arrival.time) if change.arrival else None
    departure = _utc(change.departure.time) if change.departure else None
    said = any(e is not None and e.status for e in (change.arrival, change.departure))
    arrival_cancelled = _cancelled(change.arrival, said)
    departure_cancelled = _cancelled(change.departure, said)
    cancelled = arrival_cancelled if change.arrival is not None else departure_cancelled
    platform = _platform_of(change.arrival, change.departure)
    return ReportedState(
        estimated_arrival=arrival,
        estimated_departure=departure,
        actual_arrival=arrival if arrival is not None and arrival <= observed_at and not cancelled else None,
        actual_departure=(
            departure
            if departure is not None and departure <= observed_at and not departure_cancelled
            else None
        ),
        platform=platform,
        cancelled=cancelled,
        departure_cancelled=None if departure_cancelled == cancelled else departure_cancelled,
    )


def observation_rows(changes: Iterable[ChangeStop], observed_at: datetime, raw_ref: str) -> list[Row]:
    """One observation row per change record, naming its call by IRIS stop id (resolved by the runner)."""
    observed_utc = observed_at.astimezone(UTC)
    return [
        {
            "ref_source": SOURCE,
            "ref": change.stop_id,
            "observed_at": observed_utc,
            "source": SOURCE,
            **reported_state(change, observed_utc).__dict__,
            "raw_ref": raw_ref,
        }
        for change in changes
    ]


def location_row(eva: str, station: str | None) -> Row:
    return {"code": eva, "mode": "train", "name": station or eva, "tz": "Europe/Berlin", "source": SOURCE}


def change_rows(
    changes: Iterable[ChangeStop],
    call_of_ref: Mapping[str, int],
    observed_at: datetime,
    last_state: dict[int, ReportedState],
    raw_ref: str,
) -> tuple[list[Row], list[str]]:
    """Observation rows for the stops whose reported state differs from ``last_state`` (updated in place).

    Returns the rows and the stop ids that match no known call (their plan has not been seen).
    """
    rows: list[Row] = []
    unmatched = []
    observed_utc = observed_at.astimezone(UTC)
    for change in changes:
        call_id = call_of_ref.get(change.stop_id)
        if call_id is None:
            unmatched.append(change.stop_id)
            continue
        state = reported_state(change, observed_utc)
        if last_state.get(call_id) == state:
            continue
        last_state[call_id] = state
        rows.append(
            {
                "call_id": call_id,
                "observed_at": observed_utc,
                "source": SOURCE,
                **state.__dict__,
                "raw_ref": raw_ref,
            }
        )
    return rows, unmatched
