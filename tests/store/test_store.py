"""The store suite, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from headwater.errors import PreconditionFailed
from headwater.store import Scope, Store
from headwater.store.repository import etag_matches


def test_crud_and_scope_isolation(store: Store) -> None:
    a, b = Scope("orgA", "prod"), Scope("orgA", "dev")
    rec = store.insert("connection", a, id="c1", doc={"name": "x", "nested": {"k": [1, 2]}}, secrets=b"sealed")
    assert store.get("connection", a, "c1") == rec
    assert store.get("connection", b, "c1") is None
    assert store.get("flow", a, "c1") is None
    assert [r.id for r in store.list("connection", a)] == ["c1"]
    assert store.list("connection", b) == []
    assert "sealed" not in repr(rec)
    updated = store.update("connection", a, "c1", doc={"name": "y"}, secrets=None, expected_etag=rec.etag)
    assert updated.etag != rec.etag and updated.created_at == rec.created_at
    with pytest.raises(PreconditionFailed):
        store.update("connection", a, "c1", doc={"name": "z"}, secrets=None, expected_etag=rec.etag)
    with pytest.raises(PreconditionFailed):
        store.update("connection", b, "c1", doc={"name": "z"}, secrets=None, expected_etag=updated.etag)
    got = store.get("connection", a, "c1")
    assert got is not None and got.doc == {"name": "y"}
    assert not store.delete("connection", b, "c1")
    assert store.delete("connection", a, "c1")
    assert store.get("connection", a, "c1") is None


def test_clients(store: Store) -> None:
    store.add_client(client_id="cid", org="orgA", name="n", secret_hash="h")
    client = store.get_client("cid")
    assert client is not None and client["org"] == "orgA"
    assert store.get_client("other") is None


def test_etag_forms() -> None:
    assert etag_matches('"abc"', "abc")
    assert etag_matches('"abc"', '"abc"')
    assert etag_matches('"abc"', 'W/"abc"')
    assert not etag_matches('"abc"', "abd")
