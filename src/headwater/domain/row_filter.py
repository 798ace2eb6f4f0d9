"""Row filters: Adobe's PQL JSON (`sourceConnections.params.filters`, explore `filters=<base64>`).

A filter is parsed into a small tree, then bound to a described table: every column must exist and
every literal is coerced to its column's type. Connectors compile only bound trees, so a value
reaches SQL typed and checked, and a column name only as a name the table was seen to have.

Null rule (SQL's, on both sources): a NULL column matches no comparison with a value, `!=` and
`not` included; `= null` and `!= null` test for NULL (`IS NULL` / `IS NOT NULL`). Any other use of
a null literal is refused (1377). Error codes: 1355 type, 1356 format, 1377 null value, 1378
unknown column, 1379 type mismatch, 1389 undecodable filter, 1390 malformed expression.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from headwater.domain.model import ColumnInfo, TableSchema
from headwater.domain.numbers import INT64_MAX, INT64_MIN
from headwater.errors import BadRequest

TYPE_CODE, FORMAT_CODE, NULL_CODE, COLUMN_CODE, MISMATCH_CODE, ENCODING_CODE, EXPRESSION_CODE = (
    "1355",
    "1356",
    "1377",
    "1378",
    "1379",
    "1389",
    "1390",
)
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=", "like")
# A request is bounded before any of it is compiled: deep nesting or huge lists are refused, not run.
MAX_DEPTH, MAX_NODES, MAX_IN_VALUES, MAX_ENCODED = 32, 1000, 1000, 64 * 1024
_MIRRORED = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_INT_TEXT = re.compile(r"[+-]?\d{1,20}")


@dataclass(frozen=True)
class Comparison:
    """`column op value`; value None only with `=` / `!=` (IS NULL / IS NOT NULL)."""

    column: str
    op: str
    value: Any


@dataclass(frozen=True)
class Membership:
    """`column IN (values)`; never empty, never holding NULL."""

    column: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Junction:
    """`and` / `or` of one or more parts."""

    op: Literal["and", "or"]
    parts: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Negation:
    part: FilterNode


FilterNode = Comparison | Membership | Junction | Negation


@dataclass(frozen=True)
class RowFilter:
    """A parsed filter; `bound` once its values carry the types of a described table's columns."""

    root: FilterNode
    bound: bool = False

    def columns(self) -> list[str]:
        return sorted({n.column for n in walk(self.root) if isinstance(n, Comparison | Membership)})


def walk(node: FilterNode) -> Iterator[FilterNode]:
    yield node
    if isinstance(node, Junction):
        for part in node.parts:
            yield from walk(part)
    elif isinstance(node, Negation):
        yield from walk(node.part)


def _bad(message: str, code: str = EXPRESSION_CODE) -> BadRequest:
    return BadRequest(f"Invalid row filter: {message}", code=code)


def _short(value: Any) -> str:
    return repr(value)[:80]


# -- parsing ------------------------------------------------------------------------------------------


def decode_filter(text: str) -> RowFilter:
    """An explore `filters` parameter: base64 (standard or URL-safe) of the PQL JSON object."""
    if len(text) > MAX_ENCODED:
        raise _bad(f"the filters parameter is longer than {MAX_ENCODED} characters.", ENCODING_CODE)
    compact = text.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
        doc = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):
        raise _bad("the filters parameter must be the base64 encoding of a PQL JSON object.", ENCODING_CODE) from None
    return parse_filter(doc)


def parse_filter(doc: Any) -> RowFilter:
    """`{"type": "PQL", "format": "pql/json", "value": <node>}` → a RowFilter (not yet bound)."""
    if not isinstance(doc, dict):
        raise _bad("filters must be an object with type, format and value.")
    if str(doc.get("type", "")).upper() != "PQL":
        raise _bad(f'type must be "PQL" (got {_short(doc.get("type"))}).', TYPE_CODE)
    if str(doc.get("format", "")).lower() != "pql/json":
        raise _bad(f'format must be "pql/json" (got {_short(doc.get("format"))}).', FORMAT_CODE)
    unknown = set(doc) - {"type", "format", "value"}
    if unknown:
        raise _bad(f"unknown field {_short(sorted(unknown)[0])} (allowed: type, format, value).")
    counter = [0]
    return RowFilter(_node(doc.get("value"), depth=0, counter=counter, path="value"))


def _node(raw: Any, *, depth: int, counter: list[int], path: str) -> FilterNode:
    counter[0] += 1
    if depth > MAX_DEPTH or counter[0] > MAX_NODES:
        raise _bad(f"the expression is deeper than {MAX_DEPTH} levels or has more than {MAX_NODES} nodes.")
    if not isinstance(raw, dict) or raw.get("nodeType") != "fnApply":
        raise _bad(f'{path} must be an object with "nodeType": "fnApply".')
    fn = raw.get("fnName")
    params = raw.get("params")
    if not isinstance(fn, str) or not isinstance(params, list):
        raise _bad(f"{path} needs a string fnName and a params array.")
    name = fn.lower() if fn.lower() in ("and", "or", "not", "like", "in") else ("=" if fn == "==" else fn)
    if name in ("and", "or", "not"):
        if not params or (name == "not" and len(params) != 1):
            arity = "exactly one" if name == "not" else "at least one"
            raise _bad(f"{path}: {name} takes {arity} expression (got {len(params)}).")
        parts = tuple(
            _node(p, depth=depth + 1, counter=counter, path=f"{path}.params[{i}]") for i, p in enumerate(params)
        )
        return Negation(parts[0]) if name == "not" else Junction("and" if name == "and" else "or", parts)
    if name == "in":
        return _membership(params, path)
    if name not in COMPARISONS:
        allowed = ", ".join((*COMPARISONS, "in", "and", "or", "not"))
        raise _bad(f"{path}: unknown function {_short(fn)} (allowed: {allowed}).")
    column, value, mirrored = _operands(params, path, name)
    op = _MIRRORED[name] if mirrored else name
    if value is None and op not in ("=", "!="):
        raise _bad(f"{path}: {op} cannot compare with null; use = null or != null.", NULL_CODE)
    if isinstance(value, list | dict):
        raise _bad(f"{path}: {op} takes a single value, not {type(value).__name__}.")
    return Comparison(column, op, value)


def _operands(params: list[Any], path: str, op: str) -> tuple[str, Any, bool]:
    """(column, literal value, whether the literal came first)."""
    if len(params) != 2:
        raise _bad(f"{path}: {op} takes a fieldLookup and a literal (got {len(params)} params).")
    kinds = [p.get("nodeType") if isinstance(p, dict) else None for p in params]
    if kinds == ["fieldLookup", "literal"]:
        field, literal, mirrored = params[0], params[1], False
    elif kinds == ["literal", "fieldLookup"] and op != "like":
        field, literal, mirrored = params[1], params[0], True
    else:
        raise _bad(f"{path}: {op} takes a fieldLookup and a literal.")
    name = field.get("fieldName")
    if not isinstance(name, str) or not name:
        raise _bad(f"{path}: fieldLookup needs a non-empty fieldName.", COLUMN_CODE)
    if "value" not in literal:
        raise _bad(f"{path}: the literal has no value.", NULL_CODE)
    return name, literal["value"], mirrored


def _membership(params: list[Any], path: str) -> Membership:
    if len(params) < 2:
        raise _bad(f"{path}: in takes a fieldLookup and a literal list.")
    column, first, _ = _operands(params[:2], path, "in")
    rest = []
    for p in params[2:]:
        if not isinstance(p, dict) or p.get("nodeType") != "literal" or "value" not in p:
            raise _bad(f"{path}: in takes a fieldLookup and literals.")
        rest.append(p["value"])
    values = [*first, *rest] if isinstance(first, list) else [first, *rest]
    if not values or len(values) > MAX_IN_VALUES:
        raise _bad(f"{path}: in takes 1 to {MAX_IN_VALUES} values (got {len(values)}).")
    if any(v is None for v in values):
        raise _bad(f"{path}: in cannot hold null; add `or {column} = null` instead.", NULL_CODE)
    if any(isinstance(v, list | dict) for v in values):
        raise _bad(f"{path}: in takes scalar values.")
    return Membership(column, tuple(values))


# -- binding to a table -------------------------------------------------------------------------------


def bind_filter(row_filter: RowFilter, schema: TableSchema) -> RowFilter:
    """Check every column against the table and coerce every literal to its column's type."""
    return RowFilter(_bind(row_filter.root, schema), bound=True)


def _bind(node: FilterNode, schema: TableSchema) -> FilterNode:
    if isinstance(node, Junction):
        return Junction(node.op, tuple(_bind(p, schema) for p in node.parts))
    if isinstance(node, Negation):
        return Negation(_bind(node.part, schema))
    column = schema.column(node.column)
    if column is None:
        raise _bad(f"the column {_short(node.column)} is not in table {_short(schema.path)}.", COLUMN_CODE)
    if isinstance(node, Membership):
        return Membership(node.column, tuple(coerce(column, v) for v in node.values))
    if node.value is None:
        return node
    if node.op == "like" and not (pa.types.is_string(column.arrow_type) or pa.types.is_large_string(column.arrow_type)):
        raise _bad(f"like needs a text column; {_short(column.name)} is {column.source_type}.", MISMATCH_CODE)
    return Comparison(node.column, node.op, coerce(column, node.value))


def coerce(column: ColumnInfo, value: Any) -> Any:
    """A JSON literal as a Python value of the column's type; 1379 naming the column otherwise."""
    t = column.arrow_type
    try:
        out = _coerce(t, value)
    except (ValueError, ArithmeticError, TypeError):
        out = None
    if out is None:
        raise _bad(
            f"the value {_short(value)} does not fit column {_short(column.name)} of type {column.source_type}"
            f" ({_expected(t)}).",
            MISMATCH_CODE,
        )
    return out


def _coerce(t: pa.DataType, value: Any) -> Any:
    if pa.types.is_boolean(t):
        if isinstance(value, bool):
            return value
        return {"true": True, "false": False}.get(value.lower()) if isinstance(value, str) else None
    if isinstance(value, bool):  # JSON true is no number, date or text
        return None
    if pa.types.is_integer(t):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
            value = int(value)
        return value if isinstance(value, int) and INT64_MIN <= value <= INT64_MAX else None
    if pa.types.is_floating(t):
        return float(value) if isinstance(value, int | float | str) else None
    if pa.types.is_decimal(t):
        number = decimal.Decimal(str(value)) if isinstance(value, int | float | str) else None
        return number if number is not None and number.is_finite() else None
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return value if isinstance(value, str) else None
    if not isinstance(value, str):
        return None
    if pa.types.is_date(t):
        return dt.date.fromisoformat(value)
    if pa.types.is_timestamp(t):
        moment = dt.datetime.fromisoformat(value)
        if t.tz is not None:
            return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
        # A naive column holds wall times: an offset given is honoured by converting to UTC.
        return moment if moment.tzinfo is None else moment.astimezone(dt.UTC).replace(tzinfo=None)
    if pa.types.is_time(t):
        return dt.time.fromisoformat(value)
    return None


def _expected(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "expected true or false"
    if pa.types.is_integer(t):
        return "expected a 64-bit integer"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "expected a number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "expected a string"
    if pa.types.is_date(t):
        return "expected a date as YYYY-MM-DD"
    if pa.types.is_timestamp(t):
        return "expected an ISO 8601 date-time, UTC unless an offset is given"
    if pa.types.is_time(t):
        return "expected a time as HH:MM:SS[.ffffff]"
    return "this column type cannot be filtered"
