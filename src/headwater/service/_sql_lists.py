"""List queries pushed into SQL: which filters and orders a store column answers exactly, and the pager.

A `property` term is pushed down when a column holds exactly what the item's public JSON shows at
that path and SQL can compare it as `Term.matches` would (numbers numerically; text lower-cased).
Every other term (`~`, existence, text ranges, paths only a view computes) is checked in memory on
the views of the rows SQL returns, page by page, so the answer is the same either way and only
unusual filters cost a scan. An order by a column is a keyset in SQL; any other order sorts the
filtered rows in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from headwater.domain.numbers import INT64_MAX, INT64_MIN
from headwater.service._query import (
    ListQuery,
    PageTokens,
    Position,
    Term,
    _number,
    in_memory_page,
    next_links,
    position_of,
)
from headwater.store.keys import fits
from headwater.store.paging import Cond, Page

# Rows read per query while in-memory terms filter a page (only for unusual filters).
_SCAN_CHUNK = 200


@dataclass(frozen=True)
class Column:
    """A store column that answers a public path: `number`, `key` (lower-cased copy), `id`, or `lower`."""

    name: str
    kind: str


def _numbers(values: tuple[str, ...]) -> list[float] | None:
    parsed = [_number(v) for v in values]
    return None if any(p is None for p in parsed) else [p for p in parsed if p is not None]


def push(term: Term, column: Column) -> tuple[Cond, ...] | None:
    """The SQL form of `term` on `column`, or None when only the in-memory check is exact."""
    if term.op in ("==", "!="):
        negate = term.op == "!="
        if column.kind == "number":
            numbers = _numbers(term.values)
            if numbers is None:
                return None
            # A stored integer never equals 1.5, nor a whole number beyond 64 bits (which SQL could not
            # even bind: `createdAt==1e30` would be a 500).
            whole = tuple(int(n) for n in numbers if n == int(n) and INT64_MIN <= n <= INT64_MAX)
            if not whole:
                return () if negate else (Cond(column.name, "never"),)
            return (Cond(column.name, "not_in" if negate else "in", whole),)
        if column.kind == "key" and not all(fits(column.name, v) for v in term.values):
            return None
        lowered = tuple(v.lower() for v in term.values)
        return (Cond(column.name, "not_in" if negate else "in", lowered, lower=column.kind == "lower"),)
    if term.op in (">", ">=", "<", "<=") and column.kind == "number":
        numbers = _numbers(term.values)
        return None if numbers is None else (Cond(column.name, term.op, (numbers[0],)),)
    return None


def split(terms: tuple[Term, ...], columns: Mapping[str, Column]) -> tuple[tuple[Cond, ...], tuple[Term, ...]]:
    """The terms SQL answers exactly, as conditions, and the rest, checked in memory."""
    conds: list[Cond] = []
    rest: list[Term] = []
    for term in terms:
        column = columns.get(term.path)
        pushed = push(term, column) if column is not None else None
        if pushed is None:
            rest.append(term)
        else:
            conds.extend(pushed)
    return tuple(conds), tuple(rest)


@dataclass(frozen=True)
class Collection:
    """How one collection is read: its columns, a page of rows, a count, and the rows' public JSON."""

    base_path: str
    columns: Mapping[str, Column]
    fetch: Callable[[Page], list[Any]]
    count: Callable[[tuple[Cond, ...]], int]
    views: Callable[[list[Any]], list[dict[str, Any]]]


def _keyset(position: Position, column: Column) -> tuple[Any, str]:
    (_, value), last_id = position
    if column.kind == "number" and isinstance(value, float) and value == int(value):
        value = int(value)
    return value, last_id


def list_page(collection: Collection, query: ListQuery, *, tokens: PageTokens, default_limit: int) -> dict[str, Any]:
    """One page of a list query in Adobe's shape, reading from SQL only what the page needs."""
    query, position = tokens.open(query, collection=collection.base_path)
    conds, rest = split(query.terms, collection.columns)

    def matching(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [it for it in items if all(t.matches(it) for t in rest)]

    order = collection.columns.get(query.sort.path)
    if order is not None and order.kind not in ("number", "id"):
        order = None  # text orders sort numbers-in-text numerically in memory; SQL would not
    if query.count and not rest:
        return {"count": collection.count(conds)}
    if query.count or order is None:
        everything = matching(collection.views(collection.fetch(Page(conds))))
        if query.count:
            return {"count": len(everything)}
        page, more = in_memory_page(everything, query, position, limit=query.limit or default_limit)
    else:
        page, more = _sql_page(collection, query, conds, rest, order, position, default_limit, matching)
    return {"items": page, "_links": next_links(page, more, query, tokens=tokens, base_path=collection.base_path)}


def _sql_page(
    collection: Collection,
    query: ListQuery,
    conds: tuple[Cond, ...],
    rest: tuple[Term, ...],
    order: Column,
    position: Position | None,
    default_limit: int,
    matching: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
) -> tuple[list[dict[str, Any]], bool]:
    limit = query.limit or default_limit
    after = _keyset(position, order) if position is not None else None
    offset = query.start if position is None else 0
    descending = query.sort.descending
    if not rest:
        # One row beyond the page says whether there is a next one; only the page's rows are viewed.
        rows = collection.fetch(Page(conds, order.name, descending, after, limit + 1, offset))
        return collection.views(rows[:limit]), len(rows) > limit
    # Unusual filters: read on in keyset order until the page (and one more item) is found.
    wanted = offset + limit + 1
    found: list[dict[str, Any]] = []
    chunk = max(limit + 1, _SCAN_CHUNK)
    while len(found) < wanted:
        views = collection.views(collection.fetch(Page(conds, order.name, descending, after, chunk)))
        found += matching(views)
        if len(views) < chunk:
            break
        after = _keyset(position_of(views[-1], query.sort.path), order)
    found = found[offset:]
    return found[:limit], len(found) > limit
