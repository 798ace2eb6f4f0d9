"""The `headwater` command: serve, credentials, token, worker, migrate, and the user commands (cli_client)."""

from __future__ import annotations

import json
import os
import signal
import stat
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

from headwater.cli_client import CliApp, enable_debug, register
from headwater.observability.log_setup import apply as apply_logging
from headwater.observability.log_setup import configure_logging
from headwater.settings import Settings

if TYPE_CHECKING:
    from headwater.identity import TokenIssuer
    from headwater.service import Services
    from headwater.store import Store

app = CliApp(help="Headwater: a self-hosted Flow Service API for database sources.", no_args_is_help=True)
credentials = typer.Typer(help="Manage API credentials (client id and secret) for an org.", no_args_is_help=True)
app.add_typer(credentials, name="credentials")
datasets = typer.Typer(help="Inspect datasets (Iceberg tables).", no_args_is_help=True)
app.add_typer(datasets, name="datasets")
register(app, datasets=datasets)


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", envvar="HEADWATER_DEBUG", help="Show tracebacks of failures"),
) -> None:
    """Headwater: a self-hosted Flow Service API for database sources."""
    enable_debug(debug)


def _private_state(settings: Settings) -> None:
    """Make the state this process creates readable by its own user only.

    The umask covers every file created from here on (SQLite database and its WAL, key file, local
    warehouse), including by uvicorn's worker processes, which inherit it. The data directory is
    0700 as well, which also shields files an older version created 0644; an existing directory
    is tightened only if this user owns it.
    """
    os.umask(0o077)
    data = settings.data_dir
    try:
        data.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        info = data.stat()
        if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
            data.chmod(0o700)


def _services() -> Services:
    # Imported here: the service layer (Iceberg, Arrow, SQLAlchemy) takes seconds to import, and the
    # user commands, which only speak HTTP, never need it.
    from headwater.service import Services

    settings = Settings()
    _private_state(settings)
    svc = Services(settings)
    svc.migrate()
    return svc


def _prepare_shared_state(settings: Settings) -> None:
    """What the web workers share, made once by their parent so they never race to make it: the key
    file and the schema. The settings the workers read are checked here too, so a bad one stops
    `serve` with one line instead of failing each worker as it starts.

    Not the service layer: the parent serves nothing, and importing it (Iceberg, Arrow, the
    connectors) delayed every worker's start by the seconds it takes.
    """
    from headwater.connectors._pg_conn import scrub_environment
    from headwater.connectors._source_policy import SourcePolicy
    from headwater.crypto import load_master_key

    load_master_key(settings)  # `serve` made the data directory, private, just before
    SourcePolicy.from_settings(settings)
    # As the PostgreSQL connector does in every process that has it: the metadata database is reached
    # with its URL's own credentials, never the server account's PG* settings (the workers inherit
    # the scrubbed environment).
    scrub_environment()
    _migrated_store(settings)  # after the checks: importing Alembic logs lines of its own


def _migrated_store(settings: Settings) -> Store:
    from headwater.store import Store

    store = Store.from_url(settings.resolved_database_url)
    store.migrate()
    return store


def _tokens() -> TokenIssuer:
    """What the credentials and token commands need: the metadata store and the signing key.

    Not the service layer (Iceberg, Arrow, the connectors), whose import would double the time
    these commands take.
    """
    from headwater.crypto import SecretBox, load_master_key
    from headwater.identity import TokenIssuer

    settings = Settings()
    _private_state(settings)  # creates the data directory, private
    store = _migrated_store(settings)
    key = SecretBox(load_master_key(settings)).signing_key
    return TokenIssuer(store, key, ttl_seconds=settings.token_ttl_seconds)


def _time(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


@app.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default HEADWATER_HOST or 127.0.0.1)"),
    port: int = typer.Option(None, help="Port (default HEADWATER_PORT or 8080)"),
) -> None:
    """Run the API server with the embedded worker pool and scheduler."""
    # The web stack is imported here so that the other commands start without it.
    import uvicorn

    from headwater.api.access_log import uvicorn_log_config
    from headwater.observability.metrics import use_multiprocess_dir

    settings = Settings()
    _private_state(settings)
    log_config = uvicorn_log_config(settings)
    apply_logging(log_config)  # uvicorn applies it again in each process it starts
    options: dict[str, Any] = {
        "host": host or settings.host,
        "port": port or settings.port,
        "log_level": settings.log_level.lower(),
        "access_log": True,
        "log_config": log_config,
        # asyncio's loop, not uvloop; several workers take turns at the shared socket (api/serve_loop.py).
        "loop": "asyncio" if settings.web_workers <= 1 else "headwater.api.serve_loop:TurnTakingLoop",
    }
    if settings.web_workers <= 1:
        from headwater.api import create_app

        uvicorn.run(create_app(settings, settle_heap=True), **options)
        return
    # Several processes (one per core) serve the API; each also runs the embedded engine, which
    # is safe because runs are leased, and each dies with this one (api/worker_process.py). The
    # key file and the schema are created here, once, so the workers never race to create them.
    if settings.metrics:
        use_multiprocess_dir(settings.data_dir / "metrics")  # a scrape of any worker sums them all
    _prepare_shared_state(settings)
    uvicorn.run(
        "headwater.api.worker_process:create_worker_app",
        factory=True,
        workers=settings.web_workers,
        # A new worker imports all of Headwater before it first answers the supervisor's ping: on a
        # busy machine that takes far longer than uvicorn's 5 s (over 30 s at a load of 16 on 2 cores),
        # and a worker killed for it is restarted only to be killed again.
        timeout_worker_healthcheck=120,
        **options,
    )


@app.command("settings")
def settings_command(
    markdown: bool = typer.Option(False, "--markdown", help="Print docs/configuration.md: every HEADWATER_* variable"),
) -> None:
    """Print the settings this process would run with (secrets hidden), or with --markdown their documentation."""
    if markdown:
        from headwater.configuration_docs import markdown as configuration_markdown

        typer.echo(configuration_markdown(), nl=False)
        return
    from headwater.observability.redact import redact

    # SecretStr fields print as stars; a password inside a database or broker URL is blanked too.
    typer.echo(redact(Settings().model_dump_json(indent=2)))


@app.command()
def migrate(as_json: bool = typer.Option(False, "--json", help="Print JSON")) -> None:
    """Create or upgrade the metadata database schema."""
    _services()
    typer.echo(json.dumps({"upToDate": True}) if as_json else "metadata database is up to date")


@credentials.command("create")
def credentials_create(
    org: str = typer.Option(..., help="IMS org id, e.g. 5C1328435BF324E90A49402A@AdobeOrg"),
    name: str = typer.Option("default", help="A label for these credentials"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Create API credentials for an org; the secret is shown once."""
    creds = _tokens().create_credentials(org, name=name)
    if as_json:
        typer.echo(json.dumps({"client_id": creds.client_id, "client_secret": creds.client_secret, "org": org}))
    else:
        typer.echo(f"client_id:     {creds.client_id}\nclient_secret: {creds.client_secret}\norg:           {org}")


@credentials.command("list")
def credentials_list(
    org: str = typer.Option(None, help="Only this org's credentials"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """List API clients: id, org, name, when created and when revoked (secrets are never shown)."""
    rows = [
        {
            "client_id": c.client_id,
            "org": c.org,
            "name": c.name,
            "created": _time(c.created_at),
            "revoked": _time(c.revoked_at),
        }
        for c in _tokens().list_clients(org)
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    typer.echo(f"{'client_id':<38} {'org':<36} {'name':<16} {'created':<26} revoked")
    for r in rows:
        typer.echo(f"{r['client_id']:<38} {r['org']:<36} {r['name']:<16} {r['created']:<26} {r['revoked'] or '-'}")


@credentials.command("revoke")
def credentials_revoke(
    client_id: str = typer.Argument(..., help="The client id to revoke"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Revoke an API client: it can no longer get tokens, and its tokens are refused from now on."""
    if not _tokens().revoke(client_id):
        typer.echo(f"error: no API client {client_id!r}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps({"client_id": client_id, "revoked": True}) if as_json else f"revoked {client_id}")


@app.command()
def token(
    org: str = typer.Option("headwater@AdobeOrg", help="IMS org id the token is for"),
    as_json: bool = typer.Option(False, "--json", help="Print token, API key and org as JSON"),
) -> None:
    """Print a bearer token for local use, signed directly (no secret is created or stored).

    Each call records a client `local-…` that has no secret, so nothing can be exchanged for a
    token; it shows in `credentials list` and `credentials revoke` ends the token.
    """
    client_id, access = _tokens().mint_local(org)
    if as_json:
        typer.echo(json.dumps({"access_token": access, "api_key": client_id, "org": org}))
    else:
        typer.echo(access)


@app.command()
def worker(
    concurrency: int = typer.Option(None, help="Parallel runs in this process (default HEADWATER_WORKERS)"),
    schedule: bool = typer.Option(False, "--schedule", help="Without a broker: also run the scheduler loop"),
) -> None:
    """Execute flow runs: Celery workers on HEADWATER_BROKER_URL, else a pool polling the metadata database."""
    settings = Settings()
    configure_logging(settings)
    if settings.metrics and settings.worker_metrics_port:
        from headwater.observability.metrics import serve_metrics

        serve_metrics(host=settings.host, port=settings.worker_metrics_port)
    svc = _services()
    workers = concurrency or svc.settings.workers
    if svc.settings.broker_url:
        from celery.signals import setup_logging  # Celery is loaded only when a broker is set

        from headwater.runs.celery_app import create_celery

        # A receiver of setup_logging makes Celery keep ours instead of installing its own handlers.
        setup_logging.connect(lambda **_: configure_logging(settings), weak=False)
        celery = create_celery(svc.settings.broker_url, svc.run_deps)
        # A node name of its own: under Celery's default (celery@host) a second worker on one host dies
        # at start on RabbitMQ, whose remote-control queue of that name is exclusive to the first.
        node = f"--hostname=headwater-{os.getpid()}@%h"
        celery.worker_main(
            ["worker", "--pool=threads", f"--concurrency={workers}", f"--loglevel={settings.log_level}", node]
        )
        return
    # No broker: share the runs table with every other worker and `headwater serve` through leases.
    engine = svc.engine(workers=workers, schedule=schedule)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    engine.start()
    typer.echo(f"worker started: {workers} threads, scheduler={'on' if schedule else 'off'}")
    stopped.wait()
    engine.stop()


if __name__ == "__main__":
    app()
