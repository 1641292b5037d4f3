"""NS InfoPlus (NDOV) XML: RIT (a train's whole run), DVS (a departure) and DAS (an arrival) messages.

InfoPlus is a push feed (ZeroMQ from NDOV Loket), so there is nothing to poll: the adapter subscribes
(:mod:`eta.collectors.sources.ns.zeromq`) and the runner takes what arrived at each run;
:func:`message_cycles` replays a folder of recorded messages through the same parse.

A RIT message gives the run: a service per logical train part (category ``TreinSoort@Code``, number,
``TreinDatum``), a call per stop in route order at the station's UIC code, planned times and platforms
(``InfoStatus="Gepland"``) and an observation with the current ones (``"Actueel"``). DVS/DAS messages
report one station's departure or arrival; they name their call by ``<RitId>|<RitDatum>|<UIC>`` and
attach to the run a RIT message placed. A train using several platforms (``5-6``) keeps them joined with
``-``, as NS presents them; a platform phase (``SpoorFase`` b) is appended (``1b``). Cancellations, each
event apart (:mod:`eta.read.cancellations`): ``Stopt`` N or modification 25 (train) cancel both, 32 the
departure, 39 the arrival; a train ending early stops where its departure is cancelled. A DVS message says
nothing of the arrival unless the train now ends there (its current ``TreinEindBestemming``: it arrives); a
DAS message's arrival cancellation stands for the departure too unless the train now starts there (its
current ``TreinHerkomst``: it leaves), and one that cancels nothing says nothing of cancellations (a
standing arrival would read as a standing departure too; RIT messages reinstate both). Times are UTC; a
current time at or before the message's own timestamp is also recorded as actual, unless its event is
cancelled.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING

from eta.collectors.base import (
    Adapter,
    FetchError,
    Payload,
    PayloadError,
    Received,
    Request,
    Row,
    Rows,
    StoreView,
)
from eta.collectors.replay import ReplayCycle
from eta.collectors.sources.ns.settings import NsInfoPlusSettings
from eta.errors import InputError
from eta.store.ids import call_key_id, service_key_id

if TYPE_CHECKING:
    from eta.collectors.sources.ns.zeromq import Subscription

SOURCE = "ns-infoplus"
TZ = "Europe/Amsterdam"
CANCELLED_TRAIN, CANCELLED_DEPARTURE, CANCELLED_ARRIVAL = 25, 32, 39


@dataclass(frozen=True)
class Event:
    planned_time: datetime | None
    current_time: datetime | None
    planned_platform: str | None
    current_platform: str | None


@dataclass(frozen=True)
class Stop:
    uic: str
    code: str
    name: str
    arrival: Event
    departure: Event
    arrival_cancelled: bool
    departure_cancelled: bool


@dataclass(frozen=True)
class Run:
    """A RIT message's logical train part."""

    number: str
    day: date
    category: str
    operator: str | None
    stops: list[Stop]


@dataclass(frozen=True)
class StationEvent:
    """A DVS (departure) or DAS (arrival) message."""

    kind: str  # "departure" | "arrival"
    rit_id: str
    day: date
    uic: str
    code: str
    name: str
    number: str
    category: str | None
    event: Event
    cancelled: bool  # its own event's
    # the call's other event, where the message says: False where the train now ends (a departure) or
    # starts (an arrival) at this station, True where the whole train is cancelled, else None
    other_cancelled: bool | None = None


@dataclass(frozen=True)
class Message:
    timestamp: datetime
    runs: list[Run]
    station_events: list[StationEvent]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _strip_namespaces(root: ET.Element) -> ET.Element:
    for element in root.iter():
        element.tag = _local(element.tag)
    return root


def parse_message(body: bytes) -> Message:
    """Pure: one InfoPlus XML message → runs and station events."""
    if not body.strip():
        raise PayloadError("empty message", kind="empty")
    try:
        root = _strip_namespaces(ET.fromstring(body))  # noqa: S314 - NDOV's own XML, no entity expansion
    except ET.ParseError as exc:
        raise PayloadError(f"malformed XML: {exc}") from exc
    product = next((e for e in root.iter() if e.tag.startswith("ReisInformatieProduct")), None)
    if product is None:
        raise PayloadError(f"<{root.tag}> is not an InfoPlus message")
    timestamp = _time(product.get("TimeStamp"))
    if timestamp is None:
        raise PayloadError("message without TimeStamp")
    kind = product.tag.removeprefix("ReisInformatieProduct")
    if kind == "RitInfo":
        return Message(timestamp, _runs(product), [])
    if kind in ("DVS", "DAS"):
        return Message(timestamp, [], [_station_event(product, kind)])
    raise PayloadError(f"InfoPlus product {kind!r} is not read by eta")


def _text(element: ET.Element | None, path: str) -> str | None:
    found = element.find(path) if element is not None else None
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PayloadError(f"time {text!r} is not ISO 8601") from exc
    if value.tzinfo is None:
        raise PayloadError(f"time {text!r} has no zone")
    return value.astimezone(UTC)


def _status(parent: ET.Element, tag: str, status: str) -> list[ET.Element]:
    return [e for e in parent.findall(tag) if e.get("InfoStatus") == status]


def _platforms(parent: ET.Element, tag: str, status: str) -> str | None:
    tracks = [
        (_text(e, "SpoorNummer") or "") + (_text(e, "SpoorFase") or "") for e in _status(parent, tag, status)
    ]
    return "-".join(t for t in tracks if t) or None


def _event(parent: ET.Element, time_tag: str, platform_tag: str) -> Event:
    def at(status: str) -> datetime | None:
        found = _status(parent, time_tag, status)
        return _time(found[0].text) if found and found[0].text else None

    return Event(
        planned_time=at("Gepland"),
        current_time=at("Actueel"),
        planned_platform=_platforms(parent, platform_tag, "Gepland"),
        current_platform=_platforms(parent, platform_tag, "Actueel"),
    )


def _modifications(parent: ET.Element) -> set[int]:
    types = set()
    for element in parent.iter("WijzigingType"):
        if element.text and element.text.strip().isdigit():
            types.add(int(element.text.strip()))
    return types


def _day(text: str | None) -> date:
    try:
        return date.fromisoformat(text or "")
    except ValueError as exc:
        raise PayloadError(f"date {text!r} is not YYYY-MM-DD") from exc


def _runs(product: ET.Element) -> list[Run]:
    info = product.find("RitInfo")
    if info is None:
        raise PayloadError("RitInfo message without <RitInfo>")
    day = _day(_text(info, "TreinDatum"))
    soort = info.find("TreinSoort")
    category = (soort.get("Code") if soort is not None else None) or "train"
    train_cancelled = CANCELLED_TRAIN in {m for w in info.findall("Wijziging") for m in _modifications(w)}
    runs = []
    for part in info.iter("LogischeRitDeel"):
        number = _text(part, "LogischeRitDeelNummer") or _text(info, "TreinNummer")
        if number is None:
            raise PayloadError("a train part without a number")
        stops = []
        for element in part.findall("LogischeRitDeelStation"):
            station = element.find("Station")
            uic = _text(station, "UICCode")
            if station is None or uic is None:
                raise PayloadError("a stop without a station UIC code")
            planned_stop = _status(element, "Stopt", "Gepland")
            if planned_stop and planned_stop[0].text == "N":
                continue  # a station the train passes without stopping
            stops_here = _status(element, "Stopt", "Actueel")
            mods = _modifications(element)
            whole = train_cancelled or bool(stops_here and stops_here[0].text == "N")
            stops.append(
                Stop(
                    uic=uic,
                    code=_text(station, "StationCode") or uic,
                    name=_text(station, "LangeNaam") or uic,
                    arrival=_event(element, "AankomstTijd", "TreinAankomstSpoor"),
                    departure=_event(element, "VertrekTijd", "TreinVertrekSpoor"),
                    arrival_cancelled=whole or CANCELLED_ARRIVAL in mods,
                    departure_cancelled=whole or CANCELLED_DEPARTURE in mods,
                )
            )
        runs.append(Run(number, day, category, _text(info, "Vervoerder"), stops))
    return runs


def _station_event(product: ET.Element, kind: str) -> StationEvent:
    state = product.find("DynamischeVertrekStaat" if kind == "DVS" else "DynamischeAankomstStaat")
    if state is None:
        raise PayloadError(f"{kind} message without its state element")
    train = state.find("Trein" if kind == "DVS" else "TreinAankomst")
    station = state.find("RitStation")
    uic = _text(station, "UICCode")
    rit_id = _text(state, "RitId")
    if train is None or station is None or uic is None or rit_id is None:
        raise PayloadError(f"{kind} message without train, station or RitId")
    departure = kind == "DVS"
    event = (
        _event(train, "VertrekTijd", "TreinVertrekSpoor")
        if departure
        else _event(train, "AankomstTijd", "TreinAankomstSpoor")
    )
    mods = _modifications(train)
    soort = train.find("TreinSoort")
    # where the train now ends (a departure message) or starts (an arrival message)
    end = _status(train, "TreinEindBestemming" if departure else "TreinHerkomst", "Actueel")
    ends_or_starts_here = bool(end) and _text(end[0], "UICCode") == uic
    whole = CANCELLED_TRAIN in mods
    return StationEvent(
        kind="departure" if departure else "arrival",
        rit_id=rit_id,
        day=_day(_text(state, "RitDatum")),
        uic=uic,
        code=_text(station, "StationCode") or uic,
        name=_text(station, "LangeNaam") or uic,
        number=_text(train, "TreinNummer") or rit_id,
        category=soort.get("Code") if soort is not None else None,
        event=event,
        cancelled=whole or (CANCELLED_DEPARTURE if departure else CANCELLED_ARRIVAL) in mods,
        other_cancelled=True if whole else (False if ends_or_starts_here else None),
    )


# ---- rows ------------------------------------------------------------------------------------------


def message_rows(message: Message, observed_at: datetime, raw_ref: str) -> Rows:
    rows = Rows()
    for run in message.runs:
        _run_rows(rows, run, message.timestamp, observed_at, raw_ref)
    for event in message.station_events:
        rows.add("locations", [_location(event.uic, event.name)])
        rows.add("observations", [_station_observation(event, message.timestamp, observed_at, raw_ref)])
    return rows


def _location(uic: str, name: str) -> Row:
    return {"code": uic, "mode": "train", "name": name, "tz": TZ, "source": SOURCE}


def _actual(value: datetime | None, now: datetime, cancelled: bool) -> datetime | None:
    return value if value is not None and value <= now and not cancelled else None


def _run_rows(rows: Rows, run: Run, timestamp: datetime, observed_at: datetime, raw_ref: str) -> None:
    service_id = service_key_id("train", run.category, run.number, run.day.isoformat(), "")
    rows.add(
        "services",
        [
            {
                "id": service_id,
                "mode": "train",
                "operator": run.category,
                "number": run.number,
                "service_date": run.day,
                "leg": "",
                "category": run.category,
                "agency": run.operator,
                "origin": run.stops[0].uic if run.stops else None,
                "destination": run.stops[-1].uic if run.stops else None,
                "source": SOURCE,
            }
        ],
    )
    for sequence, stop in enumerate(run.stops):
        call_id = call_key_id(service_id, sequence)
        has_arrival = stop.arrival.planned_time is not None
        # the arrival's (a stop without one: the departure's); the departure's where it differs
        cancelled = stop.arrival_cancelled if has_arrival else stop.departure_cancelled
        rows.add("locations", [_location(stop.uic, stop.name)])
        rows.add(
            "calls",
            [
                {
                    "id": call_id,
                    "service_id": service_id,
                    "sequence": sequence,
                    "location": stop.uic,
                    "location_tz": TZ,
                    "scheduled_arrival": stop.arrival.planned_time,
                    "scheduled_departure": stop.departure.planned_time,
                    "planned_platform": stop.arrival.planned_platform
                    if has_arrival
                    else stop.departure.planned_platform,
                }
            ],
        )
        rows.add(
            "call_refs",
            [{"source": SOURCE, "ref": f"{run.number}|{run.day.isoformat()}|{stop.uic}", "call_id": call_id}],
        )
        rows.add(
            "observations",
            [
                {
                    "call_id": call_id,
                    "observed_at": observed_at,
                    "source": SOURCE,
                    "estimated_arrival": stop.arrival.current_time,
                    "estimated_departure": stop.departure.current_time,
                    "actual_arrival": _actual(stop.arrival.current_time, timestamp, stop.arrival_cancelled),
                    "actual_departure": _actual(
                        stop.departure.current_time, timestamp, stop.departure_cancelled
                    ),
                    "platform": stop.arrival.current_platform
                    if has_arrival
                    else stop.departure.current_platform,
                    "cancelled": cancelled,
                    "departure_cancelled": None
                    if stop.departure_cancelled == cancelled
                    else stop.departure_cancelled,
                    "raw_ref": raw_ref,
                }
            ],
        )


def _station_observation(
    event: StationEvent, timestamp: datetime, observed_at: datetime, raw_ref: str
) -> Row:
    departure = event.kind == "departure"
    current = event.event.current_time
    if departure:  # the arrival's, where the message says; the departure's
        cancelled, departure_cancelled = event.other_cancelled, event.cancelled
    elif not event.cancelled and event.other_cancelled is None:
        cancelled = departure_cancelled = None  # a standing arrival would stand for the departure too
    else:  # the arrival's; the departure's where the message says it differs (None: as the arrival's)
        cancelled = event.cancelled
        departure_cancelled = None if event.other_cancelled == cancelled else event.other_cancelled
    return {
        "ref_source": SOURCE,
        "ref": f"{event.rit_id}|{event.day.isoformat()}|{event.uic}",
        "observed_at": observed_at,
        "source": SOURCE,
        "estimated_departure" if departure else "estimated_arrival": current,
        "actual_departure" if departure else "actual_arrival": _actual(current, timestamp, event.cancelled),
        "platform": event.event.current_platform,
        "cancelled": cancelled,
        "departure_cancelled": departure_cancelled,
        "raw_ref": raw_ref,
    }


# ---- the adapter and recorded messages --------------------------------------------------------------


ENVELOPE_KINDS = {"DVS": "dvs", "DAS": "das", "RIT": "rit"}


class NsInfoPlusAdapter(Adapter[NsInfoPlusSettings]):
    """Parses InfoPlus messages for the runner. The feed is pushed, so there is nothing to request: the
    ZeroMQ subscription (:mod:`eta.collectors.sources.ns.zeromq`) hands the runner each message's XML
    (and :func:`message_cycles` recorded ones), archived, parsed and written like a fetched body."""

    name = "ns-infoplus"
    source = SOURCE
    content_types = ("application/xml", "text/xml")
    extension = "xml"
    push = True

    def __init__(self, config: NsInfoPlusSettings | None = None) -> None:
        super().__init__(config or NsInfoPlusSettings())
        self._subscription: Subscription | None = None
        self._last_message_at: datetime | None = None
        self._subscribed_at: datetime | None = None

    def requests(self, now: datetime, view: StoreView) -> list[Request]:
        return []

    def url(self, request: Request) -> tuple[str, Mapping[str, str]]:
        raise InputError("NS InfoPlus is a push feed (ZeroMQ); there is no URL to poll")

    def receive(self, clock: Callable[[], datetime], max_payload_bytes: int) -> list[Received]:
        """The messages published since the last run; a feed silent for ``silence_s`` fails the run."""
        from eta.collectors.sources.ns.zeromq import Subscription

        wait_s = 0.0
        if self._subscription is None:  # the first run waits one interval for the feed's first messages
            self._subscription = Subscription(
                self.config.endpoint, self.config.envelopes, self.config.high_water_mark
            )
            self._subscribed_at = clock()
            wait_s = float(self.config.interval_s)
        try:
            messages = self._subscription.drain(
                clock, self.config.max_messages, max_payload_bytes, wait_s=wait_s
            )
        except Exception as exc:  # zmq.ZMQError: a bad endpoint, a closed context
            raise FetchError("connection", f"ZeroMQ {self.config.endpoint}: {exc}") from exc
        now = clock()
        if messages:
            self._last_message_at = messages[-1].received_at
        quiet_since = self._last_message_at or self._subscribed_at or now
        if not messages and (now - quiet_since).total_seconds() > self.config.silence_s:
            raise FetchError(
                "timeout", f"no message from {self.config.endpoint} since {quiet_since.isoformat()}"
            )
        return [
            Received(Request.of(_kind(m.envelope), seq=n), m.body, m.received_at, "application/xml")
            for n, m in enumerate(messages)
        ]

    def close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    def parse(self, payload: Payload) -> Rows:
        return message_rows(parse_message(payload.body), payload.fetched_at, payload.ref)


def _kind(envelope: str) -> str:
    """``/RIG/InfoPlusDVSInterface4`` → ``dvs``; an envelope of another kind → ``message``."""
    for marker, kind in ENVELOPE_KINDS.items():
        if f"InfoPlus{marker}" in envelope:
            return kind
    return "message"


def message_cycles(folder: Path) -> Iterator[ReplayCycle]:
    """Recorded messages (``*.xml`` under ``folder``) grouped by their own timestamp, oldest first.

    Messages without a readable timestamp go with the first cycle, where the runner quarantines them.
    """
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder of InfoPlus XML messages")
    timed: list[tuple[datetime, Payload]] = []
    unreadable: list[tuple[str, bytes]] = []
    for path in sorted(folder.rglob("*.xml")):
        body, ref = path.read_bytes(), f"{folder.name}/{path.relative_to(folder)}"
        try:
            at = parse_message(body).timestamp
        except PayloadError:
            unreadable.append((ref, body))
            continue
        timed.append((at, Payload(SOURCE, Request.of("message"), at, body, None, ref)))
    if not timed:
        return
    first = min(at for at, _ in timed)
    timed += [
        (first, Payload(SOURCE, Request.of("message"), first, body, None, ref)) for ref, body in unreadable
    ]
    timed.sort(key=lambda item: item[0])
    for at, items in groupby(timed, key=lambda item: item[0]):
        yield ReplayCycle(at, [payload for _, payload in items])
