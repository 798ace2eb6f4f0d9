"""Source connections, target connections, datasets, mapping sets and flows: the tutorial chain and its errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headwater.api import create_app
from headwater.service import Services
from headwater.settings import Settings
from tests.support.ids import BQ_SPEC, CATALOG, CONVERSION, CRM_TO_AEP, FLOW, LAKE_SPEC, ORG, PG_SPEC
from tests.support.pg import customers_table
from tests.support.tenants import Tenant, make_tenant


def post(client: TestClient, tenant: Tenant, path: str, body: Any, sandbox: str = "prod") -> Any:
    return client.post(path, json=body, headers=tenant.headers(sandbox))


def make_chain(client: TestClient, tenant: Tenant, table: str) -> dict[str, str]:
    """connection → source connection → dataset → target connection → mapping set."""
    conn = post(
        client,
        tenant,
        f"{FLOW}/connections",
        {
            "name": "local pg",
            "auth": {
                "specName": "Basic Authentication",
                "params": {
                    "server": "127.0.0.1",
                    "port": 5432,
                    "database": "postgres",
                    "username": "postgres",
                    "password": "unused-with-trust",
                    "sslMode": "Disable",
                },
            },
            "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
        },
    )
    assert conn.status_code == 201, conn.text
    source = post(
        client,
        tenant,
        f"{FLOW}/sourceConnections",
        {
            "name": "customers",
            "baseConnectionId": conn.json()["id"],
            "data": {"format": "tabular"},
            "params": {"tableName": table, "columns": [{"name": "id"}, {"name": "name"}, {"name": "updated_at"}]},
            "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
        },
    )
    assert source.status_code == 201, source.text
    dataset = post(client, tenant, f"{CATALOG}/dataSets", {"name": "customers", "schemaRef": {"id": "x"}})
    assert dataset.status_code == 201, dataset.text
    dataset_id = dataset.json()[0].split("/")[-1]
    target = post(
        client,
        tenant,
        f"{FLOW}/targetConnections",
        {
            "name": "lake",
            "data": {"schema": {"id": "x", "version": "application/vnd.adobe.xed-full+json;version=1"}},
            "params": {"dataSetId": dataset_id},
            "connectionSpec": {"id": LAKE_SPEC, "version": "1.0"},
        },
    )
    assert target.status_code == 201, target.text
    mapping = post(
        client,
        tenant,
        f"{CONVERSION}/mappingSets",
        {
            "version": 0,
            "xdmSchema": "x",
            "xdmVersion": "1.0",
            "id": None,
            "mappings": [
                {"destinationXdmPath": "_id", "sourceAttribute": "id", "identity": False, "version": 0},
                {"destinationXdmPath": "person.name", "sourceAttribute": "name", "identity": False, "version": 0},
                {"destinationXdmPath": "updated", "sourceAttribute": "updated_at", "identity": False, "version": 0},
            ],
        },
    )
    assert mapping.status_code == 200, mapping.text
    return {
        "connection": conn.json()["id"],
        "source": source.json()["id"],
        "target": target.json()["id"],
        "dataset": dataset_id,
        "mapping": mapping.json()["id"],
    }


def flow_body(chain: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Database dataflow",
        "description": "collecting customers",
        "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
        "sourceConnectionIds": [chain["source"]],
        "targetConnectionIds": [chain["target"]],
        "transformations": [
            {
                "name": "Copy",
                "params": {"deltaColumn": {"name": "updated_at", "dateFormat": "YYYY-MM-DD", "timezone": "UTC"}},
            },
            {"name": "Mapping", "params": {"mappingId": chain["mapping"], "mappingVersion": 0}},
        ],
        "scheduleParams": {
            "startTime": str(int(time.time()) + 3600),
            "frequency": "minute",
            "interval": "15",
            "backfill": "true",
        },
    }
    body.update(overrides)
    return body


def test_flow_lifecycle(client: TestClient, tenant: Tenant, pg_table: str) -> None:
    chain = make_chain(client, tenant, pg_table)
    resp = post(client, tenant, f"{FLOW}/flows", flow_body(chain))
    assert resp.status_code == 201, resp.text
    flow_id, etag = resp.json()["id"], resp.json()["etag"]
    flow = client.get(f"{FLOW}/flows/{flow_id}", headers=tenant.headers()).json()["items"][0]
    assert flow["state"] == "enabled"
    assert flow["scheduleParams"]["interval"] == "15"  # echoed as sent
    assert flow["runs"] == f"/runs?property=flowId=={flow_id}"
    inherited = flow["inheritedAttributes"]
    assert inherited["sourceConnections"][0]["baseConnection"]["id"] == chain["connection"]
    assert inherited["targetConnections"][0]["connectionSpec"]["id"] == LAKE_SPEC
    assert flow["lastOperation"]["operation"] == "create"
    assert inherited["properties"] == {"isSourceFlow": True}
    source_flows = client.get(
        f"{FLOW}/flows?property=inheritedAttributes.properties.isSourceFlow==true", headers=tenant.headers()
    )
    assert [f["id"] for f in source_flows.json()["items"]] == [flow_id], source_flows.text

    listed = client.get(f"{FLOW}/flows?property=sourceConnectionIds[]=={chain['source']}", headers=tenant.headers())
    assert [f["id"] for f in listed.json()["items"]] == [flow_id]

    patch = [
        {"op": "replace", "path": "/scheduleParams/frequency", "value": "hour"},
        {"op": "replace", "path": "/scheduleParams/interval", "value": "2"},
        {"op": "replace", "path": "/name", "value": "Renamed"},
    ]
    resp = client.patch(f"{FLOW}/flows/{flow_id}", json=patch, headers={**tenant.headers(), "If-Match": etag})
    assert resp.status_code == 200, resp.text
    etag = resp.json()["etag"]
    flow = client.get(f"{FLOW}/flows/{flow_id}", headers=tenant.headers()).json()["items"][0]
    assert flow["name"] == "Renamed" and flow["scheduleParams"]["frequency"] == "hour"
    assert flow["lastOperation"]["operation"] == "update"
    bad = [{"op": "replace", "path": "/scheduleParams/interval", "value": "0"}]
    resp = client.patch(f"{FLOW}/flows/{flow_id}", json=bad, headers={**tenant.headers(), "If-Match": etag})
    assert resp.status_code == 400 and resp.json()["type"].endswith("FLOW-1362-400")
    resp = client.patch(
        f"{FLOW}/flows/{flow_id}",
        json=[{"op": "replace", "path": "/state", "value": "disabled"}],
        headers={**tenant.headers(), "If-Match": etag},
    )
    assert resp.status_code == 400

    for op, state in (("disable", "disabled"), ("ENABLE", "enabled")):
        resp = client.post(f"{FLOW}/flows/{flow_id}/action?op={op}", headers=tenant.headers())
        assert resp.status_code == 200, resp.text
        got = client.get(f"{FLOW}/flows/{flow_id}", headers=tenant.headers()).json()["items"][0]
        assert got["state"] == state
    resp = client.post(f"{FLOW}/flows/{flow_id}/action?op=explode", headers=tenant.headers())
    assert resp.status_code == 400

    # Resources in use cannot be deleted; the flow can, and then they can.
    for path in (
        f"{FLOW}/connections/{chain['connection']}",
        f"{FLOW}/sourceConnections/{chain['source']}",
        f"{FLOW}/targetConnections/{chain['target']}",
        f"{CATALOG}/dataSets/{chain['dataset']}",
    ):
        resp = client.delete(path, headers=tenant.headers())
        assert resp.status_code == 400, (path, resp.text)
    assert client.delete(f"{FLOW}/flows/{flow_id}", headers=tenant.headers()).status_code == 204
    assert client.get(f"{FLOW}/flows/{flow_id}", headers=tenant.headers()).status_code == 404
    assert client.delete(f"{FLOW}/targetConnections/{chain['target']}", headers=tenant.headers()).status_code == 204
    assert client.delete(f"{FLOW}/sourceConnections/{chain['source']}", headers=tenant.headers()).status_code == 204
    assert client.delete(f"{CATALOG}/dataSets/{chain['dataset']}", headers=tenant.headers()).status_code == 200


@pytest.fixture(scope="module")
def refused_flows(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Tenant, dict[str, str]]]:
    """One app, tenant and chain for the refused-flow cases: a refused flow stores nothing, so they can share
    them (a new app costs about 0.25 s of FastAPI route set-up on its first request)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("flows") / "data", run_embedded_executor=False)
    services = Services(settings)
    services.migrate()
    with (
        customers_table() as table,
        TestClient(create_app(settings, services=services), raise_server_exceptions=False) as client,
    ):
        tenant = make_tenant(services, ORG)
        yield client, tenant, make_chain(client, tenant, table)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda b, c: b.update(state="enabled"), "1410"),
        (lambda b, c: b.update(flowSpec={"id": "nope"}), "1413"),
        (lambda b, c: b.update(sourceConnectionIds=[]), "1321"),
        (lambda b, c: b.update(sourceConnectionIds=[c["source"], c["source"]]), "1321"),
        (lambda b, c: b.update(targetConnectionIds=["missing"]), "1338"),
        (lambda b, c: b.update(scheduleParams={}), "1317"),
        (lambda b, c: b.update(scheduleParams={"startTime": "1", "frequency": "yearly", "interval": 1}), "1397"),
        (lambda b, c: b.update(scheduleParams={"startTime": "1", "frequency": "minute", "interval": 5}), "1362"),
        (lambda b, c: b.update(scheduleParams={"startTime": "1", "frequency": "once", "interval": 5}), "1361"),
        (lambda b, c: b.update(scheduleParams={"startTime": "1", "frequency": "once", "backfill": True}), "1364"),
        (lambda b, c: b.update(scheduleParams={"startTime": "soon", "frequency": "day", "interval": 1}), "1000"),
        (lambda b, c: b.update(scheduleParams={"startTime": "1", "frequency": "once"}), "1369"),
        (lambda b, c: b["transformations"].pop(0), "1367"),
        (lambda b, c: b["transformations"][0]["params"]["deltaColumn"].update(name="nope"), "1367"),
        (lambda b, c: b["transformations"][0]["params"]["deltaColumn"].update(name="tags"), "1367"),
        (lambda b, c: b["transformations"][1]["params"].update(mappingId="missing"), "1370"),
        (lambda b, c: b["transformations"].append({"name": "Explode", "params": {}}), "1000"),
        (lambda b, c: b.update(options={"writemode": "replace"}), "1000"),  # misspelt
        (lambda b, c: b.update(options={"inletUrl": "https://x"}), "1000"),  # Adobe's, for streaming flows
        (lambda b, c: b.update(descripton="x"), "1000"),  # misspelt
    ],
)
def test_flow_validation(refused_flows: tuple[TestClient, Tenant, dict[str, str]], change: Any, code: str) -> None:
    client, tenant, chain = refused_flows
    body = flow_body(chain)
    change(body, chain)
    resp = post(client, tenant, f"{FLOW}/flows", body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["type"].endswith(f"FLOW-{code}-400"), resp.text


def test_mapping_errors_surface_at_flow_creation(client: TestClient, tenant: Tenant, pg_table: str) -> None:
    chain = make_chain(client, tenant, pg_table)
    bad = post(
        client,
        tenant,
        f"{CONVERSION}/mappingSets",
        {"mappings": [{"destinationXdmPath": "x", "sourceAttribute": "score * 2"}]},  # score is not selected
    )
    assert bad.status_code == 200, bad.text
    body = flow_body(chain)
    body["transformations"][1]["params"]["mappingId"] = bad.json()["id"]
    resp = post(client, tenant, f"{FLOW}/flows", body)
    assert resp.status_code == 400
    assert "score" in resp.json()["report"]["detailed-message"]


def test_unknown_table_and_columns(client: TestClient, tenant: Tenant, pg_table: str) -> None:
    chain = make_chain(client, tenant, pg_table)
    schema = pg_table.split(".")[0]
    for params, code in (
        ({"tableName": f'{schema}.nope"; DROP TABLE x; --'}, "1330"),
        ({"tableName": pg_table, "columns": [{"name": "id"}, {"name": "ghost"}]}, "1330"),
    ):
        src = post(
            client,
            tenant,
            f"{FLOW}/sourceConnections",
            {
                "name": "s",
                "baseConnectionId": chain["connection"],
                "data": {"format": "tabular"},
                "params": params,
                "connectionSpec": {"id": PG_SPEC},
            },
        )
        assert src.status_code == 201, src.text
        body = flow_body({**chain, "source": src.json()["id"]})
        body["transformations"] = [body["transformations"][0]]
        resp = post(client, tenant, f"{FLOW}/flows", body)
        assert resp.status_code == 400, resp.text
        assert resp.json()["type"].endswith(f"FLOW-{code}-400"), resp.text


def test_source_and_target_connection_validation(client: TestClient, tenant: Tenant, pg_table: str) -> None:
    chain = make_chain(client, tenant, pg_table)
    base = {
        "name": "s",
        "baseConnectionId": chain["connection"],
        "data": {"format": "tabular"},
        "params": {"tableName": pg_table},
        "connectionSpec": {"id": PG_SPEC},
    }
    cases = [
        ({**base, "baseConnectionId": "missing"}, "1338"),
        ({**base, "data": {"format": "parquet"}}, "1327"),
        ({**base, "params": {}}, "1323"),
        ({**base, "params": {"tableName": pg_table, "columns": []}}, "1323"),
        ({**base, "params": {"tableName": pg_table, "columns": [{"nam": "x"}]}}, "1323"),
        ({**base, "params": {"tableName": pg_table, "colums": ["id"]}}, "1323"),  # misspelt
        ({**base, "params": {"tableName": pg_table, "cdcEnabled": True}}, "1323"),  # accepted, never honoured
        ({**base, "params": {"tableName": pg_table, "deltaColumn": {"name": "id"}}}, "1323"),  # the flow's
        ({**base, "connectionSpec": {"id": BQ_SPEC}}, "1413"),
        ({k: v for k, v in base.items() if k != "name"}, "1323"),
    ]
    for body, code in cases:
        resp = post(client, tenant, f"{FLOW}/sourceConnections", body)
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["type"].endswith(f"FLOW-{code}-400"), resp.text
    target = {"name": "t", "params": {"dataSetId": chain["dataset"]}, "connectionSpec": {"id": LAKE_SPEC}}
    cases = [
        ({**target, "connectionSpec": {"id": PG_SPEC}}, "1307"),
        ({**target, "params": {}}, "1325"),
        ({**target, "params": {"dataSetId": "000000000000000000000000"}}, "1325"),
        ({**target, "baseConnectionId": chain["connection"]}, "1332"),
    ]
    for body, code in cases:
        resp = post(client, tenant, f"{FLOW}/targetConnections", body)
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["type"].endswith(f"FLOW-{code}-400"), resp.text
    # Patch a source connection: etag rules and revalidation.
    got = client.get(f"{FLOW}/sourceConnections/{chain['source']}", headers=tenant.headers()).json()["items"][0]
    url = f"{FLOW}/sourceConnections/{chain['source']}"
    resp = client.patch(
        url,
        json=[{"op": "replace", "path": "/params/tableName", "value": ""}],
        headers={**tenant.headers(), "If-Match": got["etag"]},
    )
    assert resp.status_code == 400
    resp = client.patch(
        url,
        json=[{"op": "replace", "path": "/name", "value": "renamed"}],
        headers={**tenant.headers(), "If-Match": got["etag"]},
    )
    assert resp.status_code == 200
    assert client.get(url, headers=tenant.headers()).json()["items"][0]["name"] == "renamed"
    assert client.get(url, headers=tenant.headers("dev")).status_code == 404


def test_flow_specs(client: TestClient, tenant: Tenant) -> None:
    resp = client.get(f'{FLOW}/flowSpecs?property=name=="CRMToAEP"', headers=tenant.headers())
    spec = resp.json()["items"][0]
    assert spec["id"] == CRM_TO_AEP
    assert PG_SPEC in spec["sourceConnectionSpecIds"]
    assert [t["name"] for t in spec["transformationSpecs"]] == ["Copy", "Mapping"]
    assert client.get(f"{FLOW}/flowSpecs/{CRM_TO_AEP}", headers=tenant.headers()).status_code == 200
    assert client.get(f"{FLOW}/flowSpecs/nope", headers=tenant.headers()).status_code == 404


def test_draft_then_publish(client: TestClient, tenant: Tenant, pg_table: str) -> None:
    chain = make_chain(client, tenant, pg_table)
    body = flow_body(chain)
    del body["scheduleParams"]
    resp = client.post(f"{FLOW}/flows?mode=draft", json=body, headers=tenant.headers())
    assert resp.status_code == 201, resp.text
    flow_id = resp.json()["id"]
    assert client.get(f"{FLOW}/flows/{flow_id}", headers=tenant.headers()).json()["items"][0]["state"] == "draft"
    # Publishing validates fully: without a schedule it is refused.
    assert client.post(f"{FLOW}/flows/{flow_id}/action?op=publish", headers=tenant.headers()).status_code == 400
    assert client.post(f"{FLOW}/flows?mode=turbo", json=body, headers=tenant.headers()).status_code == 400


@pytest.mark.parametrize("timezone", ["PST", "America/Los_Angeles", "+05:00", 7])
def test_a_delta_timezone_other_than_utc_is_refused_not_ignored(
    client: TestClient, tenant: Tenant, pg_table: str, timezone: Any
) -> None:
    chain = make_chain(client, tenant, pg_table)
    body = flow_body(chain)
    body["transformations"][0]["params"]["deltaColumn"]["timezone"] = timezone
    resp = post(client, tenant, f"{FLOW}/flows", body)
    assert resp.status_code == 400, resp.text
    assert "FLOW-1367-400" in resp.json()["type"] and "must be UTC" in resp.json()["errorMessage"]
    for utc in ("UTC", "utc", "Etc/UTC", "GMT"):
        body["transformations"][0]["params"]["deltaColumn"]["timezone"] = utc
        assert post(client, tenant, f"{FLOW}/flows", body).status_code == 201
    body["transformations"][0]["params"]["deltaColumn"]["dateFormat"] = ["YYYY"]
    assert post(client, tenant, f"{FLOW}/flows", body).status_code == 400


def test_mapping_versions_other_than_zero_are_refused_not_ignored(
    client: TestClient, tenant: Tenant, pg_table: str
) -> None:
    chain = make_chain(client, tenant, pg_table)
    body = flow_body(chain)
    for version in (1, "3", -1, "x"):
        body["transformations"][1]["params"]["mappingVersion"] = version
        resp = post(client, tenant, f"{FLOW}/flows", body)
        assert resp.status_code == 400 and "FLOW-1370-400" in resp.json()["type"], resp.text
    for version in (0, "0"):
        body["transformations"][1]["params"]["mappingVersion"] = version
        assert post(client, tenant, f"{FLOW}/flows", body).status_code == 201
    mapping = {
        "version": 2,
        "xdmSchema": "x",
        "xdmVersion": "1.0",
        "mappings": [{"destinationXdmPath": "a", "sourceAttribute": "id", "version": 0}],
    }
    assert post(client, tenant, f"{CONVERSION}/mappingSets", mapping).status_code == 400
    assert post(client, tenant, f"{CONVERSION}/mappingSets", {**mapping, "version": 0}).status_code == 200
