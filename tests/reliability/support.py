"""Shared helpers of the reliability suite: a real PostgreSQL source table and the full resource chain over HTTP."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from headwater.runs.ledger import Ledger, RunRow, new_run_id
from headwater.runs.report import new_doc
from headwater.service import Services
from headwater.store import Scope, now_ms
from tests.conftest import FLOW, pg_admin

PG_SPEC = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
BQ_SPEC = "3c9b37f8-13a6-43d8-bad3-b863b941fedd"
LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
CATALOG = "/data/foundation/catalog"
CONVERSION = "/data/foundation/conversion"
TRUST_PASSWORD = "unused-with-trust"  # the local server trusts loopback; any password works

# Anything with .post/.get/... taking (url, headers=, json=, params=) and returning an httpx-like response.
Post = Callable[..., Any]


@contextmanager
def pg_table(prefix: str = "hw_rel", rows: int = 20) -> Iterator[str]:
    """A small source table in its own schema on the local PostgreSQL; yields `schema.table`."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with pg_admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(
            f'CREATE TABLE "{schema}".customers (id bigint primary key, name text, '
            "updated_at timestamptz not null default '2024-01-01T00:00:00Z')"
        )
        conn.execute(
            f'INSERT INTO "{schema}".customers (id, name, updated_at) '
            "SELECT g, 'n' || g, timestamptz '2024-01-01' + g * interval '1 minute' "
            f"FROM generate_series(1, {int(rows)}) g"
        )
    try:
        yield f"{schema}.customers"
    finally:
        with pg_admin() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


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
        )
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
    engine = services.runs.engine(workers=0, schedule=False)
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
