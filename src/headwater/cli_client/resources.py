"""`headwater connections …`, and what every resource group shares (ids, list options, printing)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

import typer

from headwater.cli_client import output
from headwater.cli_client.failure import CliError
from headwater.cli_client.http import FLOW, Api
from headwater.cli_client.options import need, parse_pairs, read_body, remote

connections = typer.Typer(help="Source connections (Flow Service /connections), over HTTP.", no_args_is_help=True)

FileOpt = Annotated[
    Path | None, typer.Option("--file", "-f", help="The whole request body as a JSON file ('-' reads stdin)")
]
Id = Annotated[str, typer.Argument(help="The resource id")]
Limit = Annotated[int | None, typer.Option("--limit", min=1, help="At most this many")]
Property = Annotated[
    list[str] | None, typer.Option("--property", help="A Flow Service filter, e.g. 'state==enabled' (repeatable)")
]
_SPEC_ALIASES = {"postgres": "postgre-sql", "postgresql": "postgre-sql", "bigquery": "google-big-query"}


def items(answer: Any) -> list[dict[str, Any]]:
    return list(answer.get("items", [])) if isinstance(answer, dict) else []


def one(answer: Any, what: str, resource_id: str) -> dict[str, Any]:
    found = items(answer)
    if not found:
        raise CliError(f"no {what} {resource_id}")
    return found[0]


def show(api: Api, doc: dict[str, Any]) -> None:
    if api.as_json:
        output.emit_json(doc)
    else:
        output.fields(doc)


def created(api: Api, answer: Any, what: str) -> None:
    if api.as_json:
        output.emit_json(answer)
    else:
        typer.echo(f"created {what} {answer['id']}" + (f" (etag {answer['etag']})" if answer.get("etag") else ""))


def deleted(api: Api, what: str, resource_id: str) -> None:
    if api.as_json:
        output.emit_json({"id": resource_id, "deleted": True})
    else:
        typer.echo(f"deleted {what} {resource_id}")


def list_all(api: Api, path: str, *, limit: int | None, properties: list[str] | None = None) -> list[dict[str, Any]]:
    """Every item of a Flow Service list (following `_links.next`), or the first `limit`."""
    answer = api.get(path, limit=limit, property=list(properties) if properties else None)  # repeated: AND
    found: list[dict[str, Any]] = []
    while True:
        found.extend(items(answer))
        href = (((answer or {}).get("_links") or {}).get("next") or {}).get("href")
        token = parse_qs(urlsplit(str(href)).query).get("continuationToken") if href else None
        if not token or (limit is not None and len(found) >= limit):
            return found[:limit] if limit is not None else found
        answer = api.get(path, continuationToken=token[0])


# -- connections ----------------------------------------------------------------------------------
def connection_spec(api: Api, wanted: str) -> dict[str, Any]:
    """A connection spec by id or by name ('postgre-sql', or simply 'postgres' / 'bigquery')."""
    specs = items(api.get(f"{FLOW}/connectionSpecs"))
    name = _SPEC_ALIASES.get(wanted.lower(), wanted)
    for spec in specs:
        if wanted == spec.get("id") or name.lower() == str(spec.get("name", "")).lower():
            return spec
    names = ", ".join(sorted(str(s.get("name")) for s in specs))
    raise CliError(f"no connection spec {wanted!r}", hint=f"use an id or one of: {names}", exit_code=2)


def _fitting_auth_spec(spec: dict[str, Any], params: dict[str, Any]) -> str | None:
    """The first auth spec whose schema has every given param (else the first): no --auth-spec needed."""
    methods = spec.get("authSpec", [])
    for method in methods:
        if set(params) <= set((method.get("spec") or {}).get("properties", {})):
            return str(method.get("name"))
    return str(methods[0].get("name")) if methods else None


@remote(connections)
def connections_list(api: Api, limit: Limit = None, prop: Property = None) -> None:
    """List the sandbox's connections."""
    found = list_all(api, f"{FLOW}/connections", limit=limit, properties=prop)
    output.listing(
        found,
        [
            ("id", "ID", output.by_key("id")),
            ("name", "NAME", output.by_key("name")),
            ("spec", "SPEC", lambda r: (r.get("connectionSpec") or {}).get("id")),
            ("state", "STATE", output.by_key("state")),
            ("created", "CREATED (UTC)", lambda r: output.when(r.get("createdAt"))),
        ],
        as_json=api.as_json,
    )


@remote(connections)
def connections_show(api: Api, resource_id: Id) -> None:
    """Show one connection (secrets are never returned by the server)."""
    found = one(api.get(f"{FLOW}/connections/{resource_id}"), "connection", resource_id)
    show(api, found)


@remote(connections)
def connections_create(
    api: Api,
    file: FileOpt = None,
    name: Annotated[str | None, typer.Option(help="A name for the connection")] = None,
    spec: Annotated[str | None, typer.Option(help="Connection spec id or name: postgres, bigquery")] = None,
    auth_spec: Annotated[
        str | None, typer.Option(help="Auth spec name [default: the first that has the params]")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="auth param key=value, or key:=json (repeatable)")
    ] = None,
    description: Annotated[str | None, typer.Option(help="A description")] = None,
) -> None:
    """Create a connection from a JSON body (--file) or from flags; the server checks it."""
    body = read_body(file)
    if body is None:
        chosen = connection_spec(api, need(spec, "--spec"))
        params = parse_pairs(need(param, "--param"), "--param")
        method = auth_spec or _fitting_auth_spec(chosen, params)
        methods = [m.get("name") for m in chosen.get("authSpec", [])]
        if method not in methods:
            raise CliError(f"no auth spec {method!r} for {chosen.get('name')}", hint=f"use one of: {methods}")
        body = {
            "name": need(name, "--name"),
            "auth": {"specName": method, "params": params},
            "connectionSpec": {"id": chosen["id"], "version": "1.0"},
        }
        if description:
            body["description"] = description
    created(api, api.post(f"{FLOW}/connections", body), "connection")


@remote(connections)
def connections_delete(api: Api, resource_id: Id) -> None:
    """Delete a connection."""
    api.delete(f"{FLOW}/connections/{resource_id}")
    deleted(api, "connection", resource_id)
