"""What Adobe's clients send and read: unknown fields ignored (typos refused), Catalog and Data Prep
shapes, source-flow filtering, and an OpenAPI document that "Try it out" can use."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support.chain import basic_auth, connection_body, make_chain
from tests.support.ids import CATALOG, CONVERSION, FLOW
from tests.support.tenants import Tenant


def code_of(response: Any) -> str:
    return str(response.json().get("type", "")).rsplit("/", 1)[-1]


def test_unknown_fields_are_ignored_and_misspelt_ones_refused(
    client: TestClient, tenant: Tenant, pg_table: str
) -> None:
    headers = tenant.headers()
    chain = make_chain(client, headers, pg_table, with_run=False)

    # The call of a public Adobe client: an extra field its own schema carries.
    run = client.post(f"{FLOW}/runs", headers=headers, json={"flowId": chain.flow, "status": "active", "params": {}})
    assert run.status_code == 201, run.text
    stored = client.get(f"{FLOW}/runs/{run.json()['items'][0]['id']}", headers=headers).json()["items"][0]
    assert "status" not in stored and stored["metrics"]["statusSummary"]["status"] == "pending"

    for body, hint in [
        ({"flowID": chain.flow}, "did you mean flowId"),
        ({"flowId": chain.flow, "parms": {}}, "did you mean params"),
        ({"flowId": chain.flow, "params": {"windowStartTme": "1651584991"}}, "did you mean params.windowStartTime"),
    ]:
        refused = client.post(f"{FLOW}/runs", headers=headers, json=body)
        assert refused.status_code == 400 and code_of(refused) == "FLOW-1380-400", refused.text
        assert hint in refused.json()["errorMessage"], refused.text

    created = client.post(
        f"{FLOW}/connections", headers=headers, json={**connection_body(basic_auth()), "labels": ["core/C12"]}
    )
    assert created.status_code == 201, created.text
    got = client.get(f"{FLOW}/connections/{created.json()['id']}", headers=headers).json()["items"][0]
    assert "labels" not in got  # ignored, not stored as if honoured
    misspelt = client.post(f"{FLOW}/connections", headers=headers, json={**connection_body(basic_auth()), "Name": "x"})
    assert misspelt.status_code == 400 and "did you mean name" in misspelt.json()["errorMessage"], misspelt.text


def test_catalog_datasets_carry_what_clients_read(client: TestClient, tenant: Tenant) -> None:
    headers = tenant.headers()
    created = client.post(f"{CATALOG}/dataSets", headers=headers, json={"name": "d", "schemaRef": {"id": "x"}})
    assert created.status_code == 201, created.text
    dataset_id = created.json()[0].split("/")[-1]
    dataset = client.get(f"{CATALOG}/dataSets/{dataset_id}", headers=headers).json()[dataset_id]
    assert dataset["classification"] == {"dataBehavior": "record", "managedBy": "CUSTOMER"}
    assert dataset["createdClient"] == tenant.client_id and dataset["updatedUser"] == f"{tenant.client_id}@AdobeID"
    cut = client.get(f"{CATALOG}/dataSets?properties=name,classification", headers=headers).json()
    assert cut == {dataset_id: {"name": "d", "classification": dataset["classification"]}}
    refused = client.post(f"{CATALOG}/dataSets", headers=headers, json={"name": "d", "observableSchema": {}})
    assert refused.status_code == 400 and "observableSchema is not supported" in refused.text, refused.text


def test_mapping_sets_list_in_data_preps_shape(client: TestClient, tenant: Tenant) -> None:
    headers = tenant.headers()
    body = {"mappings": [{"destinationXdmPath": "a", "sourceAttribute": "id"}], "name": "m", "description": "d"}
    ids = []
    for _ in range(3):
        created = client.post(f"{CONVERSION}/mappingSets", headers=headers, json=body)
        assert created.status_code == 200, created.text
        ids.append(created.json()["id"])
    first = client.get(f"{CONVERSION}/mappingSets?limit=2", headers=headers).json()
    assert set(first) == {"_links", "_page", "data"}
    assert first["_page"] == {"count": 2, "limit": 2}
    assert first["_links"]["next"]["href"] == "/mappingSets?limit=2&start=2"
    rest = client.get(f"{CONVERSION}/mappingSets?limit=2&start=2", headers=headers).json()
    assert rest["_page"] == {"count": 1, "limit": 2} and rest["_links"] == {}
    assert sorted(m["id"] for m in first["data"] + rest["data"]) == sorted(ids)
    assert first["data"][0]["name"] == "m" and first["data"][0]["description"] == "d"
    mapping = first["data"][0]["mappings"][0]
    assert mapping["sourceAttribute"] == mapping["source"] == "id"
    assert mapping["destinationXdmPath"] == mapping["destination"] == "a"
    refused = client.post(f"{CONVERSION}/mappingSets", headers=headers, json={**body, "outputSchema": {"x": 1}})
    assert refused.status_code == 400 and "outputSchema may only be" in refused.text, refused.text


def test_openapi_lets_try_it_out_send_a_token(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The access_token from POST /ims/token/v3 (client_credentials).",
    }
    operations = [(m, p, o) for p, item in doc["paths"].items() for m, o in item.items()]
    for method, path, op in operations:
        assert op.get("description"), f"{method} {path} has no description"
        assert "422" not in op["responses"], f"{method} {path} declares a 422 it never answers"
        if path == "/ims/token/v3":
            continue
        assert op["security"] == [{"bearer": []}], f"{method} {path}"
        headers = {p["name"] for p in op["parameters"] if p["in"] == "header" and p["required"]}
        assert {"x-api-key", "x-gw-ims-org-id", "x-sandbox-name"} <= headers, f"{method} {path}"
    # The list parameters, which the list dependency reads from the request itself, are documented too.
    for collection in ("connections", "flows", "runs", "sourceConnections"):
        listed = doc["paths"][f"{FLOW}/{collection}"]["get"]["parameters"]
        assert [p["name"] for p in listed if p["in"] == "query"][:6] == [
            "property", "orderby", "limit", "start", "count", "continuationToken"
        ], collection  # fmt: skip
    create_flow = doc["paths"][f"{FLOW}/flows"]["post"]["requestBody"]["content"]["application/json"]
    assert create_flow["schema"]["$ref"] == "#/components/schemas/CreateFlow"
    assert create_flow["examples"]["example1"]["value"]["flowSpec"]["id"] == "14518937-270c-4525-bdec-c2ba7cce3860"


def test_the_token_endpoint_hints_at_a_misspelt_field(client: TestClient) -> None:
    refused = client.post("/ims/token/v3", data={"client_id": "x", "client_secert": "y"})
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "invalid_request",
        "error_description": "Unknown field: did you mean client_secret?",
    }


def test_patch_operations_ignore_unknown_keys_and_refuse_typos(client: TestClient, tenant: Tenant) -> None:
    headers = tenant.headers()
    created = client.post(f"{FLOW}/connections", headers=headers, json=connection_body(basic_auth()))
    url = f"{FLOW}/connections/{created.json()['id']}"
    etag = created.json()["etag"]
    op = {"op": "replace", "path": "/name", "value": "renamed", "comment": "an extension some clients send"}
    patched = client.patch(url, headers={**headers, "If-Match": etag}, json=[op])
    assert patched.status_code == 200, patched.text
    assert client.get(url, headers=headers).json()["items"][0]["name"] == "renamed"
    typo = [{"op": "replace", "path": "/name", "vlaue": "again"}]
    refused = client.patch(url, headers={**headers, "If-Match": patched.json()["etag"]}, json=typo)
    assert refused.status_code == 400 and code_of(refused) == "FLOW-1455-400", refused.text
    assert "did you mean [0].value" in refused.json()["errorMessage"]
