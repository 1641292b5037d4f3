"""Reads what the features need from the store into pandas, once, for a window of scheduled times.

Training, backtests and serving all go through :func:`load_frames`; the features then only ever look at
rows observed at or before each prediction's time ``t`` (see :mod:`eta.features.reports`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Connection, Engine, Select, String, and_, cast, or_, select

from eta._time import ensure_utc
from eta.features import previous_days
from eta.read import passage
from eta.store.schema import Call, Location, Observation, Service, UTCDateTime, Vehicle, Weather

TIME_COLUMNS = (
    "scheduled_arrival",
    "scheduled_departure",
    "observed_at",
    "estimated_arrival",
    "actual_arrival",
    "estimated_departure",
    "actual_departure",
    "valid_at",
    "known_since",
)
# A service's calls are loaded whole when any of them falls in the window, so a call near the window's
# edge still sees its service's earlier stops; the margin covers the longest runs and flights.
SERVICE_MARGIN = timedelta(hours=30)
PAST_DAYS_BY_MODE = {"train": previous_days.PAST_DAYS}
# A call's known_since where NULL (stored before eta recorded it): before anything stored.
KNOWN_ALWAYS = pd.Timestamp("1900-01-01", tz="UTC")


@dataclass(frozen=True)
class Frames:
    """The store's rows for one mode and window: calls (with their service), observations, weather.

    ``calls`` are ordered by service and the order the run reaches them, and their ``sequence`` is their
    position on the run (:func:`run_positions`; the store's number is kept in ``store_sequence``), so that
    the features may take the next stop for the one numbered after (IRIS numbers a stop a change list adds
    from 100 on, wherever it lies on the run). A flight's two calls keep theirs: 0 departure, 1 arrival.
    """

    mode: str
    calls: pd.DataFrame
    observations: pd.DataFrame
    weather: pd.DataFrame
    names: pd.Series  # location code -> name
    # Outcomes of runs on the service days before the window (eta.features.previous_days), where loaded.
    past: pd.DataFrame = field(default_factory=previous_days.no_outcomes)
    # Which event of a call the "arrival" columns hold: "departure" in :func:`eta.features.departures.view`.
    event: str = "arrival"

    def observed_until(self, t: datetime | pd.Timestamp) -> Frames:
        """The same frames as the store held them at ``t``: calls not yet known (``known_since`` after
        ``t``), later observations and weather dropped, the earlier runs' outcomes as known at ``t``
        (:func:`eta.features.previous_days.as_of`)."""
        stamp = pd.Timestamp(t)
        calls = self._calls_without(
            self.calls["known_since"] > stamp if "known_since" in self.calls else None
        )
        observations = self.observations[self.observations["observed_at"] <= stamp]
        return replace(
            self,
            calls=calls,
            observations=observations[observations["call_id"].isin(calls["call_id"])],
            weather=self.weather[self.weather["observed_at"] <= stamp],
            past=previous_days.as_of(self.past, stamp),
        )

    def without_added_after(self, t: datetime | pd.Timestamp) -> Frames:
        """The same frames without the stops added to a run after ``t`` (:func:`added_later`, known
        since after ``t``): each run as it stood at ``t``, its other stops where they were then. Every
        other call, observation and weather row is kept (the features read those as known at their t)."""
        unknown = added_later(self.calls) & (self.calls["known_since"] > pd.Timestamp(t))
        calls = self._calls_without(unknown)
        return replace(
            self,
            calls=calls,
            observations=self.observations[self.observations["call_id"].isin(calls["call_id"])],
        )

    def near(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.Index:
        """The services :func:`load_frames` reads for a window [start, end): a call within
        :data:`SERVICE_MARGIN` of it. The features of a query with its t and its call in the window read
        no other (serving reads such a window)."""
        planned = self.calls["planned_at"]
        within = (planned >= start - SERVICE_MARGIN) & (planned < end + SERVICE_MARGIN)
        return pd.Index(self.calls.loc[within, "service_id"].unique())

    def of_services(self, service_ids: pd.Index, outcomes: pd.DataFrame | None = None) -> Frames:
        """The frames of these services only, the other runs' outcomes moved to ``past`` (where the
        features of previous days take them). ``outcomes``: :func:`eta.features.previous_days.run_outcomes`
        of these frames, where at hand."""
        kept = self.calls["service_id"].isin(service_ids)
        if kept.all():
            return self
        calls = self.calls[kept].reset_index(drop=True)
        within = self.observations["call_id"].isin(calls["call_id"])
        if outcomes is None:
            outcomes = previous_days.run_outcomes(self.calls, self.observations)
        others = outcomes[~outcomes["call_id"].isin(calls["call_id"])]
        earlier = self.past[~self.past["call_id"].isin(self.calls["call_id"])]  # as the features take it
        past = pd.concat([others, earlier], ignore_index=True) if len(earlier) else others
        return replace(self, calls=calls, observations=self.observations[within], past=past)

    def _calls_without(self, dropped: pd.Series | None) -> pd.DataFrame:
        """The calls but ``dropped``, renumbered where that moves a stop (:func:`run_positions`)."""
        calls = self.calls if dropped is None else self.calls[~dropped]
        calls = calls.reset_index(drop=True)
        if len(calls) < len(self.calls) and _renumbered(self.calls):
            # a stop added later moves no other stop before it is known; the calls left keep their order
            calls = calls.assign(sequence=run_positions(calls["service_id"], calls["store_sequence"]))
        return calls


def load_frames(
    engine: Engine,
    mode: str,
    start: datetime,
    end: datetime,
    observed_until: datetime | None = None,
    past_days: int | None = None,
) -> Frames:
    """Calls of ``mode`` whose services are scheduled in [start, end), with their observations.

    ``observed_until`` drops the calls eta did not yet know at that time (``known_since`` later), and the
    observations and weather it had not yet received (serving: a store rebuilt or replayed later holds
    them, the live store then did not).
    ``past_days`` also reads the outcomes of the runs of that many service days before ``start`` into
    ``Frames.past`` (what :mod:`eta.features.previous_days` compares with); by default as many as the
    mode's features look back (trains: :data:`eta.features.previous_days.PAST_DAYS`, flights: none).
    """
    start, end = ensure_utc(start), ensure_utc(end)
    low, high = start - SERVICE_MARGIN, end + SERVICE_MARGIN
    # coalesce(arrival, departure) in [low, high), spelt so that each side can use its own index
    in_window = select(Call.service_id).where(
        or_(
            and_(Call.scheduled_arrival >= low, Call.scheduled_arrival < high),
            and_(
                Call.scheduled_arrival.is_(None),
                Call.scheduled_departure >= low,
                Call.scheduled_departure < high,
            ),
        )
    )
    service_filter = and_(Service.mode == mode, Service.id.in_(in_window.distinct()))
    calls_q = _calls_query(
        service_filter,
        Call.sequence,
        Call.location,
        Call.location_tz,
        Call.scheduled_arrival,
        Call.scheduled_departure,
        Call.planned_platform,
        Call.known_since,
        Service.operator,
        Service.number,
        Service.service_date,
        Service.category,
        Service.line,
        Service.origin,
        Service.destination,
        Service.vehicle_id,
    )
    if observed_until is not None:
        known = ensure_utc(observed_until)
        calls_q = calls_q.where(or_(Call.known_since.is_(None), Call.known_since <= known))
    obs_q = _observations_query(
        service_filter,
        observed_until,
        Observation.estimated_arrival,
        Observation.actual_arrival,
        Observation.estimated_departure,
        Observation.actual_departure,
        Observation.platform,
        Observation.cancelled,
        Observation.departure_cancelled,
    )
    with engine.connect() as conn:
        calls = _read(conn, calls_q)
        observations = _read(conn, obs_q)
        locations = calls["location"].drop_duplicates().tolist()
        weather = _read_weather(conn, locations, start, end, observed_until)
        names = _read_names(conn, locations)
        if mode == "flight":
            calls = _with_vehicle_type(conn, calls)
        days = PAST_DAYS_BY_MODE.get(mode, 0) if past_days is None else past_days
        past = _read_past(conn, mode, start, days, observed_until) if days > 0 else None
    calls = _tidy_calls(calls, mode)
    observations = observations.sort_values(["observed_at", "call_id"], kind="stable").reset_index(drop=True)
    # an empty result comes back untyped; joins on the ids need them as integers
    observations["call_id"] = observations["call_id"].astype("int64")
    for flag in ("cancelled", "departure_cancelled"):  # the arrival's; the departure's, where apart
        observations[flag] = observations[flag].astype("boolean")
    frames = Frames(mode=mode, calls=calls, observations=observations, weather=weather, names=names)
    return frames if past is None else replace(frames, past=past)


def _read_past(
    conn: Connection, mode: str, start: datetime, past_days: int, observed_until: datetime | None
) -> pd.DataFrame:
    """Outcomes of the ``mode`` runs of the ``past_days`` service days before ``start``'s date."""
    first_day = start.date() - timedelta(days=past_days + 1)  # service dates are local: one day spare
    services = and_(
        Service.mode == mode, Service.service_date >= first_day, Service.service_date < start.date()
    )
    calls_q = _calls_query(
        services,
        Call.location,
        Call.scheduled_arrival,
        Call.scheduled_departure,
        Service.operator,
        Service.number,
        Service.service_date,
    )
    obs_q = _observations_query(
        services, observed_until, Observation.actual_arrival, Observation.actual_departure
    ).where(or_(Observation.actual_arrival.is_not(None), Observation.actual_departure.is_not(None)))
    calls = _read(conn, calls_q)
    if calls.empty:
        return previous_days.no_outcomes()
    calls["planned_at"] = calls["scheduled_arrival"].fillna(calls["scheduled_departure"])
    observations = _read(conn, obs_q)
    return previous_days.run_outcomes(calls, observations)


def _calls_query(services: ColumnElement[bool], *columns: Any) -> Select[Any]:
    """The calls (id, service, ``columns``) of the services that match ``services``."""
    return (
        select(Call.id.label("call_id"), Call.service_id, *columns)
        .join(Service, Service.id == Call.service_id)
        .where(services)
    )


def _observations_query(
    services: ColumnElement[bool], observed_until: datetime | None, *columns: Any
) -> Select[Any]:
    """The observations (call, observed_at, ``columns``) of those services' calls, received by
    ``observed_until`` where given."""
    query = (
        select(Observation.call_id, Observation.observed_at, *columns)
        .join(Call, Call.id == Observation.call_id)
        .join(Service, Service.id == Call.service_id)
        .where(services)
    )
    if observed_until is not None:
        until = ensure_utc(observed_until)
        known = or_(Call.known_since.is_(None), Call.known_since <= until)
        query = query.where(Observation.observed_at <= until, known)
    return query


def _read(conn: Connection, query: Any) -> pd.DataFrame:
    """Run ``query`` with its time columns read as text and parsed by pandas (10x faster than rows of
    datetime objects for millions of rows)."""
    texts = [
        cast(col, String).label(col.name) if isinstance(col.type, UTCDateTime) else col
        for col in query.selected_columns
    ]
    result = conn.execute(query.with_only_columns(*texts, maintain_column_froms=True))
    columns = list(result.keys())
    # Rows straight from the driver's cursor: SQLAlchemy's per-row processing costs more than the query.
    raw = result.cursor.fetchall() if result.cursor is not None else []
    result.close()
    frame = pd.DataFrame.from_records(raw, columns=columns)
    for col in TIME_COLUMNS:
        if col in frame.columns:
            frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601").astype("datetime64[us, UTC]")
    return frame


def _read_weather(
    conn: Connection, locations: list[str], start: datetime, end: datetime, observed_until: datetime | None
) -> pd.DataFrame:
    query = select(
        Weather.location,
        Weather.valid_at,
        Weather.observed_at,
        Weather.temperature_c,
        Weather.precipitation_mm,
        Weather.wind_speed_ms,
        Weather.wind_gust_ms,
        Weather.visibility_m,
        Weather.pressure_hpa,
    ).where(
        Weather.kind == "observation",
        Weather.valid_at >= start - timedelta(days=1),
        Weather.valid_at < end + timedelta(days=1),
        or_(*[Weather.location.in_(locations[i : i + 500]) for i in range(0, len(locations), 500)])
        if locations
        else Weather.location.is_(None),
    )
    if observed_until is not None:
        query = query.where(Weather.observed_at <= ensure_utc(observed_until))
    frame = _read(conn, query)
    return frame.sort_values(["observed_at", "location"], kind="stable").reset_index(drop=True)


def _read_names(conn: Connection, locations: list[str]) -> pd.Series:
    frame = pd.read_sql(select(Location.code, Location.name), conn)
    names = frame.set_index("code")["name"]
    return names[names.index.isin(locations)]


def _with_vehicle_type(conn: Connection, calls: pd.DataFrame) -> pd.DataFrame:
    planes = pd.read_sql(select(Vehicle.vehicle_id, Vehicle.seats), conn)
    return calls.merge(planes, on="vehicle_id", how="left")


def _tidy_calls(calls: pd.DataFrame, mode: str) -> pd.DataFrame:
    calls = calls.astype({"call_id": "int64", "service_id": "int64", "sequence": "int64"})
    calls = _in_run_order(calls.assign(store_sequence=calls["sequence"]), mode)
    calls["planned_at"] = calls["scheduled_arrival"].fillna(calls["scheduled_departure"])
    calls["number"] = calls["number"].astype(str)
    for col in ("category", "line", "planned_platform"):
        calls[col] = calls[col].astype("string")
    return calls


def _in_run_order(calls: pd.DataFrame, mode: str) -> pd.DataFrame:
    """``calls`` by service in run order, ``sequence`` their positions on the run from ``store_sequence``
    (flights: by service and sequence, each call's own)."""
    if mode == "flight":
        return calls.sort_values(["service_id", "sequence"], kind="stable").reset_index(drop=True)
    ordered = passage.in_run_order(calls.assign(sequence=calls["store_sequence"]))
    return ordered.assign(sequence=run_positions(ordered["service_id"], ordered["sequence"]))


def _renumbered(calls: pd.DataFrame) -> bool:
    return "store_sequence" in calls and bool((calls["sequence"] != calls["store_sequence"]).any())


def added_later(calls: pd.DataFrame) -> pd.Series:
    """Per call (``calls`` by service in run order, with ``known_since``): whether it was added to its run
    later, known only after a call that comes after it on the run (IRIS: a stop a change list adds). A run
    known stop by stop in its order (IRIS: each station's plan for the hour) has none."""
    known = calls["known_since"].fillna(KNOWN_ALWAYS)  # NaT: known before anything stored
    reverse = calls["service_id"][::-1]
    first_after = known[::-1].groupby(reverse).cummin()[::-1].groupby(calls["service_id"]).shift(-1)
    return known > first_after


def run_positions(service_id: pd.Series, sequence: pd.Series) -> pd.Series:
    """Each call's position on its run, for calls ordered by service and run order
    (:func:`eta.read.passage.in_run_order`) with the store's ``sequence``: that sequence where it is
    already in run order (every call of most services: a run's stops need not all be in the store, and
    the gaps stay), else the position after the one before.

    A call is in run order when its sequence is below those of every later call of its service. IRIS
    numbers a stop a change list adds from 100 on: one added before the trip's own stops takes the
    position after the stop before it, and moves the own stops after it on by one.
    """
    later = sequence[::-1].groupby(service_id[::-1]).cummin()[::-1].groupby(service_id).shift(-1)
    in_order = ~(sequence >= later)  # the last call (no later one: NaN) is
    step = sequence.groupby(service_id).cumcount()
    first = sequence.groupby(service_id).transform("min")
    # position = step + the largest (sequence - step) of the calls in order so far, the first at least
    slack = (sequence - step).where(in_order, first)
    return (step + slack.groupby(service_id).cummax()).astype("int64")
