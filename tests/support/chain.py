"""A whole resource chain over HTTP (connection → … → flow → run), and running runs to the end in-process."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from headwater.runs.ledger import Ledger, RunRow, new_run_id
from headwater.runs.report import new_doc
from headwater.service import Services
from headwater.store import Scope, now_ms
from tests.support.ids import CATALOG, CONVERSION, CRM_TO_AEP, FLOW, LAKE_SPEC, PG_SPEC
from tests.support.tenants import Tenant

TRUST_PASSWORD = "unused-with-trust"  # the local server trusts loopback; any password works

# Anything with .post/.get/... taking (url, headers=, json=, params=) and returning an httpx-like response.
Post = Callable[..., Any]


def basic_auth(
    password: str = TRUST_PASSWORD, *, server: str = "127.0.0.1", port: int = 5432, database: str = "postgres"
) -> dict[str, Any]:
    return {
        "specName": "Basic Authentication",
        "params": {
            "server": server,
            "port": port,
            "database": database,
            "username": "postgres",
            "password": password,
            "sslMode": "Disable",
        },
    }


def pg_body(**params: Any) -> dict[str, Any]:
    """A valid PostgreSQL connection body (to a host nobody connects to), with `params` changed."""
    base = {"server": "db.internal", "port": "5432", "database": "acme", "username": "u", "password": "pw-Marker1"}
    return {
        "name": "pg",
        "auth": {"specName": "Basic Authentication", "params": {**base, **params}},
        "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
    }


def create(client: Any, tenant: Tenant, body: dict[str, Any], sandbox: str = "prod") -> dict[str, str]:
    """POST /connections, which must answer 201."""
    resp = client.post(f"{FLOW}/connections", json=body, headers=tenant.headers(sandbox))
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def connection_body(auth: dict[str, Any], spec: str = PG_SPEC, name: str = "pg") -> dict[str, Any]:
    return {"name": name, "auth": auth, "connectionSpec": {"id": spec, "version": "1.0"}}


@dataclass
class Chain:
    """Ids of one complete set of resources in one org and sandbox."""

    connection: str
    source: str
    dataset: str
    target: str
    mapping: str
    flow: str
    run: str | None = None


def ok(response: Any, status: int = 201) -> Any:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()


def make_chain(
    client: Any,
    headers: dict[str, str],
    table: str,
    *,
    auth: dict[str, Any] | None = None,
    columns: tuple[str, ...] = ("id", "name", "updated_at"),
    delta: str = "updated_at",
    frequency: str = "once",
    with_run: bool = True,
    start_time: int | None = None,
    source_spec: str = PG_SPEC,
) -> Chain:
    """connection → source connection → dataset → target connection → mapping set → flow (→ on-demand run)."""
    body = connection_body(auth or basic_auth(), spec=source_spec)
    conn = ok(client.post(f"{FLOW}/connections", headers=headers, json=body))
    source = ok(
        client.post(
            f"{FLOW}/sourceConnections",
            headers=headers,
            json={
                "name": "src",
                "baseConnectionId": conn["id"],
                "data": {"format": "tabular"},
                "params": {"tableName": table, "columns": [{"name": c} for c in columns]},
                "connectionSpec": {"id": source_spec, "version": "1.0"},
            },
        )
    )
    dataset = ok(client.post(f"{CATALOG}/dataSets", headers=headers, json={"name": "ds", "schemaRef": {"id": "x"}}))
    dataset_id = dataset[0].split("/")[-1]
    target = ok(
        client.post(
            f"{FLOW}/targetConnections",
            headers=headers,
            json={
                "name": "lake",
                "data": {"schema": {"id": "x", "version": "application/vnd.adobe.xed-full+json;version=1"}},
                "params": {"dataSetId": dataset_id},
                "connectionSpec": {"id": LAKE_SPEC, "version": "1.0"},
            },
        )
    )
    mapping = ok(
        client.post(
            f"{CONVERSION}/mappingSets",
            headers=headers,
            json={
                "version": 0,
                "xdmSchema": "x",
                "xdmVersion": "1.0",
                "mappings": [
                    {"destinationXdmPath": f"out_{i}", "sourceAttribute": c, "identity": False, "version": 0}
                    for i, c in enumerate(columns)
                ],
            },
        ),
        200,  # Data Prep answers a new mapping set with 200
    )
    start = int(time.time()) + 3600 if start_time is None else start_time
    schedule: dict[str, Any] = {"startTime": str(start), "frequency": frequency}
    transformations: list[dict[str, Any]] = [
        {"name": "Mapping", "params": {"mappingId": mapping["id"], "mappingVersion": 0}}
    ]
    if frequency != "once":
        schedule |= {"interval": "15", "backfill": "true"}
        transformations.insert(0, {"name": "Copy", "params": {"deltaColumn": {"name": delta}}})
    flow = ok(
        client.post(
            f"{FLOW}/flows",
            headers=headers,
            json={
                "name": "flow",
                "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
                "sourceConnectionIds": [source["id"]],
                "targetConnectionIds": [target["id"]],
                "transformations": transformations,
                "scheduleParams": schedule,
            },
        )
    )
    chain = Chain(conn["id"], source["id"], dataset_id, target["id"], mapping["id"], flow["id"])
    if with_run and frequency == "once":
        run = ok(client.post(f"{FLOW}/runs", headers=headers, json={"flowId": flow["id"]}))
        chain.run = run["items"][0]["id"]
    return chain


def trigger(services: Services, flow_id: str, scope: Scope) -> str:
    """Create a scheduled run of the flow now, as the scheduler would; returns its id."""
    run_id = new_run_id()
    created = Ledger(services.store).insert(
        run_id=run_id,
        scope=scope,
        flow_id=flow_id,
        scheduled_at=now_ms(),
        doc=new_doc(flow_spec={}, trigger="schedule"),
    )
    assert created
    return run_id


def run_until_done(services: Services, run_id: str, *, timeout: float = 60, owner: str = "reliability") -> RunRow:
    """Work runs in this process until `run_id` reaches a terminal status."""
    engine = services.engine(workers=0, schedule=False)
    ledger = Ledger(services.store)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        engine.work_once(owner)
        row = ledger.get(run_id)
        assert row is not None, f"run {run_id} vanished"
        if row.status.terminal:
            return row
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish in {timeout}s: {ledger.get(run_id)}")
