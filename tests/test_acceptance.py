"""Issue 5 acceptance: the whole path of Adobe's tutorials against a real `headwater serve` process.

Create a PostgreSQL connection, explore it, create source and target connections, a dataset, a
mapping set and a dataflow, let the embedded scheduler run it, read the dataset with DuckDB and get
exactly the source rows.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from tests.support.ids import FLOW, LAKE_SPEC, PG_SPEC
from tests.support.pg import pg_admin
from tests.support.server import LiveServer, cli, gateway_headers, start_server

pytestmark = pytest.mark.slow  # each test starts a `headwater serve` process

ORG = "5C1328435BF324E90A49402A@AdobeOrg"


@pytest.fixture
def source_table() -> Iterator[str]:
    schema = f"hw_accept_{uuid.uuid4().hex[:8]}"
    with pg_admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(
            f'CREATE TABLE "{schema}"."Customer Orders" (id bigint primary key, "Name" text, amount numeric(12,2), '
            "placed_at timestamptz, tags text[], note jsonb)"
        )
        conn.execute(
            f'INSERT INTO "{schema}"."Customer Orders" SELECT g, '
            "CASE WHEN g % 10 = 0 THEN NULL ELSE '名前 ' || g END, "
            "g * 1.25, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', ARRAY['t' || g, NULL], "
            "jsonb_build_object('n', g) FROM generate_series(1, 2500) g"
        )
    try:
        yield schema
    finally:
        with pg_admin() as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    srv = start_server(
        tmp_path / "accept",
        extra_env={"HEADWATER_SCHEDULER_INTERVAL_SECONDS": "0.5", "HEADWATER_RUN_POLL_SECONDS": "0.2"},
    )
    try:
        yield srv
    finally:
        srv.process.terminate()
        srv.process.wait(timeout=20)


def _headers(server: LiveServer) -> dict[str, str]:
    return {
        **gateway_headers(server, ORG),
        "x-sandbox-name": "prod",
        "Content-Type": "application/json",
    }


def _post(client: httpx.Client, path: str, body: Any) -> Any:
    resp = client.post(path, json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_tutorial_path_end_to_end(server: LiveServer, source_table: str) -> None:
    client = httpx.Client(base_url=server.base_url, headers=_headers(server), timeout=30)
    conn = _post(
        client,
        f"{FLOW}/connections",
        {
            "name": "Test connection for PostgreSQL",
            "description": "Test connection for PostgreSQL",
            "auth": {
                "specName": "Connection String Based Authentication",
                "params": {
                    "connectionString": "Server=127.0.0.1;Database=postgres;Port=5432;UID=postgres;Password=Acc3pt!;"
                    "EncryptionMethod=0"
                },
            },
            "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
        },
    )
    assert client.get(f"{FLOW}/connections/{conn['id']}/test").json() == {"result": True}

    root = client.get(f"{FLOW}/connections/{conn['id']}/explore", params={"objectType": "root"}).json()
    path = f"{source_table}.Customer Orders"
    assert {"type": "table", "name": path, "path": path, "canPreview": True, "canFetchSchema": True} in root
    table = client.get(
        f"{FLOW}/connections/{conn['id']}/explore", params={"objectType": "table", "object": path}
    ).json()
    columns = table["schema"]["columns"]
    assert [c["name"] for c in columns] == ["id", "Name", "amount", "placed_at", "tags", "note"]
    assert columns[3]["meta:xdmType"] == "date-time"
    preview = client.get(
        f"{FLOW}/connections/{conn['id']}/explore", params={"objectType": "table", "object": path, "preview": "true"}
    ).json()
    assert preview["data"][0]["id"] == 1 and preview["data"][0]["Name"] == "名前 1"

    source = _post(
        client,
        f"{FLOW}/sourceConnections",
        {
            "name": "Database source connection",
            "baseConnectionId": conn["id"],
            "description": "Database source connection",
            "data": {"format": "tabular"},
            "params": {"tableName": path, "columns": columns},
            "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
        },
    )
    dataset_ref = client.post(
        "/data/foundation/catalog/dataSets",
        json={
            "name": "Customer orders",
            "schemaRef": {
                "id": "https://ns.adobe.com/acme/schemas/orders",
                "contentType": "application/vnd.adobe.xed-full+json;version=1",
            },
        },
    )
    assert dataset_ref.status_code == 201, dataset_ref.text
    dataset_id = dataset_ref.json()[0].split("/")[-1]
    target = _post(
        client,
        f"{FLOW}/targetConnections",
        {
            "name": "Database target connection",
            "description": "Database target connection",
            "data": {
                "schema": {
                    "id": "https://ns.adobe.com/acme/schemas/orders",
                    "version": "application/vnd.adobe.xed-full+json;version=1",
                }
            },
            "params": {"dataSetId": dataset_id},
            "connectionSpec": {"id": LAKE_SPEC, "version": "1.0"},
        },
    )
    mapping = client.post(
        "/data/foundation/conversion/mappingSets",
        json={
            "version": 0,
            "xdmSchema": "https://ns.adobe.com/acme/schemas/orders",
            "xdmVersion": "1.0",
            "id": None,
            "mappings": [
                {
                    "destinationXdmPath": c["name"],
                    "sourceAttribute": c["name"],
                    "identity": False,
                    "identityGroup": None,
                    "namespaceCode": None,
                    "version": 0,
                }
                for c in columns
            ],
        },
    )
    assert mapping.status_code == 200, mapping.text
    flow_spec = client.get(f'{FLOW}/flowSpecs?property=name=="CRMToAEP"').json()["items"][0]
    flow = _post(
        client,
        f"{FLOW}/flows",
        {
            "name": "Database dataflow",
            "description": "collecting Customer Orders",
            "flowSpec": {"id": flow_spec["id"], "version": "1.0"},
            "sourceConnectionIds": [source["id"]],
            "targetConnectionIds": [target["id"]],
            "transformations": [
                {"name": "Mapping", "params": {"mappingId": mapping.json()["id"], "mappingVersion": 0}}
            ],
            "scheduleParams": {"startTime": str(int(time.time())), "frequency": "once"},
        },
    )

    deadline = time.monotonic() + 120
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        runs = client.get(f"{FLOW}/runs", params={"property": f"flowId=={flow['id']}"}).json()["items"]
        if runs and runs[0]["metrics"]["statusSummary"]["status"] in ("success", "failed"):
            run = runs[0]
            break
        time.sleep(0.5)
    assert run, "the scheduled run did not finish within 120 s:\n" + server.log_text()[-3000:]
    assert run["metrics"]["statusSummary"]["status"] == "success", json.dumps(run, indent=1)
    summary = run["metrics"]["recordSummary"]
    assert summary["inputRecordCount"] == summary["outputRecordCount"] == 2500
    assert summary["failedRecordCount"] == 0
    last = client.get(f"{FLOW}/flows/{flow['id']}").json()["items"][0]["lastRunDetails"]
    assert (last["id"], last["state"]) == (run["id"], "success")
    assert last["startedAtUTC"] <= last["completedAtUTC"]
    listed = client.get(f"{FLOW}/flows", params={"property": f"id=={flow['id']}"}).json()["items"]
    assert [f["lastRunDetails"] for f in listed] == [last]  # the list's batched lookup agrees

    info = json.loads(cli(server.data_dir, "datasets", "preview", dataset_id, "--org", ORG, "--json", "--limit", "5"))
    assert info["rowCount"] == 2500
    got = duckdb.sql(
        'SELECT id, "Name", amount::VARCHAR, epoch_us(placed_at), tags, note '
        f"FROM read_parquet({info['dataFiles']!r}) ORDER BY id"
    ).fetchall()
    with pg_admin() as pg:
        want = pg.execute(
            f'SELECT id, "Name", amount::text, (extract(epoch FROM placed_at) * 1000000)::bigint, tags, note::text '
            f'FROM "{source_table}"."Customer Orders" ORDER BY id'
        ).fetchall()
    assert len(got) == len(want) == 2500
    for g, w in zip(got, want, strict=True):
        assert (g[0], g[1], g[2], g[3], g[4]) == (w[0], w[1], w[2], w[3], w[4])
        assert json.loads(g[5]) == json.loads(w[5])
    assert "Acc3pt!" not in server.log_text()
