"""One page of a list in SQL: pushed-down filters, an ordered keyset, a limit.

Services decide which filters can be pushed down exactly (service/_query.py); this module only turns
them into WHERE and ORDER BY clauses over a table with an `id` column, the keyset's tie-breaker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, false, func, or_


@dataclass(frozen=True)
class Cond:
    """One filter on a column: `op` is in, not_in, >, >=, <, <= or never; `lower` compares lower(column)."""

    column: str
    op: str
    values: tuple[Any, ...] = ()
    lower: bool = False


@dataclass(frozen=True)
class Page:
    """What to read: filters, order column and direction, the keyset position after which to start."""

    conds: tuple[Cond, ...] = ()
    order: str = "created_at"
    descending: bool = False
    after: tuple[Any, str] | None = None  # (order value, id) of the previous page's last row
    limit: int | None = None
    offset: int = 0


def conditions(table: Table, conds: tuple[Cond, ...]) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    for cond in conds:
        column: Any = table.c[cond.column]
        if cond.lower:
            column = func.lower(column)
        if cond.op == "never":
            out.append(false())
        elif cond.op == "in":
            out.append(column.in_(cond.values))
        elif cond.op == "not_in":  # a missing value differs from every value, as in memory
            out.append(or_(column.is_(None), column.not_in(cond.values)))
        elif cond.op == ">":
            out.append(column > cond.values[0])
        elif cond.op == ">=":
            out.append(column >= cond.values[0])
        elif cond.op == "<":
            out.append(column < cond.values[0])
        elif cond.op == "<=":
            out.append(column <= cond.values[0])
        else:  # pragma: no cover - the services build only the operators above
            raise ValueError(f"unknown operator {cond.op}")
    return out


def paged(table: Table, stmt: Select[Any], page: Page) -> Select[Any]:
    """`stmt` filtered, ordered by (order, id) in the page's direction, after its keyset position."""
    order, ident = table.c[page.order], table.c.id
    stmt = stmt.where(*conditions(table, page.conds))
    if page.after is not None:
        # (order, id) past the position, with the order's own bound first: both databases start the
        # index range there, where the bare OR would have them walk the index from the beginning.
        value, last_id = page.after
        if page.descending:
            stmt = stmt.where(order <= value, or_(order < value, and_(order == value, ident < last_id)))
        else:
            stmt = stmt.where(order >= value, or_(order > value, and_(order == value, ident > last_id)))
    stmt = stmt.order_by(order.desc(), ident.desc()) if page.descending else stmt.order_by(order, ident)
    if page.offset:
        stmt = stmt.offset(page.offset)
    if page.limit is not None:
        stmt = stmt.limit(page.limit)
    return stmt
