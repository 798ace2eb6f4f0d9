"""Migration 0005 on a database that already holds flows: their references are backfilled, so deleting
what they use is refused from the first request after the upgrade (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, select, text

from headwater.store import Scope, Store
from headwater.store.keys import index_keys
from headwater.store.references import InUse
from headwater.store.tables import flow_references
from tests.support.metadata import BACKENDS, alembic, store_at

PROD = Scope("ORG0000000000000000000000@AdobeOrg", "prod")
DEV = Scope("ORG0000000000000000000000@AdobeOrg", "dev")
# More flows than one backfill batch, so the backfill's paging is exercised.
BULK = 1003


@pytest.fixture(params=BACKENDS)
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store at revision 0004, the schema before 0005."""
    with store_at(request.param, tmp_path, "0004") as store:
        yield store


class OldRows:
    """Rows written the way a 0004 server stored them: no references."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.created_at = 1000

    def add(self, kind: str, scope: Scope, docs: list[dict[str, Any]]) -> list[str]:
        ids = [str(uuid.uuid4()) for _ in docs]
        rows = []
        for resource_id, doc in zip(ids, docs, strict=True):
            self.created_at += 1
            rows.append({"id": resource_id, "kind": kind, "org": scope.org, "sandbox": scope.sandbox,
                         "doc": json.dumps(doc), "at": self.created_at, **index_keys(kind, doc)})  # fmt: skip
        with self.store.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO resources (id, kind, org, sandbox, doc, etag, created_at, updated_at, "
                    "name_key, state_key, spec_key, ref_key, next_due_at) VALUES (:id, :kind, :org, :sandbox, "
                    ":doc, '\"e\"', :at, :at, :name_key, :state_key, :spec_key, :ref_key, :next_due_at)"
                ),
                rows,
            )
        return ids

    def chain(self, scope: Scope) -> tuple[str, str, str]:
        (base,) = self.add("connection", scope, [{"name": "pg", "state": "enabled"}])
        (source,) = self.add("sourceConnection", scope, [{"name": "src", "baseConnectionId": base}])
        (target,) = self.add("targetConnection", scope, [{"name": "tgt"}])
        return base, source, target

    def flows(self, scope: Scope, source: str, target: str, count: int = 1) -> list[str]:
        doc = {"name": "f", "state": "enabled", "sourceConnectionIds": [source], "targetConnectionIds": [target]}
        return self.add("flow", scope, [doc] * count)


def _refused(store: Store, kind: str, scope: Scope, resource_id: str) -> str:
    with pytest.raises(InUse) as refused:
        store.delete_unless_used(kind, scope, resource_id)
    return refused.value.flow_id


def test_upgrade_backfills_the_references_of_existing_flows(old_store: Store) -> None:
    old = OldRows(old_store)
    a_base, a_source, a_target = old.chain(PROD)
    (a_flow,) = old.flows(PROD, a_source, a_target)
    b_base, b_source, b_target = old.chain(PROD)
    b_flows = old.flows(PROD, b_source, b_target, BULK)
    dev_base, dev_source, dev_target = old.chain(DEV)
    (dev_flow,) = old.flows(DEV, dev_source, dev_target)
    idle_base, idle_source, idle_target = old.chain(PROD)
    old.add("flow", PROD, [{"name": "odd", "sourceConnectionIds": "not a list", "targetConnectionIds": [7, None]}])

    old_store.migrate()

    with old_store.begin() as conn:
        count = select(func.count()).select_from(flow_references)
        assert conn.execute(count).scalar_one() == 2 * (1 + BULK + 1)
        named_b = count.where(flow_references.c.referenced_id == b_source)
        assert conn.execute(named_b).scalar_one() == BULK
    assert _refused(old_store, "sourceConnection", PROD, a_source) == a_flow
    assert _refused(old_store, "targetConnection", PROD, a_target) == a_flow
    assert _refused(old_store, "connection", PROD, a_base) == a_flow
    assert _refused(old_store, "targetConnection", PROD, b_target) == b_flows[0]
    assert _refused(old_store, "connection", PROD, b_base) == b_flows[0]
    assert _refused(old_store, "sourceConnection", DEV, dev_source) == dev_flow
    assert _refused(old_store, "connection", DEV, dev_base) == dev_flow
    # What no flow names is deleted as before; a flow deleted after the upgrade releases its connections.
    assert old_store.delete_unless_used("sourceConnection", PROD, idle_source)
    assert old_store.delete_unless_used("targetConnection", PROD, idle_target)
    assert old_store.delete_unless_used("connection", PROD, idle_base)
    assert old_store.delete("flow", PROD, a_flow)
    assert old_store.delete_unless_used("sourceConnection", PROD, a_source)
    assert old_store.delete_unless_used("connection", PROD, a_base)


def test_downgrade_drops_the_index_and_upgrading_again_rebuilds_it(old_store: Store) -> None:
    old = OldRows(old_store)
    _, source, target = old.chain(PROD)
    (flow,) = old.flows(PROD, source, target)
    old_store.migrate()
    alembic(old_store, command.downgrade, "0004")
    with old_store.engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == "0004"
    old_store.migrate()
    assert _refused(old_store, "targetConnection", PROD, target) == flow
