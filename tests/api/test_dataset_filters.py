"""Catalog's dataSets list filters: each one a client sends is answered exactly or refused with a 400
that names it, never left out of the answer; filters on indexed columns read only the rows they keep;
and a dataset delete finds the target connection that names it however many the sandbox holds."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headwater.service import Services
from headwater.store import Scope, Store
from tests.support.ids import CATALOG, FLOW, LAKE_SPEC
from tests.support.tenants import Tenant

DATASETS = f"{CATALOG}/dataSets"


def create(client: TestClient, tenant: Tenant, **body: Any) -> str:
    created = client.post(DATASETS, json=body, headers=tenant.headers())
    assert created.status_code == 201, created.text
    return str(created.json()[0].split("/")[-1])


def names(client: TestClient, tenant: Tenant, query: str) -> list[str]:
    got = client.get(f"{DATASETS}?{query}", headers=tenant.headers())
    assert got.status_code == 200, (query, got.text)
    return sorted(d["name"] for d in got.json().values())


@pytest.fixture
def datasets(client: TestClient, tenant: Tenant) -> dict[str, str]:
    ref = {"id": "https://ns.adobe.com/acme/schemas/orders", "contentType": "application/vnd.adobe.xed+json"}
    return {
        "Orders": create(client, tenant, name="Orders", description="daily", schemaRef=ref, tags={"team": ["sales"]}),
        "orders": create(client, tenant, name="orders", description="hourly", tags={"team": ["ops"], "tier": ["1"]}),
        "Order*s": create(client, tenant, name="Order*s", description="daily"),
        "customers": create(client, tenant, name="customers", tags={"team": ["sales-eu"]}),
    }


def test_simple_filters_match_exactly(client: TestClient, tenant: Tenant, datasets: dict[str, str]) -> None:
    assert names(client, tenant, "name=orders") == ["orders"]  # letter case counts
    assert names(client, tenant, "name=orders,customers") == ["customers", "orders"]
    assert names(client, tenant, "name=!orders,customers") == ["Order*s", "Orders"]
    assert names(client, tenant, "name=Ord*") == ["Order*s", "Orders"]
    assert names(client, tenant, "name=*rder*s") == ["Order*s", "Orders", "orders"]
    assert names(client, tenant, "name=Order**s") == ["Order*s"]  # ** is a literal asterisk
    assert names(client, tenant, "description=daily") == ["Order*s", "Orders"]
    assert names(client, tenant, "description=Daily") == []
    assert names(client, tenant, "name=orders&description=daily") == []  # filters are AND-ed
    assert names(client, tenant, "version=1.0.0") == sorted(datasets)
    assert names(client, tenant, "version=!1.0.0") == []
    created = client.get(f"{DATASETS}/{datasets['orders']}", headers=tenant.headers()).json()[datasets["orders"]]
    assert "orders" in names(client, tenant, f"created={created['created']},1")
    assert "orders" not in names(client, tenant, f"created=!{created['created']}")
    assert names(client, tenant, "updated=1") == []
    user = created["createdUser"]
    assert user and names(client, tenant, f"createdUser={user}&updatedUser={user}") == sorted(datasets)
    assert names(client, tenant, f"createdUser=!{user}") == []
    assert names(client, tenant, f"createdClient={created['createdClient']}") == sorted(datasets)


def test_the_property_parameter(client: TestClient, tenant: Tenant, datasets: dict[str, str]) -> None:
    assert names(client, tenant, "property=schemaRef") == ["Orders"]
    assert names(client, tenant, "property=!schemaRef") == ["Order*s", "customers", "orders"]
    assert names(client, tenant, "property=name") == sorted(datasets)
    assert names(client, tenant, "property=!name") == []
    assert names(client, tenant, "property=name==orders") == ["orders"]
    assert names(client, tenant, "property=name!=orders") == ["Order*s", "Orders", "customers"]
    assert names(client, tenant, "property=name~^Ord") == ["Order*s", "Orders"]
    assert names(client, tenant, "property=name~ers$") == ["Orders", "customers", "orders"]
    assert names(client, tenant, "property=name~der") == ["Order*s", "Orders", "orders"]
    assert names(client, tenant, "property=name~^Order\\*s$") == ["Order*s"]
    assert names(client, tenant, "property=version>1.0.3") == []
    assert names(client, tenant, "property=version>=1.0.0") == sorted(datasets)
    assert names(client, tenant, "property=created>0&property=name~^c") == ["customers"]
    assert names(client, tenant, "property=created<0") == []
    assert names(client, tenant, "tags=team:sales") == ["Orders"]
    assert names(client, tenant, "tags=team:sales*") == ["Orders", "customers"]
    assert names(client, tenant, "tags=team:*,tier:1") == ["orders"]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("property=name~^a.*b", "regular expression operator"),
        ("property=nmae==x", "no property 'nmae'"),
        ("property=schemaRef.id==x", "top-level"),
        ("property=tags==x", "tags is an object"),
        ("property=name>a", "name is text"),
        ("property=created>yesterday", "epoch milliseconds"),
        ("property=version>one", "dotted whole numbers"),
        ("property=name==", "needs a value"),
        ("property=", "Invalid property filter"),
        ("tags=team", "name:value"),
        ("created=abc", "epoch milliseconds"),
        ("enableErrorDiagnostics=true", "enableErrorDiagnostics filter is not supported"),
        ("nmae=orders", "'nmae' is not supported"),
        ("status=success", "'status' is not supported"),
        ("limit=0", "between 1 and 100"),
        ("name=a%00b", "NUL character"),
        ("property=name==a%00b", "NUL character"),
    ],
)
def test_filters_it_cannot_answer_are_refused_by_name(
    refused_api: tuple[TestClient, Tenant], query: str, says: str
) -> None:
    client, tenant = refused_api
    refused = client.get(f"{DATASETS}?{query}", headers=tenant.headers())
    assert refused.status_code == 400, (query, refused.text)
    assert says in refused.json()["report"]["detailed-message"], refused.text


def test_one_dataset_takes_properties_only(refused_api: tuple[TestClient, Tenant]) -> None:
    client, tenant = refused_api
    refused = client.get(f"{DATASETS}/nope?name=x", headers=tenant.headers())
    assert refused.status_code == 400 and "'name' is not supported" in refused.text


def test_filtered_pages_are_cut_after_filtering(client: TestClient, tenant: Tenant) -> None:
    wanted = [create(client, tenant, name=f"keep {i}", description="keep") for i in range(7)]
    for i in range(5):
        create(client, tenant, name=f"drop {i}", description="drop")
    seen: list[str] = []
    for start in range(0, 9, 3):
        page = client.get(f"{DATASETS}?description=keep&limit=3&start={start}", headers=tenant.headers()).json()
        seen += list(page)
    assert seen == wanted  # oldest first, each once, none of the others


def _rows_read(services: Services, client: TestClient, tenant: Tenant, url: str, mp: pytest.MonkeyPatch) -> int:
    rows: list[str] = []
    read = Store._record

    def counting(row: Any) -> Any:
        rows.append(row.id)
        return read(row)

    mp.setattr(Store, "_record", staticmethod(counting))
    try:
        resp = client.get(url, headers=tenant.headers())
    finally:
        mp.undo()
    assert resp.status_code == 200, resp.text
    return len(rows)


def test_a_name_filter_reads_only_the_rows_of_that_name(
    client: TestClient, tenant: Tenant, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    scope = Scope(tenant.org, "prod")
    for i in range(300):
        dataset_id = uuid.uuid4().hex[:24]
        doc = {"name": f"ds {i}", "tags": {}, "_iceberg": {"namespace": "ns", "table": f"ds_{dataset_id}"}}
        services.store.insert("dataSet", scope, id=dataset_id, doc=doc)
        services.store.save_lake_facts(dataset_id, {"schema": None, "dataFiles": 0}, as_of=1)
    assert _rows_read(services, client, tenant, f"{DATASETS}?name=ds 7", monkeypatch) == 1
    assert _rows_read(services, client, tenant, f"{DATASETS}?property=name==ds 7,ds 8", monkeypatch) == 2
    assert _rows_read(services, client, tenant, f"{DATASETS}?created=1", monkeypatch) == 0
    # The index finds the name equal but for letter case, which the exact check then drops.
    assert _rows_read(services, client, tenant, f"{DATASETS}?name=DS 7", monkeypatch) == 1
    assert names(client, tenant, "name=DS 7") == []
    # A filter no column holds reads on until its page is found (here, the whole sandbox).
    assert _rows_read(services, client, tenant, f"{DATASETS}?name=*s 7", monkeypatch) == 300


def test_a_delete_finds_the_target_connection_naming_it_among_many(
    client: TestClient, tenant: Tenant, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = create(client, tenant, name="target")
    another = create(client, tenant, name="another")  # a target connection's dataset must exist
    scope = Scope(tenant.org, "prod")
    spec = {"id": LAKE_SPEC, "version": "1.0"}
    for _ in range(1200):  # more than two of the chunks the check reads at a time
        doc = {"name": "t", "params": {"dataSetId": another}, "connectionSpec": spec, "state": "enabled"}
        services.store.insert("targetConnection", scope, id=str(uuid.uuid4()), doc=doc)
    naming = str(uuid.uuid4())
    doc = {"name": "t", "params": {"dataSetId": dataset}, "connectionSpec": spec, "state": "enabled"}
    services.store.insert("targetConnection", scope, id=naming, doc=doc)
    rows: list[str] = []
    read = Store._record
    monkeypatch.setattr(Store, "_record", staticmethod(lambda row: rows.append(row.id) or read(row)))
    refused = client.delete(f"{DATASETS}/{dataset}", headers=tenant.headers())
    assert refused.status_code == 400 and naming in refused.text, refused.text
    # The dataset itself: the target connection naming it is found in the index, by id, not in a scan.
    assert rows == [dataset]
    # A target connection's dataset key never answers a baseConnectionId filter (it has none).
    listed = client.get(f"{FLOW}/targetConnections?property=baseConnectionId=={dataset}", headers=tenant.headers())
    assert listed.status_code == 200 and listed.json()["items"] == [], listed.text
    services.store.delete("targetConnection", scope, naming)
    assert client.delete(f"{DATASETS}/{dataset}", headers=tenant.headers()).status_code == 200
