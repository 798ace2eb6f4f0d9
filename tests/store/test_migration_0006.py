"""Migration 0006 gives existing target connections their dataset as `ref_key` (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert, select

from headwater.store import Scope, Store
from headwater.store.tables import resources
from tests.support.metadata import BACKENDS, alembic, store_at

SCOPE = Scope("ORG0000000000000000000000@AdobeOrg", "prod")


@pytest.fixture(params=BACKENDS)
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store at revision 0005, the schema before 0006."""
    with store_at(request.param, tmp_path, "0005") as store:
        yield store


def _insert(store: Store, kind: str, doc: dict[str, object], ref_key: str | None = None) -> str:
    rid = str(uuid.uuid4())
    row = {"id": rid, "kind": kind, "org": SCOPE.org, "sandbox": SCOPE.sandbox, "doc": doc, "etag": '"e"'}
    with store.engine.begin() as conn:
        conn.execute(insert(resources).values(**row, created_at=1, updated_at=1, ref_key=ref_key))
    return rid


def _keys(store: Store) -> dict[str, str | None]:
    with store.engine.begin() as conn:
        return {r.id: r.ref_key for r in conn.execute(select(resources.c.id, resources.c.ref_key))}


def test_target_connections_get_their_dataset_key_and_lose_it_on_downgrade(old_store: Store) -> None:
    targets = [_insert(old_store, "targetConnection", {"params": {"dataSetId": f"DS{i}"}}) for i in range(1005)]
    odd = _insert(old_store, "targetConnection", {"params": "not an object"})
    source = _insert(old_store, "sourceConnection", {"baseConnectionId": "BASE"}, ref_key="base")
    alembic(old_store, command.upgrade, "0006")
    keys = _keys(old_store)
    assert [keys[t] for t in targets] == [f"ds{i}" for i in range(1005)]  # lower-cased, as every key
    assert keys[odd] is None and keys[source] == "base"
    alembic(old_store, command.downgrade, "0005")
    keys = _keys(old_store)
    assert all(keys[t] is None for t in targets) and keys[source] == "base"
