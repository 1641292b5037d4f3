"""The store's tables. Flights and trains share one model: services → calls → observations.

Times are timezone-aware and stored in UTC; on SQLite as text, on PostgreSQL as timestamptz.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# An auto-incrementing 64-bit key: SQLite only auto-increments INTEGER PRIMARY KEY.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: eta stores only timezone-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class Location(Base):
    """A station, stop or airport: code (EVA/UIC, GTFS stop id, IATA/ICAO), name and time zone."""

    __tablename__ = "locations"
    # a named GTFS instance's stations are <instance>:<stop_id> (0022)
    code: Mapped[str] = mapped_column(String(128), primary_key=True)
    mode: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(String(200))
    tz: Mapped[str | None] = mapped_column(String(64))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(32))


class Vehicle(Base):
    """An aircraft (tail number) or train set, where a source describes it."""

    __tablename__ = "vehicles"
    vehicle_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    mode: Mapped[str] = mapped_column(String(8))
    type: Mapped[str | None] = mapped_column(String(64))
    manufacturer: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    seats: Mapped[int | None] = mapped_column(Integer)
    year_built: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(32))


class Service(Base):
    """One flight leg or one train run on one service date.

    ``operator`` is the carrier code for flights (UA) and the product category for trains (ICE, RE,
    S), because that is how travellers name them ("UA 1545", "ICE 598"). ``leg`` tells apart services
    sharing a number on one date: a flight leg's departure airport; empty for trains.
    """

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("mode", "operator", "number", "service_date", "leg"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    mode: Mapped[str] = mapped_column(String(8))
    operator: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(128))  # GTFS trip ids run long
    service_date: Mapped[date] = mapped_column(Date)
    leg: Mapped[str] = mapped_column(String(32), default="")
    category: Mapped[str | None] = mapped_column(String(32))
    line: Mapped[str | None] = mapped_column(String(32))
    agency: Mapped[str | None] = mapped_column(String(32))
    origin: Mapped[str | None] = mapped_column(String(128))  # location codes
    destination: Mapped[str | None] = mapped_column(String(128))
    vehicle_id: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))


class Call(Base):
    """A service's stop at a location, as planned.

    ``scheduled_arrival``/``scheduled_departure`` are the times a traveller sees (for flights: at the gate,
    "in"/"out"); flights also have scheduled **runway** times ("on"/"off") where the provider gives them.
    """

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("service_id", "sequence"),
        Index(None, "location", "scheduled_arrival"),
        # Serving reads the calls due in a time window, whatever the station (see features.frames).
        Index(None, "scheduled_arrival", "scheduled_departure"),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    service_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("services.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(String(128))  # locations.code
    location_tz: Mapped[str | None] = mapped_column(String(64))
    scheduled_arrival: Mapped[datetime | None]
    scheduled_departure: Mapped[datetime | None]
    planned_platform: Mapped[str | None] = mapped_column(String(32))
    scheduled_runway_arrival: Mapped[datetime | None]  # flights: wheels on
    scheduled_runway_departure: Mapped[datetime | None]  # flights: wheels off
    # When eta first knew this call: the fetch of the plan that listed it (collectors, replays), an
    # importer's estimate for historical timetables; NULL: known before anything stored. What is known
    # at ``now`` lists only calls with ``known_since <= now`` (eta.read.timetable).
    known_since: Mapped[datetime | None]


class Observation(Base):
    """An append-only status report about a call; never updated. State at t = reports with observed_at ≤ t.

    ``observed_at`` is when eta first knew the report: a collector's fetch time (a replay's snapshot time);
    for historical imports, the time the event was reported (it happened then).

    Arrival and departure times are the traveller's (flights: at the gate); flights also report runway
    times (on/off) and the terminal of the gate in ``platform``.
    """

    __tablename__ = "observations"
    __table_args__ = (
        UniqueConstraint("call_id", "source", "observed_at"),
        Index(None, "call_id", "observed_at"),
        Index(None, "observed_at"),
    )
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("calls.id", ondelete="CASCADE"))
    observed_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(32))
    estimated_arrival: Mapped[datetime | None]
    actual_arrival: Mapped[datetime | None]
    estimated_departure: Mapped[datetime | None]
    actual_departure: Mapped[datetime | None]
    platform: Mapped[str | None] = mapped_column(String(32))
    # the arrival's cancellation (a call without an arrival: its departure's); the departure's where a
    # source cancels it apart (DB IRIS), NULL: as ``cancelled`` (eta.read.cancellations)
    cancelled: Mapped[bool | None] = mapped_column(Boolean)
    departure_cancelled: Mapped[bool | None] = mapped_column(Boolean)
    raw_ref: Mapped[str | None] = mapped_column(String(300))
    terminal: Mapped[str | None] = mapped_column(String(32))  # flights: the terminal of the gate
    estimated_runway_arrival: Mapped[datetime | None]  # flights: wheels on
    actual_runway_arrival: Mapped[datetime | None]
    estimated_runway_departure: Mapped[datetime | None]  # flights: wheels off
    actual_runway_departure: Mapped[datetime | None]


class Weather(Base):
    """A weather observation or forecast for one location and hour."""

    __tablename__ = "weather"
    __table_args__ = (
        UniqueConstraint("location", "source", "valid_at", "observed_at"),
        Index(None, "location", "valid_at"),
    )
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    location: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(12))  # observation | forecast
    valid_at: Mapped[datetime]
    observed_at: Mapped[datetime]  # when eta could first know it (for forecasts: when fetched)
    issued_at: Mapped[datetime | None]  # forecasts: the model run's issue time
    temperature_c: Mapped[float | None] = mapped_column(Float)
    dew_point_c: Mapped[float | None] = mapped_column(Float)
    humidity_pct: Mapped[float | None] = mapped_column(Float)
    precipitation_mm: Mapped[float | None] = mapped_column(Float)
    wind_speed_ms: Mapped[float | None] = mapped_column(Float)
    wind_gust_ms: Mapped[float | None] = mapped_column(Float)
    wind_dir_deg: Mapped[float | None] = mapped_column(Float)
    visibility_m: Mapped[float | None] = mapped_column(Float)
    pressure_hpa: Mapped[float | None] = mapped_column(Float)
    cloud_cover_pct: Mapped[float | None] = mapped_column(Float)
    weather_code: Mapped[str | None] = mapped_column(String(32))
    raw_ref: Mapped[str | None] = mapped_column(String(300))


class Prediction(Base):
    """A prediction served or backtested, kept to be joined later with the actual.

    Served predictions are written when they change materially (``ETA_STORE__WRITE_ON_CHANGE``): a row
    is in force from its ``made_at`` until the call's next row, and ``confirmed_at`` is the latest
    re-prediction that found it unchanged (so the row stands for every sweep between the two).
    """

    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint("call_id", "model_version", "made_at", "purpose"),
        Index(None, "call_id", "made_at"),
        Index(None, "made_at"),
    )
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("calls.id", ondelete="CASCADE"))
    made_at: Mapped[datetime]
    model_version: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(12), default="served")  # served | backtest
    horizon_s: Mapped[int] = mapped_column(Integer)
    p10_arrival: Mapped[datetime | None]
    p50_arrival: Mapped[datetime | None]
    p90_arrival: Mapped[datetime | None]
    # The model's own interval before the served calibration (eta.model.served_calibration) widened or
    # narrowed it, and the bucket that chose the adjustment: what the next re-calibration is fitted on.
    model_p10_arrival: Mapped[datetime | None]
    model_p90_arrival: Mapped[datetime | None]
    interval_bucket: Mapped[str | None] = mapped_column(String(24))
    # The served arrival distribution: quantiles 0.05 … 0.95 as whole-second offsets from the P50,
    # comma-separated (eta.model.distribution.encode).
    arrival_quantiles: Mapped[str | None] = mapped_column(String(240))
    operator_estimate: Mapped[datetime | None]
    platform: Mapped[str | None] = mapped_column(String(32))
    platform_probability: Mapped[float | None] = mapped_column(Float)
    platform_announced: Mapped[bool | None] = mapped_column(Boolean)
    platform_probs: Mapped[dict[str, Any] | None]
    explanation: Mapped[dict[str, Any] | None]
    confirmed_at: Mapped[datetime | None]  # the latest re-prediction that found it unchanged


class PredictionSweep(Base):
    """One sweep of the serving window for a mode: every call in it was predicted at ``swept_at``.

    With predictions written on change, this is what says "the prediction in force is current as of the
    latest sweep", and what operator accuracy and the served calibration sample at (one sample per call
    and sweep, as if every sweep had written a row)."""

    __tablename__ = "prediction_sweeps"
    __table_args__ = (Index(None, "mode", "swept_at"),)
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    mode: Mapped[str] = mapped_column(String(8))
    swept_at: Mapped[datetime]
    n_calls: Mapped[int] = mapped_column(Integer)  # predicted
    n_written: Mapped[int] = mapped_column(Integer)  # of which changed (new rows)


class AccuracyDaily(Base):
    """Served predictions rolled up before their retention removes them: per UTC day of the samples
    (eta.read.predictions.samples), mode, service date, station, line and horizon band, the sums the
    operator accuracy is computed from. A day rolled up with nothing to count keeps one row with n = 0."""

    __tablename__ = "accuracy_daily"
    __table_args__ = (
        UniqueConstraint("day", "mode", "service_date", "location", "line", "horizon"),
        Index(None, "day"),
    )
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    mode: Mapped[str] = mapped_column(String(8))
    service_date: Mapped[date | None] = mapped_column(Date)
    location: Mapped[str] = mapped_column(String(128))
    line: Mapped[str] = mapped_column(String(32))
    horizon: Mapped[str] = mapped_column(String(12))
    n: Mapped[int] = mapped_column(Integer)
    model_abs_s: Mapped[float] = mapped_column(Float)  # sum of |P50 − actual|
    model_err_s: Mapped[float] = mapped_column(Float)  # sum of P50 − actual
    timetable_abs_s: Mapped[float] = mapped_column(Float)
    n_operator: Mapped[int] = mapped_column(Integer)
    operator_abs_s: Mapped[float] = mapped_column(Float)
    n_covered: Mapped[int] = mapped_column(Integer)  # actual inside P10–P90
    n_platform: Mapped[int] = mapped_column(Integer)
    n_platform_hit: Mapped[int] = mapped_column(Integer)


class Model(Base):
    """The model registry; the champion is a row (role), not a global."""

    __tablename__ = "models"
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    mode: Mapped[str] = mapped_column(String(8))
    task: Mapped[str] = mapped_column(String(24))  # arrival | platform | platform_unpublished
    role: Mapped[str] = mapped_column(String(12))  # champion | challenger | retired
    created_at: Mapped[datetime]
    train_from: Mapped[datetime]
    train_until: Mapped[datetime]
    n_train: Mapped[int] = mapped_column(Integer)
    features: Mapped[list[str]]
    params: Mapped[dict[str, Any]]
    metrics: Mapped[dict[str, Any]]
    path: Mapped[str] = mapped_column(String(500))
    file_hash: Mapped[str] = mapped_column(String(64))
    promoted_at: Mapped[datetime | None]


class ServedCalibration(Base):
    """An interval re-calibration of an arrival model, fitted on its own served predictions and their
    actual arrivals (eta.model.served_calibration); the newest one computed by t applies at t."""

    __tablename__ = "served_calibrations"
    __table_args__ = (Index(None, "model_version", "computed_at"),)
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    model_version: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime]
    arrivals_from: Mapped[datetime]  # scheduled arrivals of the predictions fitted on, from …
    arrivals_until: Mapped[datetime]  # … until
    n: Mapped[int] = mapped_column(Integer)
    coverage_before: Mapped[float] = mapped_column(Float)  # of the model's own P10–P90 on those rows
    calibration: Mapped[dict[str, Any]]


class CollectorState(Base):
    """One row per collector: whether it is primed, when it last succeeded, its circuit breaker."""

    __tablename__ = "collector_state"
    collector: Mapped[str] = mapped_column(String(64), primary_key=True)
    primed_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error_at: Mapped[datetime | None]
    last_error_kind: Mapped[str | None] = mapped_column(String(32))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    circuit_open_until: Mapped[datetime | None]
    data_until: Mapped[datetime | None]  # newest observed_at written by this collector (freshness)


class CollectorRun(Base):
    """One collection attempt: timing, rows written, and the error kind if it failed."""

    __tablename__ = "collector_runs"
    __table_args__ = (Index(None, "collector", "started_at"),)
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    collector: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    ok: Mapped[bool] = mapped_column(Boolean)
    rows_written: Mapped[int] = mapped_column(Integer, default=0)
    rows_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    error_kind: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(String(500))


class CallRef(Base):
    """A source's own id for a call (an IRIS stop id, a GTFS trip id + stop sequence) → eta's call id."""

    __tablename__ = "call_refs"
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    call_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("calls.id", ondelete="CASCADE"), index=True)


# --- API: operator keys, alert subscriptions and their webhook deliveries (migration 0004) ---


class ApiKey(Base):
    """An operator API key; only its SHA-256 is stored (the key itself is shown once, at creation)."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to recognise a key in lists
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class DashboardSession(Base):
    """A dashboard login: the cookie holds a random id, only its SHA-256 is stored; it ends at
    ``expires_at``, at logout (``revoked_at``), or when its API key is revoked."""

    __tablename__ = "dashboard_sessions"
    __table_args__ = (Index(None, "expires_at"),)
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    api_key_id: Mapped[int] = mapped_column(AutoId, ForeignKey("api_keys.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Subscription(Base):
    """An opt-in alert on one call: what to watch, where to send it, and what was last notified.

    Holds no personal data beyond the endpoint (a webhook URL, or a browser's Web Push subscription);
    the deletion token is stored hashed.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (Index(None, "call_id"), Index(None, "expires_at"), Index(None, "target_host"))
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    call_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("calls.id", ondelete="CASCADE"))
    # sealed (eta.alerts.sealed: "enc1:" + Fernet token): the webhook URL or the Web Push endpoint
    target_url: Mapped[str] = mapped_column(String(4000))
    target_host: Mapped[str | None] = mapped_column(String(253))  # in clear: subscriptions per host
    secret: Mapped[str] = mapped_column(String(200))  # sealed whsec_…
    channel: Mapped[str] = mapped_column(String(16), server_default="webhook")  # webhook | web_push
    push_p256dh: Mapped[str | None] = mapped_column(String(300))  # sealed: the browser's public key
    push_auth: Mapped[str | None] = mapped_column(String(200))  # sealed: the browser's auth secret
    watch_platform: Mapped[bool] = mapped_column(Boolean)
    # also eta's predicted platform changing before the operator announces one (opt-in)
    watch_predicted_platform: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    arrival_threshold_s: Mapped[int | None] = mapped_column(Integer)
    travel_time_s: Mapped[int | None] = mapped_column(Integer)
    consent_at: Mapped[datetime]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(100))
    last_prediction_at: Mapped[datetime | None]  # newest prediction made_at already examined
    notified_arrival: Mapped[datetime | None]
    notified_platform: Mapped[str | None] = mapped_column(String(32))
    arrival_streak: Mapped[int] = mapped_column(Integer, default=0)
    platform_candidate: Mapped[str | None] = mapped_column(String(32))
    platform_streak: Mapped[int] = mapped_column(Integer, default=0)
    leave_notified_at: Mapped[datetime | None]  # the time to leave last sent
    leave_streak: Mapped[int] = mapped_column(Integer, default=0)


class NotificationDelivery(Base):
    """One webhook message for a subscription and its delivery attempts (an outbox)."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (Index(None, "state", "next_attempt_at"), Index(None, "subscription_id"))
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("subscriptions.id", ondelete="CASCADE")
    )
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(12))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))


class Share(Base):
    """A read-only link to one call's arrival, for whoever picks the traveller up.

    No personal data: the call, two hashed secrets (the link's key, and the token that revokes it) and
    times. It stops working after the arrival and is purged at ``expires_at`` at the latest.
    """

    __tablename__ = "shares"
    __table_args__ = (Index(None, "call_id"), Index(None, "expires_at"))
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    revoke_hash: Mapped[str] = mapped_column(String(64))
    call_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("calls.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class RawPayload(Base):
    """Index of the raw payload archive: every payload a collector received, archived before parsing.

    ``path`` is relative to ``data_dir/raw`` for fetched payloads, or names the recorded file a replay read
    (``<archive>:<member>``). A parser fix can reprocess history from these rows.
    """

    __tablename__ = "raw_payloads"
    __table_args__ = (UniqueConstraint("source", "path"), Index(None, "source", "fetched_at"))
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]]
    fetched_at: Mapped[datetime]
    path: Mapped[str] = mapped_column(String(500))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))  # parsed | quarantined


class QuarantinedPayload(Base):
    """A payload that could not be parsed: it stays archived; this row says why."""

    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("source", "path"),)
    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(500))
    quarantined_at: Mapped[datetime]
    error_kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(500))
    resolved_at: Mapped[datetime | None]  # set when a reprocess parsed it


metadata = Base.metadata
TABLES = (
    "locations",
    "vehicles",
    "services",
    "calls",
    "observations",
    "weather",
    "predictions",
    "prediction_sweeps",
    "accuracy_daily",
    "models",
    "collector_state",
    "collector_runs",
    "call_refs",
    "api_keys",
    "subscriptions",
    "notification_deliveries",
    "raw_payloads",
    "quarantine",
)
