"""Arrow <-> Iceberg schema rules: which Arrow types a dataset accepts, and conforming batches to it.

pyiceberg converts an Arrow schema without field ids itself (`catalog.create_table(schema=pa_schema)`
assigns fresh ids). We only normalise what Iceberg v2 cannot store as is (s/ms timestamps, any time
zone) and reject the rest with a `ConfigError` that names the column, before pyiceberg's own, less
readable errors would.
"""

from __future__ import annotations

import pyarrow as pa
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.schema import Schema

from headwater.errors import ConfigError

_MAX_DECIMAL_PRECISION = 38


def normalize_for_create(schema: pa.Schema) -> pa.Schema:
    """The Arrow schema handed to pyiceberg: every field supported, timestamps in microseconds."""
    return pa.schema([_normalize_field(f, f.name) for f in schema])


def _normalize_field(field: pa.Field, path: str) -> pa.Field:
    return pa.field(field.name, _normalize_type(field.type, path), nullable=field.nullable)


def _normalize_type(t: pa.DataType, path: str) -> pa.DataType:
    if (
        pa.types.is_boolean(t)
        or (pa.types.is_floating(t) and not pa.types.is_float16(t))
        or pa.types.is_date32(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
    ):
        return t
    if pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_signed_integer(t) or t in (pa.uint8(), pa.uint16(), pa.uint32()):
        # Iceberg has int and long only; uint32 needs long, smaller ints widen to int.
        return pa.int64() if t in (pa.int64(), pa.uint32()) else pa.int32()
    if pa.types.is_decimal128(t):
        if t.precision > _MAX_DECIMAL_PRECISION:
            raise ConfigError(f"Column '{path}': decimal precision {t.precision} exceeds Iceberg's 38.")
        return t
    if pa.types.is_decimal(t):  # decimal256 (or 32/64) that fits 38 digits
        if t.precision > _MAX_DECIMAL_PRECISION:
            raise ConfigError(f"Column '{path}': decimal precision {t.precision} exceeds Iceberg's 38.")
        return pa.decimal128(t.precision, t.scale)
    if pa.types.is_date64(t):
        return pa.date32()
    if pa.types.is_time(t):
        if t.unit == "ns":
            raise ConfigError(f"Column '{path}': time64[ns] is not supported; Iceberg stores microseconds.")
        return pa.time64("us")
    if pa.types.is_timestamp(t):
        if t.unit == "ns":
            raise ConfigError(f"Column '{path}': timestamp[ns] is not supported; cast to timestamp[us] (Iceberg v2).")
        # Any zone is an instant; Iceberg's timestamptz is stored and read back as UTC.
        return pa.timestamp("us", tz="UTC" if t.tz else None)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        vf = t.value_field
        return pa.list_(pa.field("element", _normalize_type(vf.type, f"{path}.element"), nullable=vf.nullable))
    if pa.types.is_struct(t):
        return pa.struct([_normalize_field(t.field(i), f"{path}.{t.field(i).name}") for i in range(t.num_fields)])
    if pa.types.is_map(t):
        return pa.map_(
            _normalize_type(t.key_type, f"{path}.key"),
            pa.field("value", _normalize_type(t.item_type, f"{path}.value"), nullable=t.item_field.nullable),
        )
    raise ConfigError(f"Column '{path}': Arrow type {t} has no Iceberg equivalent.")


def file_schema(schema: Schema) -> pa.Schema:
    """The Arrow schema of the Parquet files we write: carries Iceberg field ids, uses 32-bit offsets.

    pyiceberg reads with large_* types, but sources (ADBC, BigQuery) produce the small ones, and
    Parquet stores both identically, so writing small types saves a cast per batch.
    """
    arrow = schema_to_pyarrow(schema, include_field_ids=True)
    return pa.schema([_small_field(f) for f in arrow], metadata=arrow.metadata)


def _small_field(field: pa.Field) -> pa.Field:
    return pa.field(field.name, _small_type(field.type), nullable=field.nullable, metadata=field.metadata)


def _small_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_large_binary(t):
        return pa.binary()
    if pa.types.is_large_list(t) or pa.types.is_list(t):
        return pa.list_(_small_field(t.value_field))
    if pa.types.is_struct(t):
        return pa.struct([_small_field(t.field(i)) for i in range(t.num_fields)])
    if pa.types.is_map(t):
        return pa.map_(_small_field(t.key_field), _small_field(t.item_field))
    return t


def compatible(src: pa.DataType, dst: pa.DataType) -> bool:
    """Whether values of `src` convert to `dst` without changing meaning (a widening, never a parse)."""
    if src.equals(dst) or pa.types.is_null(src):
        return True
    if _is_stringish(src) and _is_stringish(dst):
        return True
    if _is_binaryish(src) and _is_binaryish(dst):
        return True
    if pa.types.is_integer(src) and pa.types.is_signed_integer(dst):
        src_bits = src.bit_width + (1 if pa.types.is_unsigned_integer(src) else 0)
        return bool(src_bits <= dst.bit_width)
    if pa.types.is_floating(src) and pa.types.is_floating(dst):
        return bool(src.bit_width <= dst.bit_width)
    if pa.types.is_decimal(src) and pa.types.is_decimal(dst):
        return bool(src.scale == dst.scale and src.precision <= dst.precision)
    if pa.types.is_date(src) and pa.types.is_date(dst):
        return True
    if pa.types.is_time(src) and pa.types.is_time(dst):
        return True  # a lossy ns -> us cast fails at cast time (safe=True)
    if pa.types.is_timestamp(src) and pa.types.is_timestamp(dst):
        # Naive and zoned values mean different things; mixing them would shift data silently.
        return (src.tz is None) == (dst.tz is None)
    if _is_listish(src) and _is_listish(dst):
        return compatible(src.value_type, dst.value_type)
    if pa.types.is_struct(src) and pa.types.is_struct(dst):
        names = [dst.field(i).name for i in range(dst.num_fields)]
        if [src.field(i).name for i in range(src.num_fields)] != names:
            return False
        return all(compatible(src.field(i).type, dst.field(i).type) for i in range(dst.num_fields))
    if pa.types.is_map(src) and pa.types.is_map(dst):
        return compatible(src.key_type, dst.key_type) and compatible(src.item_type, dst.item_type)
    return False


def _is_stringish(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def _is_binaryish(t: pa.DataType) -> bool:
    return bool(pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t))


def _is_listish(t: pa.DataType) -> bool:
    return bool(pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t))


class Conformer:
    """Turns incoming batches into batches of the dataset's file schema, or raises `ConfigError`."""

    def __init__(self, target: pa.Schema) -> None:
        self._target = target
        # Compatibility is decided once per incoming schema, not per batch.
        self._checked: set[pa.Schema] = set()

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if batch.schema not in self._checked:
            self._check(batch.schema)
            self._checked.add(batch.schema)
        arrays = []
        for field in self._target:
            column = batch.column(field.name)
            if not column.type.equals(field.type):
                try:
                    column = column.cast(field.type, safe=True)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise ConfigError(
                        f"Column '{field.name}': cannot convert {column.type} to {field.type}: {exc}"
                    ) from exc
            if not field.nullable and column.null_count:
                raise ConfigError(f"Column '{field.name}' is required by the dataset but has null values.")
            arrays.append(column)
        return pa.RecordBatch.from_arrays(arrays, schema=self._target)

    def _check(self, schema: pa.Schema) -> None:
        names = set(schema.names)
        if len(names) != len(schema.names):
            raise ConfigError(f"Input has duplicate column names: {schema.names}.")
        wanted = set(self._target.names)
        if missing := sorted(wanted - names):
            raise ConfigError(f"Input lacks dataset column(s): {', '.join(missing)}.")
        if extra := sorted(names - wanted):
            raise ConfigError(f"Input has column(s) the dataset does not have: {', '.join(extra)}.")
        for field in self._target:
            src = schema.field(field.name).type
            if not compatible(src, field.type):
                raise ConfigError(
                    f"Column '{field.name}': input type {src} does not match the dataset type {field.type}."
                )
