"""One page of a list in SQL: pushed-down filters, an ordered keyset, a limit.

Services decide which filters can be pushed down exactly (service/_query.py); this module only turns
them into WHERE and ORDER BY clauses over a table with an `id` column, the keyset's tie-breaker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, Select, Table, and_, bindparam, false, func, or_

from headwater.store.driver_reads import DriverRead


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
        if cond.op == "never" or (cond.op == "in" and not cond.values):
            out.append(false())
        elif cond.op == "not_in" and not cond.values:
            continue  # differs from no value: every row
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


# Distinct page shapes kept per statement family; a request with a new shape beyond them is built
# for that request only (shapes vary only with the number of values a filter lists).
_MAX_SHAPES = 512


class PagedStatements:
    """Page statements over one scoped select, built once per shape of page, with the page's values bound.

    Building a filtered, ordered, keyset select per request, and SQLAlchemy's cache key for it, cost
    more than the query (measured in process: a page of 21 flows 0.55 -> 0.14 ms to execute); a
    prebuilt statement is compiled once and run on the driver's cursor (store/driver_reads.py).
    `head` selects the rows of one scope, its scope values bound by the caller; `page` adds the
    filters, the keyset, the order and the cut.
    """

    def __init__(self, table: Table, head: Select[Any]) -> None:
        self.table = table
        self.head = head
        self._built: dict[tuple[Any, ...], DriverRead] = {}

    def __call__(self, page: Page) -> tuple[DriverRead, dict[str, Any]]:
        """The read for `page`, and its bound values (the caller adds the scope's)."""
        shape = (
            tuple((c.column, c.op, c.lower, tuple(isinstance(v, float) for v in c.values)) for c in page.conds),
            page.order,
            page.descending,
            page.after is not None,
            bool(page.offset),
            page.limit is not None,
        )
        read = self._built.get(shape)
        if read is None:
            read = DriverRead(self._build(page))
            if len(self._built) < _MAX_SHAPES:
                self._built[shape] = read
        return read, _values(page)

    def _build(self, page: Page) -> Select[Any]:
        table = self.table
        order, ident = table.c[page.order], table.c.id
        stmt = self.head.where(*_bound_conditions(table, page.conds))
        if page.after is not None:
            # (order, id) past the position, with the order's own bound first: both databases start
            # the index range there, where the bare OR would have them walk the index from the start.
            value, last_id = bindparam("after_value", type_=order.type), bindparam("after_id", type_=ident.type)
            if page.descending:
                stmt = stmt.where(order <= value, or_(order < value, and_(order == value, ident < last_id)))
            else:
                stmt = stmt.where(order >= value, or_(order > value, and_(order == value, ident > last_id)))
        stmt = stmt.order_by(order.desc(), ident.desc()) if page.descending else stmt.order_by(order, ident)
        if page.offset:
            stmt = stmt.offset(bindparam("offset", type_=Integer))
        if page.limit is not None:
            stmt = stmt.limit(bindparam("limit", type_=Integer))
        return stmt


def _bound_conditions(table: Table, conds: tuple[Cond, ...]) -> list[ColumnElement[bool]]:
    """`conditions`, with each value a bound parameter named by its place (`_values` binds them)."""
    bound = []
    for i, c in enumerate(conds):
        # A float bound is bound as a float (`createdAt>5.5`): bound as the BIGINT column, PostgreSQL
        # would cast it, truncating 5.5 and overflowing on 1e30.
        kinds = [Float() if isinstance(v, float) else table.c[c.column].type for v in c.values]
        values = tuple(bindparam(f"c{i}_{j}", type_=kind) for j, kind in enumerate(kinds))
        bound.append(Cond(c.column, c.op, values, c.lower))
    return conditions(table, tuple(bound))


def _values(page: Page) -> dict[str, Any]:
    values = {f"c{i}_{j}": value for i, c in enumerate(page.conds) for j, value in enumerate(c.values)}
    if page.after is not None:
        values["after_value"], values["after_id"] = page.after
    if page.offset:
        values["offset"] = page.offset
    if page.limit is not None:
        values["limit"] = page.limit
    return values
