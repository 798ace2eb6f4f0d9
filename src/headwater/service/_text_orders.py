"""Lists ordered by name, paged in SQL on `resources.name_order` instead of sorted in memory.

A name order is case-sensitive by code point, missing names first, ties by id
(`_query.position_of`). `name_order` holds exactly that order for every name the database can place
(store/keys.py); when the rows a list would show include one it cannot place (a number, a very
long name), the caller's in-memory order answers instead, so the items and their order are the same
either way. Continuation tokens keep the (rank, value) position that in-memory pages use, turned
into a `name_order` keyset here, so a token works whichever path made it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from headwater.service._query import ListQuery, PageTokens, next_links, position_of
from headwater.service._sql_lists import Collection, split
from headwater.store.keys import UNORDERED, order_position
from headwater.store.paging import Cond, Page

# The public paths ordered on a column of this kind, and the column.
TEXT_ORDERS: Mapping[str, str] = {"name": "name_order"}
# Rows read per query while in-memory terms filter a page (only for unusual filters).
_SCAN_CHUNK = 200


def _keyset(position: tuple[tuple[int, Any], str]) -> tuple[str, str] | None:
    (rank, value), last_id = position
    at = order_position(rank, value)
    return None if at is None else (at, last_id)


def text_ordered_page(
    collection: Collection, query: ListQuery, *, tokens: PageTokens, default_limit: int
) -> dict[str, Any] | None:
    """One page of a list ordered on a text column, read in keyset order; None if SQL cannot order it."""
    opened, position = tokens.open(query, collection=collection.base_path)
    column = TEXT_ORDERS.get(opened.sort.path)
    if column is None or opened.count:
        return None
    after = _keyset(position) if position is not None else None
    if position is not None and after is None:
        return None
    conds, rest = split(opened.terms, collection.columns)
    # One indexed count: does any row the list could show hold a name SQL cannot place?
    if collection.count((*conds, Cond(column, "in", (UNORDERED,)))):
        return None
    limit = opened.limit or default_limit
    offset = opened.start if position is None else 0
    descending = opened.sort.descending
    if not rest:
        rows = collection.fetch(Page(conds, column, descending, after, limit + 1, offset))
        page, more = collection.views(rows[:limit]), len(rows) > limit
    else:
        # Unusual filters: read on in keyset order until the page (and one more item) is found.
        found: list[dict[str, Any]] = []
        chunk = max(limit + 1, _SCAN_CHUNK)
        while len(found) < offset + limit + 1:
            views = collection.views(collection.fetch(Page(conds, column, descending, after, chunk)))
            found += [it for it in views if all(t.matches(it) for t in rest)]
            after = _keyset(position_of(views[-1], opened.sort.path)) if views else None
            if len(views) < chunk or after is None:
                break
        found = found[offset:]
        page, more = found[:limit], len(found) > limit
    return {"items": page, "_links": next_links(page, more, opened, tokens=tokens, base_path=collection.base_path)}
