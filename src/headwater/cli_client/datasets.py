"""`headwater datasets …`: list, show, create, delete and preview, over HTTP (preview also locally)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from headwater.cli_client import output
from headwater.cli_client.failure import CliError
from headwater.cli_client.http import CATALOG, Api
from headwater.cli_client.options import need, read_body, remote
from headwater.cli_client.resources import FileOpt, Id, Limit, created, deleted, show

_CATALOG_PAGE = 100


def register_datasets(datasets: typer.Typer) -> None:
    """Add the HTTP dataset commands to the existing `datasets` group."""

    @remote(datasets)
    def datasets_list(api: Api, limit: Limit = None) -> None:
        """List the sandbox's datasets (Catalog /dataSets)."""
        found: list[dict[str, Any]] = []
        page = min(limit or _CATALOG_PAGE, _CATALOG_PAGE)
        while limit is None or len(found) < limit:  # the Catalog pages by offset, at most 100 at a time
            answer = api.get(f"{CATALOG}/dataSets", limit=page, start=len(found)) or {}
            found.extend({"id": k, **v} for k, v in answer.items())
            if len(answer) < page:
                break
        found = found[:limit] if limit is not None else found
        output.listing(
            found,
            [
                ("id", "ID", output.by_key("id")),
                ("name", "NAME", output.by_key("name")),
                ("created", "CREATED (UTC)", lambda r: output.when(r.get("created"))),
            ],
            as_json=api.as_json,
        )

    @remote(datasets)
    def datasets_show(api: Api, resource_id: Id) -> None:
        """Show one dataset: its columns and where its table is."""
        answer = api.get(f"{CATALOG}/dataSets/{resource_id}") or {}
        found = answer.get(resource_id) or next(iter(answer.values()), None)
        if found is None:
            raise CliError(f"no dataset {resource_id}")
        show(api, {"id": resource_id, **found})

    @remote(datasets)
    def datasets_create(
        api: Api,
        file: FileOpt = None,
        name: Annotated[str | None, typer.Option(help="A name for the dataset")] = None,
        schema_id: Annotated[str, typer.Option(help="schemaRef.id to record")] = "headwater",
        description: Annotated[str | None, typer.Option(help="A description")] = None,
    ) -> None:
        """Create a dataset (an Iceberg table, filled by the first run of a flow into it)."""
        body = read_body(file)
        if body is None:
            body = {
                "name": need(name, "--name"),
                "schemaRef": {"id": schema_id, "contentType": "application/vnd.adobe.xed-full+json;version=1"},
            }
            if description:
                body["description"] = description
        answer = api.post(f"{CATALOG}/dataSets", body)
        dataset_id = str(answer[0]).rsplit("/", 1)[-1]
        created(api, {"id": dataset_id}, "dataset")

    @remote(datasets)
    def datasets_delete(api: Api, resource_id: Id) -> None:
        """Delete a dataset and drop its table (refused while a target connection names it)."""
        api.delete(f"{CATALOG}/dataSets/{resource_id}")
        deleted(api, "dataset", resource_id)

    @remote(datasets)
    def datasets_preview(
        api: Api,
        resource_id: Id,
        limit: Annotated[int, typer.Option(min=1, max=1000, help="Rows to show")] = 20,
        local: Annotated[
            bool, typer.Option("--local", help="Read this machine's data directory instead of a server (needs --org)")
        ] = False,
    ) -> None:
        """Show the first rows of a dataset (NaN, Infinity and NULL kept distinct, as in the API).

        Locally (--local, or --org without any credentials) it reads HEADWATER_DATA_DIR's metadata
        database and lake directly and also lists the Parquet files, for DuckDB or Spark.
        """
        opts = api.options
        signed = opts.token or opts.client_id or opts.client_secret or api.saved is not None
        if local or (opts.org and not signed):
            preview = _local_preview(need(opts.org, "--org", "--url and credentials"), api.sandbox, resource_id, limit)
        else:
            preview = api.get(f"{CATALOG}/dataSets/{resource_id}/preview", limit=limit)
        if api.as_json:
            output.emit_json(preview)
            return
        columns = [str(c["name"]) for c in preview.get("columns", [])]
        typer.echo(f"{preview.get('rowCount', 0)} rows; columns: {', '.join(columns) or '(no schema yet)'}")
        output.table(preview.get("data", []), [(n, n, output.by_key(n)) for n in columns], empty="", null="NULL")
        files = preview.get("dataFiles")
        if files:
            typer.echo(f"duckdb: select * from read_parquet({files!r})")


def _local_preview(org: str, sandbox: str, dataset_id: str, limit: int) -> dict[str, Any]:
    """The preview read in-process from the data directory, with the table's data files."""
    from headwater.cli import _services  # the administrative commands' own set-up
    from headwater.identity import Principal
    from headwater.runs.plan import lake_ident
    from headwater.service import Context
    from headwater.store import Scope

    svc = _services()
    ctx = Context(principal=Principal("cli", org), scope=Scope(org, sandbox))
    preview = svc.datasets.preview(ctx, dataset_id, limit=limit)
    record = svc.datasets.record(ctx, dataset_id)
    files = svc.lake.data_files(lake_ident(record)) if preview["columns"] else []
    return {**preview, "dataFiles": files}
