"""Functions, every cast target, date/time comparisons and the Adobe example mapping set."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from headwater.mapping import MappingError, compile_mapping, validate_mapping_document

SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("txt", pa.string()),
        ("big", pa.large_string()),
        ("when", pa.timestamp("us", tz="UTC")),
        ("day", pa.date32()),
        ("flag", pa.bool_()),
        ("ratio", pa.float32()),
    ]
)
BATCH = pa.RecordBatch.from_pylist(
    [
        {
            "id": 7,
            "txt": " 42 ",
            "big": "L",
            "when": dt.datetime(2024, 2, 29, 13, 14, 15, tzinfo=dt.UTC),
            "day": dt.date(2023, 12, 31),
            "flag": True,
            "ratio": 0.25,
        },
        {},
    ],
    schema=SCHEMA,
)


def column(source: str, destination_type: str | None = None) -> tuple[pa.DataType, list[object]]:
    entry: dict[str, object] = {"sourceType": "EXPRESSION", "source": source, "destination": "out"}
    if destination_type is not None:
        entry["destinationType"] = destination_type
    compiled = compile_mapping([entry], SCHEMA)
    out = compiled.apply(BATCH)
    assert out.schema == compiled.output_schema
    return out.schema.field("out").type, out.column(0).to_pylist()


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("year(when)", [2024, None]),
        ("month(when)", [2, None]),
        ("day(when)", [29, None]),
        ("hour(when)", [13, None]),
        ("minute(when)", [14, None]),
        ("second(when)", [15, None]),
        ("year(day) * 100 + month(day)", [202312, None]),
        ("ucase(big)", ["L", None]),
        ("lcase('AbC')", ["abc", "abc"]),
        ("ltrim(txt)", ["42 ", None]),
        ("rtrim(txt)", [" 42", None]),
        ("concat(big, txt, id)", ["L 42 7", None]),
        ("UPPER(big)", ["L", None]),  # function names are case-insensitive
        ("when >= '2024-02-29'", [True, None]),
        ("'2024-03-01T00:00:00Z' > when", [True, None]),
        ("day = '2023-12-31'", [True, None]),
        ("day < when", [True, None]),
        ("iif(flag, ratio, 0)", [0.25, None]),
    ],
)
def test_functions(expression: str, expected: list[object]) -> None:
    assert column(expression)[1] == expected


@pytest.mark.parametrize(
    ("source", "target", "arrow_type", "first"),
    [
        ("id", "string", pa.string(), "7"),
        ("id", "int16", pa.int16(), 7),
        ("id", "short", pa.int16(), 7),
        ("id", "int", pa.int32(), 7),
        ("id", "int32", pa.int32(), 7),
        ("trim(txt)", "long", pa.int64(), 42),
        ("trim(txt)", "int64", pa.int64(), 42),
        ("ratio", "float32", pa.float32(), 0.25),
        ("ratio", "float64", pa.float64(), 0.25),
        ("ratio", "double", pa.float64(), 0.25),
        ("id", "number", pa.float64(), 7.0),
        ("flag", "boolean", pa.bool_(), True),
        ("ratio", "decimal(5,3)", pa.decimal128(5, 3), Decimal("0.250")),
        ("when", "date", pa.date32(), dt.date(2024, 2, 29)),
        ("when", "time", pa.time64("us"), dt.time(13, 14, 15)),
        ("iif(flag, '2024-01-02 03:04:05', null)", "timestamp", pa.timestamp("us"), dt.datetime(2024, 1, 2, 3, 4, 5)),
        ("day", "timestamptz", pa.timestamp("us", tz="UTC"), dt.datetime(2023, 12, 31, tzinfo=dt.UTC)),
        ("big", "binary", pa.binary(), b"L"),
        ("null", "decimal(38,0)", pa.decimal128(38, 0), None),
    ],
)
def test_every_cast_target(source: str, target: str, arrow_type: pa.DataType, first: object) -> None:
    out_type, values = column(source, target)
    assert out_type == arrow_type
    assert values[0] == first and values[1] is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("id = true", "'=' cannot combine int64 and bool"),
        ("day + 1", "'+' cannot combine date32[day] and int64"),
        ("trim(id)", "trim() does not accept (int64)"),
        ("iif(flag, 'a', 1)", "iif() does not accept (bool, string, int64)"),
        ("when > '2024-13-45'", "mappings[0]"),  # a bad date literal fails at flow creation
        ("year(txt)", "year() does not accept (string)"),
        ("now()", "unknown function now()"),
    ],
)
def test_type_errors_name_the_operator_and_types(source: str, message: str) -> None:
    with pytest.raises(MappingError) as info:
        column(source)
    assert message in info.value.message and info.value.message.startswith("mappings[0]")


def test_injection_looking_text_is_a_plain_string() -> None:
    payload = "'); DROP TABLE t; -- __import__('os').system('x')"
    literal = "'" + payload.replace("'", "''") + "'"
    assert column(literal)[1] == [payload, payload]
    assert column(f"concat(big, {literal})")[1] == ["L" + payload, None]
    with pytest.raises(MappingError, match="unknown column"):
        column("__import__")


def test_adobe_example_mapping_set() -> None:
    """The mapping set from Adobe's database-source tutorial, unchanged."""
    body = {
        "version": 0,
        "xdmSchema": "https://ns.adobe.com/acme/schemas/52b59140414aa6a370ef5e21155fd7a686744b8739ecc168",
        "xdmVersion": "1.0",
        "id": None,
        "mappings": [
            {
                "destinationXdmPath": "_id",
                "sourceAttribute": "TestID",
                "identity": False,
                "identityGroup": None,
                "namespaceCode": None,
                "version": 0,
            },
            {
                "destinationXdmPath": "person.name.fullName",
                "sourceAttribute": "Name",
                "identity": False,
                "identityGroup": None,
                "namespaceCode": None,
                "version": 0,
            },
            {
                "destinationXdmPath": "person.birthDate",
                "sourceAttribute": "Datefield",
                "identity": False,
                "identityGroup": None,
                "namespaceCode": None,
                "version": 0,
            },
        ],
    }
    schema = pa.schema([("TestID", pa.string()), ("Name", pa.string()), ("Datefield", pa.date32()), ("x", pa.int8())])
    compiled = compile_mapping(validate_mapping_document(body), schema)
    assert compiled.input_columns == ("TestID", "Name", "Datefield")
    assert compiled.output_schema == pa.schema(
        [("_id", pa.string()), ("person.name.fullName", pa.string()), ("person.birthDate", pa.date32())]
    )
    batch = pa.RecordBatch.from_pylist(
        [{"TestID": "a1", "Name": "Ada", "Datefield": dt.date(1815, 12, 10), "x": 1}], schema=schema
    )
    assert compiled.apply(batch).to_pylist() == [
        {"_id": "a1", "person.name.fullName": "Ada", "person.birthDate": dt.date(1815, 12, 10)}
    ]


def test_apply_is_vectorised_over_a_large_batch() -> None:
    n = 200_000
    schema = pa.schema([("v", pa.int64()), ("s", pa.string())])
    batch = pa.RecordBatch.from_pydict({"v": list(range(n)), "s": ["x"] * n}, schema=schema)
    compiled = compile_mapping(
        [
            {"sourceType": "EXPRESSION", "source": "iif(v > 10, v * 2, null)", "destination": "a"},
            {"sourceType": "EXPRESSION", "source": "concat(upper(s), v)", "destination": "b"},
        ],
        schema,
    )
    out = compiled.apply(batch)
    assert out.num_rows == n and out.column(0)[n - 1].as_py() == 2 * (n - 1) and out.column(1)[3].as_py() == "X3"
