"""The `headwater` command: serve, credentials, token, worker, migrate."""

from __future__ import annotations

import hashlib
import json

import typer

from headwater.identity import Principal
from headwater.service import Services
from headwater.settings import Settings

app = typer.Typer(help="Headwater: a self-hosted Flow Service API for database sources.", no_args_is_help=True)
credentials = typer.Typer(help="Manage API credentials (client id and secret) for an org.", no_args_is_help=True)
app.add_typer(credentials, name="credentials")
datasets = typer.Typer(help="Inspect datasets (Iceberg tables).", no_args_is_help=True)
app.add_typer(datasets, name="datasets")


def _services() -> Services:

    svc = Services(Settings())
    svc.migrate()
    return svc


@app.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default HEADWATER_HOST or 127.0.0.1)"),
    port: int = typer.Option(None, help="Port (default HEADWATER_PORT or 8080)"),
) -> None:
    """Run the API server with the embedded worker pool and scheduler."""
    import uvicorn

    from headwater.api import create_app

    settings = Settings()
    if settings.web_workers <= 1:
        uvicorn.run(
            create_app(settings),
            host=host or settings.host,
            port=port or settings.port,
            log_level="info",
            access_log=True,
        )
        return
    # Several processes (one per core) serve the API; each also runs the embedded engine, which
    # is safe because runs are leased. The key file and the schema are created here, once, so the
    # workers never race to create them.
    _services()
    uvicorn.run(
        "headwater.api.app:create_app",
        factory=True,
        workers=settings.web_workers,
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        access_log=True,
    )


@app.command()
def migrate() -> None:
    """Create or upgrade the metadata database schema."""
    _services()
    typer.echo("metadata database is up to date")


@credentials.command("create")
def credentials_create(
    org: str = typer.Option(..., help="IMS org id, e.g. 5C1328435BF324E90A49402A@AdobeOrg"),
    name: str = typer.Option("default", help="A label for these credentials"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Create API credentials for an org; the secret is shown once."""
    creds = _services().tokens.create_credentials(org, name=name)
    if as_json:
        typer.echo(json.dumps({"client_id": creds.client_id, "client_secret": creds.client_secret, "org": org}))
    else:
        typer.echo(f"client_id:     {creds.client_id}\nclient_secret: {creds.client_secret}\norg:           {org}")


@app.command()
def token(
    org: str = typer.Option("headwater@AdobeOrg", help="IMS org id the token is for"),
    as_json: bool = typer.Option(False, "--json", help="Print token, API key and org as JSON"),
) -> None:
    """Print a bearer token for local use (mints credentials for the org on the first call)."""
    svc = _services()
    local_id = "local-" + hashlib.sha256(org.encode("utf-8")).hexdigest()[:16]
    client = svc.store.get_client(local_id)
    if client is None:
        from headwater.identity import hash_secret

        svc.store.add_client(client_id=local_id, org=org, name="local", secret_hash=hash_secret(local_id + "!"))
    access = svc.tokens.mint(Principal(local_id, org))
    if as_json:
        typer.echo(json.dumps({"access_token": access, "api_key": local_id, "org": org}))
    else:
        typer.echo(access)


@datasets.command("preview")
def datasets_preview(
    dataset_id: str = typer.Argument(..., help="The dataset id (24 hex characters)"),
    org: str = typer.Option(..., help="IMS org id that owns the dataset"),
    sandbox: str = typer.Option("prod", help="Sandbox name"),
    limit: int = typer.Option(20, min=1, max=1000, help="Rows to show"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table"),
) -> None:
    """Show the first rows of a dataset and where its data files are (for DuckDB or Spark)."""
    from headwater.errors import HeadwaterError
    from headwater.identity import Principal
    from headwater.service import Context
    from headwater.service.datasets import lake_ident
    from headwater.store import Scope

    svc = _services()
    ctx = Context(principal=Principal("cli", org), scope=Scope(org, sandbox))
    try:
        preview = svc.datasets.preview(ctx, dataset_id, limit=limit)
        record = svc.datasets.record(ctx, dataset_id)
    except HeadwaterError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    files = svc.datasets.lake.data_files(lake_ident(record)) if preview["columns"] else []
    if as_json:
        typer.echo(json.dumps({**preview, "dataFiles": files}, default=str))
        return
    names = [c["name"] for c in preview["columns"]]
    typer.echo(f"{preview['rowCount']} rows; columns: {', '.join(names) or '(no schema yet)'}")
    for row in preview["data"]:
        typer.echo(" | ".join(str(row.get(n)) for n in names))
    if files:
        typer.echo(f"duckdb: select * from read_parquet({files!r})")


@app.command()
def worker(
    concurrency: int = typer.Option(None, help="Parallel runs in this process (default HEADWATER_WORKERS)"),
    schedule: bool = typer.Option(False, "--schedule", help="Without a broker: also run the scheduler loop"),
) -> None:
    """Execute flow runs: Celery workers on HEADWATER_BROKER_URL, else a pool polling the metadata database."""
    import signal
    import threading

    svc = _services()
    workers = concurrency or svc.settings.workers
    if svc.settings.broker_url:
        from headwater.runs.celery_app import create_celery

        celery = create_celery(svc.settings.broker_url, svc.runs.deps)
        celery.worker_main(["worker", "--pool=threads", f"--concurrency={workers}", "--loglevel=INFO"])
        return
    # No broker: share the runs table with every other worker and `headwater serve` through leases.
    engine = svc.runs.engine(workers=workers, schedule=schedule)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    engine.start()
    typer.echo(f"worker started: {workers} threads, scheduler={'on' if schedule else 'off'}")
    stopped.wait()
    engine.stop()


if __name__ == "__main__":
    app()
