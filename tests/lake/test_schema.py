"""Arrow types round-trip through Iceberg; incompatible input fails with a ConfigError naming the column."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from headwater.errors import ConfigError
from headwater.lake import DatasetIdent, Lake

UTC = dt.UTC
ALL_TYPES = pa.schema(
    [
        pa.field("i16", pa.int16()),
        pa.field("i32", pa.int32()),
        pa.field("i64", pa.int64(), nullable=False),
        pa.field("f32", pa.float32()),
        pa.field("f64", pa.float64()),
        pa.field("flag", pa.bool_()),
        pa.field("text", pa.string()),
        pa.field("blob", pa.binary()),
        pa.field("money", pa.decimal128(38, 9)),
        pa.field("small_dec", pa.decimal128(5, 2)),
        pa.field("day", pa.date32()),
        pa.field("clock", pa.time64("us")),
        pa.field("ts", pa.timestamp("us")),
        pa.field("tstz", pa.timestamp("us", tz="UTC")),
        pa.field("tags", pa.list_(pa.field("item", pa.string(), nullable=True))),
        pa.field("point", pa.struct([("x", pa.int64()), ("label", pa.string()), ("nested", pa.list_(pa.int32()))])),
    ]
)
ROWS = {
    "i16": [-32768, 32767, None],
    "i32": [-(2**31), 2**31 - 1, None],
    "i64": [-(2**63), 2**63 - 1, 0],
    "f32": [1.5, float("inf"), None],
    "f64": [-0.0, 1e308, None],
    "flag": [True, False, None],
    "text": ["héllo", "", None],
    "blob": [b"\x00\xff", b"", None],
    "money": [Decimal("12345678901234567890123456789.123456789"), Decimal("-0.000000001"), None],
    "small_dec": [Decimal("999.99"), Decimal("-1.05"), None],
    "day": [dt.date(1, 1, 1), dt.date(9999, 12, 31), None],
    "clock": [dt.time(0, 0), dt.time(23, 59, 59, 999999), None],
    "ts": [dt.datetime(1970, 1, 1), dt.datetime(2024, 2, 29, 12, 30, 0, 123456), None],
    "tstz": [dt.datetime(2000, 1, 1, tzinfo=UTC), dt.datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC), None],
    "tags": [["a", None, "c"], [], None],
    "point": [{"x": 1, "label": "p", "nested": [1, None]}, {"x": None, "label": None, "nested": None}, None],
}


def test_all_listed_types_round_trip(lake: Lake, ident: DatasetIdent) -> None:
    lake.create_dataset(ident, ALL_TYPES)
    batch = pa.RecordBatch.from_pydict(ROWS, schema=ALL_TYPES)
    lake.write_run(ident, run_id="r", flow_id="f", batches=[batch], cursor=None)

    got = lake.scan(ident).sort_by("i64")
    expected = pa.Table.from_batches([batch]).sort_by("i64")
    assert got.num_rows == 3
    for name in ALL_TYPES.names:
        assert got.column(name).to_pylist() == expected.column(name).to_pylist(), name

    schema = lake.schema(ident)
    assert schema.field("i16").type == pa.int32()  # Iceberg has no 16-bit int: widened, values intact
    assert not schema.field("i64").nullable
    assert schema.field("tstz").type == pa.timestamp("us", tz="UTC")
    assert schema.field("ts").type == pa.timestamp("us")
    assert schema.field("money").type == pa.decimal128(38, 9)
    assert schema.field("clock").type == pa.time64("us")

    # The same values through DuckDB reading the snapshot's Parquet files directly.
    files = lake.data_files(ident)
    # (Arrow results: DuckDB's Python tuples would need pytz for timestamptz.)
    read = duckdb.sql(f"select * from read_parquet({files!r}) order by i64").fetch_arrow_table()
    assert read.column_names == ALL_TYPES.names
    for name in ALL_TYPES.names:
        assert read.column(name).to_pylist() == expected.column(name).to_pylist(), name


def test_compatible_inputs_are_cast(sqlite_lake: Lake, ident: DatasetIdent) -> None:
    lake = sqlite_lake
    lake.create_dataset(
        ident,
        pa.schema([("id", pa.int64()), ("s", pa.string()), ("at", pa.timestamp("us", tz="UTC")), ("x", pa.float64())]),
    )
    ny = dt.timezone(dt.timedelta(hours=-5))
    batch = pa.RecordBatch.from_pydict(
        {
            "x": pa.array([1.5], pa.float32()),  # column order does not matter
            "id": pa.array([7], pa.int32()),
            "s": pa.array(["v"], pa.large_string()),
            "at": pa.array([dt.datetime(2024, 1, 1, 7, tzinfo=ny)], pa.timestamp("ms", tz="America/New_York")),
        }
    )
    lake.write_run(ident, run_id="r", flow_id="f", batches=[batch], cursor=None)
    row = lake.scan(ident).to_pylist()[0]
    assert row == {"id": 7, "s": "v", "at": dt.datetime(2024, 1, 1, 12, tzinfo=UTC), "x": 1.5}


BASE = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("at", pa.timestamp("us", tz="UTC")),
        pa.field("n", pa.int32()),
    ]
)
GOOD = {
    "id": pa.array([1], pa.int64()),
    "name": pa.array(["a"]),
    "at": pa.array([0], pa.timestamp("us", tz="UTC")),
    "n": pa.array([1], pa.int32()),
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": pa.array([1], pa.int64())}, "Column 'name'"),  # never parse or format silently
        ({"n": pa.array(["1"])}, "Column 'n'"),
        ({"n": pa.array([1], pa.int64())}, "Column 'n'"),  # narrowing
        ({"at": pa.array([0], pa.timestamp("us"))}, "Column 'at'"),  # naive into zoned
        ({"id": pa.array([None], pa.int64())}, "Column 'id'"),  # null into required
        ({"extra": pa.array([1])}, "extra"),
        ({"name": None}, "name"),  # missing column
    ],
)
def test_mismatched_input_raises_config_error(
    sqlite_lake: Lake, ident: DatasetIdent, change: dict[str, pa.Array | None], message: str
) -> None:
    lake = sqlite_lake
    lake.create_dataset(ident, BASE)
    lake.write_run(ident, run_id="before", flow_id="f", batches=[pa.RecordBatch.from_pydict(GOOD)], cursor={"c": 1})
    columns = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(ConfigError, match=message):
        lake.write_run(ident, run_id="r", flow_id="f", batches=[pa.RecordBatch.from_pydict(columns)], cursor={"c": 2})
    assert lake.row_count(ident) == 1
    assert lake.cursor(ident, "f") == {"c": 1}


@pytest.mark.parametrize(
    ("arrow_type", "message"),
    [
        (pa.uint64(), "Column 'c'"),
        (pa.time64("ns"), "time64"),
        (pa.timestamp("ns"), "timestamp"),
        (pa.decimal256(40, 2), "precision 40"),
        (pa.list_(pa.uint64()), "Column 'c.element'"),
        (pa.float16(), "Column 'c'"),
    ],
)
def test_unsupported_types_are_rejected_at_create(
    sqlite_lake: Lake, ident: DatasetIdent, arrow_type: pa.DataType, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        sqlite_lake.create_dataset(ident, pa.schema([("c", arrow_type)]))
    assert not sqlite_lake.exists(ident)
