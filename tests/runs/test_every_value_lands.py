"""Every edge value of every PostgreSQL type goes through a real flow run into the lake and reads back
exactly with pyarrow, DuckDB and pandas; values no lake type can hold fail the run with a clear message.

The run is the production path: a flow created through the services, the run engine, the real
PostgresConnector and the Iceberg lake (tests/runs/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from headwater.runs.executor import RunEngine
from headwater.runs.ledger import Ledger, RunRow
from headwater.runs.model import RunStatus
from headwater.service import Services
from tests.runs.edge_values import COLUMNS, Col, expected, inserts, table_ddl
from tests.runs.source import SCOPE, MakeDeps, SourceDb, context, create_flow, dataset_ident

EPOCH = dt.datetime(1970, 1, 1)
DAY_US = 86_400_000_000


def run_once(svc: Services, make_deps: MakeDeps, source_db: SourceDb, table: str) -> tuple[RunRow, Any]:
    flow = create_flow(svc, source_db=source_db.name, table=table, delta=None, frequency="once")
    deps = make_deps()
    run_id = svc.runs.create(context(), {"flowId": flow.id})["items"][0]["id"]
    engine, ledger = RunEngine(deps, workers=0, schedule=False), Ledger(deps.store)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        engine.work_once("test-worker")
        row = ledger.get(run_id)
        assert row is not None
        if row.status.terminal:
            return row, dataset_ident(svc, flow)
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


def plain(value: Any) -> Any:
    """Comparable form: NaN and -0.0 are told apart from other floats; containers recursively."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return "-0.0" if value == 0 and math.copysign(1, value) < 0 else value
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def far_as_integers(array: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dates as days, timestamps as microseconds since 1970: Python's datetime stops at year 9999."""
    t = array.type
    if pa.types.is_list(t):
        return array.cast(pa.list_(pa.int32() if pa.types.is_date32(t.value_type) else pa.int64()))
    return array.cast(pa.int32() if pa.types.is_date32(t) else pa.int64())


def assert_arrow_values(table: pa.Table, reader: str, *, null_struct_lists_empty: bool = False) -> None:
    table = table.sort_by("id")
    for col in COLUMNS:
        column = table.column(col.name)
        got = (far_as_integers(column) if col.far else column).to_pylist()
        want = expected(col)
        if null_struct_lists_empty and col.ddl == "interval[]":
            # pyiceberg's scan rebuilds a NULL list<struct> as [] (apache/iceberg-python#3833, open); the
            # Parquet files hold NULL, as pyarrow and DuckDB show. Documented in docs/types.md.
            want = [[] if v is None else v for v in want]
        assert plain(got) == plain(want), f"{reader}: column {col.name} ({col.ddl})"


@pytest.fixture
def landed(run_services: Services, make_deps: MakeDeps, source_db: SourceDb) -> tuple[pa.Table, list[str]]:
    with source_db.connect() as conn:
        for statement in [*table_ddl("edges"), *inserts("edges")]:
            conn.execute(statement)
    row, ident = run_once(run_services, make_deps, source_db, "public.edges")
    assert row.status is RunStatus.SUCCESS, row.doc["metrics"]["statusSummary"]
    # The dataset preview (JSON through Python values) shows far dates as ISO 8601 text, never a 500.
    (dataset,) = run_services.store.list("dataSet", SCOPE)
    preview = run_services.datasets.preview(context(), dataset.id, limit=100)
    json.dumps(preview["data"], allow_nan=False)
    by_id = {r["id"]: r for r in preview["data"]}
    assert [by_id[k]["df"] for k in range(5)] == [
        "-0043-03-15", "-4712-11-24", "-4713-11-24", "+10000-01-01", "+5874897-12-31"
    ]  # fmt: skip
    assert by_id[0]["f8"] == "NaN" and by_id[2]["t"] == "23:59:59.999999"
    return run_services.lake.scan(ident), run_services.lake.data_files(ident)


def test_every_value_reads_back_with_pyarrow_duckdb_and_pandas(landed: tuple[pa.Table, list[str]]) -> None:
    scanned, files = landed
    table = pq.read_table(files)
    assert_arrow_values(table, "pyarrow")
    assert_arrow_values(scanned, "pyiceberg", null_struct_lists_empty=True)

    # DuckDB reads the Parquet files itself; its answer, exported as Arrow, holds the same values.
    relation = duckdb.sql("SELECT * FROM read_parquet($files) ORDER BY id", params={"files": files})
    assert_arrow_values(relation.to_arrow_table(), "duckdb")
    text = duckdb.sql(
        "SELECT df::varchar, tsf::varchar, t::varchar FROM read_parquet($files) ORDER BY id", params={"files": files}
    ).fetchall()
    assert [r[0] for r in text[:5]] == [
        "0044-03-15 (BC)", "4713-11-24 (BC)", "4714-11-24 (BC)", "10000-01-01", "5874897-12-31"
    ]
    assert text[2][1] == "12345-06-07 08:09:10.123456" and text[2][2] == "23:59:59.999999"

    # pandas: the documented call (docs/types.md) reads the whole table; see assert_pandas_values.
    frame = table.sort_by("id").to_pandas(date_as_object=False, integer_object_nulls=True)
    for col in COLUMNS:
        assert_pandas_values(frame[col.name], col)


def test_plain_to_pandas_fails_only_on_dates_python_cannot_hold(landed: tuple[pa.Table, list[str]]) -> None:
    table, _ = landed
    with pytest.raises(ValueError, match="out of range"):
        table.to_pandas()  # date columns become datetime.date objects, which stop at years 1 and 9999
    far_dates = [c.name for c in COLUMNS if c.far and "date" in c.ddl]
    frame = table.drop_columns(far_dates).to_pandas()
    assert frame["d"].tolist()[:2] == [dt.date(2024, 2, 29), dt.date(1, 1, 1)]
    assert frame["t"].tolist()[2] == dt.time(23, 59, 59, 999999)  # time '24:00:00'


def assert_pandas_values(series: pd.Series, col: Col) -> None:
    want = expected(col)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        # Dates (as datetime64[ms] with date_as_object=False) and timestamps: compare the integers.
        per_day = {"s": 86_400, "ms": 86_400_000, "us": DAY_US}[series.array.unit]
        is_date = "date" in col.ddl
        if is_date:
            assert series.array.unit == "ms"  # datetime64[ms]: ±292 million years, every PostgreSQL date
        else:
            assert series.array.unit == "us"  # the lake's unit, kept: every timestamp Arrow holds
        ints = [None if missing else int(v) // (per_day if is_date else 1)
                for v, missing in zip(series.array.asi8, series.isna(), strict=True)]
        assert ints == [_epoch(v, is_date=is_date, far=col.far) for v in want], f"pandas: column {col.name}"
        return
    got = [_pandas_plain(v) for v in series.tolist()]
    if pd.api.types.is_float_dtype(series.dtype):
        want = [math.nan if v is None else v for v in want]  # pandas' float NULL is NaN
    else:  # and pandas 3's string NULL too: outside float columns, NaN can only mean NULL
        got = [None if v == "nan" else v for v in got]
    if col.ddl == "date[]":  # numpy datetime64[ms] elements, compared as milliseconds
        want = [v if v is None else [_date_ms(x, far=col.far) for x in v] for v in want]
    if col.ddl in ("float8[]", "real[]"):  # a numpy float array: a NULL element is NaN
        want = [v if v is None else [math.nan if x is None else x for x in v] for v in want]
    if col.ddl.startswith("timestamp"):  # numpy datetime64[us] elements (UTC), compared as microseconds
        want = [v if v is None else [_epoch(x, is_date=False, far=False) for x in v] for v in want]
    assert got == plain(want), f"pandas: column {col.name}"


def _epoch(value: Any, *, is_date: bool, far: bool) -> int | None:
    if value is None or far:
        return value  # type: ignore[no-any-return]
    if is_date:
        return (value - dt.date(1970, 1, 1)).days  # type: ignore[no-any-return]
    naive = value.replace(tzinfo=None) - (value.utcoffset() or dt.timedelta(0))
    return (naive - EPOCH) // dt.timedelta(microseconds=1)  # type: ignore[no-any-return]


def _date_ms(value: Any, *, far: bool) -> int | None:
    if value is None:
        return None
    days = value if far else (value - dt.date(1970, 1, 1)).days
    return int(days) * 86_400_000


def _pandas_plain(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind == "M":  # as integers of the array's own unit
        return [None if np.isnat(v) else int(v.astype("int64")) for v in value]
    if isinstance(value, np.ndarray):
        return [_pandas_plain(v) for v in value.tolist()]
    if isinstance(value, list):
        return [_pandas_plain(v) for v in value]
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[ms]").astype("int64"))
    if isinstance(value, pd.Timestamp):
        return int(value.as_unit("us").value) if value.tzinfo is None else value.to_pydatetime()
    if isinstance(value, dict):
        return {k: _pandas_plain(v) for k, v in value.items()}
    if value is pd.NA or value is pd.NaT:
        return None
    return plain(value)


@pytest.mark.slow  # eleven runs, about a second each
@pytest.mark.parametrize(
    ("ddl", "value", "needle"),
    [
        ("numeric", "'NaN'", "NaN or Infinity"),
        ("numeric(10,2)", "'NaN'", "NaN or Infinity"),
        ("numeric", "'Infinity'", "NaN or Infinity"),
        ("numeric", "'-Infinity'", "NaN or Infinity"),
        ("numeric", "1.0000000001", "does not fit decimal(38, 9) without rounding"),
        ("numeric", "1e29", "does not fit decimal(38, 9) without rounding"),
        ("numeric(60,0)", "1e40", "does not fit decimal(38, 0) without rounding"),
        ("numeric[]", "'{1,NaN}'", "NaN or Infinity"),
        ("timestamp", "'294276-12-31 23:59:59.999999'", "after year 294246"),
        ("timestamptz", "'294247-01-11 00:00:00+00'", "after year 294246"),
        ("timestamp[]", "'{294276-01-01}'", "after year 294246"),
    ],
)
def test_values_no_lake_type_holds_fail_the_run_naming_the_column(
    run_services: Services, make_deps: MakeDeps, source_db: SourceDb, ddl: str, value: str, needle: str
) -> None:
    with source_db.connect() as conn:
        conn.execute(f"CREATE TABLE refused (id integer PRIMARY KEY, ok text, bad {ddl})")
        conn.execute(f"INSERT INTO refused VALUES (1, 'a', NULL), (2, 'b', {value})")
    row, _ = run_once(run_services, make_deps, source_db, "public.refused")
    assert row.status is RunStatus.FAILED
    (error,) = row.doc["metrics"]["statusSummary"]["errors"]
    assert error["code"] == "CONNECTOR-1001-400", error  # the user's to fix: no retry, no internal error
    assert "'bad'" in error["message"] and needle in error["message"], error["message"]
    assert row.attempt == 1
