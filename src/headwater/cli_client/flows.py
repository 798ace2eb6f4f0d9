"""`headwater flows …`: list, show, create, delete, run, enable, disable."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from headwater.cli_client import output
from headwater.cli_client.failure import CliError
from headwater.cli_client.http import FLOW, Api
from headwater.cli_client.options import need, read_body, remote
from headwater.cli_client.resources import FileOpt, Id, Limit, Property, created, deleted, items, list_all, one, show
from headwater.cli_client.watch import follow

flows = typer.Typer(help="Dataflows (Flow Service /flows), over HTTP.", no_args_is_help=True)

CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"  # the flow spec of database sources into the lake
LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"  # the data lake target's connection spec
_XDM = "application/vnd.adobe.xed-full+json;version=1"


def schedule_text(flow: dict[str, Any]) -> str:
    params = flow.get("scheduleParams") or {}
    frequency = params.get("frequency")
    if not frequency:
        return "-"
    interval = params.get("interval")
    return f"every {interval} {frequency}" if interval and frequency != "once" else str(frequency)


@remote(flows)
def flows_list(api: Api, limit: Limit = None, prop: Property = None) -> None:
    """List the sandbox's flows with their state, schedule and last run."""
    found = list_all(api, f"{FLOW}/flows", limit=limit, properties=prop)
    output.listing(
        found,
        [
            ("id", "ID", output.by_key("id")),
            ("name", "NAME", output.by_key("name")),
            ("state", "STATE", output.by_key("state")),
            ("schedule", "SCHEDULE", schedule_text),
            ("last", "LAST RUN", lambda r: (r.get("lastRunDetails") or {}).get("state")),
            (
                "when",
                "LAST RUN STARTED (UTC)",
                lambda r: output.when((r.get("lastRunDetails") or {}).get("startedAtUTC")),
            ),
        ],
        as_json=api.as_json,
    )


@remote(flows)
def flows_show(api: Api, resource_id: Id) -> None:
    """Show one flow."""
    show(api, one(api.get(f"{FLOW}/flows/{resource_id}"), "flow", resource_id))


def _chain_body(api: Api, *, name: str, connection: str, table: str, columns: list[str] | None, dataset: str,
                mapping: str | None, frequency: str, interval: int | None, delta: str | None,
                start: int | None) -> dict[str, Any]:  # fmt: skip
    """Source and target connections for a table and a dataset, then the flow body joining them."""
    conn = one(api.get(f"{FLOW}/connections/{connection}"), "connection", connection)
    spec = conn["connectionSpec"]
    params: dict[str, Any] = {"tableName": table}
    if columns:
        params["columns"] = [{"name": c} for c in columns]
    source = api.post(
        f"{FLOW}/sourceConnections",
        {"name": f"{name} source", "baseConnectionId": connection, "data": {"format": "tabular"},
         "params": params, "connectionSpec": spec},
    )  # fmt: skip
    target = api.post(
        f"{FLOW}/targetConnections",
        {"name": f"{name} target", "data": {"schema": {"id": "headwater", "version": _XDM}},
         "params": {"dataSetId": dataset}, "connectionSpec": {"id": LAKE_SPEC, "version": "1.0"}},
    )  # fmt: skip
    transformations: list[dict[str, Any]] = []
    schedule: dict[str, Any] = {"startTime": str(start or int(time.time())), "frequency": frequency}
    if frequency != "once":
        schedule["interval"] = str(need(interval, "--interval (with a recurring --frequency)"))
        transformations.append({"name": "Copy", "params": {"deltaColumn": {"name": need(delta, "--delta-column")}}})
    if mapping:
        transformations.append({"name": "Mapping", "params": {"mappingId": mapping, "mappingVersion": 0}})
    return {
        "name": name,
        "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
        "sourceConnectionIds": [source["id"]],
        "targetConnectionIds": [target["id"]],
        "transformations": transformations,
        "scheduleParams": schedule,
    }


@remote(flows)
def flows_create(
    api: Api,
    file: FileOpt = None,
    name: Annotated[str | None, typer.Option(help="A name for the flow")] = None,
    connection: Annotated[str | None, typer.Option(help="The source connection id")] = None,
    table: Annotated[str | None, typer.Option(help="The source table, schema.table (BigQuery: dataset.table)")] = None,
    column: Annotated[
        list[str] | None, typer.Option("--column", help="A column to read (repeatable) [default: all]")
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="The dataset id to write to")] = None,
    mapping: Annotated[str | None, typer.Option(help="A mapping set id (Data Prep)")] = None,
    frequency: Annotated[str, typer.Option(help="once, minute, hour, day or week")] = "once",
    interval: Annotated[int | None, typer.Option(help="Recurring flows: every N frequency units")] = None,
    delta_column: Annotated[str | None, typer.Option(help="Recurring flows: the column that orders new rows")] = None,
    start_time: Annotated[int | None, typer.Option(help="First run, epoch seconds [default: now]")] = None,
) -> None:
    """Create a flow from a JSON body (--file), or from a connection, a table and a dataset.

    With flags, the source and target connections are created first (as Adobe's UI does), then the flow.
    """
    body = read_body(file)
    if body is None:
        body = _chain_body(
            api,
            name=need(name, "--name"),
            connection=need(connection, "--connection"),
            table=need(table, "--table"),
            columns=column,
            dataset=need(dataset, "--dataset"),
            mapping=mapping,
            frequency=frequency,
            interval=interval,
            delta=delta_column,
            start=start_time,
        )
    created(api, api.post(f"{FLOW}/flows", body), "flow")


@remote(flows)
def flows_delete(api: Api, resource_id: Id) -> None:
    """Delete a flow (its runs stop; its dataset stays)."""
    api.delete(f"{FLOW}/flows/{resource_id}")
    deleted(api, "flow", resource_id)


def _act(api: Api, flow_id: str, op: str) -> None:
    answer = api.post(f"{FLOW}/flows/{flow_id}/action", op=op)
    if api.as_json:
        output.emit_json(answer)
    else:
        typer.echo(f"{op}d flow {flow_id}")


@remote(flows)
def flows_enable(api: Api, resource_id: Id) -> None:
    """Enable a flow: its schedule runs again."""
    _act(api, resource_id, "enable")


@remote(flows)
def flows_disable(api: Api, resource_id: Id) -> None:
    """Disable a flow: no new runs until it is enabled."""
    _act(api, resource_id, "disable")


def start_run(api: Api, flow_id: str) -> str:
    """An on-demand run of a `once` flow, or of a recurring flow's next window now (params.runNow)."""
    flow = one(api.get(f"{FLOW}/flows/{flow_id}"), "flow", flow_id)
    recurring = (flow.get("scheduleParams") or {}).get("frequency") not in (None, "once")
    body: dict[str, Any] = {"flowId": flow_id}
    if recurring:
        body["params"] = {"runNow": True}  # Headwater's extension: Adobe runs only `once` flows on demand
    answer = api.post(f"{FLOW}/runs", body)
    found = items(answer)
    if not found:
        raise CliError(f"the server created no run for flow {flow_id}")
    return str(found[0]["id"])


@remote(flows)
def flows_run(
    api: Api,
    resource_id: Id,
    watch: Annotated[bool, typer.Option("--watch", help="Then follow the run as `runs watch` does")] = False,
) -> None:
    """Run a flow now: a `once` flow on demand, a recurring one's next window (params.runNow)."""
    run_id = start_run(api, resource_id)
    if watch:
        follow(api, run_id)
        return
    if api.as_json:
        output.emit_json({"id": run_id, "flowId": resource_id})
    else:
        typer.echo(f"started run {run_id} of flow {resource_id}")
