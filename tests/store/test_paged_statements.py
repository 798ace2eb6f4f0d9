"""Prebuilt page statements bind each page's values: the same rows as a statement built for the page."""

from __future__ import annotations

from headwater.service._query import Term
from headwater.service._sql_lists import Column, push
from headwater.store import Scope, Store
from headwater.store.paging import Cond, Page

ORG = "PAGEDSTMT00000000000000000@AdobeOrg"


def test_number_bounds_keep_their_fraction_and_range(store: Store) -> None:
    scope = Scope(ORG, "prod")
    made = [store.insert("connection", scope, id=f"c-{i}", doc={"name": f"n{i}"}) for i in range(3)]
    at = sorted({r.created_at for r in made})
    first, last = at[0], at[-1]

    def ids(*conds: Cond) -> list[str]:
        return [r.id for r in store.page("connection", scope, Page(conds, limit=10))]

    every = [r.id for r in sorted(made, key=lambda r: (r.created_at, r.id))]
    assert ids(Cond("created_at", ">", (first - 0.5,))) == every  # not truncated to `> first`
    assert ids(Cond("created_at", "<=", (first - 0.5,))) == []
    assert ids(Cond("created_at", ">=", (last + 0.5,))) == []
    assert ids(Cond("created_at", "<", (last + 0.5,))) == every
    assert ids(Cond("created_at", ">", (1e30,))) == [] and ids(Cond("created_at", "<", (1e30,))) == every
    assert ids(Cond("created_at", "in", (first,))) == [r.id for r in made if r.created_at == first]
    # The same shape with other values reuses the statement and binds the new ones.
    assert ids(Cond("name_key", "in", ("n1", "n2")), Cond("created_at", ">", (0,))) == ["c-1", "c-2"]
    assert ids(Cond("name_key", "in", ("n0", "n2")), Cond("created_at", ">", (0,))) == ["c-0", "c-2"]
    assert ids(Cond("name_key", "not_in", ("n0",)), Cond("created_at", "never")) == []
    # No values: `in` matches nothing and `not_in` everything, as in memory.
    assert ids(Cond("name_key", "in", ())) == [] and ids(Cond("name_key", "not_in", ())) == every


def test_a_whole_number_beyond_64_bits_matches_nothing(store: Store) -> None:
    """`createdAt==1e30` finds nothing (no stored integer is that large); SQL could not even bind it."""
    scope = Scope(ORG, "prod")
    store.insert("connection", scope, id="c-0", doc={})
    column = Column("created_at", "number")

    def ids(op: str, *values: str) -> list[str]:
        conds = push(Term("createdAt", op, values), column)
        assert conds is not None
        return [r.id for r in store.page("connection", scope, Page(conds, limit=10))]

    assert ids("==", "1e30") == [] and ids("==", "-1e30", "9223372036854775808") == []
    assert ids("!=", "1e30", "-1e30") == ["c-0"]
    assert ids("==", "4611686018427387904") == []  # 2**62 still binds, and matches nothing here
