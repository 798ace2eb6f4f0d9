"""BigQuery types: mapping to Arrow and platform types, conforming batches, JSON rendering, SQL literals.

Arrow types are chosen so the lake (Iceberg) can store them as they are: no unsigned integers, no
nanosecond timestamps, decimals of precision <= 38. The rules are documented in docs/types.md.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from headwater.domain import ColumnInfo
from headwater.domain.jsonify import json_value
from headwater.errors import ConfigError

if TYPE_CHECKING:
    from google.cloud.bigquery import SchemaField

# What explore shows for a column: its platform `type`, `meta:xdmType` and `xdm` schema.
_Platform = tuple[str, str | None, dict[str, Any]]
_STRING: _Platform = ("string", None, {"type": "string"})
_DATE_TIME: _Platform = ("string", "date-time", {"type": "string", "format": "date-time"})
_PLATFORM: dict[str, _Platform] = {
    "STRING": _STRING,
    "BYTES": _STRING,
    "JSON": _STRING,
    "GEOGRAPHY": _STRING,
    "TIME": _STRING,
    "INTERVAL": _STRING,
    "RANGE": _STRING,
    "INT64": ("long", "long", {"type": "integer"}),
    "FLOAT64": ("double", "number", {"type": "number"}),
    "BOOL": ("boolean", None, {"type": "boolean"}),
    "DATE": ("string", "date", {"type": "string", "format": "date"}),
    "TIMESTAMP": _DATE_TIME,
    "DATETIME": _DATE_TIME,
}
# A double holds 15 significant digits exactly; wider decimals are shown as strings so that a
# client reading the explore type does not round them (the lake still gets the exact decimal).
_MAX_DOUBLE_PRECISION = 15
_LEGACY_NAMES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "STRUCT": "RECORD"}
NUMERIC_DEFAULT = (38, 9)
MAX_DECIMAL128_PRECISION = 38


def standard_type(field: SchemaField) -> str:
    """The GoogleSQL type name of a field (the REST API still answers legacy names like INTEGER)."""
    name = (field.field_type or "STRING").upper()
    return _LEGACY_NAMES.get(name, name)


def decimal_type(field: SchemaField) -> pa.DataType | None:
    """The decimal128 of a NUMERIC/BIGNUMERIC field, or None when it does not fit 38 digits.

    NUMERIC is decimal(38, 9) unless parameterized. BIGNUMERIC (76 digits) only fits when it is
    parameterized with precision <= 38; otherwise it is read as exact decimal text (see `arrow_type`).
    """
    kind = standard_type(field)
    precision, scale = field.precision, field.scale
    if kind == "NUMERIC":
        if precision is None:
            return pa.decimal128(*NUMERIC_DEFAULT)
        return pa.decimal128(precision, scale or 0)
    if kind == "BIGNUMERIC" and precision is not None and precision <= MAX_DECIMAL128_PRECISION:
        return pa.decimal128(precision, scale or 0)
    return None


def _scalar_arrow_type(field: SchemaField) -> pa.DataType:
    kind = standard_type(field)
    simple: dict[str, pa.DataType] = {
        "STRING": pa.string(),
        "BYTES": pa.binary(),
        "INT64": pa.int64(),
        "FLOAT64": pa.float64(),
        "BOOL": pa.bool_(),
        "TIMESTAMP": pa.timestamp("us", tz="UTC"),
        "DATETIME": pa.timestamp("us"),
        "DATE": pa.date32(),
        "TIME": pa.time64("us"),
        # JSON as its text; GEOGRAPHY as WKT text (what the Storage Read API sends by default).
        "JSON": pa.string(),
        "GEOGRAPHY": pa.string(),
        # Iceberg has no interval type: keep BigQuery's canonical text form.
        "INTERVAL": pa.string(),
    }
    if kind in simple:
        return simple[kind]
    if kind in ("NUMERIC", "BIGNUMERIC"):
        # Unbounded BIGNUMERIC: exact decimal text rather than a lossy or overflowing decimal128.
        return decimal_type(field) or pa.string()
    if kind == "RECORD":
        return pa.struct([arrow_field(sub) for sub in field.fields])
    if kind == "RANGE":
        element = (field.range_element_type.element_type if field.range_element_type else None) or "DATE"
        bound = {"DATE": pa.date32(), "DATETIME": pa.timestamp("us")}.get(element.upper(), pa.timestamp("us", tz="UTC"))
        return pa.struct([pa.field("start", bound), pa.field("end", bound)])
    # A type newer than this module: its text form is still better than refusing the table.
    return pa.string()


def arrow_type(field: SchemaField) -> pa.DataType:
    base = _scalar_arrow_type(field)
    return pa.list_(base) if field.mode == "REPEATED" else base


def arrow_field(field: SchemaField) -> pa.Field:
    return pa.field(field.name, arrow_type(field), nullable=field.mode != "REQUIRED")


def source_type(field: SchemaField) -> str:
    """The type as BigQuery's DDL would print it, e.g. ARRAY<STRUCT<a STRING>> or NUMERIC(10, 2)."""
    kind = standard_type(field)
    if kind == "RECORD":
        text = "STRUCT<" + ", ".join(f"{sub.name} {source_type(sub)}" for sub in field.fields) + ">"
    elif kind in ("NUMERIC", "BIGNUMERIC") and field.precision is not None:
        text = f"{kind}({field.precision}, {field.scale or 0})"
    else:
        text = kind
    return f"ARRAY<{text}>" if field.mode == "REPEATED" else text


def column_info(field: SchemaField) -> ColumnInfo:
    kind = standard_type(field)
    arrow = arrow_type(field)
    platform: _Platform
    if field.mode == "REPEATED" or kind == "RECORD":
        platform = _STRING  # nested values are shown as JSON text, which every client can parse
    elif kind in ("NUMERIC", "BIGNUMERIC"):
        precision = arrow.precision if pa.types.is_decimal(arrow) else None
        if precision is not None and precision <= _MAX_DOUBLE_PRECISION:
            platform = ("double", "number", {"type": "number"})
        else:
            platform = _STRING
    else:
        platform = _PLATFORM.get(kind, _STRING)
    platform_type, xdm_meta_type, xdm = platform
    return ColumnInfo(
        name=field.name,
        source_type=source_type(field),
        arrow_type=arrow,
        platform_type=platform_type,
        xdm=dict(xdm),
        xdm_meta_type=xdm_meta_type,
        nullable=field.mode != "REQUIRED",
    )


# --- conforming batches -------------------------------------------------------------------------


def _decimal_text(values: pa.Array) -> pa.Array:
    """Exact decimal text without the padding zeros Arrow prints up to the full scale."""
    text = pc.cast(values, pa.string())
    text = pc.replace_substring_regex(text, pattern=r"(\.\d*?)0+$", replacement=r"\1")
    return pc.replace_substring_regex(text, pattern=r"\.$", replacement="")


def _conform_array(values: pa.Array, target: pa.DataType, name: str) -> pa.Array:
    if values.type == target:
        return values
    if pa.types.is_string(target) and pa.types.is_decimal(values.type):
        return _decimal_text(values)
    if isinstance(values.type, pa.ExtensionType):
        values = values.storage
    try:
        return values.cast(target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        # The message quotes the offending value, which is table data, never a credential.
        raise ConfigError(
            f"Column {name!r}: a value read from BigQuery ({values.type}) does not fit {target}: {exc}"
        ) from None


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Give a batch exactly `schema` (the describe() schema of the selected columns), casting as needed."""
    if batch.schema.equals(schema, check_metadata=False):
        return pa.RecordBatch.from_arrays(batch.columns, schema=schema)
    arrays = []
    for target in schema:
        index = batch.schema.get_field_index(target.name)
        if index < 0:
            raise ConfigError(f"BigQuery did not return the column {target.name!r}.")
        arrays.append(_conform_array(batch.column(index), target.type, target.name))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


# --- preview rendering --------------------------------------------------------------------------


def preview_value(column: ColumnInfo, value: Any) -> Any:
    """One value as the explore preview shows it, consistent with the column's platform type."""
    if value is None:
        return None
    if pa.types.is_list(column.arrow_type) or pa.types.is_struct(column.arrow_type):
        return json.dumps(_preview_json(value), separators=(",", ":"))
    if isinstance(value, Decimal) and column.platform_type == "double":
        value = float(value)  # still through json_value: a non-finite float must not become bare NaN
    return _preview_json(value)


def _preview_json(value: Any) -> Any:
    # Adobe's previews show date-times without a zone, the source being UTC.
    return json_value(value, zoneless_utc=True)


# --- SQL literals for row restrictions ----------------------------------------------------------

_INT = re.compile(r"[+-]?\d+")
# Characters that can never end or escape a GoogleSQL string literal.
_PLAIN_STRING = re.compile(r"[A-Za-z0-9 _.,:;@/+=#%&()\[\]{}<>!?*^~|$-]*")
CURSOR_TYPES = frozenset(
    {"INT64", "FLOAT64", "NUMERIC", "BIGNUMERIC", "STRING", "DATE", "DATETIME", "TIMESTAMP", "TIME"}
)


def quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _parse_datetime(value: Any, column: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"The cursor value for {column!r} is not a date-time.")


def cursor_value(kind: str, value: Any, column: str) -> Any:
    """Validate a window bound and turn it into the Python value of the column's type."""
    bad = ConfigError(f"The cursor value for {column!r} is not a valid {kind}.")
    if kind not in CURSOR_TYPES:
        raise ConfigError(f"The column {column!r} ({kind}) cannot be used as a delta column.")
    if kind == "INT64":
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, str) and _INT.fullmatch(value))
        ):
            raise bad
        return int(value)
    if kind == "FLOAT64":
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad from None
        if isinstance(value, bool) or not math.isfinite(number):
            raise bad
        return number
    if kind in ("NUMERIC", "BIGNUMERIC"):
        try:
            exact = Decimal(str(value))
        except InvalidOperation:
            raise bad from None
        if isinstance(value, bool) or not exact.is_finite():
            raise bad
        return exact
    if kind == "STRING":
        if not isinstance(value, str):
            raise bad
        return value
    if kind == "DATE":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise bad from None
    if kind == "TIME":
        if isinstance(value, dt.time):
            return value
        try:
            return dt.time.fromisoformat(str(value).strip())
        except ValueError:
            raise bad from None
    moment = _parse_datetime(value, column)
    if kind == "TIMESTAMP":
        # A bound without a zone is taken as UTC, as the platform assumes for table sources.
        return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


def sql_literal(kind: str, value: Any) -> str:
    """A typed GoogleSQL literal for a value already validated by `cursor_value` (never raw input)."""
    if kind == "INT64":
        return str(int(value))
    if kind == "FLOAT64":
        return repr(float(value))
    if kind in ("NUMERIC", "BIGNUMERIC"):
        return f"{kind} '{format(value, 'f')}'"
    if kind == "STRING":
        if _PLAIN_STRING.fullmatch(value) and "--" not in value:
            return f"'{value}'"
        # Anything else travels as Base64, whose alphabet cannot close a literal: no escaping rule
        # to get wrong (the emulator, for one, mis-parses backslash escapes).
        try:
            encoded = base64.b64encode(value.encode("utf-8")).decode("ascii")
        except UnicodeEncodeError:
            raise ConfigError("A string cursor value is not valid Unicode text.") from None
        return f"SAFE_CONVERT_BYTES_TO_STRING(FROM_BASE64('{encoded}'))"
    if kind == "DATE":
        return f"DATE '{value.isoformat()}'"
    if kind == "TIME":
        return f"TIME '{value.isoformat()}'"
    if kind == "TIMESTAMP":
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    return f"DATETIME '{value.isoformat(sep=' ')}'"
