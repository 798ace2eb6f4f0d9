"""Data Prep's mapping set list: pages cut in SQL with `start`/`limit`, its orders and name filter,
and a constant number of statements whatever the sandbox holds."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from headwater.service import Services
from headwater.store import Scope, Store
from tests.support.ids import CONVERSION
from tests.support.tenants import Tenant

LIST = f"{CONVERSION}/mappingSets"


def body(name: str) -> dict[str, Any]:
    return {"name": name, "mappings": [{"destinationXdmPath": "out", "sourceAttribute": "id"}]}


def create_many(client: TestClient, tenant: Tenant, count: int, *, sandbox: str = "prod") -> list[str]:
    ids = []
    for i in range(count):
        created = client.post(LIST, headers=tenant.headers(sandbox), json=body(f"set {i}"))
        assert created.status_code == 200, created.text
        ids.append(created.json()["id"])
    return ids


def walk(client: TestClient, tenant: Tenant, url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every item of a list, following `_links.next`; and each page's `_page`."""
    items: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    while url:
        got = client.get(url, headers=tenant.headers())
        assert got.status_code == 200, got.text
        answer = got.json()
        assert set(answer) == {"_links", "_page", "data"}
        items += answer["data"]
        pages.append(answer["_page"])
        nxt = answer["_links"].get("next")
        url = f"{CONVERSION}{nxt['href']}" if nxt else ""
    return items, pages


def test_pages_with_start_and_limit_cover_every_mapping_set_once_newest_first(
    client: TestClient, tenant: Tenant
) -> None:
    ids = create_many(client, tenant, 23)
    create_many(client, tenant, 2, sandbox="dev")  # another sandbox's never show
    items, pages = walk(client, tenant, f"{LIST}?limit=5&start=0")
    assert sorted(m["id"] for m in items) == sorted(ids)
    assert pages == [{"count": 5, "limit": 5}] * 4 + [{"count": 3, "limit": 5}]
    newest_first = sorted(items, key=lambda m: (m["modifiedDate"], m["id"]), reverse=True)
    assert [m["id"] for m in items] == [m["id"] for m in newest_first]

    middle = client.get(f"{LIST}?limit=4&start=10", headers=tenant.headers()).json()
    assert [m["id"] for m in middle["data"]] == [m["id"] for m in newest_first[10:14]]
    assert middle["_links"]["next"]["href"] == "/mappingSets?limit=4&start=14"
    past = client.get(f"{LIST}?limit=4&start=23", headers=tenant.headers()).json()
    assert past == {"_links": {}, "_page": {"count": 0, "limit": 4}, "data": []}
    default = client.get(LIST, headers=tenant.headers()).json()
    assert default["_page"] == {"count": 10, "limit": 10}  # Data Prep's default limit


def test_an_update_moves_a_mapping_set_to_the_front(client: TestClient, tenant: Tenant, services: Services) -> None:
    ids = create_many(client, tenant, 4)
    scope = Scope(tenant.org, "prod")
    oldest = services.store.get("mappingSet", scope, ids[0])
    assert oldest is not None
    time.sleep(0.005)  # a later millisecond than every creation
    services.store.update("mappingSet", scope, ids[0], doc=oldest.doc, secrets=None, expected_etag=oldest.etag)
    first = client.get(f"{LIST}?limit=1&start=0", headers=tenant.headers()).json()
    assert [m["id"] for m in first["data"]] == [ids[0]]
    by_creation = client.get(f"{LIST}?limit=10&start=0&orderBy=-createdDate", headers=tenant.headers()).json()
    assert by_creation["data"][-1]["id"] == ids[0]


def test_order_by_created_or_updated_date_in_either_direction(client: TestClient, tenant: Tenant) -> None:
    create_many(client, tenant, 7)
    everything = client.get(f"{LIST}?limit=100", headers=tenant.headers()).json()["data"]
    for order_by, field, descending in (
        ("createdDate", "createdDate", False),
        ("%2BcreatedDate", "createdDate", False),  # an escaped +
        ("+createdDate", "createdDate", False),  # an unescaped + arrives as a space
        ("-createdDate", "createdDate", True),
        ("-updatedDate", "modifiedDate", True),
        ("updatedDate", "modifiedDate", False),
    ):
        expected = sorted(everything, key=lambda m, f=field: (m[f], m["id"]), reverse=descending)  # type: ignore[misc]
        items, pages = walk(client, tenant, f"{LIST}?limit=3&start=0&orderBy={order_by}")
        assert [m["id"] for m in items] == [m["id"] for m in expected], order_by
        assert [p["count"] for p in pages] == [3, 3, 1]
    for bad in ("name", "-", "createdAt", ""):
        refused = client.get(f"{LIST}?orderBy={bad}", headers=tenant.headers())
        assert refused.status_code == 400, (bad, refused.text)
        assert "orderBy" in refused.text


def test_the_name_filter_pages_too(client: TestClient, tenant: Tenant) -> None:
    create_many(client, tenant, 3)
    wanted = []
    for _ in range(5):
        created = client.post(LIST, headers=tenant.headers(), json=body("Orders to XDM"))
        assert created.status_code == 200, created.text
        wanted.append(created.json()["id"])
    items, pages = walk(client, tenant, f"{LIST}?limit=2&start=0&name=orders%20to%20xdm")
    assert sorted(m["id"] for m in items) == sorted(wanted)
    assert [p["count"] for p in pages] == [2, 2, 1]
    assert client.get(f"{LIST}?name=orders", headers=tenant.headers()).json()["data"] == []
    too_long = client.get(f"{LIST}?name={'x' * 256}", headers=tenant.headers())
    assert too_long.status_code == 400 and "name" in too_long.text
    nul = client.get(f"{LIST}?name=a%00b", headers=tenant.headers())  # PostgreSQL cannot compare it
    assert nul.status_code == 400 and "NUL" in nul.text


def test_bad_start_and_limit_get_a_clear_400(client: TestClient, tenant: Tenant) -> None:
    for query in ("limit=-1", "limit=0", "limit=101", "limit=ten", "start=-5", "start=1e3"):
        refused = client.get(f"{LIST}?{query}", headers=tenant.headers())
        assert refused.status_code == 400, (query, refused.text)


def statements(
    services: Services, client: TestClient, url: str, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, int, dict[str, Any]]:
    """The SQL statements one GET runs, the stored resources it reads, and its answer."""
    seen: list[str] = []
    rows: list[str] = []
    read = Store._record

    def count(*args: Any) -> None:
        seen.append(args[2])

    def counting(row: Any) -> Any:
        rows.append(row.id)
        return read(row)

    monkeypatch.setattr(Store, "_record", staticmethod(counting))
    event.listen(services.store.engine, "before_cursor_execute", count)
    try:
        resp = client.get(url, headers=tenant.headers())
    finally:
        event.remove(services.store.engine, "before_cursor_execute", count)
        monkeypatch.undo()
    assert resp.status_code == 200, resp.text
    return len(seen), len(rows), resp.json()


def seed(services: Services, tenant: Tenant, count: int, *, name: str | None = None) -> None:
    """`count` mapping sets stored directly (the API would only make seeding slower)."""
    scope = Scope(tenant.org, "prod")
    mappings = [{"destinationXdmPath": "a", "sourceAttribute": "id"}]
    for i in range(count):
        doc = {"version": 0, "mappings": mappings, "name": name or f"s{i}"}
        services.store.insert("mappingSet", scope, id=f"seeded{name or ''}{i:05d}", doc=doc)


def test_a_page_reads_only_its_rows_in_the_same_statements_whatever_the_sandbox_holds(
    client: TestClient, services: Services, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = (f"{LIST}?limit=3", f"{LIST}?limit=3&start=4&orderBy=-createdDate", f"{LIST}?limit=3&name=s1")
    seed(services, tenant, 6)
    small = [statements(services, client, url, tenant, monkeypatch)[0] for url in urls]
    seed(services, tenant, 400, name="s1")
    assert services.store.count("mappingSet", Scope(tenant.org, "prod")) == 406
    big = []
    for url in urls:
        n, rows, answer = statements(services, client, url, tenant, monkeypatch)
        big.append(n)
        assert answer["_page"]["count"] == 3 and "next" in answer["_links"]
        assert rows == 4, (url, rows)  # the page and one more, not the sandbox
    assert big == small
    assert max(big) <= 3, big  # the page itself is one statement; the rest is the request's own


def test_version_and_expand_schema_are_honoured_or_refused_never_ignored(client: TestClient, tenant: Tenant) -> None:
    (one,) = create_many(client, tenant, 1)
    h = tenant.headers()
    for query in ("", "?version=0", "?expandSchema=false", "?version=0&expandSchema=False"):
        got = client.get(f"{LIST}/{one}{query}", headers=h)
        assert got.status_code == 200 and got.json()["id"] == one, (query, got.text)
    missing = client.get(f"{LIST}/{one}?version=1", headers=h)
    assert missing.status_code == 404 and "no version 1" in missing.text
    for query, says in (
        ("version=x", "version"),
        ("version=-1", "version"),
        ("expandSchema=true", "expandSchema=true is not supported"),
        ("expandSchema=yes", "true or false"),
        ("verison=0", "'verison' is not supported"),
    ):
        refused = client.get(f"{LIST}/{one}?{query}", headers=h)
        assert refused.status_code == 400 and says in refused.text, (query, refused.text)
    assert client.get(f"{LIST}?expandSchema=false", headers=h).json()["_page"]["count"] == 1
    for query, says in (("expandSchema=true", "expandSchema"), ("property=name==x", "'property' is not supported")):
        refused = client.get(f"{LIST}?{query}", headers=h)
        assert refused.status_code == 400 and says in refused.text, (query, refused.text)
