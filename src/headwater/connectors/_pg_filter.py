"""A bound row filter (domain/row_filter.py) as a PostgreSQL boolean expression.

Columns are `sql.Identifier`s of names the described table has. Values are `sql.Literal`s: the read
is `COPY (SELECT …) TO STDOUT`, and COPY takes no bind parameters, so psycopg quotes each value with
the connection's own escaping rules (as it does for window bounds). Nothing is string-formatted.
Values keep the Python type the binder gave them (int, Decimal, date, aware or naive datetime), so
the literal's SQL type matches the column's and no session time zone enters a comparison.
"""

from __future__ import annotations

from psycopg import sql

from headwater.domain.row_filter import Comparison, FilterNode, Junction, Membership, Negation, RowFilter

_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def filter_sql(row_filter: RowFilter) -> sql.Composable:
    """The filter as one parenthesised condition; it must have been bound to the table first."""
    if not row_filter.bound:
        raise ValueError("a row filter must be bound to the table before it is compiled")
    return _node(row_filter.root)


def _node(node: FilterNode) -> sql.Composable:
    if isinstance(node, Junction):
        joiner = sql.SQL(" AND " if node.op == "and" else " OR ")
        return sql.SQL("({})").format(joiner.join(_node(p) for p in node.parts))
    if isinstance(node, Negation):
        return sql.SQL("(NOT {})").format(_node(node.part))
    column = sql.Identifier(node.column)
    if isinstance(node, Membership):
        return sql.SQL("({} IN ({}))").format(column, sql.SQL(", ").join(sql.Literal(v) for v in node.values))
    return _comparison(node, column)


def _comparison(node: Comparison, column: sql.Identifier) -> sql.Composable:
    if node.value is None:
        test = "IS NULL" if node.op == "=" else "IS NOT NULL"
        return sql.SQL("({} {})").format(column, sql.SQL(test))
    if node.op == "like":
        # Text-read types (uuid, inet, enum, citext…) have no LIKE of their own: compare their text.
        return sql.SQL("({}::text LIKE {})").format(column, sql.Literal(node.value))
    return sql.SQL("({} {} {})").format(column, sql.SQL(_OPS[node.op]), sql.Literal(node.value))
