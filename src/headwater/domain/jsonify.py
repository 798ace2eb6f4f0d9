"""Arrow values as JSON-ready Python values, for previews: the one conversion every preview uses.

Exact decimals become strings, bytes base64, non-finite floats their names ("nan", "inf": JSON has
no spelling for them), dates and times ISO 8601, durations seconds, map entries [key, value] pairs.
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
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
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


def json_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Every row of `table` as a dict of JSON-ready values."""
    return [{k: json_value(v) for k, v in row.items()} for row in table.to_pylist()]
