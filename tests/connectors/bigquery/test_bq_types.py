"""Unit tests of the type mapping; BIGNUMERIC lives here because the emulator cannot create it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from google.cloud.bigquery import SchemaField

from headwater.connectors._bq_types import column_info, conform, cursor_value, preview_value, sql_literal
from headwater.errors import ConfigError


@pytest.mark.parametrize(
    ("field", "arrow", "platform", "source"),
    [
        (SchemaField("n", "BIGNUMERIC"), pa.string(), "string", "BIGNUMERIC"),
        (SchemaField("n", "BIGNUMERIC", precision=20, scale=4), pa.decimal128(20, 4), "string", "BIGNUMERIC(20, 4)"),
        (SchemaField("n", "BIGNUMERIC", precision=40, scale=2), pa.string(), "string", "BIGNUMERIC(40, 2)"),
        (SchemaField("n", "NUMERIC"), pa.decimal128(38, 9), "string", "NUMERIC"),
        (SchemaField("n", "NUMERIC", precision=10, scale=2), pa.decimal128(10, 2), "double", "NUMERIC(10, 2)"),
        (SchemaField("n", "NUMERIC", precision=12), pa.decimal128(12, 0), "double", "NUMERIC(12, 0)"),
        (SchemaField("i", "INTEGER"), pa.int64(), "long", "INT64"),
        (SchemaField("f", "FLOAT"), pa.float64(), "double", "FLOAT64"),
        (SchemaField("b", "BOOLEAN"), pa.bool_(), "boolean", "BOOL"),
        (SchemaField("g", "GEOGRAPHY"), pa.string(), "string", "GEOGRAPHY"),
        (SchemaField("j", "JSON"), pa.string(), "string", "JSON"),
        (SchemaField("v", "INTERVAL"), pa.string(), "string", "INTERVAL"),
        (SchemaField("ts", "TIMESTAMP", mode="REPEATED"), pa.list_(pa.timestamp("us", tz="UTC")), "string",
         "ARRAY<TIMESTAMP>"),
    ],
)  # fmt: skip
def test_mapping(field: SchemaField, arrow: pa.DataType, platform: str, source: str) -> None:
    info = column_info(field)
    assert (info.arrow_type, info.platform_type, info.source_type) == (arrow, platform, source)


def test_bignumeric_is_exact_decimal_text() -> None:
    target = pa.schema([pa.field("n", pa.string())])
    values = [Decimal("12345678901234567890123456789012345678.12345678901234567890123456789012345678"),
              Decimal("100"), Decimal("-0.5"), None]  # fmt: skip
    batch = pa.record_batch([pa.array(values, pa.decimal256(76, 38))], names=["n"])
    assert conform(batch, target).column(0).to_pylist() == [
        "12345678901234567890123456789012345678.12345678901234567890123456789012345678",
        "100",
        "-0.5",
        None,
    ]


def test_parameterized_bignumeric_narrows_to_decimal128_with_a_clear_overflow_error() -> None:
    target = pa.schema([pa.field("n", pa.decimal128(20, 4))])
    fits = pa.record_batch([pa.array([Decimal("1234.5")], pa.decimal256(76, 38))], names=["n"])
    assert conform(fits, target).column(0).to_pylist() == [Decimal("1234.5000")]
    too_big = pa.record_batch([pa.array([Decimal("1" * 30)], pa.decimal256(76, 38))], names=["n"])
    with pytest.raises(ConfigError, match=r"'n'.*does not fit decimal128"):
        conform(too_big, target)


def test_conform_reorders_and_renames_list_items() -> None:
    target = pa.schema([pa.field("b", pa.list_(pa.int64())), pa.field("a", pa.int64(), nullable=False)])
    source = pa.record_batch([pa.array([1]), pa.array([[1, 2]], pa.list_(pa.field("l", pa.int64())))], names=["a", "b"])
    assert conform(source, target).schema == target


def test_preview_values() -> None:
    money = column_info(SchemaField("m", "NUMERIC", precision=10, scale=2))
    assert preview_value(money, Decimal("1.50")) == 1.5
    ts = column_info(SchemaField("t", "TIMESTAMP"))
    assert preview_value(ts, dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))) == (
        "2024-01-01T10:00:00"
    )
    assert preview_value(column_info(SchemaField("b", "BYTES")), b"hi") == "aGk="


@pytest.mark.parametrize(
    ("kind", "value", "literal"),
    [
        ("INT64", "42", "42"),
        ("FLOAT64", 1.5, "1.5"),
        ("NUMERIC", "1E+3", "NUMERIC '1000'"),
        ("BIGNUMERIC", Decimal("0.1"), "BIGNUMERIC '0.1'"),
        ("STRING", "plain name-1", "'plain name-1'"),
        ("STRING", "it's", "SAFE_CONVERT_BYTES_TO_STRING(FROM_BASE64('aXQncw=='))"),
        ("DATE", "2024-02-03", "DATE '2024-02-03'"),
        ("DATETIME", "2024-02-03T04:05:06", "DATETIME '2024-02-03 04:05:06'"),
        ("TIMESTAMP", "2024-02-03T04:05:06Z", "TIMESTAMP '2024-02-03 04:05:06+00:00'"),
        ("TIMESTAMP", dt.datetime(2024, 2, 3, 4, 5, 6), "TIMESTAMP '2024-02-03 04:05:06+00:00'"),
        ("TIME", "04:05:06.5", "TIME '04:05:06.500000'"),
    ],
)
def test_sql_literals(kind: str, value: object, literal: str) -> None:
    assert sql_literal(kind, cursor_value(kind, value, "c")) == literal


@pytest.mark.parametrize(
    ("kind", "value"),
    [("INT64", "1; DROP"), ("INT64", True), ("FLOAT64", "nan"), ("NUMERIC", "Infinity"), ("DATE", "2024-13-01"),
     ("STRING", 5), ("BYTES", "x")],
)  # fmt: skip
def test_invalid_cursor_values(kind: str, value: object) -> None:
    with pytest.raises(ConfigError):
        cursor_value(kind, value, "c")
