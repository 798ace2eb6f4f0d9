"""`headwater runs …`: list, show, create, retrigger and watch (the Flow Service has no run delete)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from headwater.cli_client import output
from headwater.cli_client.http import FLOW, Api
from headwater.cli_client.options import need, read_body, remote
from headwater.cli_client.resources import FileOpt, Id, Limit, created, items, list_all, one, show
from headwater.cli_client.watch import Figures, follow

runs = typer.Typer(help="Flow runs (Flow Service /runs), over HTTP.", no_args_is_help=True)


def _row(run: dict[str, Any]) -> dict[str, Any]:
    figures = Figures.of(run, now_ms=0)
    durations = (run.get("metrics") or {}).get("durationSummary") or {}
    return {
        "id": run.get("id"),
        "flow": run.get("flowId"),
        "status": figures.status,
        "read": output.count(figures.rows_read),
        "written": output.count(figures.rows_written),
        "started": output.when(durations.get("startedAtUTC")),
        "took": f"{figures.elapsed:.1f} s" if figures.elapsed is not None and figures.status != "inProgress" else None,
    }


@remote(runs)
def runs_list(
    api: Api,
    flow: Annotated[str | None, typer.Option(help="Only this flow's runs")] = None,
    limit: Limit = None,
) -> None:
    """List runs, newest first: status, records read and written, start and duration."""
    found = list_all(api, f"{FLOW}/runs", limit=limit, properties=[f"flowId=={flow}"] if flow else None)
    if api.as_json:
        output.emit_json(found)
        return
    output.table(
        [_row(r) for r in found],
        [(k, k.upper() if k != "started" else "STARTED (UTC)", output.by_key(k)) for k in _row({})],
    )


@remote(runs)
def runs_show(api: Api, resource_id: Id) -> None:
    """Show one run: metrics, errors and, while it streams, its progress."""
    show(api, one(api.get(f"{FLOW}/runs/{resource_id}"), "run", resource_id))


@remote(runs)
def runs_create(
    api: Api,
    flow_id: Annotated[str | None, typer.Argument(help="The flow to run (or give --file)")] = None,
    file: FileOpt = None,
    window_start: Annotated[int | None, typer.Option(help="params.windowStartTime, epoch seconds")] = None,
    window_end: Annotated[int | None, typer.Option(help="params.windowEndTime, epoch seconds")] = None,
    delta_column: Annotated[str | None, typer.Option(help="params.deltaColumn.name")] = None,
    run_now: Annotated[
        bool, typer.Option("--run-now", help="A recurring flow's next window now (params.runNow)")
    ] = False,
) -> None:
    """Create an on-demand run (POST /runs); `flows run` picks the right kind for you."""
    body = read_body(file)
    if body is None:
        params: dict[str, Any] = {"runNow": True} if run_now else {}
        for key, value in (("windowStartTime", window_start), ("windowEndTime", window_end)):
            if value is not None:
                params[key] = str(value)
        if delta_column:
            params["deltaColumn"] = {"name": delta_column}
        body = {"flowId": need(flow_id, "FLOW_ID")}
        if params:
            body["params"] = params
    answer = api.post(f"{FLOW}/runs", body)
    created(api, items(answer)[0] if items(answer) else answer, "run")


@remote(runs)
def runs_retrigger(api: Api, resource_id: Id) -> None:
    """Run a failed or cancelled run again (RE_TRIGGER)."""
    answer = api.post(f"{FLOW}/runs/{resource_id}/action", op="RE_TRIGGER")
    if api.as_json:
        output.emit_json(answer)
    else:
        typer.echo(f"re-triggered run {resource_id}")


@remote(runs)
def runs_watch(
    api: Api,
    resource_id: Id,
    every: Annotated[float, typer.Option("--every", min=0.1, help="Seconds between polls")] = 1.0,
    timeout: Annotated[float | None, typer.Option(help="Give up after this many seconds")] = None,
) -> None:
    """Follow a run to its end: a progress bar with rows and bytes, rate, percentage and ETA.

    Exits 1 if the run fails or is cancelled. With --json, prints the finished run.
    """
    follow(api, resource_id, every=every, timeout=timeout)
