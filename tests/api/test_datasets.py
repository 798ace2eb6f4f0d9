"""The Catalog API's datasets: a given schema, a schema from an explored source table, preview, delete, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headwater.lake import DatasetIdent
from headwater.service import Services
from tests.support.chain import basic_auth, connection_body
from tests.support.ids import FLOW
from tests.support.tenants import Tenant

CATALOG = "/data/foundation/catalog"
GIVEN = {
    "name": "orders",
    "schema": {
        "columns": [
            {"name": "id", "type": "long"},
            {"name": "amount", "type": "decimal(18,4)"},
            {"name": "placed", "type": "date-time"},
            {"name": 'odd "name"; --', "type": "string"},
        ]
    },
}


def create(client: TestClient, tenant: Tenant, body: Any, sandbox: str = "prod") -> Any:
    return client.post(f"{CATALOG}/dataSets", json=body, headers=tenant.headers(sandbox))


def dataset_id(resp: Any) -> str:
    assert resp.status_code == 201, resp.text
    ref = resp.json()
    assert isinstance(ref, list) and ref[0].startswith("@/dataSets/")
    return str(ref[0].split("/")[-1])


def test_a_given_schema_round_trips_and_is_an_iceberg_table(
    client: TestClient, tenant: Tenant, services: Services
) -> None:
    ds = dataset_id(create(client, tenant, GIVEN))
    got = client.get(f"{CATALOG}/dataSets/{ds}", headers=tenant.headers())
    assert got.status_code == 200, got.text
    view = got.json()[ds]
    assert view["name"] == "orders" and view["imsOrg"] == tenant.org and view["sandboxName"] == "prod"
    assert "schema" not in view  # Catalog's schema is a string: the columns are the table's, under iceberg
    assert [(c["name"], c["type"]) for c in view["iceberg"]["columns"]] == [
        (c["name"], c["type"])
        for c in GIVEN["schema"]["columns"]  # type: ignore[index]
    ]
    ice = view["iceberg"]
    assert services.datasets.lake.schema(DatasetIdent(ice["namespace"], ice["table"])).names[3] == 'odd "name"; --'
    preview = client.get(f"{CATALOG}/dataSets/{ds}/preview", headers=tenant.headers()).json()
    assert preview["rowCount"] == 0 and preview["data"] == [] and len(preview["columns"]) == 4
    zero = client.get(f"{CATALOG}/dataSets/{ds}/preview?limit=0", headers=tenant.headers())
    assert zero.status_code == 400 and "between 1 and 1000" in zero.text, zero.text  # not silently 100 rows


def test_a_schema_taken_from_an_explored_source_table(
    client: TestClient,
    tenant: Tenant,
    pg_table: str,
) -> None:
    conn = client.post(
        f"{FLOW}/connections",
        json=connection_body(basic_auth()),
        headers=tenant.headers(),
    )
    assert conn.status_code == 201, conn.text
    source = {"connectionId": conn.json()["id"], "tableName": pg_table, "columns": ["id", "score", "tags"]}
    ds = dataset_id(create(client, tenant, {"name": "from source", "source": source}))
    columns = client.get(f"{CATALOG}/dataSets/{ds}", headers=tenant.headers()).json()[ds]["iceberg"]["columns"]
    assert [(c["name"], c["type"]) for c in columns[:2]] == [("id", "long"), ("score", "decimal(10,2)")]
    assert columns[2]["name"] == "tags" and "list<" in columns[2]["arrowType"]

    bad = create(client, tenant, {"name": "x", "source": {**source, "columns": ["id", "nope"]}})
    assert bad.status_code == 400 and "nope" in bad.text
    missing = create(client, tenant, {"name": "x", "source": {**source, "tableName": "public.no_such_table"}})
    assert missing.status_code == 400 and "no_such_table" in missing.text
    elsewhere = create(client, tenant, {"name": "x", "source": source}, sandbox="dev")
    assert elsewhere.status_code == 404, elsewhere.text  # the connection is in prod, not dev


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x", "descripton": "red"}, "did you mean description"),
        ({"name": "x", "basePath": "s3://bucket/x"}, "basePath is not supported"),
        ({"name": "x", "schema": {"columns": []}}, "schema.columns"),
        ({"name": "x", "schema": {"columns": [{"name": "a", "type": "varchar"}]}}, "varchar"),
        ({"name": "x", "schema": {"columns": [{"name": "a", "type": "decimal(40,2)"}]}}, "decimal"),
        ({"name": "x", "schema": {"columns": [{"name": "a", "type": "long"}, {"name": "a", "type": "int"}]}}, "twice"),
        ({"name": "x", "schema": {"columns": [{"type": "long"}]}}, "name"),
        ({"name": "x", "schema": GIVEN["schema"], "source": {"connectionId": "a", "tableName": "b"}}, "not both"),
        ({"name": "x", "source": {"tableName": "b"}}, "connectionId"),
        ({"name": "x", "fileDescription": {"format": "csv"}}, "fileDescription"),
        ({"name": "x", "fileDescription": {"format": "parquet", "delimiters": [","]}}, "fileDescription"),
        ({"name": "x", "fileDescription": "parquet"}, "fileDescription"),
        ({"name": "x", "schema": " "}, "must name an XDM schema"),
        ({"name": "x", "schema": "https://ns.adobe.com/a", "schemaRef": {"id": "https://ns.adobe.com/b"}}, "different"),
    ],
)
def test_bad_dataset_bodies_get_a_clear_400(refused_api: tuple[TestClient, Tenant], body: Any, says: str) -> None:
    client, tenant = refused_api
    resp = create(client, tenant, body)
    assert resp.status_code == 400, resp.text
    assert says in resp.json()["report"]["detailed-message"]


def test_list_get_and_delete_respect_the_sandbox(
    client: TestClient, tenant: Tenant, services: Services, tmp_path: Path
) -> None:
    first = dataset_id(create(client, tenant, GIVEN))
    second = dataset_id(create(client, tenant, {"name": "no schema yet"}))
    listed = client.get(f"{CATALOG}/dataSets", headers=tenant.headers()).json()
    assert set(listed) == {first, second}
    assert "columns" not in listed[second]["iceberg"] and "schema" not in listed[second]
    assert client.get(f"{CATALOG}/dataSets", headers=tenant.headers("dev")).json() == {}
    for method in ("get", "delete"):
        other = client.request(method.upper(), f"{CATALOG}/dataSets/{first}", headers=tenant.headers("dev"))
        assert other.status_code == 404, other.text
    assert client.get(f"{CATALOG}/dataSets/{first}/preview", headers=tenant.headers("dev")).status_code == 404

    ice = listed[first]["iceberg"]
    ident = DatasetIdent(ice["namespace"], ice["table"])
    assert services.datasets.lake.exists(ident)
    gone = client.delete(f"{CATALOG}/dataSets/{first}", headers=tenant.headers())
    assert gone.status_code == 200 and gone.json() == [f"@/dataSets/{first}"]
    assert not services.datasets.lake.exists(ident)  # the Iceberg table is dropped with it
    assert client.get(f"{CATALOG}/dataSets/{first}", headers=tenant.headers()).status_code == 404
    assert client.delete(f"{CATALOG}/dataSets/{first}", headers=tenant.headers()).status_code == 404


def test_the_file_description_is_kept(client: TestClient, tenant: Tenant) -> None:
    created = dataset_id(create(client, tenant, {**GIVEN, "fileDescription": {"format": "Parquet"}}))
    view = client.get(f"{CATALOG}/dataSets/{created}", headers=tenant.headers()).json()
    assert view[created]["fileDescription"]["format"] == "parquet"


def test_catalogs_legacy_string_schema_is_the_schema_reference(client: TestClient, tenant: Tenant) -> None:
    uri = "https://ns.adobe.com/acme/schemas/orders"
    ds = dataset_id(create(client, tenant, {"name": "legacy", "schema": uri}))
    view = client.get(f"{CATALOG}/dataSets/{ds}", headers=tenant.headers()).json()[ds]
    assert view["schema"] == uri and view["schemaRef"] == {"id": uri}
    assert "columns" not in view["iceberg"]  # an XDM schema Headwater does not host: the first run sets them
    ref = {"id": uri, "contentType": "application/vnd.adobe.xed+json;version=1"}
    both = dataset_id(create(client, tenant, {"name": "both", "schema": uri, "schemaRef": ref}))
    assert client.get(f"{CATALOG}/dataSets/{both}", headers=tenant.headers()).json()[both]["schemaRef"] == ref
