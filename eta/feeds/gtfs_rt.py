"""GTFS-Realtime TripUpdates (FULL_DATASET) from the served predictions.

* One entity per service with calls scheduled in the feed window; trip_id ``<mode>:<operator>:<number>:
  <service date>[:<leg>]`` (eta has no GTFS static trip ids for these sources), start_date ``YYYYMMDD``.
* Stop time updates sorted by ``stop_sequence``; ``stop_id`` = the location code; arrival ``time`` = P50,
  ``delay`` = P50 − scheduled, ``uncertainty`` = half the P10–P90 width in seconds.
* A predicted platform or gate becomes ``stop_time_properties.assigned_stop_id`` = ``<location>:<platform>``.
* Cancelled calls are ``SKIPPED``; a service whose every call is cancelled is ``CANCELED``. Where only one
  event is (:mod:`eta.read.cancellations`): a train ending early keeps its arrival there with
  ``pickup_type`` ``NONE``; one starting late has no arrival there and ``drop_off_type`` ``NONE``.
* A call its train has passed (:mod:`eta.read.passage`) is no longer predicted: its arrival ``time`` is
  the one it is known by (reported, or inferred), without ``uncertainty`` or platform.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.transit import gtfs_realtime_pb2 as rt
from sqlalchemy import Connection

from eta.read.predictions import in_force
from eta.read.reports import call_states, passed_calls
from eta.read.timetable import calls_due, calls_of_services, services_by_id

GTFS_RT_VERSION = "2.0"


@dataclass(frozen=True)
class Feed:
    body: bytes
    last_modified: datetime | None
    n_entities: int


def trip_id(service: Any) -> str:
    parts = [service.mode, service.operator, service.number, service.service_date.isoformat()]
    if service.leg:
        parts.append(service.leg)
    return ":".join(parts)


def build_trip_updates(conn: Connection, now: datetime, back_s: int, ahead_s: int) -> Feed:
    calls = calls_due(conn, now - timedelta(seconds=back_s), now + timedelta(seconds=ahead_s), now)
    call_ids = [c.id for c in calls]
    services = services_by_id(conn, [c.service_id for c in calls])
    predictions = in_force(conn, call_ids, now)
    # a call its train has passed is no longer predicted: it gets the arrival it is known by
    every = calls_of_services(conn, services, now)
    states = call_states(conn, [c.id for c in every], now)
    passed = passed_calls(every, states, now, {sid: s.mode for sid, s in services.items()})
    by_service: dict[int, list[Any]] = defaultdict(list)
    for call in calls:
        by_service[call.service_id].append(call)
    feed = rt.FeedMessage()
    feed.header.gtfs_realtime_version = GTFS_RT_VERSION
    feed.header.incrementality = rt.FeedHeader.FULL_DATASET
    newest: datetime | None = None
    for service_id, calls in by_service.items():
        updates: list[tuple[Any, Any, _Cancelled]] = []
        skipped = []
        for call in calls:
            prediction = predictions.get(call.id)
            cancelled = _cancelled(call, states.get(call.id))
            skipped.append(cancelled.skipped)
            gone = passed.get(call.id)
            if gone is not None and not cancelled.arrival:
                # modified when it became passed: by its due time, else about when it arrived
                since = gone.due_at or gone.arrived_at
                newest = max(filter(None, (newest, since)), default=None)
                updates.append((call, _ArrivedAt(gone.arrived_at), cancelled))
                continue
            if prediction is None and not cancelled.any:
                continue
            if prediction is not None and not cancelled.arrival:
                newest = max(newest, prediction.made_at) if newest else prediction.made_at
            updates.append((call, None if cancelled.arrival else prediction, cancelled))
        if not updates:
            continue
        entity = feed.entity.add()
        entity.id = str(service_id)
        _fill_trip(entity.trip_update, services[service_id], all(skipped))
        for call, shown, cancelled in sorted(updates, key=lambda u: u[0].sequence):
            _add_stop_time_update(entity.trip_update, call, shown, cancelled)
    feed.header.timestamp = int((newest or now).timestamp())
    return Feed(feed.SerializeToString(), newest, len(feed.entity))


@dataclass(frozen=True)
class _ArrivedAt:
    """A passed call's arrival as known, in the place of a prediction: no interval, no platform."""

    p50_arrival: datetime
    p10_arrival: None = None
    p90_arrival: None = None
    platform: None = None


def _fill_trip(update: Any, service: Any, all_cancelled: bool) -> None:
    update.trip.trip_id = trip_id(service)
    update.trip.start_date = service.service_date.strftime("%Y%m%d")
    update.trip.route_id = service.line or service.operator
    update.trip.schedule_relationship = (
        rt.TripDescriptor.CANCELED if all_cancelled else rt.TripDescriptor.SCHEDULED
    )


@dataclass(frozen=True)
class _Cancelled:
    """Which of a call's events are cancelled, as known (:mod:`eta.read.cancellations`)."""

    arrival: bool
    departure: bool
    skipped: bool  # the train does not stop: every event it has there is cancelled

    @property
    def any(self) -> bool:
        return self.arrival or self.departure


def _cancelled(call: Any, state: Any) -> _Cancelled:
    arrival = bool(state and state.cancelled)
    departure = bool(state and state.departure_cancelled)
    leaves = call.scheduled_departure is not None
    return _Cancelled(arrival, departure, arrival and (departure or not leaves))


def _add_stop_time_update(update: Any, call: Any, prediction: Any, cancelled: _Cancelled) -> None:
    stu = update.stop_time_update.add()
    stu.stop_sequence = call.sequence
    stu.stop_id = call.location
    if cancelled.skipped:
        stu.schedule_relationship = rt.TripUpdate.StopTimeUpdate.SKIPPED
        return
    stu.schedule_relationship = rt.TripUpdate.StopTimeUpdate.SCHEDULED
    none = rt.TripUpdate.StopTimeUpdate.StopTimeProperties.NONE
    if cancelled.arrival:  # the train starts here: nobody gets off
        stu.stop_time_properties.drop_off_type = none
    if cancelled.departure and call.scheduled_departure is not None:  # it ends here: nobody gets on
        stu.stop_time_properties.pickup_type = none
    if prediction is None:
        return
    p50 = prediction.p50_arrival
    if p50 is not None:
        stu.arrival.time = int(p50.timestamp())
        if call.scheduled_arrival is not None:
            stu.arrival.delay = round((p50 - call.scheduled_arrival).total_seconds())
        if prediction.p10_arrival is not None and prediction.p90_arrival is not None:
            width = (prediction.p90_arrival - prediction.p10_arrival).total_seconds()
            stu.arrival.uncertainty = max(0, round(width / 2))
    if prediction.platform:
        stu.stop_time_properties.assigned_stop_id = f"{call.location}:{prediction.platform}"
