"""Store.get_many: resources of any kind by id, one query, scoped to the sandbox (both backends)."""

from __future__ import annotations

from sqlalchemy import event

from headwater.store import Scope, Store

ORG = "GETMANY0000000000000000000@AdobeOrg"


def test_get_many_finds_the_ids_of_its_sandbox_only(store: Store) -> None:
    prod, dev = Scope(ORG, "prod"), Scope(ORG, "dev")
    for i in range(30):
        store.insert("sourceConnection" if i % 2 else "targetConnection", prod, id=f"r-{i:02d}", doc={"n": i})
    store.insert("connection", dev, id="other-sandbox", doc={"n": -1})
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    wanted = [f"r-{i:02d}" for i in range(0, 30, 3)] + ["r-03", "missing", "other-sandbox"]
    found = store.get_many(prod, wanted)

    assert sorted(found) == sorted({f"r-{i:02d}" for i in range(0, 30, 3)})
    assert all(found[k].doc == {"n": int(k[2:])} and found[k].scope == prod for k in found)
    assert found["r-03"].kind == "sourceConnection" and found["r-00"].kind == "targetConnection"
    assert len(statements) == 1
    assert store.get_many(prod, []) == {}
    assert store.get_many(prod, ["r-01"])["r-01"].doc == {"n": 1}  # a single id, in either form
    assert store.get_many(dev, ["other-sandbox", "r-01"]).keys() == {"other-sandbox"}


def test_get_fields_reads_the_named_fields_of_its_sandbox_only(store: Store) -> None:
    prod, dev = Scope(ORG, "prod"), Scope(ORG, "dev")
    spec = {"id": "spec", "version": "1.0"}
    store.insert("sourceConnection", prod, id="a", doc={"connectionSpec": spec, "baseConnectionId": 'b"1', "x": [1]})
    store.insert("targetConnection", prod, id="b", doc={"connectionSpec": None, "odd key": 2})
    store.insert("sourceConnection", dev, id="c", doc={"connectionSpec": spec})
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    found = store.get_fields(prod, ["a", "b", "c", "missing"], ("connectionSpec", "baseConnectionId"))

    assert found == {
        "a": ("sourceConnection", {"connectionSpec": spec, "baseConnectionId": 'b"1'}),
        "b": ("targetConnection", {"connectionSpec": None, "baseConnectionId": None}),
    }
    assert len(statements) == 1
    assert store.get_fields(prod, ["b"], ("odd key", "x")) == {"b": ("targetConnection", {"odd key": 2, "x": None})}
    assert store.get_fields(prod, [], ("connectionSpec", "x")) == {}
