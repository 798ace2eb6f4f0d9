"""Tenant isolation over every route: org A / sandbox `prod` resources are invisible to org B and to A's `dev`.

The table below has one entry per (method, path template) of the app, found by walking
`app.routes`: a new route without an entry (or a stale entry) fails the suite. Item routes must
answer 404 to intruders (never 403, never 200) and leave the resource unchanged; list routes must
not show A's ids; create routes that reference A's resources must refuse them without revealing
them; global routes (specs, token, docs) are listed as such.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from headwater.api import create_app
from headwater.console._session import SESSION_COOKIE, new_session
from headwater.service import Services
from headwater.settings import Settings
from tests.reliability.console_cases import CONSOLE_CASES, CONSOLE_OWNER_ID
from tests.support.chain import Chain, basic_auth, connection_body, make_chain
from tests.support.ids import CATALOG, CONVERSION, CRM_TO_AEP, FLOW, LAKE_SPEC, PG_SPEC
from tests.support.pg import pg_table
from tests.support.tenants import Tenant, make_tenant

Kind = Literal["global", "item", "list", "create", "create-ref"]
RENAME = [{"op": "replace", "path": "/name", "value": "renamed-by-intruder"}]


@dataclass(frozen=True)
class Case:
    kind: Kind
    params: dict[str, str] = field(default_factory=dict)
    body: str | None = None  # a key of `bodies()`
    control: bool = True  # also call it as the owner (expect anything but 404)
    mutates: bool = False  # check the owner's resource is unchanged afterwards


GET_ITEM = Case("item")
LIST = Case("list")
PATCH = Case("item", body="rename", mutates=True)
DELETE = Case("item", control=False, mutates=True)

CASES: dict[tuple[str, str], Case] = {
    # Global: the same for every org and sandbox, or not behind the gateway headers at all.
    ("GET", "/openapi.json"): Case("global"),
    ("GET", "/docs"): Case("global"),
    ("GET", "/docs/oauth2-redirect"): Case("global"),
    ("GET", "/redoc"): Case("global"),
    ("POST", "/ims/token/v3"): Case("global"),
    ("GET", f"{FLOW}/connectionSpecs"): Case("global"),
    ("GET", f"{FLOW}/connectionSpecs/{{spec_id}}"): Case("global"),
    ("GET", f"{FLOW}/flowSpecs"): Case("global"),
    ("GET", f"{FLOW}/flowSpecs/{{spec_id}}"): Case("global"),
    # Connections.
    ("GET", f"{FLOW}/connections"): LIST,
    ("POST", f"{FLOW}/connections"): Case("create", body="connection"),
    ("GET", f"{FLOW}/connections/{{connection_id}}"): GET_ITEM,
    ("GET", f"{FLOW}/connections/{{connection_id}}/"): GET_ITEM,
    ("PATCH", f"{FLOW}/connections/{{connection_id}}"): PATCH,
    ("PATCH", f"{FLOW}/connections/{{connection_id}}/"): PATCH,
    ("DELETE", f"{FLOW}/connections/{{connection_id}}"): DELETE,
    ("DELETE", f"{FLOW}/connections/{{connection_id}}/"): DELETE,
    ("GET", f"{FLOW}/connections/{{connection_id}}/test"): GET_ITEM,
    ("GET", f"{FLOW}/connections/{{connection_id}}/explore"): Case("item", params={"objectType": "root"}),
    # Source and target connections.
    ("GET", f"{FLOW}/sourceConnections"): LIST,
    ("POST", f"{FLOW}/sourceConnections"): Case("create-ref", body="sourceConnection"),
    ("GET", f"{FLOW}/sourceConnections/{{resource_id}}"): GET_ITEM,
    ("PATCH", f"{FLOW}/sourceConnections/{{resource_id}}"): PATCH,
    ("DELETE", f"{FLOW}/sourceConnections/{{resource_id}}"): DELETE,
    ("GET", f"{FLOW}/targetConnections"): LIST,
    ("POST", f"{FLOW}/targetConnections"): Case("create-ref", body="targetConnection"),
    ("GET", f"{FLOW}/targetConnections/{{resource_id}}"): GET_ITEM,
    ("PATCH", f"{FLOW}/targetConnections/{{resource_id}}"): PATCH,
    ("DELETE", f"{FLOW}/targetConnections/{{resource_id}}"): DELETE,
    # Flows.
    ("GET", f"{FLOW}/flows"): LIST,
    ("POST", f"{FLOW}/flows"): Case("create-ref", body="flow"),
    ("GET", f"{FLOW}/flows/{{flow_id}}"): GET_ITEM,
    ("PATCH", f"{FLOW}/flows/{{flow_id}}"): PATCH,
    ("DELETE", f"{FLOW}/flows/{{flow_id}}"): DELETE,
    ("POST", f"{FLOW}/flows/{{flow_id}}/action"): Case("item", params={"op": "disable"}, control=False, mutates=True),
    # Runs.
    ("GET", f"{FLOW}/runs"): LIST,
    ("POST", f"{FLOW}/runs"): Case("create-ref", body="run"),
    ("GET", f"{FLOW}/runs/{{run_id}}"): GET_ITEM,
    ("GET", f"{FLOW}/runs/{{run_id}}/"): GET_ITEM,
    ("POST", f"{FLOW}/runs/{{run_id}}/action"): Case("item", params={"op": "RE_TRIGGER"}, mutates=True),
    ("GET", f"{FLOW}/runs/{{run_id}}/failedRecords"): GET_ITEM,
    # Catalog datasets and Data Prep mapping sets.
    ("POST", f"{CATALOG}/dataSets"): Case("create", body="dataset"),
    ("GET", f"{CATALOG}/dataSets"): LIST,
    ("GET", f"{CATALOG}/dataSets/{{dataset_id}}"): GET_ITEM,
    ("GET", f"{CATALOG}/dataSets/{{dataset_id}}/preview"): GET_ITEM,
    ("DELETE", f"{CATALOG}/dataSets/{{dataset_id}}"): DELETE,
    ("POST", f"{CONVERSION}/mappingSets"): Case("create", body="mappingSet"),
    ("GET", f"{CONVERSION}/mappingSets"): LIST,
    ("GET", f"{CONVERSION}/mappingSets/{{mapping_id}}"): GET_ITEM,
}

# The collection segment before a path parameter → the Chain attribute holding the owner's id.
OWNER_ID = {
    "connections": "connection",
    "sourceConnections": "source",
    "targetConnections": "target",
    "flows": "flow",
    "runs": "run",
    "dataSets": "dataset",
    "mappingSets": "mapping",
    **CONSOLE_OWNER_ID,
}
# Where to GET an item to compare before/after an intruder's attempt to change it.
ITEM_URL = {
    "connection": f"{FLOW}/connections/{{}}",
    "source": f"{FLOW}/sourceConnections/{{}}",
    "target": f"{FLOW}/targetConnections/{{}}",
    "flow": f"{FLOW}/flows/{{}}",
    "run": f"{FLOW}/runs/{{}}",
    "dataset": f"{CATALOG}/dataSets/{{}}",
    "mapping": f"{CONVERSION}/mappingSets/{{}}",
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, full path template) the app serves, through included routers."""

    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
        for route in routes:
            if hasattr(route, "original_router"):  # FastAPI's included-router node
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
            else:
                for method in sorted(set(getattr(route, "methods", None) or ()) - {"HEAD"}):
                    yield method, prefix + route.path

    found = set(walk(list(app.routes), ""))
    assert len(found) > 40, f"route discovery found only {sorted(found)}"
    return found


def bodies(chain: Chain) -> dict[str, Any]:
    """Request bodies; `-ref` ones point at the owner's resources."""
    return {
        "rename": RENAME,
        "connection": connection_body(basic_auth(), name="intruder"),
        "dataset": {"name": "intruder", "schemaRef": {"id": "x"}},
        "mappingSet": {
            "version": 0,
            "xdmSchema": "x",
            "xdmVersion": "1.0",
            "mappings": [{"destinationXdmPath": "a", "sourceAttribute": "id", "identity": False, "version": 0}],
        },
        "sourceConnection": {
            "name": "intruder",
            "baseConnectionId": chain.connection,
            "data": {"format": "tabular"},
            "params": {"tableName": "public.x"},
            "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
        },
        "targetConnection": {
            "name": "intruder",
            "data": {"schema": {"id": "x", "version": "application/vnd.adobe.xed-full+json;version=1"}},
            "params": {"dataSetId": chain.dataset},
            "connectionSpec": {"id": LAKE_SPEC, "version": "1.0"},
        },
        "flow": {
            "name": "intruder",
            "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
            "sourceConnectionIds": [chain.source],
            "targetConnectionIds": [chain.target],
            "transformations": [{"name": "Mapping", "params": {"mappingId": chain.mapping, "mappingVersion": 0}}],
            "scheduleParams": {"startTime": "4102444800", "frequency": "once"},
        },
        "run": {"flowId": chain.flow},
    }


@dataclass
class World:
    app: FastAPI
    client: TestClient
    owner: Tenant
    chain: Chain
    intruders: dict[str, dict[str, str]]

    def owner_ids(self) -> list[str]:
        return [v for v in vars(self.chain).values() if v]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = Settings(data_dir=Path(tmp_path_factory.mktemp("iso")), run_embedded_executor=False)
    services = Services(settings)
    services.migrate()
    app = create_app(settings, services=services)
    owner = make_tenant(services, "ISOOWNER00000000000000000@AdobeOrg")
    other = make_tenant(services, "ISOOTHER00000000000000000@AdobeOrg")
    with pg_table("hw_iso") as table, TestClient(app, raise_server_exceptions=False) as client:
        chain = make_chain(client, owner.headers("prod"), table)
        intruders = {"org B": other.headers("prod"), "sandbox dev of org A": owner.headers("dev")}
        # Intruders own resources of their own, so their lists are not trivially empty.
        for headers in intruders.values():
            make_chain(client, headers, table)
        yield World(app, client, owner, chain, intruders)


def test_every_route_has_an_isolation_case(world: World) -> None:
    served = app_routes(world.app)
    known = set(CASES) | set(CONSOLE_CASES)
    missing = sorted(served - known)
    stale = sorted(known - served)
    assert not missing, f"routes without an isolation case (add them to CASES): {missing}"
    assert not stale, f"CASES entries for routes that no longer exist: {stale}"


def _fill(world: World, template: str) -> tuple[str, str | None]:
    """The template with the owner's id in it, and which Chain attribute that id is."""
    parts = template.split("/")
    for i, part in enumerate(parts):
        if part.startswith("{"):
            attr = OWNER_ID[parts[i - 1]]
            value = getattr(world.chain, attr)
            assert value, f"the owner has no {attr}"
            parts[i] = value
            return "/".join(parts), attr
    return template, None


def _snapshot(world: World, attr: str) -> str:
    got = world.client.get(ITEM_URL[attr].format(getattr(world.chain, attr)), headers=world.owner.headers())
    assert got.status_code == 200, f"the owner lost its {attr}: {got.status_code} {got.text}"
    return got.text


def _no_leak(world: World, response: Any, who: str, label: str, sent: str) -> None:
    """Nothing of the owner's beyond what the intruder itself sent (a 404 may echo the id it asked for)."""
    text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
    for value in world.owner_ids():
        if value not in sent:
            assert value not in text, f"{label} as {who} revealed the owner's id {value}: {text[:500]}"
    if who.startswith("org"):
        assert world.owner.org not in text, f"{label} as {who} revealed the owner's org: {text[:500]}"


@pytest.mark.parametrize(("method", "template"), sorted(k for k, v in CASES.items() if v.kind != "global"))
def test_intruders_cannot_see_or_touch(world: World, method: str, template: str) -> None:
    case = CASES[(method, template)]
    url, attr = _fill(world, template)
    label = f"{method} {template}"
    body = bodies(world.chain)[case.body] if case.body else None
    before = _snapshot(world, attr) if attr and case.mutates else None

    for who, headers in world.intruders.items():
        extra = {}
        if case.body == "rename":
            extra["If-Match"] = world.client.get(
                ITEM_URL[attr or ""].format(getattr(world.chain, attr or "")), headers=world.owner.headers()
            ).headers.get("ETag", "*")
        response = world.client.request(method, url, headers={**headers, **extra}, params=case.params, json=body)
        if case.kind == "item":
            assert response.status_code == 404, f"{label} as {who}: {response.status_code} {response.text}"
        elif case.kind == "list":
            assert response.status_code == 200, f"{label} as {who}: {response.status_code} {response.text}"
        elif case.kind == "create-ref":
            # A reference to a resource of another scope is as unknown as a made-up id.
            assert response.status_code in (400, 404), f"{label} as {who}: {response.status_code} {response.text}"
        else:  # create: lands in the intruder's own scope, never in the owner's
            created = 200 if url.endswith("/mappingSets") else 201  # Data Prep answers a create with 200
            assert response.status_code == created, f"{label} as {who}: {response.status_code} {response.text}"
            new_id = response.json()[0].split("/")[-1] if isinstance(response.json(), list) else response.json()["id"]
            owner_list = world.client.get(url, headers=world.owner.headers())
            assert new_id not in owner_list.text, f"{label} as {who}: the new resource shows in the owner's list"
        _no_leak(world, response, who, label, sent=f"{url} {json.dumps(body)}")
        if case.kind == "list":
            for value in world.owner_ids():
                filtered = world.client.get(url, headers=headers, params={"property": f"id=={value}"})
                found = filtered.json()
                if isinstance(found, dict) and "items" in found:
                    shown = {str(item.get("id")) for item in found["items"]} & set(world.owner_ids())
                    assert not shown, f"{label}?property=id=={value} as {who}: {filtered.text[:300]}"
                else:  # the catalog list has no property filter: the id must simply not be there
                    _no_leak(world, filtered, who, label, sent="")

    if before is not None and attr:
        assert _snapshot(world, attr) == before, f"{label}: an intruder changed the owner's {attr}"
    if case.control:
        extra = {}
        if case.body == "rename":
            extra["If-Match"] = '"stale"'  # a 412 still proves the owner can see it, without changing it
        mine = world.client.request(
            method, url, headers={**world.owner.headers(), **extra}, params=case.params, json=body
        )
        assert mine.status_code != 404 and mine.status_code < 500, f"{label} as owner: {mine.status_code} {mine.text}"
        if case.kind == "list":
            assert any(v in mine.text for v in world.owner_ids()), f"{label}: the owner's list misses its own ids"


def _console_cookie(world: World, headers: dict[str, str]) -> tuple[str, str]:
    """A console session for the tenant of these gateway headers: (cookie header, its CSRF token)."""
    token = headers["Authorization"].removeprefix("Bearer ")
    session = new_session(token, headers["x-sandbox-name"])
    sealed = world.app.state.console_sessions.seal(session)
    return f"{SESSION_COOKIE}={sealed}", session.csrf


@pytest.mark.parametrize(("method", "template"), sorted(k for k, v in CONSOLE_CASES.items() if v[0] != "page-global"))
def test_console_pages_of_another_scope_are_not_found(world: World, method: str, template: str) -> None:
    """Signed in to the console, an intruder gets 404 at the owner's URLs (forms with a valid CSRF
    token included) and sees none of the owner's ids on its own pages; the owner's flow is unchanged."""
    kind, form = CONSOLE_CASES[(method, template)]
    url, attr = _fill(world, template)
    label = f"{method} {template}"
    flow_before = _snapshot(world, "flow")
    for who, headers in world.intruders.items():
        cookie, csrf = _console_cookie(world, headers)
        data = {**form, "csrf": csrf} if method == "POST" else None
        params = form if method == "GET" else None
        response = world.client.request(
            method, url, headers={"cookie": cookie}, data=data, params=params, follow_redirects=False
        )
        if kind == "page-item":
            assert response.status_code == 404, f"{label} as {who}: {response.status_code} {response.text[:300]}"
        else:
            assert response.status_code < 500, f"{label} as {who}: {response.status_code} {response.text[:300]}"
        _no_leak(world, response, who, label, sent=url)
    assert _snapshot(world, "flow") == flow_before, f"{label}: an intruder changed the owner's flow"
    if kind == "page-item" and method == "GET" and not form:  # a made-up table is not found for anyone
        cookie, _ = _console_cookie(world, world.owner.headers("prod"))
        mine = world.client.get(url, headers={"cookie": cookie}, params=form, follow_redirects=False)
        shown = f"{label} as owner: {mine.status_code} {mine.text[:300]}"
        assert mine.status_code != 404 and mine.status_code < 500 and attr, shown


def test_metrics_show_no_tenant_ids(world: World) -> None:
    text = world.client.get("/metrics").text
    for value in world.owner_ids():
        assert value not in text, f"/metrics shows the owner's id {value}"
    assert world.owner.org not in text
