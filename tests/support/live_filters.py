"""Row filters driven through a real `headwater serve` over HTTP, as a client would: the same steps
for every source, so PostgreSQL and BigQuery are held to one behaviour."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.support.chain import make_chain, ok
from tests.support.ids import CATALOG, FLOW, PG_SPEC
from tests.support.pql import b64, cmp, field, fn, lit, pql

# Representative filters over tests/support/pql.CITY_ROWS: each operator family, NULL handling and
# an injection attempt, with the ids each keeps (the full table of cases runs in-process).
LIVE_CASES: list[tuple[dict[str, Any], list[int]]] = [
    (fn("and", fn("or", cmp("=", "city", "DDN"), cmp(">", "amount", 40)), cmp("!=", "id", 6)), [1, 5]),
    (fn("or", cmp("like", "city", "M%"), cmp("=", "city", None)), [2, 3, 4, 6]),
    (fn("in", field("id"), lit([2, 3])), [2, 3]),
    (fn("not", cmp("<=", "born", "2021-01-01")), [5, 6]),
    (cmp("=", "city", "DDN' OR '1'='1"), []),
]


def code_of(resp: httpx.Response) -> str:
    return str(resp.json()["type"]).rsplit("/", 1)[-1]


def wait_run(client: httpx.Client, run_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item: dict[str, Any] = ok(client.get(f"{FLOW}/runs/{run_id}"), 200)["items"][0]
        if item["metrics"]["statusSummary"]["status"] in ("success", "partialSuccess", "failed", "cancelled"):
            return item
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish")


def filtered_run_ids(
    client: httpx.Client, table: str, node: dict[str, Any], *, auth: dict[str, Any] | None = None, spec: str = PG_SPEC
) -> list[int]:
    """Create a chain, set the filter on its source connection, run it, and read the dataset's ids."""
    chain = make_chain(client, {}, table, auth=auth, source_spec=spec, columns=("id", "city"), with_run=False)
    etag = ok(client.get(f"{FLOW}/sourceConnections/{chain.source}"), 200)["items"][0]["etag"]
    patch = [{"op": "add", "path": "/params/filters", "value": pql(node)}]
    ok(client.patch(f"{FLOW}/sourceConnections/{chain.source}", json=patch, headers={"If-Match": etag}), 200)
    run_id = ok(client.post(f"{FLOW}/runs", json={"flowId": chain.flow}))["items"][0]["id"]
    item = wait_run(client, run_id)
    assert item["metrics"]["statusSummary"]["status"] == "success", item
    data = ok(client.get(f"{CATALOG}/dataSets/{chain.dataset}/preview", params={"limit": 100}), 200)["data"]
    ids = sorted(int(r["out_0"]) for r in data)
    assert item["metrics"]["recordSummary"]["outputRecordCount"] == len(ids)
    return ids


def explore_with_filter(client: httpx.Client, connection: str, table: str, filters: str) -> httpx.Response:
    params = {"objectType": "table", "object": table, "preview": "true", "filters": filters}
    return client.get(f"{FLOW}/connections/{connection}/explore", params=params)


def assert_explore_filters(client: httpx.Client, connection: str, table: str) -> None:
    """The explore preview applies `filters=<base64 PQL>`, and bad input is a 400, never ignored."""
    resp = explore_with_filter(client, connection, table, b64(pql(cmp("like", "city", "M%"))))
    assert resp.status_code == 200, resp.text
    rows = resp.json()["data"]
    assert sorted(r["id"] for r in rows) == [2, 4, 6]
    for bad in ("not base64!", b64({"type": "PQL", "format": "pql/json", "value": cmp("=", "nope", 1)})):
        resp = explore_with_filter(client, connection, table, bad)
        assert resp.status_code == 400, resp.text
        assert code_of(resp).startswith("FLOW-13"), resp.text
