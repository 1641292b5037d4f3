"""The one place eta reads its configuration from: environment variables prefixed ``ETA_``.

Nested sections are set with a double underscore, e.g. ``ETA_API__RATE_LIMIT_PER_MINUTE=120``.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_REPO_DATA_DIR = Path(__file__).resolve().parent.parent / "data"


class HttpSettings(BaseModel):
    """How every collector talks HTTP: timeouts, retries with exponential backoff and jitter, size cap."""

    timeout_s: float = Field(default=20.0, gt=0, description="Connect and read timeout of one request.")
    attempts: int = Field(default=4, ge=1, description="Tries per request before the fetch counts as failed.")
    backoff_base_s: float = Field(
        default=1.0, ge=0, description="First retry delay; doubles on each retry, with full jitter."
    )
    backoff_max_s: float = Field(default=60.0, ge=0, description="Longest delay between two retries.")
    max_retry_after_s: float = Field(
        default=300.0,
        ge=0,
        description="A 429/503 `Retry-After` up to this long is waited for; a longer one opens the circuit.",
    )
    max_payload_bytes: int = Field(
        default=200_000_000,
        ge=1_000,
        description="Payloads larger than this are refused (error kind too_large).",
    )
    user_agent: str = Field(
        default="eta-collector/0.1 (+https://github.com/eta)",
        description="User-Agent header of every request.",
    )


class CollectorsSettings(BaseModel):
    """Which collectors run on the schedule and the shared runner's limits. Every other key is a named
    collector instance: ``ETA_COLLECTORS__<NAME>__KIND`` and the kind's own settings beside it
    (``ETA_COLLECTORS__<NAME>__<SETTING>``, or the whole section as JSON in ``ETA_COLLECTORS__<NAME>``);
    underscores in the name become hyphens. The kinds and their settings live beside their code in
    ``eta/collectors/sources/<provider>/`` (``eta collect --list``, docs/configuration.md)."""

    model_config = ConfigDict(extra="allow")

    enabled: list[str] = Field(
        default_factory=list,
        description="Collector instances run by `eta collect --forever`, as JSON, "
        'e.g. ["db-iris", "gtfs-nl"].',
    )
    metrics_port: int | None = Field(
        default=None, description="Port for Prometheus metrics of `eta collect --forever` (unset: none)."
    )
    circuit_failures: int = Field(
        default=5, ge=1, description="Consecutive failed runs after which a collector's circuit opens."
    )
    circuit_open_s: int = Field(default=600, ge=0, description="How long an open circuit skips runs.")
    recover_days: int = Field(
        default=2, ge=0, description="Days of archived payloads checked at start for ones never written."
    )
    recover_max_payloads: int = Field(
        default=500,
        ge=1,
        description="Archived payloads never written (a crash, a store outage) read back and written per "
        "run; the rest come with the next runs.",
    )
    max_early_s: int = Field(
        default=7_200,
        ge=0,
        description="A reported or estimated arrival or departure more than this before its schedule is "
        "implausible: the row is rejected and counted, the rest of the batch kept.",
    )
    max_late_s: int = Field(
        default=172_800,
        ge=0,
        description="A reported or estimated arrival or departure more than this after its schedule (or, "
        "without one, after the report) is implausible: rejected and counted likewise.",
    )
    pending_max_age_s: int = Field(
        default=86_400,
        ge=0,
        description="How long a report whose call is not yet known (plan not seen) is kept waiting for it.",
    )
    http: HttpSettings = Field(default_factory=HttpSettings, description="HTTP.")

    @model_validator(mode="after")
    def _mask_sections(self) -> CollectorsSettings:
        """An instance section stays raw until the registry validates it by its kind, so this module
        cannot tell its key from its URL: every value but the kind is kept as a SecretStr, masked in repr,
        str, JSON dumps and logs; :meth:`sections` gives them back as given."""
        if self.__pydantic_extra__:
            self.__pydantic_extra__ = {
                name: _masked(section) for name, section in self.__pydantic_extra__.items()
            }
        return self

    def sections(self) -> dict[str, object]:
        """The instance sections as given (validated by their kind in :mod:`eta.collectors.registry`)."""
        return {name: _revealed(section) for name, section in (self.model_extra or {}).items()}


def _masked(value: object) -> object:
    """Strings as SecretStr, in dicts and lists too; a dict's ``kind`` stays readable (it says which)."""
    if isinstance(value, str):
        return SecretStr(value)
    if isinstance(value, dict):
        return {k: v if k == "kind" and isinstance(v, str) else _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _revealed(value: object) -> object:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _revealed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_revealed(item) for item in value]
    return value


class DatabaseSettings(BaseModel):
    """How eta's services talk to the store: timeouts, so that a database that stops answering is a 503 and
    a failed collector run, never a hang."""

    connect_timeout_s: int = Field(
        default=5, ge=1, description="Time to open a connection to PostgreSQL (TCP and login)."
    )
    statement_timeout_s: int = Field(
        default=60,
        ge=0,
        description="Longest statement of the services (API, collectors, scheduler) on PostgreSQL; 0: none. "
        "A statement still waiting this long plus `connect_timeout_s` has its connection closed by eta.",
    )
    lock_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="How long a service waits for a SQLite write lock: the API then answers 503, a collector "
        "run fails and its payloads are written by the next one.",
    )
    pool_timeout_s: float = Field(
        default=5.0, gt=0, description="How long a request waits for a free connection of the pool."
    )
    probe_interval_s: float = Field(
        default=1.0, gt=0, description="How often the API checks that the store answers (`SELECT 1`)."
    )
    probe_timeout_s: float = Field(
        default=2.0,
        gt=0,
        description="A store check that takes longer marks the store unavailable: requests waiting on it "
        "and new ones are answered 503 and /readyz turns 503 until a check succeeds again.",
    )
    retry_after_s: int = Field(
        default=10, ge=1, description="`Retry-After` of a 503 answered while the store is unavailable."
    )


class ApiSettings(BaseModel):
    """The HTTP service (`eta serve`): traveller and operator API, dashboard, GTFS-Realtime feed."""

    host: str = Field(default="127.0.0.1", description="Address `eta serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `eta serve` listens on.")
    workers: int = Field(
        default=1, ge=1, description="uvicorn worker processes (each keeps its own rate-limit buckets)."
    )
    rate_limit_per_minute: int = Field(
        default=120,
        ge=1,
        description=(
            "Traveller and GTFS-RT feed requests allowed per client IP and minute (token bucket, per "
            "process); /metrics scrapes have buckets of their own at the same rate and burst."
        ),
    )
    rate_limit_burst: int = Field(
        default=30, ge=1, description="Requests a client IP may make at once before throttling (as above)."
    )
    trust_forwarded_for: bool = Field(
        default=False,
        description=(
            "Take the client IP (and scheme) from X-Forwarded-For (and -Proto): only behind a reverse proxy "
            "that sets them."
        ),
    )
    trusted_proxies: int | list[str] = Field(
        default=1,
        description=(
            "With trust_forwarded_for: how many proxies are in front of eta, or their networks as JSON "
            '(e.g. ["10.0.0.0/8"]); the client is the right-most X-Forwarded-For address that is not one.'
        ),
    )
    session_ttl_s: int = Field(
        default=8 * 3600, ge=60, description="How long a dashboard login lasts (a server-side session)."
    )
    secure_cookies: bool | None = Field(
        default=None,
        description=(
            "Mark the dashboard's cookie Secure: always (true), never (false), or when the request came over "
            "https, as a trusted proxy says (unset)."
        ),
    )
    login_failures_per_hour: int = Field(
        default=10, ge=1, description="Failed dashboard logins allowed per client IP and hour (token bucket)."
    )
    login_failures_burst: int = Field(
        default=5, ge=1, description="Failed dashboard logins a client IP may make before waiting."
    )
    max_header_bytes: int = Field(
        default=16_384, ge=1024, description="Largest request head (target and header fields); larger: 431."
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Time a client has to send a request's head, from its first byte or the connection; 408.",
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="Time a client has to send a request's body after its head; 408."
    )
    max_concurrency: int = Field(
        default=256,
        ge=1,
        description="Connections or requests in flight per worker process before `eta serve` answers 503.",
    )
    max_body_bytes: int = Field(
        default=16_384, ge=256, description="Largest request body accepted; larger ones get 413."
    )
    max_days_back: int = Field(
        default=7, ge=0, description="Oldest service date a traveller may ask for, in days before today."
    )
    max_days_ahead: int = Field(
        default=60, ge=0, description="Latest service date a traveller may ask for, in days after today."
    )
    board_default_window_s: int = Field(
        default=7_200, ge=60, description="Time window of an arrivals board when none is given."
    )
    board_max_window_s: int = Field(
        default=43_200, ge=60, description="Longest time window an arrivals board may ask for."
    )
    board_max_rows: int = Field(default=200, ge=1, description="Most arrivals one board returns.")
    cache_ttl_s: float = Field(
        default=5.0,
        ge=0,
        description=(
            "Seconds an arrivals-board answer is reused for identical requests; trip answers are reused "
            "until the store changes (0 = no answer cache for either)."
        ),
    )
    store_poll_s: float = Field(
        default=1.0,
        gt=0,
        description=(
            "How often the service checks the store for new predictions and status reports; "
            "trip answers rendered before them are rebuilt."
        ),
    )
    timetable_ttl_s: float = Field(
        default=60.0,
        gt=0,
        description=(
            "Seconds a trip's timetable part (its service, calls and places) is kept before it is read "
            "again: a stop or leg added to the timetable shows within this."
        ),
    )
    refresh_interval_s: float = Field(
        default=30.0,
        gt=0,
        description="How often the service re-checks the store, champion models and collectors (readiness).",
    )
    ready_max_sweep_age_s: int = Field(
        default=1_800,
        ge=0,
        description="Where collectors are enabled, /readyz is 503 once a mode's latest prediction sweep is "
        "older than this (the predictions stopped); 0: not checked.",
    )
    accuracy_stale_s: float = Field(
        default=300.0,
        ge=0,
        description=(
            "Operator accuracy and dashboard: after the store changed, the precomputed join of served "
            "predictions with actual arrivals is still answered from for this long while a fresh one is "
            "computed in the background (0: every change is computed before answering)."
        ),
    )
    feed_window_back_s: int = Field(
        default=3_600, ge=0, description="GTFS-RT feed: include calls scheduled up to this long ago."
    )
    feed_window_ahead_s: int = Field(
        default=6 * 3_600, ge=0, description="GTFS-RT feed: include calls scheduled up to this far ahead."
    )
    replay_from: datetime | None = Field(
        default=None,
        description=(
            "Replay recorded data: the service's clock starts at this time (ISO 8601 with offset) "
            "and runs at real speed. Unset: the real clock."
        ),
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: int | list[str]) -> int | list[str]:
        if isinstance(value, int):
            if value < 0:
                raise ValueError("trusted_proxies is a number of proxies (0 or more) or a list of networks")
            return value
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not a network (e.g. 10.0.0.0/8)") from None
        return value


class AlertsSettings(BaseModel):
    """Opt-in alerts: subscriptions to one trip, change detection, signed webhooks."""

    allow_private_targets: bool = Field(
        default=False,
        description="Accept webhook URLs on any address and port, private and loopback too (tests only).",
    )
    allow_plain_http: bool = Field(
        default=False, description="Accept http:// webhook URLs (default: https only)."
    )
    allowed_target_networks: list[str] = Field(
        default_factory=list,
        description=(
            "Networks (CIDR, as JSON) that webhook and Web Push targets may be in although they are not "
            "public, e.g. an in-house webhook relay."
        ),
    )
    allowed_ports: list[int] = Field(
        default_factory=list,
        description="Ports targets may use, as JSON (empty: 443, and 80 where plain http is allowed).",
    )
    webhook_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description=(
            "Total time one delivery may take: look-up, connect, sending and the answer's head "
            "(webhooks and Web Push)."
        ),
    )
    max_response_bytes: int = Field(
        default=4_096, ge=0, description="Most bytes of an endpoint's answer read; the rest is dropped."
    )
    delivery_concurrency: int = Field(
        default=8, ge=1, description="Deliveries in flight at once (threads of the alerts cycle)."
    )
    host_concurrency: int = Field(
        default=2,
        ge=1,
        description="Deliveries in flight at once to one host: a slow endpoint holds up no more than this.",
    )
    max_attempts: int = Field(
        default=6, ge=1, description="Delivery attempts per notification before it is given up."
    )
    backoff_base_s: float = Field(
        default=10.0, gt=0, description="Delay before the first retry; doubles on each further retry."
    )
    backoff_max_s: float = Field(default=3_600.0, gt=0, description="Longest delay between two retries.")
    confirm_updates: int = Field(
        default=2,
        ge=1,
        description="Consecutive prediction updates that must agree before a change is notified.",
    )
    default_arrival_threshold_s: int = Field(
        default=300, ge=60, description="Arrival change that is notified when a subscription sets none."
    )
    leave_notice_lead_s: int = Field(
        default=600, ge=0, description="How long before the time to leave the notice is sent."
    )
    leave_correction_threshold_s: int = Field(
        default=180,
        ge=60,
        description="A time to leave that moves by at least this much after its notice sends a correction.",
    )
    keep_after_arrival_s: int = Field(
        default=1_800,
        ge=0,
        description="A subscription expires this long after its trip arrives, then is purged.",
    )
    max_per_trip: int = Field(
        default=200,
        ge=1,
        description="Most subscriptions one trip may have (each change of the trip is sent to every one).",
    )
    max_per_host: int = Field(
        default=20,
        ge=1,
        description=(
            "Most active subscriptions whose webhook (or Web Push endpoint outside the push services) "
            "is on one host, over all trips: eta cannot be made to flood a third party."
        ),
    )
    web_push_services: list[str] = Field(
        default_factory=lambda: [
            "fcm.googleapis.com",
            "*.push.services.mozilla.com",
            "*.push.apple.com",
            "*.notify.windows.com",
        ],
        description=(
            'Hosts Web Push endpoints may be on (the browsers\' push services; "*." any subdomain), as '
            'JSON; ["*"]: any host, counted against max_per_host.'
        ),
    )
    create_per_hour: int = Field(
        default=20, ge=1, description="Subscriptions one client IP may ask for per hour (token bucket)."
    )
    create_burst: int = Field(
        default=5, ge=1, description="Subscriptions one client IP may ask for at once before throttling."
    )
    secrets_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key(s) encrypting webhook URLs and secrets and Web Push endpoints and keys at rest (Fernet, "
            "`eta alerts secrets-key` makes one; several, comma-separated, rotate: the first encrypts). "
            "Unset: a key made once in the data directory (set it where several hosts share the store)."
        ),
    )
    cycle_interval_s: float = Field(
        default=30.0,
        ge=0,
        description="How often the API process checks subscriptions and sends webhooks (0 = not in the API).",
    )
    vapid_private_key: SecretStr | None = Field(
        default=None,
        description=(
            "Web Push: the VAPID private key (base64url, raw P-256; `eta alerts web-push-key` makes one). "
            "Unset: no Web Push subscriptions, webhooks only."
        ),
    )
    vapid_subject: str | None = Field(
        default=None,
        pattern=r"^(mailto:|https://)",
        description="Web Push: how push services reach the operator of this server (mailto: or https: URL).",
    )
    web_push_ttl_s: int = Field(
        default=3_600, ge=0, description="Web Push: how long a push service keeps an undelivered message."
    )

    @field_validator("allowed_target_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not a network (e.g. 10.20.0.0/16)") from None
        return value


class ModelSettings(BaseModel):
    """Training, calibration, the registry and the retraining job (eta/model/)."""

    models_dir: Path | None = Field(
        default=None, description="Directory of model files. Default: `models/` in the data directory."
    )
    n_rounds: int = Field(default=150, ge=1, description="Boosting rounds of the xgboost models.")
    learning_rate: float = Field(default=0.15, gt=0, le=1, description="xgboost learning rate (eta).")
    max_depth: int = Field(default=9, ge=1, le=16, description="Depth of each xgboost tree.")
    min_child_weight: float = Field(
        default=50.0, ge=0, description="Fewest training rows (hessian weight) in an xgboost leaf."
    )
    median_parallel_trees: int = Field(
        default=3,
        ge=1,
        le=16,
        description="Trees the arrival P50 booster grows per round, each on its own sample of rows, averaged "
        "(a steadier P50 where outcomes pile up on whole minutes; costs as many trees).",
    )
    median_subsample: float = Field(
        default=0.33, gt=0, le=1, description="Share of the training rows each of those trees is grown on."
    )
    median_boosters: int = Field(
        default=2,
        ge=1,
        le=8,
        description="Arrival P50 boosters, each fitted on its own disjoint share of the training rows with "
        "its own seed; the P50 is their mean (bagging: steadier than one booster on all the rows, "
        "docs/models.md, trains backtest). Fewer where the rows fall short of `median_share_min_rows` each.",
    )
    median_share_min_rows: int = Field(
        default=250_000,
        ge=1,
        description="Fewest training rows per arrival P50 booster: a small training window gets fewer "
        "boosters (one at least) rather than several on too few rows each.",
    )
    max_train_rows: int = Field(
        default=1_000_000,
        ge=1000,
        description="Training rows (call × horizon) sampled at most per arrival model; its P50 boosters "
        "share them out.",
    )
    interval_train_rows: int = Field(
        default=500_000,
        ge=1000,
        description="Of those, rows the arrival P10/P90 booster learns from (its bounds are calibrated "
        "afterwards, so fewer rows cost little accuracy and save as much boosting time).",
    )
    platform_train_rows: int = Field(
        default=125_000,
        ge=1000,
        description="Training queries (call × horizon) sampled at most per platform model.",
    )
    calibration_fraction: float = Field(
        default=0.15,
        gt=0,
        lt=0.5,
        description="Most recent share of the training window held out to calibrate the P10–P90 interval.",
    )
    n_threads: int = Field(default=0, ge=0, description="xgboost threads (0: all cores).")
    sweep_every_s: int = Field(
        default=900,
        ge=60,
        description="Besides re-predicting what a collector cycle brought news of, predict every call in the "
        "serving window this often (by the cycles' clock), so predictions follow the shrinking horizon.",
    )
    serve_ahead_hours: int = Field(
        default=6, ge=1, description="Served predictions cover calls scheduled to arrive this far ahead."
    )
    serve_behind_hours: int = Field(
        default=6,
        ge=0,
        description="…and calls scheduled this long ago that have not arrived yet (late services).",
    )
    served_calibration: bool = Field(
        default=True,
        description="Re-calibrate the served P10–P90 interval on the champion's own served predictions and "
        "their actual arrivals (what training's calibration window cannot see: serving's partial picture).",
    )
    served_calibration_every_s: int = Field(
        default=1800, ge=60, description="How often (by the collector cycles' clock) to re-calibrate."
    )
    served_calibration_window_s: int = Field(
        default=604_800,
        ge=3600,
        description="The re-calibration is fitted on predictions of calls scheduled to arrive in this span "
        "(before the settle time; a week, chosen on a validation split: docs/models.md).",
    )
    served_calibration_settle_s: int = Field(
        default=3600,
        ge=0,
        description="Calls scheduled to arrive this recently are left out: their late arrivals are still "
        "unknown, and fitting on the early ones only would narrow the interval.",
    )
    served_calibration_min_calls: int = Field(
        default=300, ge=1, description="Fewest arrived calls a re-calibration is fitted on."
    )
    served_calibration_max_rows: int = Field(
        default=300_000,
        ge=1000,
        description="Served predictions read at most per re-calibration (whole calls, drawn evenly over the "
        "window by a hash of their id).",
    )
    retrain_window_days: int = Field(
        default=56, ge=1, description="The retraining job trains on this many days before its test window."
    )
    retrain_test_days: int = Field(
        default=7, ge=1, description="Recent days on which the retraining job compares the two models."
    )
    retrain_every_hours: int = Field(default=24, ge=1, description="How often the retraining job runs.")
    min_train_rows: int = Field(
        default=20_000, ge=1, description="A model trained on fewer rows than this is never promoted."
    )
    promotion_min_gain: float = Field(
        default=0.01,
        ge=0,
        description=(
            "Relative improvement a challenger needs over the champion on the recent window to be "
            "promoted (arrival: MAE of the P50; platform: log loss; 0.01 = 1 %)."
        ),
    )


class PlatformSettings(BaseModel):
    """Stations that announce platforms only shortly before arrival (eta/features/publication.py), and
    the "may change" flag of announced platforms."""

    unpublished_stations: list[str] = Field(
        default_factory=list,
        description="Stations (location codes) whose operator announces the platform only shortly before "
        "arrival; `CODE:MINUTES` gives a station its own lead, `*` means every station. There eta predicts "
        "the platform without the planned one until the announcement (the unpublished platform model).",
    )
    announce_lead_min: int = Field(
        default=20,
        ge=1,
        le=240,
        description="Minutes before the scheduled arrival at which such a station announces the platform.",
    )
    change_flag_probability: float = Field(
        default=0.15,
        gt=0,
        le=1,
        description='Where the platform is announced in advance: the API flags it as "may change" when the '
        "platform model gives a change away from it at least this probability.",
    )


class StoreSettings(BaseModel):
    """What the store keeps and for how long (eta/store/retention.py, eta/api/rollup.py): served predictions
    are written when they change materially, and every table that grows has a retention."""

    write_on_change: bool = Field(
        default=True,
        description="Write a served prediction only when it changes materially from the one in force "
        "(else only confirm the one in force); false writes a row for every call at every re-prediction.",
    )
    change_p50_s: int = Field(
        default=60, ge=0, description="A served P50 arrival that moved at least this much is a change."
    )
    change_interval_s: int = Field(
        default=120, ge=0, description="A served P10 or P90 bound that moved at least this much is a change."
    )
    change_platform_probability: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="A platform whose predicted probability moved at least this much is a change (a new "
        "top platform or a newly announced one always is).",
    )
    prune_every_hours: int = Field(
        default=1, ge=1, description="How often `eta collect --forever` applies the retentions below."
    )
    raw_keep_days: int = Field(
        default=30,
        ge=1,
        description="Archived raw payloads (gzip files, what `eta collect --reprocess` replays) are deleted "
        "after this many days, with their index and quarantine rows (keep it above recover_days).",
    )
    predictions_keep_days: int = Field(
        default=14,
        ge=1,
        description="Served predictions (and the sweep log, old served calibrations) older than this are "
        "rolled up into daily accuracy aggregates, which the operator API and the dashboard keep serving, "
        "then deleted.",
    )
    collector_runs_keep_days: int = Field(
        default=30, ge=1, description="Collector runs older than this are deleted."
    )
    deliveries_keep_days: int = Field(
        default=14,
        ge=1,
        description="Alert deliveries delivered or failed this long ago are deleted (pending ones are kept).",
    )
    accuracy_keep_days: int = Field(
        default=730, ge=1, description="Daily accuracy aggregates are kept this many days."
    )
    models_keep_days: int = Field(
        default=30,
        ge=1,
        description="Models (registry rows and files) registered and last promoted longer ago than this are "
        "deleted, unless champion or one of the latest earlier champions kept for a rollback.",
    )
    models_keep_champions: int = Field(
        default=3,
        ge=1,
        description="Earlier champions of each mode and task kept whatever their age, for `eta rollback` and "
        "for serving when the champion's files fail to load.",
    )
    history_keep_days: int = Field(
        default=400,
        ge=1,
        description="Services older than this (by service date) are deleted with their calls, reports and "
        "predictions, and weather with them: the training data (keep it above the retraining window).",
    )


class Settings(BaseSettings):
    """eta's settings; every field has a default and a description."""

    model_config = SettingsConfigDict(
        env_prefix="ETA_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    data_dir: Path = Field(
        default=Path("var"),
        description="Directory for the embedded database, model files, raw payload archive and reports.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the store, e.g. postgresql+psycopg://user@host/db. "
            "Default: a SQLite file `eta.sqlite3` in the data directory (WAL mode)."
        ),
    )
    reference_dir: Path = Field(
        default=_REPO_DATA_DIR,
        description="Directory with the bundled reference and sample data (stations, airports, DB runs).",
    )
    db_batch_size: int = Field(
        default=20_000, ge=100, description="Rows per batch when bulk-writing to the store."
    )
    log_level: str = Field(default="INFO", description="Log level (DEBUG, INFO, WARNING, ERROR).")
    log_json: bool = Field(default=False, description="Write logs as one JSON object per line.")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings, description="Database.")
    collectors: CollectorsSettings = Field(default_factory=CollectorsSettings, description="Collectors.")
    api: ApiSettings = Field(default_factory=ApiSettings, description="HTTP service.")
    alerts: AlertsSettings = Field(default_factory=AlertsSettings, description="Opt-in alerts.")
    model: ModelSettings = Field(default_factory=ModelSettings, description="Models.")
    platforms: PlatformSettings = Field(default_factory=PlatformSettings, description="Platforms.")
    store: StoreSettings = Field(default_factory=StoreSettings, description="Storage and retention.")

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or the default SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'eta.sqlite3').resolve()}"

    @property
    def resolved_models_dir(self) -> Path:
        """Where model files live: ``model.models_dir`` or ``models/`` under ``data_dir``."""
        return self.model.models_dir or self.data_dir / "models"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process (tests call ``get_settings.cache_clear()`` after changing env)."""
    return Settings()


def settings_table() -> str:
    """Markdown table of every setting, for docs/configuration.md (``eta config --markdown``)."""
    lines = ["| variable | default | description |", "|---|---|---|"]
    lines += section_rows(Settings, "ETA_")
    return "\n".join(lines)


def _plain(value: object) -> object:
    return value.model_dump() if isinstance(value, BaseModel) else value


def section_rows(model: type[BaseModel], prefix: str) -> list[str]:
    """Table rows (variable, default, description) of every field of ``model``, nested ones flattened."""
    rows: list[str] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += section_rows(annotation, f"{prefix}{name.upper()}__")
            continue
        default = field.get_default(call_default_factory=True)
        if isinstance(default, Path) and default == _REPO_DATA_DIR:
            shown = "`data/` of the checkout"
        elif isinstance(default, list):
            shown = f"`{json.dumps([_plain(v) for v in default])}`"
        else:
            shown = f"`{default}`" if default not in (None, "") else "(unset)"
        rows.append(f"| `{prefix}{name.upper()}` | {shown} | {field.description or ''} |")
    return rows
