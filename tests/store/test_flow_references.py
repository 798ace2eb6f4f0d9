"""Deleting what a flow uses is refused in the delete's own transaction, from the flow_references index
(SQLite and PostgreSQL)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete, insert, select

from headwater.errors import BadRequest
from headwater.store import Scope, Store
from headwater.store.keys import index_keys
from headwater.store.references import InUse, write_flow_references
from headwater.store.tables import flow_references, resources
from tests.support.threads import in_thread

SCOPE = Scope("orgA", "prod")
OTHER = Scope("orgA", "dev")


@dataclass
class Chain:
    base: str
    source: str
    target: str


def _chain(store: Store, scope: Scope = SCOPE) -> Chain:
    base = store.insert("connection", scope, id=str(uuid.uuid4()), doc={"name": "pg", "state": "enabled"}).id
    source_doc = {"name": "src", "baseConnectionId": base}
    source = store.insert("sourceConnection", scope, id=str(uuid.uuid4()), doc=source_doc).id
    target = store.insert("targetConnection", scope, id=str(uuid.uuid4()), doc={"name": "tgt"}).id
    return Chain(base, source, target)


def _flow_doc(source: str, target: str, state: str = "enabled") -> dict[str, Any]:
    return {"name": "f", "state": state, "sourceConnectionIds": [source], "targetConnectionIds": [target]}


def _flow(store: Store, source: str, target: str, scope: Scope = SCOPE, state: str = "enabled") -> str:
    return store.insert("flow", scope, id=str(uuid.uuid4()), doc=_flow_doc(source, target, state)).id


def _refused_by(store: Store, kind: str, resource_id: str, scope: Scope = SCOPE) -> str:
    """The flow a refused delete names; the resource is still there afterwards."""
    with pytest.raises(InUse) as refused:
        store.delete_unless_used(kind, scope, resource_id)
    assert store.get(kind, scope, resource_id) is not None, "a refused delete was not rolled back"
    return refused.value.flow_id


def _references(store: Store, flow_id: str) -> set[tuple[str, str]]:
    query = select(flow_references.c.field, flow_references.c.referenced_id).where(flow_references.c.flow_id == flow_id)
    with store.begin() as conn:
        return {(r.field, r.referenced_id) for r in conn.execute(query)}


def test_what_a_flow_names_is_refused_until_the_flow_is_deleted(store: Store) -> None:
    chain = _chain(store)
    first, second = _flow(store, chain.source, chain.target), _flow(store, chain.source, chain.target)
    # The oldest flow that uses it is the one named, as the message tells the client to delete it.
    assert _refused_by(store, "sourceConnection", chain.source) == first
    assert _refused_by(store, "targetConnection", chain.target) == first
    assert _refused_by(store, "connection", chain.base) == first
    assert store.delete("flow", SCOPE, first)
    assert _references(store, first) == set()
    assert _refused_by(store, "sourceConnection", chain.source) == second
    assert store.delete("flow", SCOPE, second)
    assert store.delete_unless_used("targetConnection", SCOPE, chain.target)
    assert store.delete_unless_used("sourceConnection", SCOPE, chain.source)
    assert store.delete_unless_used("connection", SCOPE, chain.base)
    assert not store.delete_unless_used("connection", SCOPE, chain.base)  # already gone


def test_a_flow_patched_to_name_other_connections_stops_holding_the_old_ones(store: Store) -> None:
    old, new = _chain(store), _chain(store)
    flow = store.insert("flow", SCOPE, id=str(uuid.uuid4()), doc=_flow_doc(old.source, old.target))
    store.update("flow", SCOPE, flow.id, doc=_flow_doc(new.source, old.target), secrets=None, expected_etag=flow.etag)
    assert _references(store, flow.id) == {("sourceConnectionIds", new.source), ("targetConnectionIds", old.target)}
    assert store.delete_unless_used("sourceConnection", SCOPE, old.source)
    assert store.delete_unless_used("connection", SCOPE, old.base)
    assert _refused_by(store, "targetConnection", old.target) == flow.id
    assert _refused_by(store, "connection", new.base) == flow.id


def test_a_base_connection_is_held_only_by_source_connections_that_a_flow_uses(store: Store) -> None:
    chain = _chain(store)
    unused_source = store.insert(
        "sourceConnection", SCOPE, id=str(uuid.uuid4()), doc={"name": "idle", "baseConnectionId": chain.base}
    ).id
    assert store.delete_unless_used("connection", SCOPE, chain.base)
    assert store.get("sourceConnection", SCOPE, unused_source) is not None


def test_a_check_looks_only_at_the_resources_sandbox(store: Store) -> None:
    chain = _chain(store)
    _flow(store, chain.source, chain.target)
    # The same ids asked about from another sandbox: nothing there to delete, nothing refused.
    assert not store.delete_unless_used("sourceConnection", OTHER, chain.source)
    assert not store.delete_unless_used("connection", OTHER, chain.base)
    # A flow in another sandbox does not hold this sandbox's unused connections.
    elsewhere = _chain(store, OTHER)
    _flow(store, elsewhere.source, elsewhere.target, OTHER)
    idle = _chain(store)
    assert store.delete_unless_used("sourceConnection", SCOPE, idle.source)
    assert store.delete_unless_used("targetConnection", SCOPE, idle.target)


def test_a_flow_write_naming_a_deleted_connection_stores_nothing(store: Store) -> None:
    chain = _chain(store)
    assert store.delete_unless_used("targetConnection", SCOPE, chain.target)
    flow_id = str(uuid.uuid4())
    with pytest.raises(BadRequest) as refused:
        store.insert("flow", SCOPE, id=flow_id, doc=_flow_doc(chain.source, chain.target))
    assert refused.value.code == "1338"
    assert refused.value.message == f"The target connection {chain.target} is not found in this sandbox."
    assert store.get("flow", SCOPE, flow_id) is None and _references(store, flow_id) == set()
    # A target connection's id in the source list names the wrong kind: refused the same way.
    with pytest.raises(BadRequest, match="The source connection"):
        store.insert("flow", SCOPE, id=flow_id, doc=_flow_doc(chain.target, chain.source))


def test_only_a_draft_may_sit_over_a_source_whose_base_connection_is_gone(store: Store) -> None:
    chain = _chain(store)
    target = store.insert("targetConnection", SCOPE, id=str(uuid.uuid4()), doc={"name": "t"}).id
    assert store.delete_unless_used("connection", SCOPE, chain.base)  # no flow used its source yet
    with pytest.raises(BadRequest, match="base connection no longer exists") as refused:
        _flow(store, chain.source, target)
    assert refused.value.code == "1338"
    draft = _flow(store, chain.source, target, state="draft")
    assert _references(store, draft) == {("sourceConnectionIds", chain.source), ("targetConnectionIds", target)}
    # A change that keeps what a flow names checks nothing again, so it still succeeds.
    record = store.get("flow", SCOPE, draft)
    assert record is not None
    doc = {**record.doc, "name": "renamed"}
    store.update("flow", SCOPE, draft, doc=doc, secrets=None, expected_etag=record.etag)


def test_a_delete_waits_for_a_flow_being_written_and_then_refuses(store: Store) -> None:
    chain = _chain(store)
    flow_id = str(uuid.uuid4())
    doc = _flow_doc(chain.source, chain.target)
    with store.engine.begin() as conn:
        row = {"id": flow_id, "kind": "flow", "org": SCOPE.org, "sandbox": SCOPE.sandbox, "doc": doc,
               "etag": '"e"', "created_at": 1, "updated_at": 1, **index_keys("flow", doc)}  # fmt: skip
        conn.execute(insert(resources).values(**row))
        write_flow_references(conn, SCOPE.org, SCOPE.sandbox, flow_id, 1, doc, created=True)
        thread, outcome = in_thread(lambda: store.delete_unless_used("sourceConnection", SCOPE, chain.source))
        time.sleep(0.5)
        assert thread.is_alive(), f"the delete did not wait for the flow's transaction: {outcome}"
    thread.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], InUse) and outcome[0].flow_id == flow_id, outcome
    assert store.get("sourceConnection", SCOPE, chain.source) is not None


def test_a_flow_write_waits_for_a_delete_in_progress_and_then_fails(store: Store) -> None:
    chain = _chain(store)
    flow_id = str(uuid.uuid4())
    with store.engine.begin() as conn:
        conn.execute(delete(resources).where(resources.c.id == chain.source))
        thread, outcome = in_thread(
            lambda: store.insert("flow", SCOPE, id=flow_id, doc=_flow_doc(chain.source, chain.target))
        )
        time.sleep(0.5)
        assert thread.is_alive(), f"the flow write did not wait for the delete's transaction: {outcome}"
    thread.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], BadRequest) and outcome[0].code == "1338", outcome
    assert store.get("flow", SCOPE, flow_id) is None and _references(store, flow_id) == set()
