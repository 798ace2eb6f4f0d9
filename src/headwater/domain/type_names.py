"""Platform type names (`string`, `long`, `date-time`, `decimal(18,4)`, ...) and their Arrow types.

One table serves every place a user names a type: a dataset's `schema.columns`, a mapping's
`destinationType` and the mapping function `cast()`; so a name accepted by one is accepted by all.
"""

from __future__ import annotations

import re

import pyarrow as pa

MAX_DECIMAL_PRECISION = 38
_DECIMAL = re.compile(r"^decimal\(\s*(\d{1,2})\s*,\s*(\d{1,2})\s*\)$")

# The first name listed for an Arrow type is the one a dataset shows for it; the others are aliases.
TYPE_NAMES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "short": pa.int16(),
    "int16": pa.int16(),
    "int": pa.int32(),
    "int32": pa.int32(),
    "integer": pa.int32(),
    "long": pa.int64(),
    "int64": pa.int64(),
    "float": pa.float32(),
    "float32": pa.float32(),
    "double": pa.float64(),
    "float64": pa.float64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "date-time": pa.timestamp("us", tz="UTC"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "binary": pa.binary(),
}


def known_type_names() -> str:
    """Every accepted name, for an error message."""
    return ", ".join(sorted(TYPE_NAMES)) + " or decimal(p,s) with p <= 38"


def arrow_type_named(name: str) -> pa.DataType | None:
    """The Arrow type a platform type name stands for (case and spaces ignored), or None if unknown."""
    key = name.strip().lower()
    if key in TYPE_NAMES:
        return TYPE_NAMES[key]
    match = _DECIMAL.match(key)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if 1 <= precision <= MAX_DECIMAL_PRECISION and scale <= precision:
            return pa.decimal128(precision, scale)
    return None


def type_name_of(t: pa.DataType) -> str:
    """The platform name of an Arrow type, so a dataset shows the names it was created with.

    Types with no platform name (lists, structs, intervals, time units other than microseconds) show Arrow's own name.
    """
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_timestamp(t):
        return "date-time" if t.tz is not None else "timestamp"
    if pa.types.is_large_string(t):
        return "string"
    if pa.types.is_large_binary(t):
        return "binary"
    return next((name for name, known in TYPE_NAMES.items() if t == known), str(t))
