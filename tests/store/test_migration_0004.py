"""Migration 0004 on a database that already holds resources and runs (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from headwater.runs.ledger import Ledger
from headwater.runs.scheduler import Scheduler
from headwater.store import Scope, Store
from headwater.store.paging import Cond, Page
from tests.support.metadata import BACKENDS, store_at

SCOPE = Scope("ORG0000000000000000000000@AdobeOrg", "prod")
START = 1_700_000_000


@pytest.fixture(params=BACKENDS)
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store at revision 0003, the schema before 0004."""
    with store_at(request.param, tmp_path, "0003") as store:
        yield store


def _insert(store: Store, kind: str, doc: dict[str, object], created_at: int) -> str:
    resource_id = str(uuid.uuid4())
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO resources (id, kind, org, sandbox, doc, etag, created_at, updated_at) "
                "VALUES (:id, :kind, :org, :sandbox, :doc, :etag, :at, :at)"
            ),
            {
                "id": resource_id,
                "kind": kind,
                "org": SCOPE.org,
                "sandbox": SCOPE.sandbox,
                "doc": json.dumps(doc),
                "etag": '"e"',
                "at": created_at,
            },
        )
    return resource_id


def test_upgrade_backfills_keys_and_plans_every_flow(old_store: Store) -> None:
    conns = [
        _insert(
            old_store,
            "connection",
            {"name": f"PG {i}", "state": "enabled" if i % 2 else "disabled", "connectionSpec": {"id": "SPEC-A"}},
            1000 + i,
        )
        for i in range(5)
    ]
    source = _insert(old_store, "sourceConnection", {"name": "src", "baseConnectionId": conns[1]}, 2000)
    hourly = {"startTime": str(START), "frequency": "hour", "interval": "1"}
    flow = _insert(old_store, "flow", {"name": "f", "state": "enabled", "scheduleParams": hourly}, 3000)
    old_store.migrate()
    # The old rows answer filters on the new key columns, in SQL.
    enabled = old_store.page("connection", SCOPE, Page((Cond("state_key", "in", ("enabled",)),)))
    assert [r.id for r in enabled] == [conns[1], conns[3]]
    by_name = old_store.page("connection", SCOPE, Page((Cond("name_key", "in", ("pg 4",)),)))
    assert [r.id for r in by_name] == [conns[4]]
    assert old_store.count("connection", SCOPE, (Cond("spec_key", "in", ("spec-a",)),)) == 5
    refs = old_store.page("sourceConnection", SCOPE, Page((Cond("ref_key", "in", (conns[1],)),)))
    assert [r.id for r in refs] == [source]
    # Keyset paging over the old rows.
    second = old_store.page("connection", SCOPE, Page(after=(1001, conns[1]), limit=2))
    assert [r.id for r in second] == conns[2:4]
    # Every flow is due for planning, so the first tick after the upgrade schedules what is due.
    assert [r.id for r in old_store.due_flows(0)] == [flow]
    assert Scheduler(old_store).tick(now_s=START + 60).created == 1
    assert [r.flow_id for r in Ledger(old_store).for_scope(SCOPE)] == [flow]
    assert old_store.due_flows((START + 60) * 1000) == []
