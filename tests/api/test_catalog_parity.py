"""Catalog and Data Prep answers next to Adobe's published documents (catalog.yaml, data-prep.yaml) and
what Adobe's public client (aepp) sends and reads: each added field checked against the lake after a
real run, and aepp's own request bodies accepted."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headwater.lake import RUN_ID, DatasetIdent
from headwater.service import Services
from tests.support.chain import make_chain, ok, run_until_done
from tests.support.ids import CATALOG, CONVERSION, FLOW
from tests.support.tenants import Tenant

# What aepp's Catalog.createDataSets(name, schemaId) and DataPrep.createMappingSet(schemaId, mappingList)
# send, query parameters included.
SCHEMA_ID = "https://ns.adobe.com/acme/schemas/52b59140414aa6a370ef5e21155fd7a686744b87"
AEPP_DATASET = {
    "name": "aepp dataset",
    "schemaRef": {"id": SCHEMA_ID, "contentType": "application/vnd.adobe.xed+json;version=1"},
    "fileDescription": {"persisted": True, "containerFormat": "parquet", "format": "parquet"},
}
AEPP_OUTPUT_REF = {"id": SCHEMA_ID, "contentType": "application/vnd.adobe.xed-full+json;version=1"}
AEPP_MAPPING_SET = {
    "outputSchema": {"schemaRef": AEPP_OUTPUT_REF},
    "mappings": [{"sourceType": "ATTRIBUTE", "source": "id", "destination": "_id"}],
}


def table_of(services: Services, dataset: dict[str, Any]) -> Any:
    """The dataset's Iceberg table, loaded from the catalog itself (not through the code under test)."""
    ice = dataset["iceberg"]
    return services.datasets.lake.catalog.load_table((ice["namespace"], ice["table"]))


def test_a_dataset_shows_the_snapshot_its_last_run_committed(
    client: TestClient, tenant: Tenant, services: Services, pg_table: str
) -> None:
    headers = tenant.headers()
    chain = make_chain(client, headers, pg_table)
    before = ok(client.get(f"{CATALOG}/dataSets/{chain.dataset}", headers=headers), 200)[chain.dataset]
    assert "snapshot" not in before["iceberg"]  # no run has committed yet
    assert not {"lastBatchId", "lastBatchStatus", "viewId", "files"} & set(before)  # no batches or views here

    assert chain.run is not None
    assert run_until_done(services, chain.run).status == "success"
    dataset = ok(client.get(f"{CATALOG}/dataSets/{chain.dataset}", headers=headers), 200)[chain.dataset]
    current = table_of(services, dataset).current_snapshot()
    assert dataset["iceberg"]["snapshot"] == {
        "id": str(current.snapshot_id),
        "committed": current.timestamp_ms,
        "runId": chain.run,
        "flowId": chain.flow,
    }
    assert current.summary[RUN_ID] == chain.run
    # The run it names is served, and its output is what the snapshot added.
    run = ok(client.get(f"{FLOW}/runs/{chain.run}", headers=headers), 200)["items"][0]
    assert run["flowId"] == chain.flow and run["metrics"]["statusSummary"]["status"] == "success"
    assert run["metrics"]["recordSummary"]["outputRecordCount"] == int(current.summary["added-records"])

    # A second run moves it; the list answers the same as the dataset, from the store.
    again = ok(client.post(f"{FLOW}/runs", headers=headers, json={"flowId": chain.flow}))["items"][0]["id"]
    assert run_until_done(services, again).status == "success"
    latest = table_of(services, dataset).current_snapshot()
    assert latest.snapshot_id != current.snapshot_id and latest.summary[RUN_ID] == again
    listed = ok(client.get(f"{CATALOG}/dataSets", headers=headers), 200)[chain.dataset]
    assert listed["iceberg"]["snapshot"]["runId"] == again
    assert listed["iceberg"]["snapshot"]["id"] == str(latest.snapshot_id)
    assert services.store.lake_facts([chain.dataset])[chain.dataset]["snapshot"] == listed["iceberg"]["snapshot"]


def test_lists_read_the_snapshot_from_the_store_and_old_facts_are_read_again_once(
    client: TestClient, tenant: Tenant, services: Services, pg_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = tenant.headers()
    chain = make_chain(client, headers, pg_table)
    assert chain.run is not None and run_until_done(services, chain.run).status == "success"
    lake = services.datasets.lake
    real = lake.current_snapshot

    def refuse(ident: DatasetIdent) -> Any:
        raise AssertionError(f"a list read the lake for {ident}")

    monkeypatch.setattr(lake, "current_snapshot", refuse)
    listed = ok(client.get(f"{CATALOG}/dataSets", headers=headers), 200)[chain.dataset]
    assert listed["iceberg"]["snapshot"]["runId"] == chain.run

    # Facts kept before they held the snapshot are read from the lake again, then kept whole.
    kept = services.store.lake_facts([chain.dataset])[chain.dataset]
    old = {k: v for k, v in kept.items() if k != "snapshot"}
    services.store.save_lake_facts(chain.dataset, old, as_of=time.time_ns())
    monkeypatch.setattr(lake, "current_snapshot", real)
    again = ok(client.get(f"{CATALOG}/dataSets", headers=headers), 200)[chain.dataset]
    assert again["iceberg"]["snapshot"] == listed["iceberg"]["snapshot"]
    assert services.store.lake_facts([chain.dataset])[chain.dataset]["snapshot"] == listed["iceberg"]["snapshot"]


def test_aepps_create_dataset_body_is_accepted_and_answered_as_sent(client: TestClient, tenant: Tenant) -> None:
    headers = tenant.headers()
    created = client.post(f"{CATALOG}/dataSets?requestDataSource=False", headers=headers, json=AEPP_DATASET)
    assert created.status_code == 201, created.text
    dataset_id = created.json()[0].split("/")[-1]
    dataset = ok(client.get(f"{CATALOG}/dataSets/{dataset_id}", headers=headers), 200)[dataset_id]
    assert dataset["fileDescription"] == AEPP_DATASET["fileDescription"]
    assert dataset["schemaRef"] == AEPP_DATASET["schemaRef"]
    # What aepp's getDataSets caches from the list: name, schemaRef and the key (tags are as given).
    listed = ok(client.get(f"{CATALOG}/dataSets?limit=100", headers=headers), 200)
    assert listed[dataset_id]["name"] == "aepp dataset" and listed[dataset_id]["schemaRef"]["id"] == SCHEMA_ID
    assert listed[dataset_id]["tags"] == {}

    for untrue in (
        {"persisted": False, "format": "parquet"},
        {"containerFormat": "delta", "format": "parquet"},
        {"format": "csv"},
        {"format": "parquet", "delimiters": [","]},
    ):
        refused = client.post(f"{CATALOG}/dataSets", headers=headers, json={**AEPP_DATASET, "fileDescription": untrue})
        assert refused.status_code == 400 and "fileDescription may only say" in refused.text, refused.text


def test_aepps_create_mapping_set_body_keeps_its_output_schema_reference(client: TestClient, tenant: Tenant) -> None:
    headers = tenant.headers()
    created = client.post(f"{CONVERSION}/mappingSets?validate=False", headers=headers, json=AEPP_MAPPING_SET)
    assert created.status_code == 200, created.text
    mapping_id = created.json()["id"]
    got = ok(client.get(f"{CONVERSION}/mappingSets/{mapping_id}", headers=headers), 200)
    assert got["xdmSchema"] == SCHEMA_ID
    assert got["schemaRef"] == AEPP_OUTPUT_REF and got["outputSchema"] == {"schemaRef": AEPP_OUTPUT_REF}
    assert got["mappings"][0]["sourceType"] == "ATTRIBUTE"
    # aepp's getMappingSets reads `data`.
    listed = ok(client.get(f"{CONVERSION}/mappingSets?limit=100", headers=headers), 200)["data"]
    assert [m["outputSchema"] for m in listed if m["id"] == mapping_id] == [{"schemaRef": AEPP_OUTPUT_REF}]

    # The older form answers the reference it was given, with no content type made up.
    legacy = {"xdmSchema": SCHEMA_ID, "mappings": [{"sourceAttribute": "id", "destinationXdmPath": "_id"}]}
    old_id = ok(client.post(f"{CONVERSION}/mappingSets", headers=headers, json=legacy), 200)["id"]
    old = ok(client.get(f"{CONVERSION}/mappingSets/{old_id}", headers=headers), 200)
    assert old["schemaRef"] == {"id": SCHEMA_ID} and old["outputSchema"] == {"schemaRef": {"id": SCHEMA_ID}}

    for body, says in (
        ({**AEPP_MAPPING_SET, "xdmSchema": "https://ns.adobe.com/acme/schemas/other"}, "name different XDM schemas"),
        ({**AEPP_MAPPING_SET, "outputSchema": {"schemaRef": AEPP_OUTPUT_REF, "id": "x"}}, "outputSchema may only"),
        ({**AEPP_MAPPING_SET, "outputSchema": {"schemaRef": {"contentType": "x"}}}, "outputSchema may only"),
        ({**AEPP_MAPPING_SET, "outputSchema": {"jsonSchema": {"type": "object"}}}, "outputSchema may only"),
    ):
        refused = client.post(f"{CONVERSION}/mappingSets", headers=headers, json=body)
        assert refused.status_code == 400 and says in refused.text, refused.text


def test_a_create_asking_for_a_data_source_is_refused(client: TestClient, tenant: Tenant) -> None:
    for value in ("true", "True"):
        url = f"{CATALOG}/dataSets?requestDataSource={value}"
        refused = client.post(url, headers=tenant.headers(), json=AEPP_DATASET)
        assert refused.status_code == 400 and "requestDataSource=true is not supported" in refused.text, refused.text
    assert ok(client.get(f"{CATALOG}/dataSets", headers=tenant.headers()), 200) == {}  # nothing was created


def test_several_datasets_are_looked_up_at_once(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, services: Services, pg_table: str
) -> None:
    headers = tenant.headers()
    chain = make_chain(client, headers, pg_table)
    assert chain.run is not None and run_until_done(services, chain.run).status == "success"
    others = [
        ok(client.post(f"{CATALOG}/dataSets", headers=headers, json={**AEPP_DATASET, "name": n}))[0].split("/")[-1]
        for n in ("b", "c")
    ]
    ids = [others[1], chain.dataset, others[0]]
    got = ok(client.get(f"{CATALOG}/dataSets/{','.join(ids)}?properties=name,iceberg", headers=headers), 200)
    assert list(got) == ids  # in the order asked
    for dataset_id in ids:
        one = ok(client.get(f"{CATALOG}/dataSets/{dataset_id}?properties=name,iceberg", headers=headers), 200)
        assert got[dataset_id] == one[dataset_id]
    assert got[chain.dataset]["iceberg"]["snapshot"]["runId"] == chain.run

    # One missing, or in another org, and the lookup says so rather than answering the rest.
    foreign = ok(client.post(f"{CATALOG}/dataSets", headers=other_tenant.headers(), json=AEPP_DATASET))
    for missing in ("000000000000000000000000", foreign[0].split("/")[-1]):
        absent = client.get(f"{CATALOG}/dataSets/{chain.dataset},{missing}", headers=headers)
        assert absent.status_code == 404 and missing in absent.text, absent.text
    assert client.get(f"{CATALOG}/dataSets/{chain.dataset},", headers=headers).status_code == 400
    too_many = ",".join(f"{i:024x}" for i in range(101))
    assert client.get(f"{CATALOG}/dataSets/{too_many}", headers=headers).status_code == 400
