"""Migration 0007 gives every row `name_order`, computed by the database as store/keys.py `name_order`
says, on existing rows and on every later write (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import insert, inspect, select, text, update

from headwater.store import Scope, Store
from headwater.store.keys import UNORDERED, name_order
from headwater.store.tables import resources
from tests.support.metadata import BACKENDS, alembic, store_at

SCOPE = Scope("ORG0000000000000000000000@AdobeOrg", "prod")
DOCS: list[dict[str, Any]] = [
    {},
    {"name": None},
    {"name": ""},
    {"name": "Alpha"},
    {"name": "alpha"},
    {"name": "Ärger ß 日本 😀"},
    {"name": "x" * 255},
    {"name": "x" * 256},
    {"name": 7},
    {"name": 1.5},
    {"name": True},
    {"name": {"first": "a"}},
    {"name": ["a"]},
    {"name": 'quote " and back\\slash'},
]


@pytest.fixture(params=BACKENDS)
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store at revision 0006, the schema before 0007."""
    with store_at(request.param, tmp_path, "0006") as store:
        yield store


def _insert(store: Store, doc: dict[str, Any]) -> str:
    rid = str(uuid.uuid4())
    row = {"id": rid, "kind": "connection", "org": SCOPE.org, "sandbox": SCOPE.sandbox, "doc": doc, "etag": '"e"'}
    with store.engine.begin() as conn:
        conn.execute(insert(resources).values(**row, created_at=1, updated_at=1))
    return rid


def _orders(store: Store) -> dict[str, str | None]:
    with store.engine.begin() as conn:
        return {r.id: r.name_order for r in conn.execute(select(resources.c.id, resources.c.name_order))}


def test_existing_and_new_rows_get_the_name_order_and_lose_it_on_downgrade(old_store: Store) -> None:
    ids = [_insert(old_store, doc) for doc in DOCS]
    alembic(old_store, command.upgrade, "0007")
    orders = _orders(old_store)
    assert [orders[i] for i in ids] == [name_order(d) for d in DOCS]
    assert [orders[i] for i in ids[:7]] == ["0", "0", "2", "2Alpha", "2alpha", "2Ärger ß 日本 😀", "2" + "x" * 255]
    assert all(orders[i] == UNORDERED for i in ids[7:13])
    # SQLite keeps what Python's encoder writes, NaN included, which its JSON functions cannot read:
    # such a row is not placed by SQL, and its write does not fail. (PostgreSQL refuses the doc.)
    if old_store.engine.dialect.name == "sqlite":
        ids.append(_insert(old_store, {"name": "n", "labels": {"x": float("nan")}}))
        assert _orders(old_store)[ids[-1]] == UNORDERED
    # Every later write computes it again, whoever writes.
    with old_store.engine.begin() as conn:
        conn.execute(update(resources).where(resources.c.id == ids[0]).values(doc={"name": "Later"}))
    assert _orders(old_store)[ids[0]] == "2Later"
    # Code-point order in SQL, as Python compares strings: on PostgreSQL by the column's own "C"
    # collation, whatever the database's default (this server's C.UTF-8 would hide a missing one).
    if old_store.engine.dialect.name == "postgresql":
        collation = "SELECT collation_name FROM information_schema.columns WHERE column_name = 'name_order'"
        with old_store.engine.begin() as conn:
            assert conn.execute(text(collation)).scalar_one() == "C"
    with old_store.engine.begin() as conn:
        ordered = list(conn.execute(select(resources.c.name_order).order_by(resources.c.name_order)).scalars())
    assert ordered == sorted(ordered)
    alembic(old_store, command.downgrade, "0006")
    assert "name_order" not in {c["name"] for c in inspect(old_store.engine).get_columns("resources")}
    with old_store.engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM resources")).scalar_one() == len(ids)  # rows kept
