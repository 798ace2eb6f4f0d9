"""Deleting a connection runs the same few statements whatever the sandbox holds: whether a flow still
uses it is an index lookup in the delete's transaction, not a read of every flow (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, insert

from headwater.service import Services
from headwater.store import Scope, Store, now_ms
from headwater.store.keys import index_keys
from headwater.store.references import flow_reference_rows
from headwater.store.tables import flow_references, resources
from tests.support.ids import CRM_TO_AEP, FLOW, LAKE_SPEC, PG_SPEC
from tests.support.metadata import BACKENDS, app_on
from tests.support.tenants import Tenant

BIG = 10_000


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, Services, Tenant]]:
    """An app on a SQLite or on a PostgreSQL metadata database."""
    with app_on(request.param, tmp_path, prefix="hw_deletes") as made:
        yield made


@dataclass
class Chain:
    base: str
    source: str
    target: str
    flows: list[str]


def _connections(store: Store, scope: Scope) -> tuple[str, str, str]:
    spec = {"id": PG_SPEC, "version": "1.0"}
    base = store.insert("connection", scope, id=str(uuid.uuid4()), doc={"name": "pg", "state": "enabled",
                        "connectionSpec": spec})  # fmt: skip
    src_doc = {"name": "src", "baseConnectionId": base.id, "connectionSpec": spec}
    source = store.insert("sourceConnection", scope, id=str(uuid.uuid4()), doc=src_doc)
    target_doc = {"name": "tgt", "connectionSpec": {"id": LAKE_SPEC, "version": "1.0"}}
    target = store.insert("targetConnection", scope, id=str(uuid.uuid4()), doc=target_doc)
    return base.id, source.id, target.id


def seed(store: Store, scope: Scope, flows: int) -> Chain:
    """Connections used by `flows` flows, written in one transaction with the rows a flow write keeps."""
    base, source, target = _connections(store, scope)
    created = now_ms()
    rows, references = [], []
    for i in range(flows):
        doc = {"name": f"flow {i}", "state": "enabled", "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
               "sourceConnectionIds": [source], "targetConnectionIds": [target], "transformations": [],
               "scheduleParams": {"startTime": "4102444800", "frequency": "once"}}  # fmt: skip
        flow_id = str(uuid.uuid4())
        rows.append({"id": flow_id, "kind": "flow", "org": scope.org, "sandbox": scope.sandbox, "doc": doc,
                     "secrets": None, "etag": '"e"', "created_at": created + i, "updated_at": created + i,
                     **index_keys("flow", doc)})  # fmt: skip
        references += flow_reference_rows(flow_id, scope.org, scope.sandbox, created + i, doc)
    with store.begin() as conn:
        conn.execute(insert(resources), rows)
        conn.execute(insert(flow_references), references)
    return Chain(base, source, target, [r["id"] for r in rows])


def delete(services: Services, client: TestClient, url: str, tenant: Tenant) -> tuple[int, float, Any]:
    """The SQL statements one DELETE runs, its time, and its response."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(services.store.engine, "before_cursor_execute", count)
    started = time.perf_counter()
    try:
        resp = client.delete(url, headers=tenant.headers())
    finally:
        elapsed = time.perf_counter() - started
        event.remove(services.store.engine, "before_cursor_execute", count)
    return len(seen), elapsed, resp


def refusals(services: Services, client: TestClient, tenant: Tenant, chain: Chain) -> dict[str, tuple[int, float]]:
    """Statements and seconds of each refused delete, after checking its answer."""
    expected = {
        f"{FLOW}/sourceConnections/{chain.source}": (
            "1447",
            f"Found active flows containing id {chain.source}: delete flow {chain.flows[0]} first.",
        ),
        f"{FLOW}/targetConnections/{chain.target}": (
            "1447",
            f"Found active flows containing id {chain.target}: delete flow {chain.flows[0]} first.",
        ),
        f"{FLOW}/connections/{chain.base}": (
            "1418",
            f"The base connection with the ID {chain.base} cannot be deleted because the base connection is "
            "being used in one or more flows. Please ensure that corresponding flows are deleted before "
            "deleting a base connection.",
        ),
    }
    costs = {}
    for url, (code, message) in expected.items():
        tries = []
        for _ in range(3):  # a refused delete changes nothing: the fastest of three is the least noisy
            statements, seconds, resp = delete(services, client, url, tenant)
            assert resp.status_code == 400, resp.text
            body = resp.json()
            assert body["type"].endswith(f"-{code}-400") and body["errorMessage"] == message, body
            tries.append((statements, seconds))
        assert len({n for n, _ in tries}) == 1, tries
        costs[url.rsplit("/", 2)[1]] = min(tries)
    return costs


def test_a_delete_runs_the_same_statements_whatever_the_sandbox_holds(
    api: tuple[TestClient, Services, Tenant],
) -> None:
    client, services, tenant = api
    scope = Scope(tenant.org, "prod")
    small = refusals(services, client, tenant, seed(services.store, scope, 1))
    big_chain = seed(services.store, scope, BIG)
    big = refusals(services, client, tenant, big_chain)
    assert {k: n for k, (n, _) in big.items()} == {k: n for k, (n, _) in small.items()}, (small, big)
    # The request's own checks (token, client), reading the resource, and the delete with its check.
    assert max(n for n, _ in big.values()) <= 5, big
    # Each takes milliseconds; reading the sandbox's 10,000 flows into Python took 0.3 to 0.9 s.
    assert max(s for _, s in big.values()) < 0.2, big
    # Unused connections are deleted in as few statements, however many flows use others.
    idle_base, idle_source, idle_target = _connections(services.store, scope)
    for url in (
        f"{FLOW}/targetConnections/{idle_target}",
        f"{FLOW}/connections/{idle_base}",  # its source connection is used by no flow
        f"{FLOW}/sourceConnections/{idle_source}",
    ):
        statements, seconds, resp = delete(services, client, url, tenant)
        assert resp.status_code == 204, resp.text
        assert statements <= big[url.rsplit("/", 2)[1]][0] and seconds < 0.5, (url, statements, seconds)
