"""List queries on a collection: property filters, orderby, limit, start, count and paging links."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient

from tests.support.chain import create, pg_body
from tests.support.ids import FLOW, LAKE_SPEC, PG_SPEC
from tests.support.tenants import Tenant


@pytest.fixture
def seeded(client: TestClient, tenant: Tenant) -> list[str]:
    ids = []
    for i in range(7):
        body = pg_body()
        body["name"] = f"conn-{i}"
        body["description"] = "even" if i % 2 == 0 else "odd one"
        ids.append(create(client, tenant, body)["id"])
    return ids


def names(resp: Any) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [i["name"] for i in resp.json()["items"]]


def test_filters(client: TestClient, tenant: Tenant, seeded: list[str]) -> None:
    h = tenant.headers()
    get = lambda q: client.get(f"{FLOW}/connections?{q}", headers=h)  # noqa: E731
    assert names(get('property=name=="conn-3"')) == ["conn-3"]
    assert names(get("property=name==conn-1,conn-2")) == ["conn-1", "conn-2"]
    assert len(names(get("property=name!=conn-1,conn-2"))) == 5
    assert names(get("property=description==even&property=name!=conn-0")) == ["conn-2", "conn-4", "conn-6"]
    assert names(get("property=description~ODD")) == ["conn-1", "conn-3", "conn-5"]
    assert len(names(get("property=auth.params.server==db.internal"))) == 7
    assert len(names(get(f"property=id=={seeded[0]}"))) == 1
    assert names(get("property=name>conn-4")) == ["conn-5", "conn-6"]
    assert len(names(get("property=createdAt>0"))) == 7
    assert names(get("property=createdAt<0")) == []
    assert len(names(get("property=description"))) == 7
    assert names(get("property=!description")) == []
    assert len(names(get("property=!nothing"))) == 7
    assert names(get("property=name=conn-5")) == ["conn-5"]
    assert names(get("property=STATE==ENABLED")) == []  # paths are case-sensitive, values are not
    assert len(names(get("property=state==ENABLED"))) == 7


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("property=name!>x", "1450"),
        ("property=name=>x", "1450"),
        ("property=name==", "1453"),
        ("property=name==a%00b", "1453"),
        ("property=name==ok,x%00", "1453"),
        ("property=createdAt>1,2", "1443"),
        ("property=na me==x", "1449"),
        ("property=", "1453"),
        ("orderby=%23id", "1433"),
        ("limit=0", "1000"),
        ("limit=abc", "1000"),
        ("limit=5&count=true", "1401"),
        ("count=maybe", "1000"),
        ("start=-1", "1000"),
        ("continuationToken=garbage", "1000"),
    ],
)
def test_malformed_queries_are_400_and_named(refused_api: tuple[TestClient, Tenant], query: str, code: str) -> None:
    client, tenant = refused_api
    resp = client.get(f"{FLOW}/connections?{query}", headers=tenant.headers())
    assert resp.status_code == 400, resp.text
    assert resp.json()["type"].endswith(f"FLOW-{code}-400"), resp.text


def test_orderby_count_start(client: TestClient, tenant: Tenant, seeded: list[str]) -> None:
    h = tenant.headers()
    assert names(client.get(f"{FLOW}/connections?orderby=-name", headers=h))[:2] == ["conn-6", "conn-5"]
    assert names(client.get(f"{FLOW}/connections?orderby=%2Bname", headers=h))[:2] == ["conn-0", "conn-1"]
    assert names(client.get(f"{FLOW}/connections?orderby=createdAt", headers=h))[0] == "conn-0"
    assert client.get(f"{FLOW}/connections?count=true", headers=h).json() == {"count": 7}
    assert client.get(f"{FLOW}/connections?count=true&property=description==even", headers=h).json() == {"count": 4}
    assert names(client.get(f"{FLOW}/connections?orderby=name&start=5", headers=h)) == ["conn-5", "conn-6"]


def test_paging_with_links_visits_every_item_once(client: TestClient, tenant: Tenant, seeded: list[str]) -> None:
    h = tenant.headers()
    url = f"{FLOW}/connections?limit=3&orderby=-name&property=state==enabled"
    seen: list[str] = []
    pages = 0
    while url:
        resp = client.get(url, headers=h)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        seen += [i["name"] for i in body["items"]]
        pages += 1
        nxt = body["_links"].get("next")
        if nxt:
            href = nxt["href"]
            # Adobe's documented shape, which clients split on "=": the token alone carries the query.
            path, token = href.split("=")
            assert path == "/connections?continuationToken" and token
            url = FLOW + href
        else:
            url = ""
    assert pages == 3
    assert seen == [f"conn-{i}" for i in range(6, -1, -1)]
    # A token is bound to its query: reusing it with another filter is refused.
    first = client.get(f"{FLOW}/connections?limit=3", headers=h).json()
    token = parse_qs(urlparse(first["_links"]["next"]["href"]).query)["continuationToken"][0]
    resp = client.get(f"{FLOW}/connections?limit=3&orderby=name&continuationToken={token}", headers=h)
    assert resp.status_code == 400
    # ... and to its collection: a token of /connections means nothing to /flows.
    resp = client.get(f"{FLOW}/flows?continuationToken={token}", headers=h)
    assert resp.status_code == 400 and resp.json()["type"].endswith("FLOW-1000-400"), resp.text
    # Older links repeated the query beside the token: those still work.
    again = client.get(f"{FLOW}/connections?limit=3&continuationToken={token}", headers=h)
    assert names(again) == ["conn-3", "conn-4", "conn-5"]


def test_connection_specs_filter(client: TestClient, tenant: Tenant) -> None:
    h = tenant.headers()
    resp = client.get(f'{FLOW}/connectionSpecs?property=name=="postgre-sql"', headers=h)
    assert [s["id"] for s in resp.json()["items"]] == [PG_SPEC]
    resp = client.get(f"{FLOW}/connectionSpecs/{PG_SPEC}", headers=h)
    spec = resp.json()["items"][0]
    assert [a["name"] for a in spec["authSpec"]] == ["Connection String Based Authentication", "Basic Authentication"]
    assert spec["authSpec"][0]["spec"]["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert spec["authSpec"][1]["spec"]["properties"]["password"]["format"] == "password"
    assert client.get(f"{FLOW}/connectionSpecs/{LAKE_SPEC}", headers=h).status_code == 200
    assert client.get(f"{FLOW}/connectionSpecs/nope", headers=h).status_code == 404


def test_every_continuation_token_decodes_and_a_tampered_one_is_refused() -> None:
    """Signatures are raw bytes and often contain b"." (about 1 token in 20): each must still decode."""
    import uuid as uuid_mod

    from headwater.errors import BadRequest
    from headwater.service import ListQuery
    from headwater.service._query import PageTokens

    tokens = PageTokens(b"k" * 32)
    query = ListQuery.parse(
        property=["state==enabled"],
        orderby="-name",
        limit="3",
        start=None,
        count=None,
        continuation_token=None,
        max_limit=1000,
    )
    for i in range(2000):
        last_id = str(uuid_mod.uuid4())
        token = tokens.encode(query, ((1, f"conn-{i}"), last_id), collection="/connections")
        assert "=" not in token
        sent = ListQuery.parse(continuation_token=token, max_limit=1000)
        opened, position = tokens.open(sent, collection="/connections")
        assert position == ((1, f"conn-{i}"), last_id)
        assert (opened.terms, opened.sort, opened.limit) == (query.terms, query.sort, 3)

    def sent(token: str, **given: Any) -> ListQuery:
        return ListQuery.parse(continuation_token=token, max_limit=1000, **given)

    for bad_query, collection in (
        (sent(token, orderby="name"), "/connections"),  # another query
        (sent(token, property=["state==disabled"]), "/connections"),
        (sent(token), "/flows"),  # another collection
        (sent(token[:-2] + ("AA" if token[-2:] != "AA" else "BB")), "/connections"),  # tampered
        (sent(PageTokens(b"j" * 32).encode(query, ((1, "x"), "y"), collection="/connections")), "/connections"),
        (sent("x"), "/connections"),
        (sent("!!!"), "/connections"),
    ):
        with pytest.raises(BadRequest):
            tokens.open(bad_query, collection=collection)
