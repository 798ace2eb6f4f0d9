"""Arrow values as JSON-ready Python values, for previews: the one conversion every preview uses.

The rule (docs/types.md, "Previews"): NULL is `null`; finite floats are numbers; NaN and ±Infinity,
which JSON cannot spell, are the strings "NaN", "Infinity" and "-Infinity" (JavaScript's and
PostgreSQL's names, never `null`, so they stay distinct from NULL); decimals are exact strings in plain
notation with their scale ("0.000000000", never "0E-9"); bytes are Base64; dates and times ISO 8601;
durations seconds; map entries [key, value] pairs. The output always encodes with
`json.dumps(..., allow_nan=False)`.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
from typing import Any

import pyarrow as pa


def json_value(value: Any, *, zoneless_utc: bool = False) -> Any:
    """`value` as JSON-ready data; `zoneless_utc` shows zoned date-times in UTC without an offset."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else non_finite_name(value)
    if isinstance(value, decimal.Decimal):
        return plain_decimal(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.datetime):
        if zoneless_utc and value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): json_value(v, zoneless_utc=zoneless_utc) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v, zoneless_utc=zoneless_utc) for v in value]
    return str(value)


def non_finite_name(value: float) -> str:
    """NaN and ±Infinity as the strings every preview shows for them."""
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def plain_decimal(value: decimal.Decimal) -> str:
    """A decimal in positional notation keeping its scale: `0E-9` is "0.000000000", `1E+3` is "1000"."""
    if not value.is_finite():
        return non_finite_name(float(value))
    return format(value, "f")


def json_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Every row of `table` as a dict of JSON-ready values."""
    return [{k: json_value(v) for k, v in row.items()} for row in table.to_pylist()]
