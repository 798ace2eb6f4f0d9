"""Lists read what their page needs: a constant number of statements whatever the sandbox holds,
keyset pages that neither repeat nor skip while rows arrive, and dataset lists that read no lake."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update

from headwater.lake import Lake
from headwater.runs.dataset_facts import columns_of
from headwater.runs.ledger import Ledger
from headwater.runs.plan import lake_ident
from headwater.runs.report import new_doc
from headwater.service import Services
from headwater.store import Scope
from headwater.store.tables import runs
from tests.support.chain import create, make_chain, ok, pg_body, run_until_done
from tests.support.ids import CATALOG, CRM_TO_AEP, FLOW, LAKE_SPEC
from tests.support.metadata import BACKENDS, app_on
from tests.support.tenants import Tenant


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, Services, Tenant]]:
    """An app on a SQLite or on a PostgreSQL metadata database."""
    with app_on(request.param, tmp_path, prefix="hw_lists") as made:
        yield made


def seed(services: Services, tenant: Tenant, *, flows: int, runs_per_flow: int) -> str:
    """`flows` flows over one source and target connection, with finished runs; the id of a flow."""
    scope = Scope(tenant.org, "prod")
    store = services.store
    base = store.insert("connection", scope, id=str(uuid.uuid4()), doc={"name": "pg", "state": "enabled",
                        "connectionSpec": {"id": "pg", "version": "1.0"}})  # fmt: skip
    spec = {"id": LAKE_SPEC, "version": "1.0"}
    src_doc = {"name": "src", "baseConnectionId": base.id, "connectionSpec": base.doc["connectionSpec"]}
    src = store.insert("sourceConnection", scope, id=str(uuid.uuid4()), doc=src_doc)
    tgt = store.insert("targetConnection", scope, id=str(uuid.uuid4()), doc={"name": "tgt", "connectionSpec": spec})
    ids = []
    for i in range(flows):
        doc = {"name": f"flow {i}", "state": "enabled", "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
               "sourceConnectionIds": [src.id], "targetConnectionIds": [tgt.id], "transformations": [],
               "scheduleParams": {"startTime": "4102444800", "frequency": "once"}}  # fmt: skip
        ids.append(store.insert("flow", scope, id=str(uuid.uuid4()), doc=doc).id)
    rows = [
        {
            "run_id": str(uuid.uuid4()),
            "scope": scope,
            "flow_id": flow_id,
            "scheduled_at": 1_700_000_000_000 + k,
            "doc": new_doc(flow_spec={}, trigger="schedule"),
        }
        for flow_id in ids
        for k in range(runs_per_flow)
    ]
    Ledger(store).insert_many(rows)
    with store.begin() as conn:
        conn.execute(update(runs).values(status="success"))
    return ids[0]


def statements(services: Services, client: TestClient, url: str, tenant: Tenant) -> tuple[int, dict[str, Any]]:
    """The SQL statements one GET runs, and its answer."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(services.store.engine, "before_cursor_execute", count)
    try:
        resp = client.get(url, headers=tenant.headers())
    finally:
        event.remove(services.store.engine, "before_cursor_execute", count)
    assert resp.status_code == 200, resp.text
    return len(seen), resp.json()


def test_a_list_page_runs_the_same_statements_whatever_the_sandbox_holds(
    api: tuple[TestClient, Services, Tenant],
) -> None:
    client, services, tenant = api
    urls = {
        "flows": f"{FLOW}/flows?limit=3",
        "flows by state": f"{FLOW}/flows?limit=3&property=state==enabled&orderby=-createdAt",
        "connections": f"{FLOW}/connections?limit=3",
        "runs": f"{FLOW}/runs?limit=3",
    }
    first = seed(services, tenant, flows=4, runs_per_flow=2)
    small = {name: statements(services, client, url, tenant)[0] for name, url in urls.items()}
    small["runs of a flow"] = statements(services, client, f"{FLOW}/runs?property={quote('flowId==' + first)}", tenant)[
        0
    ]
    big_first = seed(services, tenant, flows=300, runs_per_flow=5)
    big = {name: statements(services, client, url, tenant)[0] for name, url in urls.items()}
    big["runs of a flow"] = statements(
        services, client, f"{FLOW}/runs?property={quote('flowId==' + big_first)}", tenant
    )[0]
    assert big == small, (small, big)
    # The request's own checks (token, client) plus the page, plus for flows what it names and its last runs.
    assert max(big.values()) <= 5, big
    # The next page, through its token, costs the same again.
    _, page = statements(services, client, urls["flows"], tenant)
    href = page["_links"]["next"]["href"]
    assert statements(services, client, FLOW + href, tenant)[0] == big["flows"]


def test_keyset_pages_neither_repeat_nor_skip_while_rows_arrive(api: tuple[TestClient, Services, Tenant]) -> None:
    client, _, tenant = api
    h = tenant.headers()

    def add(name: str, description: str) -> str:
        body = pg_body()
        body["name"], body["description"] = name, description
        return create(client, tenant, body)["id"]

    for i in range(23):
        add(f"c{i:02d}", "keep" if i % 3 else "drop")
    # Ascending by creation: rows created between pages come after the cursor and are seen once.
    query = "limit=4&orderby=createdAt&property=description==keep&property=name!=c05"
    seen, added, url = [], [], f"{FLOW}/connections?{query}"
    while url:
        body = ok(client.get(url, headers=h), 200)
        seen += [i["name"] for i in body["items"]]
        added.append(add(f"late{len(added)}", "keep"))
        url = FLOW + body["_links"]["next"]["href"] if body["_links"] else ""
        assert len(added) < 40, "paging does not end"
    expected = [f"c{i:02d}" for i in range(23) if i % 3 and i != 5]
    assert seen[: len(expected)] == expected
    assert len(seen) == len(set(seen)) and all(n.startswith("late") for n in seen[len(expected) :])
    # Descending, with a filter only memory can answer (~): new rows sort before the cursor, unseen.
    seen, url = [], f"{FLOW}/connections?limit=5&orderby=-createdAt&property=name~c1"
    while url:
        body = ok(client.get(url, headers=h), 200)
        seen += [i["name"] for i in body["items"]]
        add("c1-late", "keep")
        url = FLOW + body["_links"]["next"]["href"] if body["_links"] else ""
    assert seen == [f"c{i}" for i in range(19, 9, -1)]


def test_filters_in_sql_answer_as_the_in_memory_check_does(api: tuple[TestClient, Services, Tenant]) -> None:
    client, _, tenant = api
    h = tenant.headers()
    ids = []
    for name in ("Alpha", "beta", "GAMMA", "x" * 300):
        body = pg_body()
        body["name"] = name
        ids.append(create(client, tenant, body)["id"])

    def names(query: str) -> list[str]:
        return [i["name"] for i in ok(client.get(f"{FLOW}/connections?{query}", headers=h), 200)["items"]]

    assert names("property=name==alpha,GAMMA") == ["Alpha", "GAMMA"]  # values compare case-insensitively
    assert names("property=name!=ALPHA&property=name!=beta") == ["GAMMA", "x" * 300]
    assert names(f"property=name=={'X' * 300}") == ["x" * 300]  # longer than the key column: in memory
    assert names(f"property=id=={ids[1].upper()}") == ["beta"]
    assert names("property=createdAt>=1e3&property=createdAt!=1.5&limit=2") == ["Alpha", "beta"]
    assert names("property=createdAt==1.5") == []
    assert names("property=connectionSpec.id==74A1C565-4E59-48D7-9D67-7C03B8A13137&property=state==Enabled") == [
        "Alpha", "beta", "GAMMA", "x" * 300,
    ]  # fmt: skip
    assert ok(client.get(f"{FLOW}/connections?count=true&property=name~a", headers=h), 200) == {"count": 3}
    assert ok(client.get(f"{FLOW}/connections?count=true&property=name==beta", headers=h), 200) == {"count": 1}


class CountingLake:
    """The real lake, counting the calls a dataset view could make on it."""

    def __init__(self, lake: Lake) -> None:
        self._lake = lake
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        if name in ("exists", "schema", "data_files", "row_count"):
            self.calls += 1
        return getattr(self._lake, name)


def test_dataset_lists_show_their_tables_without_reading_the_lake(
    client: TestClient, services: Services, tenant: Tenant, pg_table: str
) -> None:
    h = tenant.headers()
    chain = make_chain(client, h, pg_table)
    assert chain.run is not None
    fresh = ok(client.get(f"{CATALOG}/dataSets/{chain.dataset}", headers=h), 200)[chain.dataset]
    assert "columns" not in fresh["iceberg"] and fresh["iceberg"]["dataFiles"] == 0
    assert run_until_done(services, chain.run).status.value == "success"
    lake = services.lake
    counting = CountingLake(lake)
    services.core._lake = counting  # type: ignore[assignment]
    try:
        listed = ok(client.get(f"{CATALOG}/dataSets?limit=10", headers=h), 200)
        one = ok(client.get(f"{CATALOG}/dataSets/{chain.dataset}", headers=h), 200)
    finally:
        services.core._lake = lake
    assert counting.calls == 0
    record = services.store.get("dataSet", Scope(tenant.org, "prod"), chain.dataset)
    assert record is not None
    ident = lake_ident(record)
    expected_columns = columns_of(lake.schema(ident))
    for view in (listed[chain.dataset], one[chain.dataset]):
        assert view["iceberg"]["columns"] == expected_columns
        assert view["iceberg"]["dataFiles"] == len(lake.data_files(ident)) > 0
