"""Every PostgreSQL type with its edge values, and what each must land as (docs/types.md).

One `Col` per source column: the SQL literals inserted (one row each, in order) and the value pyarrow
reads back from the lake for each. Far dates and timestamps (before year 1, after 9999), which
Python's datetime cannot hold, are expected as their integer storage: days or microseconds since
1970-01-01 (`far=True`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

D = decimal.Decimal
UTC = dt.UTC
NAN = math.nan
LAST_DAY, FIRST_DAY = dt.date(9999, 12, 31), dt.date(1, 1, 1)
LAST_TS, FIRST_TS = dt.datetime(9999, 12, 31, 23, 59, 59, 999999), dt.datetime(1, 1, 1)
END_OF_DAY = dt.time(23, 59, 59, 999999)
BIG_TEXT = "ab" * 50_000
BIG_BYTES = b"\xff" * 70_000


@dataclass(frozen=True)
class Col:
    name: str
    ddl: str
    cases: list[tuple[str, Any]]  # (SQL literal, value read back)
    far: bool = False  # expected values are days (date) or microseconds (timestamp) since 1970


def f32(text: str) -> float:
    return float(np.float32(text))


COLUMNS: list[Col] = [
    Col("i2", "smallint", [("-32768", -32768), ("32767", 32767), ("0", 0)]),
    Col("i4", "integer", [("-2147483648", -2147483648), ("2147483647", 2147483647)]),
    Col("i8", "bigint", [("-9223372036854775808", -(2**63)), ("9223372036854775807", 2**63 - 1), ("0", 0)]),
    Col("n38_0", "numeric(38,0)", [("9" * 38, D("9" * 38)), ("-" + "9" * 38, D("-" + "9" * 38))]),
    Col("n38_38", "numeric(38,38)", [("0." + "9" * 38, D("0." + "9" * 38)), ("-1e-38", D("-1E-38"))]),
    Col("n10_2", "numeric(10,2)", [("12345678.91", D("12345678.91")), ("-0.01", D("-0.01")), ("0", D("0.00"))]),
    Col(
        "n",
        "numeric",
        [
            ("1.5", D("1.5")),
            ("12345678901234567890123456789.123456789", D("12345678901234567890123456789.123456789")),
            ("-0.000000001", D("-1E-9")),
            ("0", D("0")),
        ],
    ),
    Col("n50_2", "numeric(50,2)", [("123.45", D("123.45"))]),
    # PostgreSQL 15 scales outside 0..precision: read as numeric without precision (decimal(38, 9)).
    Col("n5_m2", "numeric(5,-2)", [("1234567", D("1234600")), ("-50", D("-100"))]),
    Col("n3_5", "numeric(3,5)", [("0.00123", D("0.00123"))]),
    Col(
        "f4",
        "real",
        [
            ("'NaN'", NAN),
            ("'Infinity'", math.inf),
            ("'-Infinity'", -math.inf),
            ("'-0'", -0.0),
            ("'3.4028235e38'", f32("3.4028235e38")),
            ("'1.4e-45'", f32("1.4e-45")),
        ],
    ),
    Col(
        "f8",
        "double precision",
        [
            ("'NaN'", NAN),
            ("'Infinity'", math.inf),
            ("'-Infinity'", -math.inf),
            ("'-0'", -0.0),
            ("'1.7976931348623157e308'", 1.7976931348623157e308),
            ("'5e-324'", 5e-324),
            ("0.1", 0.1),
        ],
    ),
    Col("b", "boolean", [("true", True), ("false", False)]),
    Col(
        "tx",
        "text",
        [
            ("''", ""),
            ("'héllo ✓ 𝄞 日本'", "héllo ✓ 𝄞 日本"),
            (f"repeat('ab', {len(BIG_TEXT) // 2})", BIG_TEXT),
            ("E'line\\nbreak\\t\"q''s\" \\\\'", "line\nbreak\t\"q's\" \\"),
        ],
    ),
    Col("vc", "varchar(5)", [("'abcde'", "abcde"), ("''", "")]),
    Col("ch", "char(4)", [("'ab'", "ab  "), ("''", "    ")]),
    Col(
        "by",
        "bytea",
        [
            ("'\\x'", b""),
            ("'\\x00'", b"\x00"),
            ("'\\x00ff10'", b"\x00\xff\x10"),
            (f"decode(repeat('ff', {len(BIG_BYTES)}), 'hex')", BIG_BYTES),
        ],
    ),
    Col(
        "d",
        "date",
        [
            ("'2024-02-29'", dt.date(2024, 2, 29)),
            ("'0001-01-01'", FIRST_DAY),
            ("'9999-12-31'", LAST_DAY),
            ("'1970-01-01'", dt.date(1970, 1, 1)),
            ("'infinity'", LAST_DAY),
            ("'-infinity'", FIRST_DAY),
        ],
    ),
    Col(
        "df",
        "date",
        [
            ("'0044-03-15 BC'", -735160),
            ("'4713-11-24 BC'", -2440222),
            ("'4714-11-24 BC'", -2440588),  # PostgreSQL's first date
            ("'10000-01-01'", 2932897),
            ("'5874897-12-31'", 2145042905),  # and its last
        ],
        far=True,
    ),
    Col(
        "t",
        "time",
        [
            ("'00:00:00'", dt.time(0)),
            ("'23:59:59.999999'", END_OF_DAY),
            ("'24:00:00'", END_OF_DAY),
            ("'12:34:56.789'", dt.time(12, 34, 56, 789000)),
        ],
    ),
    Col("ttz", "timetz", [("'00:00:00+1559'", "00:00:00+15:59"), ("'24:00:00-1559'", "24:00:00-15:59")]),
    Col(
        "ts",
        "timestamp",
        [
            ("'2024-02-29 12:34:56.789012'", dt.datetime(2024, 2, 29, 12, 34, 56, 789012)),
            ("'0001-01-01 00:00:00'", FIRST_TS),
            ("'9999-12-31 23:59:59.999999'", LAST_TS),
            ("'infinity'", LAST_TS),
            ("'-infinity'", FIRST_TS),
        ],
    ),
    Col(
        "tsf",
        "timestamp",
        [
            ("'4714-11-24 00:00:00 BC'", -210866803200000000),
            ("'0044-03-15 12:00:00 BC'", -63517780800000000),
            ("'12345-06-07 08:09:10.123456'", 327416976550123456),
            ("'294246-12-31 23:59:59.999999'", 9223371244799999999),  # the last that int64 µs hold
        ],
        far=True,
    ),
    Col(
        "tz",
        "timestamptz",
        [
            ("'2024-02-29 12:34:56.789012+05:30'", dt.datetime(2024, 2, 29, 7, 4, 56, 789012, tzinfo=UTC)),
            ("'0001-01-01 00:00:00+00'", FIRST_TS.replace(tzinfo=UTC)),
            ("'9999-12-31 23:59:59.999999+00'", LAST_TS.replace(tzinfo=UTC)),
            ("'infinity'", LAST_TS.replace(tzinfo=UTC)),
            ("'-infinity'", FIRST_TS.replace(tzinfo=UTC)),
        ],
    ),
    Col(
        "tzf",
        "timestamptz",
        [
            ("'12345-06-07 08:09:10.123456+00'", 327416976550123456),
            ("'4714-11-24 00:00:00+00 BC'", -210866803200000000),
        ],
        far=True,
    ),
    Col(
        "iv",
        "interval",
        [
            ("'178000000 years'", {"months": 2136000000, "days": 0, "microseconds": 0}),
            ("'-178000000 years'", {"months": -2136000000, "days": 0, "microseconds": 0}),
            ("'1 year 2 mons -3 days 04:05:06.000007'", {"months": 14, "days": -3, "microseconds": 14706000007}),
            ("'-1 microsecond'", {"months": 0, "days": 0, "microseconds": -1}),
            ("'0'", {"months": 0, "days": 0, "microseconds": 0}),
            (
                "'2147483647 days 2562047788:00:54.775807'",
                {"months": 0, "days": 2147483647, "microseconds": 2**63 - 1},
            ),
        ],
    ),
    Col(
        "u",
        "uuid",
        [
            ("'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            ("'00000000-0000-0000-0000-000000000000'", "00000000-0000-0000-0000-000000000000"),
            ("'ffffffff-ffff-ffff-ffff-ffffffffffff'", "ffffffff-ffff-ffff-ffff-ffffffffffff"),
        ],
    ),
    Col(
        "js",
        "json",
        [
            ("""'{"b": 1,  "a":[2, null]}'""", '{"b": 1,  "a":[2, null]}'),
            ("""'"\\u0000"'""", '"\\u0000"'),
            ("'null'", "null"),
            ("""'{"ü": "✓"}'""", '{"ü": "✓"}'),
        ],
    ),
    Col(
        "jb",
        "jsonb",
        [("""'{"b": 1,  "a":[2, null]}'""", '{"a": [2, null], "b": 1}'), ("'null'", "null"),
         ("""'{"n": 1.50}'""", '{"n": 1.50}')],
    ),
    Col(
        "ip",
        "inet",
        [("'10.0.0.1'", "10.0.0.1/32"), ("'::1'", "::1/128"), ("'2001:db8::1/64'", "2001:db8::1/64")],
    ),
    Col("cidr_", "cidr", [("'10.0.0.0/8'", "10.0.0.0/8"), ("'2001:db8::/32'", "2001:db8::/32")]),
    Col("mac", "macaddr", [("'08:00:2b:01:02:03'", "08:00:2b:01:02:03")]),
    Col("m", "money", [("'12.34'", "$12.34"), ("'-92233720368547758.08'", "-$92,233,720,368,547,758.08")]),
    Col("bits", "bit(3)", [("B'101'", "101")]),
    Col("vb", "varbit", [("B''", ""), ("B'1'", "1")]),
    Col(
        "ia",
        "integer[]",
        [
            ("'{1,NULL,3}'", [1, None, 3]),
            ("'{}'", []),
            ("'{{1,2},{3,NULL}}'", [1, 2, 3, None]),  # flattened (documented)
            ("'[0:2]={7,8,9}'", [7, 8, 9]),  # lower bound dropped (documented)
            ("'[-5:-4]={1,2}'", [1, 2]),
        ],
    ),
    Col(
        "iva",
        "interval[]",
        [
            (
                """'{"178000000 years","-2562047788:00:54.775807",NULL}'""",
                [
                    {"months": 2136000000, "days": 0, "microseconds": 0},
                    {"months": 0, "days": 0, "microseconds": -(2**63) + 1},
                    None,
                ],
            )
        ],
    ),
    Col("bya", "bytea[]", [("""'{"\\\\x00ff",NULL,"\\\\x"}'""", [b"\x00\xff", None, b""])]),
    Col("boa", "boolean[]", [("'{true,NULL,false}'", [True, None, False])]),
    Col("qc", '"char"', [("'a'", "a"), ("''", "")]),
    Col("nm", "name", [("'pg_catalog'", "pg_catalog")]),
    Col("ta", "text[]", [("""'{"a b",NULL,"c,d",""}'""", ["a b", None, "c,d", ""])]),
    Col("da", "date[]", [("'{infinity,-infinity,NULL}'", [LAST_DAY, FIRST_DAY, None])]),
    Col("daf", "date[]", [("'{0044-03-15 BC,10000-01-01}'", [-735160, 2932897])], far=True),
    Col("tma", "time[]", [("'{24:00:00,NULL}'", [END_OF_DAY, None])]),
    Col(
        "tza",
        "timestamptz[]",
        [("""'{"2024-01-01 00:00:00+00",infinity,NULL}'""", [dt.datetime(2024, 1, 1, tzinfo=UTC),
                                                            LAST_TS.replace(tzinfo=UTC), None])],
    ),
    Col("na", "numeric(6,2)[]", [("'{1.5,NULL}'", [D("1.50"), None])]),
    Col("fa", "float8[]", [("""'{NaN,-Infinity,-0,NULL}'""", [NAN, -math.inf, -0.0, None])]),
    Col(
        "ua",
        "uuid[]",
        [("'{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11,NULL}'", ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", None])],
    ),
    Col("e", "mood", [("'sad'", "sad"), ("'happy'", "happy")]),
    Col("ea", "mood[]", [("'{happy,NULL}'", ["happy", None])]),
    Col("pos", "posint", [("5", 5), ("2147483647", 2147483647)]),
    Col("tags", "tags", [("'{x,NULL}'", ["x", None])]),
    Col("r4", "int4range", [("'[1,10)'", "[1,10)"), ("'empty'", "empty"), ("'(,)'", "(,)")]),
    Col("rtz", "tstzrange", [("'[2024-01-01,infinity)'", '["2024-01-01 00:00:00+00",infinity)')]),
    Col("x", "xml", [("'<a>x</a>'", "<a>x</a>")]),
    Col("tsv", "tsvector", [("'a fat cat'", "'a' 'cat' 'fat'")]),
    Col("pt", "point", [("'(1,2)'", "(1,2)")]),
    Col("comp", "pair", [("ROW(1, 'x y')", '(1,"x y")')]),
]

TYPES_DDL = [
    "CREATE TYPE mood AS ENUM ('sad', 'happy')",
    "CREATE DOMAIN posint AS integer CHECK (VALUE > 0)",
    "CREATE DOMAIN tags AS text[]",
    "CREATE TYPE pair AS (a integer, b text)",
]
ROWS = max(len(c.cases) for c in COLUMNS) + 1  # the last row is all NULL


def table_ddl(name: str) -> list[str]:
    columns = ", ".join(f"{c.name} {c.ddl}" for c in COLUMNS)
    return [*TYPES_DDL, f"CREATE TABLE {name} (id integer PRIMARY KEY, {columns})"]


def inserts(name: str) -> list[str]:
    """One INSERT per row: row k holds each column's k-th case, NULL where a column has fewer."""
    out = []
    for k in range(ROWS):
        values = [c.cases[k][0] if k < len(c.cases) else "NULL" for c in COLUMNS]
        out.append(f"INSERT INTO {name} VALUES ({k}, {', '.join(values)})")
    return out


def expected(col: Col) -> list[Any]:
    return [col.cases[k][1] if k < len(col.cases) else None for k in range(ROWS)]
