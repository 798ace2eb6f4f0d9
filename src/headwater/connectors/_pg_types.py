"""PostgreSQL → Arrow type mapping, and the conversion of ADBC's batches to that mapping.

The catalog (`describe`) is the source of truth: each column gets a `PgColumnType` that says which
Arrow type Headwater produces and how to select it. ADBC's own output is then converted, column by
column and fully vectorised, to exactly that type, so every batch of a read has one stable schema.

Rules (documented in docs/types.md):
- numeric(p,s), p <= 38 → decimal128(p,s), exact. numeric(p,s), p > 38 → decimal128(38, min(s, 38)).
  Unconstrained numeric → decimal128(38, 9) (BigQuery's NUMERIC). A value that would need rounding
  (more than 9 fractional digits) or has more than 29 integer digits fails the read with a
  ConfigError naming the column and the fix: exact or an error, never a silently different number.
  NaN and ±Infinity cannot be decimals: they fail the read with a ConfigError naming the column.
- date/timestamp/timestamptz ±infinity → the documented sentinels 9999-12-31 [23:59:59.999999] and
  0001-01-01 [00:00:00]. (ADBC decodes infinities to wrapped garbage; we recognise the exact
  wrapped values and replace them.) Dates beyond what Arrow's microsecond timestamps hold fail.
  Dates and timestamps before year 1 or after 9999 are carried exactly (the lake omits their bounds).
- time '24:00:00' → 23:59:59.999999: pyarrow shows 86,400,000,000 µs as 00:00:00 and pandas refuses it.
- interval → struct<months:int32, days:int32, microseconds:int64> (lossless), parsed from the server's text.
- uuid → string (canonical lowercase); json/jsonb → string (the text the server returns);
  enum → string; domain → its base type; arrays → list of the element mapping.
- Types ADBC does not decode (timetz, inet, money, xml, ranges, geometric, bit, tsvector, composite…)
  are selected as `::text` and arrive as the server's text form. Numerics are selected as `::text`
  too (faster than ADBC's decoding) and then cast, checked, to their decimal type.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.errors import ConfigError

INTERVAL_TYPE = pa.struct(
    [pa.field("months", pa.int32()), pa.field("days", pa.int32()), pa.field("microseconds", pa.int64())]
)
UNBOUNDED_NUMERIC = pa.decimal128(38, 9)
_MAX_DECIMAL_TEXT = 40  # "-" + 38 digits + "."

# ADBC adds the PostgreSQL→Unix epoch offset to the sentinel values of ±infinity and wraps around.
_DATE_POS_INF, _DATE_NEG_INF = -2147472692, -2147472691
_TS_POS_INF, _TS_NEG_INF = -9222425352054775809, -9222425352054775808
_DATE_MAX, _DATE_MIN = 2932896, -719162  # 9999-12-31, 0001-01-01 (days since 1970-01-01)
_TS_MAX, _TS_MIN = 253402300799999999, -62135596800000000  # microseconds
# PostgreSQL's minimum (4713 BC) is far above any wrapped value, so anything below it is an artefact.
_DATE_PG_MIN, _TS_PG_MIN = -2440588, -210866803200000000
# PostgreSQL's `time '24:00:00'`: Arrow holds it, but pyarrow shows it as 00:00:00 and pandas refuses it.
_MIDNIGHT_END, _LAST_MICROSECOND = 86_400_000_000, 86_399_999_999

_NATIVE: dict[str, tuple[pa.DataType, str, str | None, dict[str, Any]]] = {
    "int2": (pa.int16(), "short", "short", {"type": "integer", "minimum": -32768, "maximum": 32767}),
    "int4": (pa.int32(), "integer", "int", {"type": "integer"}),
    "int8": (pa.int64(), "long", "long", {"type": "integer"}),
    "float4": (pa.float32(), "double", "number", {"type": "number"}),
    "float8": (pa.float64(), "double", "number", {"type": "number"}),
    "bool": (pa.bool_(), "boolean", None, {"type": "boolean"}),
    "text": (pa.string(), "string", None, {"type": "string"}),
    "varchar": (pa.string(), "string", None, {"type": "string"}),
    "bpchar": (pa.string(), "string", None, {"type": "string"}),
    "name": (pa.string(), "string", None, {"type": "string"}),
    # "char" (one byte) is selected as text like unknown types: ADBC turns its empty value into "\x00".
    "bytea": (pa.binary(), "string", None, {"type": "string", "contentEncoding": "base64"}),
    "date": (pa.date32(), "string", "date", {"type": "string", "format": "date"}),
    "time": (pa.time64("us"), "string", None, {"type": "string"}),
    "timestamp": (pa.timestamp("us"), "string", "date-time", {"type": "string", "format": "date-time"}),
    "timestamptz": (pa.timestamp("us", tz="UTC"), "string", "date-time", {"type": "string", "format": "date-time"}),
    "interval": (INTERVAL_TYPE, "string", None, {"type": "string"}),
    "uuid": (pa.string(), "string", None, {"type": "string", "format": "uuid"}),
    "json": (pa.string(), "string", None, {"type": "string"}),
    "jsonb": (pa.string(), "string", None, {"type": "string"}),
}


@dataclass(frozen=True)
class PgColumnType:
    """How one column is selected and what it becomes."""

    base: str  # base type name (domains resolved), or the element type name for arrays
    arrow_type: pa.DataType
    platform_type: str
    xdm_meta_type: str | None
    xdm: dict[str, Any]
    as_text: bool = False  # select `col::text` (`::text[]` for arrays): ADBC cannot decode it, or slower
    is_array: bool = False


def numeric_type(typmod: int) -> pa.DataType:
    if typmod < 4:
        return UNBOUNDED_NUMERIC
    precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    if scale > precision or scale > 38:  # PostgreSQL 15 allows odd scales; keep them representable
        return UNBOUNDED_NUMERIC
    if precision <= 38:
        return pa.decimal128(precision, scale)
    return pa.decimal128(38, min(scale, 38))


def _scalar(name: str, kind: str, typmod: int) -> PgColumnType:
    if name == "numeric":
        arrow = numeric_type(typmod)
        platform = "double" if arrow.precision <= 15 else "string"
        # Selected as text: the server's numeric_out is exact, and ADBC's own numeric decoding measured
        # 2.5 s of client CPU per 5M rows more than receiving that text (the read's bottleneck).
        return PgColumnType("numeric", arrow, platform, "number", {"type": "number"}, as_text=True)
    if kind == "e":  # enum
        return PgColumnType(name, pa.string(), "string", None, {"type": "string"})
    if name in _NATIVE:
        arrow, platform, meta, xdm = _NATIVE[name]
        # ADBC decodes intervals to month_day_nano and fails the read on a time part beyond ±292 years
        # (nanoseconds overflow int64); the server's text holds every interval and is parsed exactly.
        return PgColumnType(name, arrow, platform, meta, dict(xdm), as_text=name == "interval")
    return PgColumnType(name, pa.string(), "string", None, {"type": "string"}, as_text=True)


def column_type(*, base: str, kind: str, typmod: int, element: str | None, element_kind: str | None) -> PgColumnType:
    """The mapping of a column given its (domain-resolved) catalog type."""
    if element is None:
        return _scalar(base, kind, typmod)
    inner = _scalar(element, element_kind or "b", typmod)
    return PgColumnType(
        inner.base,
        pa.list_(pa.field("item", inner.arrow_type)),
        "string",
        None,
        {"type": "array", "items": inner.xdm},
        as_text=inner.as_text,
        is_array=True,
    )


# -- conversion of ADBC output ---------------------------------------------------------------------


def _storage(array: pa.Array) -> pa.Array:
    return array.storage if isinstance(array.type, pa.BaseExtensionType) else array


def _replace_infinities(array: pa.Array, *, column: str, date: bool) -> pa.Array:
    width = pa.int32() if date else pa.int64()
    raw = array.view(width) if not date else array.cast(width)
    pos, neg = (_DATE_POS_INF, _DATE_NEG_INF) if date else (_TS_POS_INF, _TS_NEG_INF)
    top, bottom = (_DATE_MAX, _DATE_MIN) if date else (_TS_MAX, _TS_MIN)
    floor = _DATE_PG_MIN if date else _TS_PG_MIN
    below = pc.less(raw, pa.scalar(floor, width))
    if not pc.any(below).as_py():
        return array
    is_pos, is_neg = pc.equal(raw, pa.scalar(pos, width)), pc.equal(raw, pa.scalar(neg, width))
    other = pc.and_(below, pc.invert(pc.or_(is_pos, is_neg)))
    if pc.any(other).as_py():
        raise ConfigError(
            f"Column {column!r} holds a date beyond what Arrow can represent (after year 294246 or "
            "out of range); cast it in a view or leave it out of params.columns."
        )
    fixed = pc.if_else(is_pos, pa.scalar(top, width), pc.if_else(is_neg, pa.scalar(bottom, width), raw))
    return fixed.cast(array.type) if date else fixed.view(array.type)


def _time_of_day(array: pa.Array) -> pa.Array:
    """`24:00:00` → 23:59:59.999999 (documented): the one value every reader accepts that keeps its order."""
    raw = array.view(pa.int64())
    end = pc.equal(raw, pa.scalar(_MIDNIGHT_END, pa.int64()))
    if not pc.any(end).as_py():
        return array
    return pc.if_else(end, pa.scalar(_LAST_MICROSECOND, pa.int64()), raw).view(array.type)


def _numeric(array: pa.Array, target: pa.Decimal128Type, *, column: str) -> pa.Array:
    text = _storage(array).cast(pa.string())
    # Arrow's string→decimal128 cast wraps silently once a value has more than 38 digits (tested:
    # 1e40 → garbage), so such text (longer than sign + 38 digits + point) takes the checked path.
    # The cast refuses NaN/Infinity and values needing rounding, so those are looked for only then.
    longest = pc.max(pc.binary_length(text)).as_py()
    if longest is None or longest <= _MAX_DECIMAL_TEXT:
        try:
            return text.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    special = pc.match_substring_regex(text, r"^-?(nan|inf)", ignore_case=True)
    if pc.any(special).as_py():
        raise ConfigError(
            f"Column {column!r} holds NaN or Infinity, which a decimal cannot represent: filter those rows, "
            "cast the column in a view, or leave it out of params.columns."
        )
    # Some value needs rounding or has too many integer digits: name the first one, never round silently.
    quantum = decimal.Decimal(1).scaleb(-target.scale)
    limit = decimal.Decimal(10) ** (target.precision - target.scale)
    out: list[decimal.Decimal | None] = []
    for value in text.to_pylist():
        if value is None:
            out.append(None)
            continue
        number = decimal.Decimal(value)
        exact = number.quantize(quantum, rounding=decimal.ROUND_HALF_EVEN, context=_WIDE)
        # copy_abs, not abs(): abs() rounds to the default 28 digits (0.9…9 with 38 nines becomes 1).
        if number.copy_abs() >= limit or exact != number:
            raise ConfigError(
                f"Column {column!r} holds {value[:60]}, which does not fit decimal({target.precision}, "
                f"{target.scale}) without rounding: declare the column numeric(p,s) with p <= 38, or cast it "
                "in a view (e.g. round(col, 9)), or leave it out of params.columns."
            )
        out.append(exact)
    return pa.array(out, type=target)


_WIDE = decimal.Context(prec=1000)  # PostgreSQL numerics have up to 131072 + 16383 digits; quantize must not trap
# The two hex digits of every byte value, as one uint16 each: a uuid's 16 bytes index 16 pairs at once.
_HEX_PAIRS = np.frombuffer(b"".join(b"%02x" % i for i in range(256)), dtype=np.uint16)
# (destination, source) column slices: the 32 hex digits around the dashes of `8-4-4-4-12`.
_GROUPS = (
    (slice(0, 8), slice(0, 8)),
    (slice(9, 13), slice(8, 12)),
    (slice(14, 18), slice(12, 16)),
    (slice(19, 23), slice(16, 20)),
    (slice(24, 36), slice(20, 32)),
)
_DASHES = [8, 13, 18, 23]


def _uuid_text(array: pa.Array) -> pa.Array:
    """16-byte uuids to canonical lowercase text, vectorised with numpy (a byte → hex-pair table, slices only)."""
    storage = _storage(array)
    n = len(storage)
    if n == 0:
        return pa.array([], pa.string())
    data = np.frombuffer(storage.buffers()[1], dtype=np.uint8, count=(storage.offset + n) * 16)
    data = data[storage.offset * 16 :].reshape(n, 16)
    digits = _HEX_PAIRS[data].view(np.uint8)  # (n, 32): each byte's two digits, in order
    out = np.empty((n, 36), dtype=np.uint8)
    for dash in _DASHES:  # column by column: a fancy-indexed assignment costs as much as all the digits
        out[:, dash] = ord("-")
    for to, source in _GROUPS:
        out[:, to] = digits[:, source]
    offsets = pa.array(np.arange(0, (n + 1) * 36, 36, dtype=np.int32))
    validity = storage.buffers()[0]
    if validity is not None and storage.offset:
        validity = pc.is_valid(storage).buffers()[1]  # re-based to offset 0 like the new data
    return pa.StringArray.from_buffers(n, offsets.buffers()[1], pa.py_buffer(out), validity, storage.null_count, 0)


def _interval(array: pa.Array) -> pa.Array:
    n = len(array)
    if n == 0:
        return pa.array([], INTERVAL_TYPE)
    record = np.dtype([("months", "<i4"), ("days", "<i4"), ("nanos", "<i8")])
    values = np.frombuffer(array.buffers()[1], dtype=record, count=array.offset + n)[array.offset :]
    mask = pc.is_null(array)
    return pa.StructArray.from_arrays(
        [
            pa.array(values["months"], pa.int32()),
            pa.array(values["days"], pa.int32()),
            pa.array(values["nanos"] // 1000, pa.int64()),
        ],
        fields=list(INTERVAL_TYPE),
        mask=mask,
    )


# IntervalStyle `postgres` (pinned per session): `1 year 2 mons -3 days +04:05:06.000007`, `-00:00:00.5`.
_INTERVAL_TEXT = (
    r"^(?:(?P<years>-?\d+) years? ?)?(?:(?P<months>-?\d+) mons? ?)?(?:(?P<days>-?\d+) days? ?)?"
    r"(?:(?P<sign>[-+]?)(?P<hours>\d+):(?P<minutes>\d+):(?P<seconds>\d+)(?:\.(?P<fraction>\d{1,6}))?)?$"
)


def _interval_text(array: pa.Array, *, column: str) -> pa.Array:
    """The server's interval text → struct<months, days, microseconds>, exactly and vectorised."""
    text = _storage(array).cast(pa.string())
    parts = pc.extract_regex(text, _INTERVAL_TEXT)
    if parts.null_count != text.null_count:
        bad = text.filter(pc.and_(pc.is_null(parts), pc.is_valid(text)))[0].as_py()
        raise ConfigError(f"Column {column!r}: unexpected interval text {bad[:60]!r}.")

    def number(name: str, *, pad: bool = False) -> pa.Array:
        digits = parts.field(name)
        if pad:  # `.5` is 500000 microseconds
            digits = pc.utf8_rpad(digits, width=6, padding="0")
        return pc.if_else(pc.equal(digits, ""), "0", digits).cast(pa.int64())

    months = pc.add_checked(pc.multiply_checked(number("years"), 12), number("months"))
    negative = pc.equal(parts.field("sign"), "-")
    micros = pa.scalar(0, pa.int64())
    # Each term is signed before it is added, so -2562047788:00:54.775808 (int64's minimum) never overflows.
    for name, scale in (("hours", 3_600_000_000), ("minutes", 60_000_000), ("seconds", 1_000_000)):
        term = pc.multiply_checked(number(name), scale)
        micros = pc.add_checked(micros, pc.if_else(negative, pc.negate_checked(term), term))
    fraction = number("fraction", pad=True)
    micros = pc.add_checked(micros, pc.if_else(negative, pc.negate_checked(fraction), fraction))
    return pa.StructArray.from_arrays(
        [months.cast(pa.int32()), number("days").cast(pa.int32()), micros],
        fields=list(INTERVAL_TYPE),
        mask=pc.is_null(text),
    )


def convert(array: pa.Array, target: pa.DataType, *, column: str) -> pa.Array:
    """Turn one ADBC column into the documented Arrow type `target`."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    source = array.type
    if pa.types.is_list(target):
        storage = _storage(array)
        if not pa.types.is_list(storage.type):
            raise ConfigError(f"Column {column!r}: expected an array, got {storage.type}.")
        values = convert(storage.values, target.value_type, column=column)
        offsets = storage.offsets
        return pa.ListArray.from_arrays(offsets, values, type=target, mask=pc.is_null(storage))
    if isinstance(source, pa.BaseExtensionType):
        name = getattr(source, "extension_name", "")
        if name == "arrow.uuid":
            return _uuid_text(array)
        if pa.types.is_decimal(target):
            return _numeric(array, target, column=column)
        array = array.storage
        source = array.type
    if pa.types.is_decimal(target) and (pa.types.is_string(source) or pa.types.is_large_string(source)):
        return _numeric(array, target, column=column)
    if target == INTERVAL_TYPE and source == pa.month_day_nano_interval():
        return _interval(array)
    if target == INTERVAL_TYPE and (pa.types.is_string(source) or pa.types.is_large_string(source)):
        return _interval_text(array, column=column)
    if pa.types.is_date32(target) and pa.types.is_date32(source):
        return _replace_infinities(array, column=column, date=True)
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(source):
        fixed = _replace_infinities(array, column=column, date=False)
        return fixed if fixed.type == target else fixed.cast(target)
    if target == pa.time64("us") and source == target:
        return _time_of_day(array)
    if source == target:
        return array
    if pa.types.is_null(source):
        return pa.nulls(len(array), target)
    return array.cast(target)


def convert_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A batch in exactly `schema` (names and types), converted column by column."""
    columns = [convert(batch.column(i), field.type, column=field.name) for i, field in enumerate(schema)]
    return pa.RecordBatch.from_arrays(columns, schema=schema)
