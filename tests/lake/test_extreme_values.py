"""Dates and timestamps Python cannot hold (before year 1, after 9999) land exactly; their files carry no bounds."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from headwater.lake import DatasetIdent, Lake

# Days / microseconds since 1970-01-01: 0044-03-15 BC, 10000-01-01, 5874897-12-31 (PostgreSQL's last date).
DAYS = [-735160, 2932897, 2145042905, 0, None]
MICROS = [327416976550123456, -210866803200000000, 0, None, 1]  # 12345 AD, 4714-11-24 BC
SCHEMA = pa.schema(
    [
        ("id", pa.int64(), False),
        ("d", pa.date32()),
        ("ts", pa.timestamp("us")),
        ("tz", pa.timestamp("us", tz="UTC")),
        ("ds", pa.list_(pa.date32())),
        ("ok", pa.date32()),
    ]
)


def batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [
            pa.array(range(5), pa.int64()),
            pa.array(DAYS, pa.date32()),
            pa.array(MICROS, pa.timestamp("us")),
            pa.array(MICROS, pa.timestamp("us", tz="UTC")),
            pa.array([[d] for d in DAYS], pa.list_(pa.date32())),
            pa.array([0, 1, 2, 3, 4], pa.date32()),
        ],
        schema=SCHEMA,
    )


def test_out_of_python_range_values_commit_and_read_back(sqlite_lake: Lake, ident: DatasetIdent) -> None:
    sqlite_lake.create_dataset(ident, SCHEMA)
    result = sqlite_lake.write_run(ident, run_id="r1", flow_id="f", batches=[batch()], cursor=None)
    assert result.rows == 5
    back = sqlite_lake.scan(ident).sort_by("id")
    assert back.column("d").cast(pa.int32()).to_pylist() == DAYS
    assert back.column("ts").cast(pa.int64()).to_pylist() == MICROS
    assert back.column("tz").cast(pa.int64()).to_pylist() == MICROS
    assert pc.list_flatten(back.column("ds")).cast(pa.int32()).to_pylist() == DAYS
    files = sqlite_lake.data_files(ident)
    got = duckdb.sql(
        "SELECT d::varchar, ts::varchar, ds[1]::varchar FROM read_parquet($f) ORDER BY id", params={"f": files}
    ).fetchall()
    assert [r[0] for r in got] == ["0044-03-15 (BC)", "10000-01-01", "5874897-12-31", "1970-01-01", None]
    assert [r[1] for r in got] == ["12345-06-07 08:09:10.123456", "4714-11-24 (BC) 00:00:00", "1970-01-01 00:00:00",
                                   None, "1970-01-01 00:00:00.000001"]
    assert [r[2] for r in got] == [r[0] for r in got]


def test_bounds_are_dropped_only_where_python_cannot_hold_them(sqlite_lake: Lake, ident: DatasetIdent) -> None:
    sqlite_lake.create_dataset(ident, SCHEMA)
    sqlite_lake.write_run(ident, run_id="r1", flow_id="f", batches=[batch()], cursor=None)
    table = sqlite_lake.catalog.load_table((ident.namespace, ident.dataset_id))
    (task,) = table.scan().plan_files()
    ids = {f.name: f.field_id for f in table.schema().fields}
    lower = task.file.lower_bounds
    assert ids["d"] not in lower and ids["ts"] not in lower and ids["tz"] not in lower
    assert ids["ok"] in lower and ids["id"] in lower  # other columns keep them
    assert task.file.null_value_counts[ids["d"]] == 1  # counts are kept
    # A filter on an unbounded column still finds its rows (no file is wrongly skipped).
    rows = table.scan(row_filter="ok >= '1970-01-03'").to_arrow()
    assert rows.num_rows == 3
    assert table.scan(row_filter="id = 3").to_arrow().column("ok").to_pylist() == [dt.date(1970, 1, 4)]


def test_preview_shows_far_values_as_iso_text(sqlite_lake: Lake, ident: DatasetIdent) -> None:
    sqlite_lake.create_dataset(ident, SCHEMA)
    sqlite_lake.write_run(ident, run_id="r1", flow_id="f", batches=[batch()], cursor=None)
    rows = sorted(sqlite_lake.preview(ident).to_pylist(), key=lambda r: r["id"])
    assert [r["d"] for r in rows] == ["-0043-03-15", "+10000-01-01", "+5874897-12-31", "1970-01-01", None]
    assert [r["ts"] for r in rows] == [
        "+12345-06-07T08:09:10.123456", "-4713-11-24T00:00:00", "1970-01-01T00:00:00", None,
        "1970-01-01T00:00:00.000001",
    ]  # fmt: skip
    assert rows[0]["tz"] == "+12345-06-07T08:09:10.123456+00:00"
    assert rows[0]["ds"] == ["-0043-03-15"] and rows[4]["ds"] == [None]
    assert rows[1]["ok"] == dt.date(1970, 1, 2)  # a column without such values keeps its type
