"""A bound row filter (domain/row_filter.py) as a GoogleSQL condition with query parameters.

Values are named query parameters (`@f0`, `@f1`, …) typed as their column, never text in the SQL;
columns are backquoted names the table was described with. The Storage Read API's row restriction
takes no parameters, so a filtered read runs as a query job whose result is then read (bigquery.py).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from google.cloud import bigquery

from headwater.connectors._bq_types import quote_identifier, standard_type
from headwater.domain.row_filter import (
    MISMATCH_CODE,
    Comparison,
    FilterNode,
    Junction,
    Membership,
    Negation,
    RowFilter,
    bind_filter,
)
from headwater.errors import BadRequest, ConfigError

if TYPE_CHECKING:
    from google.cloud.bigquery import SchemaField

    from headwater.domain import TableSchema

_OPS = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "like": "LIKE"}
# GoogleSQL types a filter may compare; the parameter takes the column's own type.
_PARAM_TYPES = frozenset(
    {"INT64", "FLOAT64", "NUMERIC", "BIGNUMERIC", "BOOL", "STRING", "DATE", "DATETIME", "TIMESTAMP", "TIME"}
)


@dataclass
class BqFilter:
    """A condition and the parameters it names."""

    sql: str
    params: list[bigquery.ScalarQueryParameter] = field(default_factory=list)


def compile_filter(row_filter: RowFilter, fields: list[SchemaField]) -> BqFilter:
    """The bound filter against the table's fields; 1379 for a column BigQuery cannot compare."""
    if not row_filter.bound:
        raise ValueError("a row filter must be bound to the table before it is compiled")
    out = BqFilter("")
    out.sql = _node(row_filter.root, {f.name: f for f in fields}, out)
    return out


def where_sql(restriction: str, row_filter: BqFilter | None) -> str:
    """` WHERE …` of a query from the window's restriction and the filter (either may be absent)."""
    parts = [p for p in (restriction, row_filter.sql if row_filter else "") if p]
    return f" WHERE {' AND '.join(parts)}" if parts else ""


def _node(node: FilterNode, fields: dict[str, SchemaField], out: BqFilter) -> str:
    if isinstance(node, Junction):
        joiner = " AND " if node.op == "and" else " OR "
        return "(" + joiner.join(_node(p, fields, out) for p in node.parts) + ")"
    if isinstance(node, Negation):
        return f"(NOT {_node(node.part, fields, out)})"
    column = fields[node.column]
    kind = _kind(column)
    name = quote_identifier(node.column)
    if isinstance(node, Membership):
        names = ", ".join(_param(out, kind, v, column.name) for v in node.values)
        return f"({name} IN ({names}))"
    return _comparison(node, name, kind, column, out)


def _comparison(node: Comparison, name: str, kind: str, column: SchemaField, out: BqFilter) -> str:
    if node.value is None:
        return f"({name} IS {'NULL' if node.op == '=' else 'NOT NULL'})"
    if node.op == "like" and kind != "STRING":
        message = f"Invalid row filter: like needs a STRING column; {column.name!r} is {kind}."
        raise BadRequest(message, code=MISMATCH_CODE)
    return f"({name} {_OPS[node.op]} {_param(out, kind, node.value, column.name)})"


def _kind(column: SchemaField) -> str:
    kind = standard_type(column)
    if column.mode == "REPEATED" or kind not in _PARAM_TYPES:
        shown = f"ARRAY<{kind}>" if column.mode == "REPEATED" else kind
        raise BadRequest(
            f"Invalid row filter: the column {column.name!r} has type {shown}, which a filter cannot compare.",
            code=MISMATCH_CODE,
        )
    return kind


def _param(out: BqFilter, kind: str, value: Any, column: str) -> str:
    name = f"f{len(out.params)}"
    if kind in ("NUMERIC", "BIGNUMERIC") and not isinstance(value, decimal.Decimal):
        # A BIGNUMERIC wider than decimal128 is read as text; its literal stays exact as a Decimal.
        try:
            value = decimal.Decimal(str(value))
        except decimal.InvalidOperation:
            raise BadRequest(
                f"Invalid row filter: the value {str(value)[:80]!r} does not fit column {column!r} of type {kind}.",
                code=MISMATCH_CODE,
            ) from None
    out.params.append(bigquery.ScalarQueryParameter(name, kind, value))
    return f"@{name}"


def table_condition(
    fields: list[SchemaField], schema: TableSchema, row_filter: RowFilter | None, *, in_run: bool = False
) -> BqFilter | None:
    """The filter bound (unless a run's plan did) and compiled; in a run a bad one is a ConfigError."""
    if row_filter is None:
        return None
    try:
        return compile_filter(row_filter if row_filter.bound else bind_filter(row_filter, schema), fields)
    except BadRequest as exc:
        if in_run:
            raise ConfigError(exc.message, code=exc.code) from None
        raise
