"""Type fidelity: each PostgreSQL type read back exactly, into Iceberg-compatible Arrow types."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from headwater.connectors._pg_types import INTERVAL_TYPE
from headwater.connectors.postgres import PostgresConnector
from headwater.domain import ReadRequest
from headwater.errors import ConfigError

UTC = dt.UTC
D = decimal.Decimal


def read_all(connector: PostgresConnector, auth: Any, path: str, **kw: Any) -> pa.Table:
    schema = connector.describe(auth, path).arrow_schema
    if kw.get("columns"):
        schema = pa.schema([schema.field(c) for c in kw["columns"]])
    batches = list(connector.read(auth, ReadRequest(table=path, **kw)))
    for batch in batches:
        assert batch.schema == schema  # exactly describe()'s schema, batch after batch
    return pa.Table.from_batches(batches, schema=schema)


def column(connector: PostgresConnector, auth: Any, schema: Any, ddl: str, values: str) -> pa.ChunkedArray:
    """Create `t(id serial, v <ddl>)`, insert `values` (SQL VALUES rows of v), read v back in id order."""
    schema.execute(f"CREATE TABLE {{s}}.t (id serial PRIMARY KEY, v {ddl})")
    schema.execute(f"INSERT INTO {{s}}.t (v) VALUES {values}")
    return read_all(connector, auth, schema.path("t")).sort_by("id").column("v")


CASES: list[tuple[str, str, pa.DataType, list[Any]]] = [
    ("smallint", "(-32768), (32767), (NULL)", pa.int16(), [-32768, 32767, None]),
    ("integer", "(-2147483648), (2147483647), (NULL)", pa.int32(), [-2147483648, 2147483647, None]),
    ("bigint", "(-9223372036854775808), (9223372036854775807), (NULL)", pa.int64(), [-(2**63), 2**63 - 1, None]),
    (
        "numeric(10,2)",
        "(12345678.91), (-0.01), (0), (NULL)",
        pa.decimal128(10, 2),
        [D("12345678.91"), D("-0.01"), D("0.00"), None],
    ),
    (
        "numeric(38,10)",
        "(9999999999999999999999999999.9999999999), (-1e-10)",
        pa.decimal128(38, 10),
        [D("9999999999999999999999999999.9999999999"), D("-1E-10")],
    ),
    ("numeric(5,0)", "(99999)", pa.decimal128(5, 0), [D("99999")]),
    ("numeric(50,2)", "(123.45)", pa.decimal128(38, 2), [D("123.45")]),  # p > 38: decimal(38, s)
    (
        "numeric",
        "(1.5), (-0.000000001), (12345678901234567890123456789), (NULL)",
        pa.decimal128(38, 9),
        [D("1.5"), D("-1E-9"), D("12345678901234567890123456789"), None],
    ),
    (
        "real",
        "(1.5), ('NaN'), ('Infinity'), ('-Infinity'), (NULL)",
        pa.float32(),
        [1.5, math.nan, math.inf, -math.inf, None],
    ),
    ("double precision", "(0.1), (-1e308), ('NaN')", pa.float64(), [0.1, -1e308, math.nan]),
    ("boolean", "(true), (false), (NULL)", pa.bool_(), [True, False, None]),
    ("text", "('héllo ✓'), (''), (NULL)", pa.string(), ["héllo ✓", "", None]),
    ("varchar(5)", "('abc')", pa.string(), ["abc"]),
    ("char(4)", "('ab')", pa.string(), ["ab  "]),
    ("bytea", "('\\x00ff10'), (''), (NULL)", pa.binary(), [b"\x00\xff\x10", b"", None]),
    (
        "date",
        "('2024-02-29'), ('1970-01-01'), ('0001-01-01'), ('4713-01-01 BC'), ('5874897-12-31'), (NULL)",
        pa.date32(),
        # Days since 1970-01-01, PostgreSQL's whole range: none of these may be taken for an infinity.
        [19782, 0, -719162, -2440550, 2145042905, None],
    ),
    (
        "time",
        "('00:00:00'), ('23:59:59.999999'), ('24:00:00'), (NULL)",
        pa.time64("us"),
        # 24:00:00 becomes the day's last microsecond: pyarrow and pandas cannot hold 86,400 s.
        [dt.time(0), dt.time(23, 59, 59, 999999), dt.time(23, 59, 59, 999999), None],
    ),
    (
        "timestamp",
        "('2024-02-29 12:34:56.789012'), ('0001-01-01 00:00:00'), ('4713-01-01 00:00:00 BC'),"
        " ('294246-12-31 23:59:59')",
        pa.timestamp("us"),
        [1709210096789012, -62135596800000000, -210863520000000000, 9223371244799000000],
    ),
    (
        "timestamptz",
        "('2024-02-29 12:34:56.789012+05:30'), ('1960-01-01 00:00:00+00'), (NULL)",
        pa.timestamp("us", tz="UTC"),
        [dt.datetime(2024, 2, 29, 7, 4, 56, 789012, tzinfo=UTC), dt.datetime(1960, 1, 1, tzinfo=UTC), None],
    ),
    (
        "interval",
        "('1 year 2 mons -3 days 04:05:06.000007'), ('-1 microsecond'), (NULL)",
        INTERVAL_TYPE,
        [
            {"months": 14, "days": -3, "microseconds": 14706000007},
            {"months": 0, "days": 0, "microseconds": -1},
            None,
        ],
    ),
    (
        "uuid",
        "('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'), ('00000000-0000-0000-0000-000000000000'), (NULL)",
        pa.string(),
        ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000", None],
    ),
    (
        "json",
        """('{"b": 1,  "a":[2, null]}'), ('"x"'), (NULL)""",
        pa.string(),
        ['{"b": 1,  "a":[2, null]}', '"x"', None],
    ),
    ("jsonb", """('{"b": 1,  "a":[2, null]}'), ('null')""", pa.string(), ['{"a": [2, null], "b": 1}', "null"]),
    ("integer[]", "('{1,NULL,3}'), ('{}'), (NULL)", pa.list_(pa.int32()), [[1, None, 3], [], None]),
    # A lower bound other than 1 is not kept (documented): the elements arrive in order.
    ("integer[] ", "('[0:2]={7,8,9}'), ('[-5:-5]={1}')", pa.list_(pa.int32()), [[7, 8, 9], [1]]),
    ("time[]", "('{24:00:00,NULL}')", pa.list_(pa.time64("us")), [[dt.time(23, 59, 59, 999999), None]]),
    ("text[]", """('{"a b",NULL,"c,d"}')""", pa.list_(pa.string()), [["a b", None, "c,d"]]),
    ("numeric(6,2)[]", "('{1.5,NULL}')", pa.list_(pa.decimal128(6, 2)), [[D("1.50"), None]]),
    (
        "uuid[]",
        "('{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11,NULL}')",
        pa.list_(pa.string()),
        [["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", None]],
    ),
    (
        "timestamptz[]",
        "('{\"2024-01-01 00:00:00+00\",NULL}')",
        pa.list_(pa.timestamp("us", tz="UTC")),
        [[dt.datetime(2024, 1, 1, tzinfo=UTC), None]],
    ),
    ("inet", "('10.0.0.1')", pa.string(), ["10.0.0.1/32"]),
    ("timetz", "('12:00:00+02')", pa.string(), ["12:00:00+02"]),
    ("money", "('12.34')", pa.string(), ["$12.34"]),
]


@pytest.mark.parametrize(("ddl", "values", "arrow", "expected"), CASES, ids=[c[0] for c in CASES])
def test_round_trip(
    schema: Any, connector: PostgresConnector, auth: Any, ddl: str, values: str, arrow: pa.DataType, expected: list[Any]
) -> None:
    array = column(connector, auth, schema, ddl, values)
    assert array.type == arrow
    if ddl in ("date", "timestamp"):  # Arrow holds values Python's datetime cannot: compare the integers
        array = array.cast(pa.int32() if ddl == "date" else pa.int64())
    got = array.to_pylist()
    if pa.types.is_floating(arrow):
        assert [("nan" if isinstance(v, float) and math.isnan(v) else v) for v in got] == [
            ("nan" if isinstance(v, float) and math.isnan(v) else v) for v in expected
        ]
    else:
        assert got == expected


def test_timestamps_beyond_arrow_fail_naming_the_column(schema: Any, connector: PostgresConnector, auth: Any) -> None:
    # PostgreSQL goes to 294276 AD; int64 microseconds since 1970 stop in 294247.
    schema.execute("CREATE TABLE {s}.t (id int, late timestamp)")
    schema.execute("INSERT INTO {s}.t VALUES (1, '294276-12-31 23:59:59.999999')")
    with pytest.raises(ConfigError, match="'late'"):
        read_all(connector, auth, schema.path("t"))


def test_enums_and_domains(schema: Any, connector: PostgresConnector, auth: Any) -> None:
    schema.execute("CREATE TYPE {s}.mood AS ENUM ('sad', 'happy')")
    schema.execute("CREATE DOMAIN {s}.money2 AS numeric(10,2) CHECK (VALUE >= 0)")
    schema.execute("CREATE DOMAIN {s}.label AS varchar(20)")
    schema.execute("CREATE TABLE {s}.t (id int, m {s}.mood, ms {s}.mood[], amount {s}.money2, l {s}.label)")
    schema.execute("INSERT INTO {s}.t VALUES (1, 'happy', '{sad,NULL}', 10.5, 'x'), (2, NULL, NULL, NULL, NULL)")
    described = connector.describe(auth, schema.path("t"))
    types = {c.name: (c.arrow_type, c.source_type) for c in described.columns}
    assert types["m"] == (pa.string(), f"{schema.name}.mood")
    assert types["ms"][0] == pa.list_(pa.string())
    assert types["amount"][0] == pa.decimal128(10, 2)
    assert types["l"][0] == pa.string()
    rows = read_all(connector, auth, schema.path("t")).sort_by("id").to_pylist()
    assert rows[0] == {"id": 1, "m": "happy", "ms": ["sad", None], "amount": D("10.50"), "l": "x"}
    assert rows[1] == {"id": 2, "m": None, "ms": None, "amount": None, "l": None}


def test_infinities_become_documented_sentinels(schema: Any, connector: PostgresConnector, auth: Any) -> None:
    schema.execute("CREATE TABLE {s}.t (id int, d date, ts timestamp, tz timestamptz, ds date[])")
    schema.execute(
        "INSERT INTO {s}.t VALUES (1, 'infinity', 'infinity', 'infinity', '{infinity,-infinity,NULL}'),"
        " (2, '-infinity', '-infinity', '-infinity', NULL), (3, '2024-01-01', '2024-01-01', '2024-01-01Z', NULL)"
    )
    rows = read_all(connector, auth, schema.path("t")).sort_by("id").to_pylist()
    top, bottom = dt.datetime(9999, 12, 31, 23, 59, 59, 999999), dt.datetime(1, 1, 1)
    assert rows[0] == {
        "id": 1,
        "d": dt.date(9999, 12, 31),
        "ts": top,
        "tz": top.replace(tzinfo=UTC),
        "ds": [dt.date(9999, 12, 31), dt.date(1, 1, 1), None],
    }
    assert rows[1] == {"id": 2, "d": dt.date(1, 1, 1), "ts": bottom, "tz": bottom.replace(tzinfo=UTC), "ds": None}
    assert rows[2]["d"] == dt.date(2024, 1, 1)


@pytest.mark.parametrize(
    ("ddl", "value", "needle"),
    [
        ("numeric", "'NaN'", "NaN"),
        ("numeric(10,2)", "'NaN'", "NaN"),
        ("numeric", "'Infinity'", "Infinity"),
        ("numeric", "1.0000000001", "without rounding"),  # 10 fractional digits do not fit decimal(38, 9)
        ("numeric", "1e30", "without rounding"),  # 31 integer digits
        ("numeric(50,2)", "1e40", "without rounding"),  # p > 38 is read as decimal(38, 2)
        ("numeric", "1e-40", "without rounding"),
    ],
)
def test_numbers_a_decimal_cannot_hold_fail_naming_the_column(
    schema: Any, connector: PostgresConnector, auth: Any, ddl: str, value: str, needle: str
) -> None:
    schema.execute(f"CREATE TABLE {{s}}.t (id int, amount {ddl})")
    schema.execute(f"INSERT INTO {{s}}.t VALUES (1, 1), (2, {value})")
    with pytest.raises(ConfigError, match="'amount'") as info:
        read_all(connector, auth, schema.path("t"))
    assert needle in info.value.message
    # The other columns still read; the fix the message suggests works.
    assert read_all(connector, auth, schema.path("t"), columns=("id",)).num_rows == 2


def test_every_type_lands_in_iceberg(schema: Any, connector: PostgresConnector, auth: Any, tmp_path: Path) -> None:
    from pyiceberg.catalog.sql import SqlCatalog

    cases = [c for c in CASES if c[0] != "money"]
    schema.execute("CREATE TABLE {s}.wide (" + ", ".join(f"c{i} {c[0]}" for i, c in enumerate(cases)) + ")")
    first = [c[1].split("), (")[0].removeprefix("(").removesuffix(")") for c in cases]
    schema.execute("INSERT INTO {s}.wide VALUES (" + ", ".join(first) + ")")
    schema.execute("INSERT INTO {s}.wide DEFAULT VALUES")
    table = read_all(connector, auth, schema.path("wide"))
    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp_path}/cat.db", warehouse=f"file://{tmp_path}/wh")
    catalog.create_namespace("ns")
    iceberg = catalog.create_table("ns.wide", schema=table.schema)
    iceberg.append(table)
    back = iceberg.scan().to_arrow()
    # Iceberg has no 16-bit integer (smallint lands as int) and names list items `element`: values must match.
    for name in table.schema.names:
        assert _plain(back.column(name)) == _plain(table.column(name)), name


def _plain(array: pa.ChunkedArray) -> list[Any]:
    values = array.to_pylist()
    return ["nan" if isinstance(v, float) and math.isnan(v) else v for v in values]
