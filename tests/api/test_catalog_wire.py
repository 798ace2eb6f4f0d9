"""What Catalog's and Data Prep's clients read, as Adobe's API documents show it: a dataset's
`schemaRef` (left out when it has none), Catalog's list paging and `orderBy`, a mapping set's
`schemaRef`/`outputSchema`, and the published document describing those fields."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support.ids import CATALOG, CONVERSION
from tests.support.tenants import Tenant

DATASETS = f"{CATALOG}/dataSets"
SCHEMA_REF = {"id": "https://ns.adobe.com/acme/schemas/orders", "contentType": "application/vnd.adobe.xed+json"}


def create_dataset(client: TestClient, tenant: Tenant, body: dict[str, Any]) -> str:
    created = client.post(DATASETS, json=body, headers=tenant.headers())
    assert created.status_code == 201, created.text
    return str(created.json()[0].split("/")[-1])


def test_a_dataset_without_a_schema_ref_leaves_it_out(client: TestClient, tenant: Tenant) -> None:
    bare = create_dataset(client, tenant, {"name": "bare"})
    xdm = create_dataset(client, tenant, {"name": "xdm", "schemaRef": SCHEMA_REF})
    one = client.get(f"{DATASETS}/{bare}", headers=tenant.headers()).json()[bare]
    assert "schemaRef" not in one and one["name"] == "bare"
    listed = client.get(DATASETS, headers=tenant.headers()).json()
    assert "schemaRef" not in listed[bare]
    assert listed[xdm]["schemaRef"] == SCHEMA_REF
    assert client.get(f"{DATASETS}/{xdm}", headers=tenant.headers()).json()[xdm]["schemaRef"] == SCHEMA_REF


def test_the_dataset_list_pages_20_by_default_and_orders_by_created_or_updated(
    client: TestClient, tenant: Tenant
) -> None:
    ids = [create_dataset(client, tenant, {"name": f"d{i}"}) for i in range(23)]
    first = client.get(DATASETS, headers=tenant.headers()).json()
    assert len(first) == 20  # Catalog's default limit
    everything = client.get(f"{DATASETS}?limit=100", headers=tenant.headers()).json()
    assert sorted(everything) == sorted(ids)
    oldest_first = [d["id"] for d in sorted(everything.values(), key=lambda d: (d["created"], d["id"]))]
    assert list(everything) == oldest_first
    rest = client.get(f"{DATASETS}?start=20", headers=tenant.headers()).json()
    assert list(first) + list(rest) == oldest_first
    for order_by, field, descending in (
        ("desc:created", "created", True),
        ("asc:created", "created", False),
        ("created", "created", False),
        ("desc:updated", "updated", True),
    ):
        expected = sorted(everything.values(), key=lambda d, f=field: (d[f], d["id"]), reverse=descending)  # type: ignore[misc]
        page = client.get(f"{DATASETS}?orderBy={order_by}&limit=5&start=3", headers=tenant.headers())
        assert page.status_code == 200, page.text
        assert list(page.json()) == [d["id"] for d in expected[3:8]], order_by
    for bad in ("name", "sideways:created", "desc:created,updated", ""):
        refused = client.get(f"{DATASETS}?orderBy={bad}", headers=tenant.headers())
        assert refused.status_code == 400 and "orderBy" in refused.text, (bad, refused.text)


def test_a_mapping_set_names_its_schema_as_data_prep_answers_it(client: TestClient, tenant: Tenant) -> None:
    mappings = [{"destinationXdmPath": "a", "sourceAttribute": "id"}]
    xdm = "https://ns.adobe.com/acme/schemas/orders"
    with_schema = client.post(
        f"{CONVERSION}/mappingSets",
        headers=tenant.headers(),
        json={"version": 0, "xdmSchema": xdm, "xdmVersion": "1.0", "mappings": mappings},
    )
    without = client.post(f"{CONVERSION}/mappingSets", headers=tenant.headers(), json={"mappings": mappings})
    assert with_schema.status_code == without.status_code == 200, (with_schema.text, without.text)
    got = client.get(f"{CONVERSION}/mappingSets/{with_schema.json()['id']}", headers=tenant.headers()).json()
    assert got["xdmSchema"] == got["schemaRef"]["id"] == got["outputSchema"]["schemaRef"]["id"] == xdm
    assert "contentType" not in got["schemaRef"]  # not known: left out rather than guessed
    bare = client.get(f"{CONVERSION}/mappingSets/{without.json()['id']}", headers=tenant.headers()).json()
    assert "schemaRef" not in bare and "outputSchema" not in bare
    listed = client.get(f"{CONVERSION}/mappingSets?limit=10", headers=tenant.headers()).json()["data"]
    by_id = {m["id"]: m for m in listed}
    assert by_id[got["id"]]["outputSchema"] == {"schemaRef": {"id": xdm}}


def test_the_published_document_describes_the_fields_answered(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    dataset = schemas["Dataset"]["properties"]
    assert {"schema", "schemaRef", "iceberg", "classification", "sandboxName"} <= set(dataset)
    assert dataset["schema"]["anyOf"][0] == {"type": "string"}  # Catalog's legacy string, never the columns
    iceberg = schemas["IcebergTable"]["properties"]
    assert set(iceberg) == {"namespace", "table", "dataFiles", "columns", "snapshot"}
    columns = iceberg["columns"]["anyOf"][0]["items"]["$ref"].rsplit("/", 1)[-1]
    assert set(schemas[columns]["properties"]) == {"name", "type", "arrowType"}
    snapshot = iceberg["snapshot"]["anyOf"][0]["$ref"].rsplit("/", 1)[-1]
    assert set(schemas[snapshot]["properties"]) == {"id", "committed", "runId", "flowId"}
    mapping_set = schemas["MappingSet"]["properties"]
    assert {"schemaRef", "outputSchema", "name", "description", "sandboxName", "imsOrgId"} <= set(mapping_set)
    paths = client.get("/openapi.json").json()["paths"]
    params = paths[f"{CONVERSION}/mappingSets"]["get"]["parameters"]
    assert {"limit", "start", "orderBy", "name", "expandSchema"} <= {p["name"] for p in params}
    created = paths[f"{CONVERSION}/mappingSets"]["post"]["responses"]
    assert "200" in created and "201" not in created  # Data Prep's documented status, the one answered
    one = {p["name"] for p in paths[f"{CONVERSION}/mappingSets/{{mapping_id}}"]["get"]["parameters"]}
    assert {"version", "expandSchema"} <= one
    filters = {p["name"] for p in paths[f"{CATALOG}/dataSets"]["get"]["parameters"]}
    assert {"name", "property", "tags", "created", "createdUser", "version", "properties"} <= filters
