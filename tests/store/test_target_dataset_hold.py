"""A target connection's write holds its dataset, and a dataset's delete checks for target connections
in its own transaction, so racing the two never leaves a target connection naming a deleted dataset
(SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import Connection, delete, insert

from headwater.errors import BadRequest
from headwater.store import Scope, Store
from headwater.store.keys import index_keys
from headwater.store.references import InUse, write_references
from headwater.store.tables import resources
from tests.support.threads import in_thread

SCOPE = Scope("orgA", "prod")
_CLOCK = itertools.count(1)  # creation times in the order the test writes
OTHER = Scope("orgA", "dev")


def _dataset(store: Store, scope: Scope = SCOPE) -> str:
    return store.insert("dataSet", scope, id=str(uuid.uuid4()), doc={"name": "ds"}).id


def _target_doc(dataset_id: str) -> dict[str, Any]:
    return {"name": "t", "state": "enabled", "params": {"dataSetId": dataset_id}}


def _write_target(conn: Connection, target_id: str, dataset_id: str, scope: Scope = SCOPE) -> None:
    """A target connection's insert as the store writes a resource: the row, then what it names."""
    doc = _target_doc(dataset_id)
    at = next(_CLOCK)
    row = {"id": target_id, "kind": "targetConnection", "org": scope.org, "sandbox": scope.sandbox, "doc": doc,
           "etag": '"e"', "created_at": at, "updated_at": at, **index_keys("targetConnection", doc)}  # fmt: skip
    conn.execute(insert(resources).values(**row))
    write_references(conn, "targetConnection", scope.org, scope.sandbox, target_id, at, doc, created=True)


def _insert_target(store: Store, dataset_id: str, target_id: str | None = None) -> str:
    target_id = target_id or str(uuid.uuid4())
    with store.begin() as conn:
        _write_target(conn, target_id, dataset_id)
    return target_id


def test_a_dataset_is_refused_while_a_target_connection_names_it(store: Store) -> None:
    dataset = _dataset(store)
    first, second = _insert_target(store, dataset), _insert_target(store, dataset)
    with pytest.raises(InUse) as refused:
        store.delete_unless_used("dataSet", SCOPE, dataset)
    assert refused.value.user_id == first  # the oldest, as the refusal names it
    assert store.get("dataSet", SCOPE, dataset) is not None, "a refused delete was not rolled back"
    # Nothing to delete in another sandbox; a target naming a dataset whose id differs only in letter
    # case (same `ref_key`) does not hold this one.
    assert not store.delete_unless_used("dataSet", OTHER, dataset)
    assert store.delete("targetConnection", SCOPE, first) and store.delete("targetConnection", SCOPE, second)
    twin = store.insert("dataSet", SCOPE, id=dataset.upper(), doc={"name": "twin"}).id
    over_twin = _insert_target(store, twin)
    assert store.delete_unless_used("dataSet", SCOPE, dataset)
    assert store.get("targetConnection", SCOPE, over_twin) is not None
    with pytest.raises(InUse):
        store.delete_unless_used("dataSet", SCOPE, twin)


def test_a_target_write_naming_a_deleted_dataset_stores_nothing(store: Store) -> None:
    dataset = _dataset(store)
    assert store.delete_unless_used("dataSet", SCOPE, dataset)
    target_id = str(uuid.uuid4())
    with pytest.raises(BadRequest) as refused, store.begin() as conn:
        _write_target(conn, target_id, dataset)
    assert refused.value.code == "1325"
    assert refused.value.message == f"The dataset {dataset} is not found in this sandbox."
    assert store.get("targetConnection", SCOPE, target_id) is None
    # A dataset of another sandbox is not there for this one either.
    elsewhere = _dataset(store, OTHER)
    with pytest.raises(BadRequest, match="is not found in this sandbox"), store.begin() as conn:
        _write_target(conn, target_id, elsewhere)


def test_a_dataset_delete_waits_for_a_target_being_written_and_then_refuses(store: Store) -> None:
    dataset = _dataset(store)
    target_id = str(uuid.uuid4())
    with store.engine.begin() as conn:
        _write_target(conn, target_id, dataset)
        thread, outcome = in_thread(lambda: store.delete_unless_used("dataSet", SCOPE, dataset))
        time.sleep(0.5)
        assert thread.is_alive(), f"the delete did not wait for the target's transaction: {outcome}"
    thread.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], InUse) and outcome[0].user_id == target_id, outcome
    assert store.get("dataSet", SCOPE, dataset) is not None


def test_a_target_write_waits_for_a_dataset_delete_in_progress_and_then_fails(store: Store) -> None:
    dataset = _dataset(store)
    target_id = str(uuid.uuid4())
    with store.engine.begin() as conn:
        conn.execute(delete(resources).where(resources.c.id == dataset))
        thread, outcome = in_thread(lambda: _insert_target(store, dataset, target_id))
        time.sleep(0.5)
        assert thread.is_alive(), f"the target's write did not wait for the delete's transaction: {outcome}"
    thread.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], BadRequest) and outcome[0].code == "1325", outcome
    assert store.get("targetConnection", SCOPE, target_id) is None
