"""`/runs` over HTTP: list by flow, get, on-demand create with Adobe's validation codes, RE_TRIGGER."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from headwater.service import Services
from headwater.store.tables import runs
from tests.runs.source import SourceDb, create_flow
from tests.support.ids import FLOW
from tests.support.tenants import Tenant


def code_of(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    return str(body["type"]).rsplit("/", 1)[-1]


@pytest.fixture
def table_t(source_db: SourceDb) -> str:
    with source_db.connect() as conn:
        conn.execute("CREATE TABLE t (id bigint PRIMARY KEY, ts timestamptz NOT NULL)")
    return "public.t"


def test_on_demand_run_lifecycle_over_http(
    client: TestClient, services: Services, tenant: Tenant, source_db: SourceDb, table_t: str
) -> None:
    h = tenant.headers()
    flow = create_flow(services, source_db=source_db.name, table=table_t, delta=None, frequency="once")
    created = client.post(f"{FLOW}/runs", headers=h, json={"flowId": flow.id, "params": {"startTime": "1663735590"}})
    assert created.status_code == 201, created.text
    item = created.json()["items"][0]
    assert set(item) == {"id", "etag"}
    assert created.headers["Location"].endswith(f"/runs/{item['id']}")

    got = client.get(f"{FLOW}/runs/{item['id']}", headers=h)
    assert got.status_code == 200
    run = got.json()["items"][0]
    assert run["flowId"] == flow.id and run["etag"] == item["etag"]
    assert run["metrics"]["statusSummary"]["status"] == "pending"
    assert run["scheduledAtUTC"] == 1663735590000
    assert run["params"] == {"startTime": "1663735590"}
    assert run["sandboxName"] == "prod" and run["imsOrgId"] == tenant.org

    listed = client.get(f"{FLOW}/runs", headers=h, params={"property": f"flowId=={flow.id}"})
    assert [r["id"] for r in listed.json()["items"]] == [item["id"]]
    assert client.get(f"{FLOW}/runs", headers=h, params={"property": "flowId==nope"}).json()["items"] == []
    counted = client.get(f"{FLOW}/runs", headers=h, params={"property": f"flowId=={flow.id}", "count": "true"})
    assert counted.json() == {"count": 1}
    by_status = client.get(f"{FLOW}/runs", headers=h, params={"property": "metrics.statusSummary.status==Pending"})
    assert len(by_status.json()["items"]) == 1

    # Another sandbox never sees it.
    assert client.get(f"{FLOW}/runs/{item['id']}", headers=tenant.headers("dev")).status_code == 404

    # RE_TRIGGER needs a failed (or cancelled) run.
    bad = client.post(f"{FLOW}/runs/{item['id']}/action", headers=h, params={"op": "RE_TRIGGER"})
    assert bad.status_code == 400 and code_of(bad) == "FLOW-1387-400"
    with services.store.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == item["id"]).values(status="failed"))
    again = client.post(f"{FLOW}/runs/{item['id']}/action", headers=h, params={"op": "re_trigger"})
    assert again.status_code == 200, again.text
    assert again.json()["items"][0]["metrics"]["statusSummary"]["status"] == "pending"
    unknown = client.post(f"{FLOW}/runs/{item['id']}/action", headers=h, params={"op": "explode"})
    assert code_of(unknown) == "FLOW-1401-400"


def test_on_demand_run_validation(
    client: TestClient, services: Services, tenant: Tenant, source_db: SourceDb, table_t: str
) -> None:
    h = tenant.headers()
    recurring = create_flow(services, source_db=source_db.name, table=table_t, delta="ts")
    once = create_flow(services, source_db=source_db.name, table=table_t, delta=None, frequency="once")

    def post(body: object) -> object:
        return client.post(f"{FLOW}/runs", headers=h, json=body)

    r = post({"flowId": recurring.id})
    assert r.status_code == 400 and code_of(r) == "FLOW-1386-400"  # type: ignore[attr-defined]
    assert post({"flowId": "missing"}).status_code == 404  # type: ignore[attr-defined]
    assert code_of(post({"params": {}})) == "FLOW-1380-400"
    window = {"windowStartTime": "1651584991", "windowEndTime": "1651584000"}
    assert code_of(post({"flowId": once.id, "params": window})) == "FLOW-1381-400"
    window = {"windowStartTime": "1651584991", "windowEndTime": "1651585967"}
    assert code_of(post({"flowId": once.id, "params": window})) == "FLOW-1383-400"
    ok = post({"flowId": once.id, "params": {**window, "deltaColumn": {"name": "DOB"}}})
    assert ok.status_code == 201  # type: ignore[attr-defined]
    other = post({"flowId": once.id, "params": {**window, "deltaColumn": {"name": "other"}}})
    assert code_of(other) == "FLOW-1382-400"
    # Milliseconds are accepted too (values >= 1e11), and the flow's first delta column is reused.
    ms = post({"flowId": once.id, "params": {"windowStartTime": 1651584991000, "windowEndTime": 1651585967000}})
    assert ms.status_code == 201  # type: ignore[attr-defined]
    run_id = ms.json()["items"][0]["id"]  # type: ignore[attr-defined]
    run = client.get(f"{FLOW}/runs/{run_id}", headers=h).json()["items"][0]
    assert run["params"]["deltaColumn"] == {"name": "DOB"}
