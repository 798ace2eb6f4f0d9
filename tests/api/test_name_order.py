"""Lists ordered by name page in SQL (`resources.name_order`) in exactly the order memory gives:
case-sensitive, by code point, missing names first, ties by id, across continuation tokens, and
reading only a page whatever the sandbox holds (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, insert, select, text

from headwater.service import Services
from headwater.service._query import ListQuery, position_of
from headwater.store import Record, Scope, now_ms
from headwater.store.keys import index_keys
from headwater.store.paging import Page
from headwater.store.tables import resources
from tests.support.ids import FLOW, PG_SPEC
from tests.support.metadata import BACKENDS, app_on
from tests.support.tenants import Tenant

# Mixed case, accents, scripts outside the BMP, ties, digits as text, the empty name and no name.
NAMES: list[str | None] = [
    "alpha", "Alpha", "ALPHA", "alpha", "beta", "Beta", "Ärger", "ärger", "arger", "zeta", "Zeta",
    "é", "e", "ß", "ss", "😀", "日本", "İstanbul", "istanbul", "", None, "10", "9", "a b", "a-b", "Alpha",
]  # fmt: skip


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, Services, Tenant]]:
    """An app on a SQLite or on a PostgreSQL metadata database."""
    with app_on(request.param, tmp_path, prefix="hw_names") as made:
        yield made


def _doc(name: Any, state: str = "enabled") -> dict[str, Any]:
    doc: dict[str, Any] = {"state": state, "connectionSpec": {"id": PG_SPEC, "version": "1.0"}}
    return doc if name is None else doc | {"name": name}


def _add(services: Services, tenant: Tenant, name: Any, state: str = "enabled") -> Record:
    scope = Scope(tenant.org, "prod")
    return services.store.insert("connection", scope, id=str(uuid.uuid4()), doc=_doc(name, state))


def _pages(client: TestClient, tenant: Tenant, query: str) -> tuple[list[dict[str, Any]], int]:
    """Every item of a list, following its next links; and how many pages it took."""
    items: list[dict[str, Any]] = []
    url, pages = f"{FLOW}/connections?{query}", 0
    while url:
        resp = client.get(url, headers=tenant.headers())
        assert resp.status_code == 200, resp.text
        body = resp.json()
        items += body["items"]
        pages += 1
        url = FLOW + body["_links"]["next"]["href"] if body["_links"] else ""
        assert pages < 200, "paging does not end"
    return items, pages


def _in_memory(items: list[dict[str, Any]], descending: bool) -> list[str]:
    """The ids in the order the in-memory sort gives (service/_query.py)."""
    return [i["id"] for i in sorted(items, key=lambda it: position_of(it, "name"), reverse=descending)]


def _rows_read(services: Services) -> tuple[list[tuple[str, int | None, int]], Any]:
    """A list that `store.page` appends (order column, limit, rows returned) of each read to, and how
    to stop it."""
    store = services.store
    real = store.page
    reads: list[tuple[str, int | None, int]] = []

    def counting(kind: str, scope: Scope, page: Page) -> list[Record]:
        rows = real(kind, scope, page)
        reads.append((page.order, page.limit, len(rows)))
        return rows

    store.page = counting  # type: ignore[method-assign]
    return reads, lambda: vars(store).pop("page")


def test_sql_pages_follow_the_in_memory_name_order(api: tuple[TestClient, Services, Tenant]) -> None:
    client, services, tenant = api
    for i, name in enumerate(NAMES):
        _add(services, tenant, name, "enabled" if i % 4 else "disabled")
    everything, _ = _pages(client, tenant, "limit=100")
    reads, stop = _rows_read(services)
    try:
        for descending in (False, True):
            order = "-name" if descending else "name"
            expected = _in_memory(everything, descending)
            for limit in (1, 3, 7):
                items, pages = _pages(client, tenant, f"orderby={order}&limit={limit}")
                assert [i["id"] for i in items] == expected, (order, limit)
                assert pages == -(-len(expected) // limit)
            # A filter SQL answers, one only memory answers (read in keyset chunks), and an offset.
            enabled = [i for i in _in_memory(everything, descending) if _state(everything, i) == "enabled"]
            items, _ = _pages(client, tenant, f"orderby={order}&limit=4&property=state==enabled")
            assert [i["id"] for i in items] == enabled
            with_a = [i for i in expected if "a" in (_name(everything, i) or "").lower()]
            items, _ = _pages(client, tenant, f"orderby={order}&limit=2&property={quote('name~a')}")
            assert [i["id"] for i in items] == with_a
            items, _ = _pages(client, tenant, f"orderby={order}&limit=5&start=4")
            assert [i["id"] for i in items] == expected[4:]
    finally:
        stop()
    # Every page above came from SQL in name order, a page (and one more row, or a chunk) at a time.
    assert reads and all(order == "name_order" and limit in (2, 3, 4, 5, 6, 8, 200) for order, limit, _ in reads)
    names = [_name(everything, i) for i in _in_memory(everything, False)]
    assert names[:2] == [None, ""] and names.index("ALPHA") < names.index("Alpha") < names.index("alpha")
    assert names.index("zeta") < names.index("é") < names.index("日本") < names.index("😀")


def _name(items: list[dict[str, Any]], item_id: str) -> str | None:
    return next(i.get("name") for i in items if i["id"] == item_id)


def _state(items: list[dict[str, Any]], item_id: str) -> str:
    return str(next(i["state"] for i in items if i["id"] == item_id))


def test_a_name_sql_cannot_place_sends_the_list_to_memory_in_the_same_order(
    api: tuple[TestClient, Services, Tenant],
) -> None:
    client, services, tenant = api
    for name in NAMES:
        _add(services, tenant, name)
    # A first page from SQL; then names that only memory can place arrive before the next one.
    first = client.get(f"{FLOW}/connections?orderby=name&limit=5", headers=tenant.headers()).json()
    for odd in ("b" * 300, 7, 1.5, True, {"n": 1}):
        _add(services, tenant, odd)
    everything, _ = _pages(client, tenant, "limit=100")
    expected = _in_memory(everything, False)
    rest, _ = _pages(client, tenant, first["_links"]["next"]["href"].split("?", 1)[1])
    # The token's position holds: the next pages are everything after it (the numbers sort before).
    cursor = position_of(first["items"][-1], "name")
    after = [
        i["id"] for i in sorted(everything, key=lambda it: position_of(it, "name")) if position_of(i, "name") > cursor
    ]
    assert [i["id"] for i in rest] == after and len(after) == len(expected) - 7
    reads, stop = _rows_read(services)
    try:
        items, _ = _pages(client, tenant, "orderby=-name&limit=4")
        # Only the rows a list could show decide: these names are all placed, so SQL pages them.
        beta, _ = _pages(client, tenant, "orderby=name&limit=1&property=name==beta")
    finally:
        stop()
    assert [i["id"] for i in items] == expected[::-1]
    assert [i["name"] for i in beta] == ["Beta", "beta"]
    in_memory = [r for r in reads if r[0] == "created_at"]  # sorted in memory: each page read every row
    assert len(in_memory) == 8 and all(r == ("created_at", None, len(everything)) for r in in_memory), reads
    assert reads[len(in_memory) :] == [("name_order", 2, 2), ("name_order", 2, 1)], reads


def _bulk(services: Services, tenant: Tenant, count: int) -> None:
    ts = now_ms()
    rows = []
    for i in range(count):
        doc = _doc(f"{'Nn'[i % 2]}ame {i:05d} ñ")
        rows.append({"id": str(uuid.uuid4()), "kind": "connection", "org": tenant.org, "sandbox": "prod",
                     "doc": doc, "etag": '"e"', "created_at": ts + i, "updated_at": ts + i,
                     **index_keys("connection", doc)})  # fmt: skip
    with services.store.begin() as conn:
        conn.execute(insert(resources), rows)
    if services.store.engine.dialect.name == "postgresql":
        with services.store.begin() as conn:  # what autovacuum does after a bulk load
            conn.execute(text("ANALYZE resources"))


def _page_cost(client: TestClient, services: Services, tenant: Tenant, url: str) -> tuple[int, list[int], Any]:
    """Statements one GET runs, rows `store.page` returned, the page statement's plan, and the answer."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    reads, stop = _rows_read(services)
    event.listen(services.store.engine, "before_cursor_execute", record)
    try:
        resp = client.get(url, headers=tenant.headers())
    finally:
        event.remove(services.store.engine, "before_cursor_execute", record)
        stop()
    assert resp.status_code == 200, resp.text
    statement, parameters = next((s, p) for s, p in seen if "ORDER BY" in s and "name_order" in s)
    return len(seen), reads, (_plan(services, statement, parameters), resp.json())


def _plan(services: Services, statement: str, parameters: Any) -> str:
    raw = services.store.engine.raw_connection()
    try:
        cur = raw.cursor()
        if services.store.engine.dialect.name == "postgresql":
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
            return json.dumps(cur.fetchone()[0])
        cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        return json.dumps([list(r) for r in cur.fetchall()])
    finally:
        raw.close()


def _scanned(plan: str) -> int:
    """Rows PostgreSQL's plan nodes read: emitted plus removed by a filter, over every node."""
    total = 0

    def walk(node: dict[str, Any]) -> None:
        nonlocal total
        total += int(node.get("Actual Rows", 0)) + int(node.get("Rows Removed by Filter", 0))
        for child in node.get("Plans", []):
            walk(child)

    walk(json.loads(plan)[0]["Plan"])
    return total


def _middle_token(services: Services, tenant: Tenant, order: str) -> str:
    """A continuation token standing at the middle of the sandbox's name order, as a client deep in
    its paging holds one."""
    with services.store.begin() as conn:
        rows = conn.execute(
            select(resources.c.id, resources.c.doc).where(
                resources.c.org == tenant.org, resources.c.kind == "connection"
            )
        ).all()
    middle = sorted((r.doc["name"], r.id) for r in rows)[len(rows) // 2]
    query = ListQuery.parse(orderby=order, limit="5", max_limit=100)
    return services.core.page_tokens.encode(query, ((2, middle[0]), middle[1]), collection="/connections")


@pytest.mark.parametrize("order", ["name", "-name"])
def test_a_name_ordered_page_reads_a_page_whatever_the_sandbox_holds(
    api: tuple[TestClient, Services, Tenant], order: str
) -> None:
    client, services, tenant = api
    postgresql = services.store.engine.dialect.name == "postgresql"
    costs = {}
    for total in (10, 10_000):
        _bulk(services, tenant, total - len(costs) * 10)
        first = f"{FLOW}/connections?orderby={order}&limit=5"
        statements, reads, (plan, body) = _page_cost(client, services, tenant, first)
        assert reads == [("name_order", 6, 6)], reads  # the page and one more row
        deep = f"{FLOW}/connections?{urlencode({'continuationToken': _middle_token(services, tenant, order)})}"
        statements2, reads2, (plan2, body2) = _page_cost(client, services, tenant, deep)
        assert len(reads2) == 1 and reads2[0][:2] == ("name_order", 6) and (total == 10 or reads2[0][2] == 6), reads2
        names = [i["name"] for i in body["items"]], [i["name"] for i in body2["items"]]
        for page in names:
            assert page == sorted(page, reverse=order.startswith("-"))
        for p in (plan, plan2) if total > 10 else ():  # ten rows: a sequential scan is the cheaper plan
            if postgresql:
                assert '"Sort"' not in p and "ix_resources_name_order" in p, p
                # An index range from the position: not a walk from the start of the sandbox's rows.
                assert _scanned(p) <= 20, p
            else:
                assert "TEMP B-TREE" not in p and "ix_resources_name_order" in p, p
                assert total == 10 or p is plan or re.search(r"name_order[<>]", p), p  # a range from the position
        costs[total] = (statements, statements2)
    assert costs[10] == costs[10_000], costs
