"""The mapping language: rename, drop, cast, computed columns, and errors at compile time."""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.errors import BadRequest
from headwater.mapping import MappingError, compile_mapping, validate_mapping_document
from headwater.mapping._parser import parse

SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("Name", pa.string()),
        ("score", pa.decimal128(10, 2)),
        ("ratio", pa.float64()),
        ("when", pa.timestamp("us", tz="UTC")),
        ("a b", pa.string()),
        ('x"; DROP TABLE t; --', pa.string()),
        ("名前", pa.string()),
    ]
)
ROWS: list[dict[str, object]] = [
    {
        "id": 1,
        "Name": "ada",
        "score": Decimal("1.50"),
        "ratio": 0.5,
        "when": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        "a b": "q",
        'x"; DROP TABLE t; --': "inj",
        "名前": "一",
    },
    {
        "id": 2,
        "Name": None,
        "score": None,
        "ratio": None,
        "when": None,
        "a b": None,
        'x"; DROP TABLE t; --': None,
        "名前": None,
    },
]
BATCH = pa.RecordBatch.from_pylist(ROWS, schema=SCHEMA)


def old(dest: str, source: str, **extra: object) -> dict[str, object]:
    return {"destinationXdmPath": dest, "sourceAttribute": source, "identity": False, "version": 0, **extra}


def new(dest: str, source: str, kind: str = "EXPRESSION") -> dict[str, object]:
    return {"sourceType": kind, "source": source, "destination": dest}


def run(*mappings: dict[str, object]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = compile_mapping(list(mappings), SCHEMA).apply(BATCH).to_pylist()
    return rows


def test_rename_and_drop_keep_mapping_order() -> None:
    compiled = compile_mapping([old("person.name", "Name"), old("_id", "id")], SCHEMA)
    assert compiled.output_schema.names == ["person.name", "_id"]
    assert compiled.input_columns == ("id", "Name")
    assert compiled.apply(BATCH).to_pylist() == [{"person.name": "ada", "_id": 1}, {"person.name": None, "_id": 2}]


def test_quoted_unicode_and_injection_looking_names_are_plain_identifiers() -> None:
    rows = run(new("a", "`a b`"), new("b", '"x""; DROP TABLE t; --"'), old("c", "名前"), new("d", "名前", "ATTRIBUTE"))
    assert rows[0] == {"a": "q", "b": "inj", "c": "一", "d": "一"}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("id * 10 + 1", [11, 21]),
        ("-id", [-1, -2]),
        ("score * 2", [Decimal("3.00"), None]),
        ("ratio / 2", [0.25, None]),
        ("upper(Name)", ["ADA", None]),
        ("lower('ABC')", ["abc", "abc"]),
        ("trim('  x ')", ["x", "x"]),
        ("length(Name)", [3, None]),
        ("concat(Name, '-', id)", ["ada-1", None]),
        ("substr(Name, 2, 2)", ["da", None]),
        ("coalesce(Name, 'none')", ["ada", "none"]),
        ("iif(id > 1, 'big', 'small')", ["small", "big"]),
        ("round(ratio * 3, 1)", [1.5, None]),
        ("abs(0 - id)", [1, 2]),
        ("cast(id, 'string')", ["1", "2"]),
        ("id = 1 and not (Name = 'x')", [True, False]),
        ("Name = 'ada' or id = 2", [True, True]),
        ("Name != 'ada'", [False, None]),
        ("'it''s'", ["it's", "it's"]),
        ("null", [None, None]),
    ],
)
def test_expressions(expression: str, expected: list[object]) -> None:
    assert [r["out"] for r in run(new("out", expression))] == expected


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        ("id", "string", ["1", "2"]),
        ("id", "short", [1, 2]),
        ("id", "double", [1.0, 2.0]),
        ("score", "decimal(12,3)", [Decimal("1.500"), None]),
        ("'2024-01-02'", "date", [dt.date(2024, 1, 2)] * 2),
        ("'2024-01-02T03:04:05'", "timestamp", [dt.datetime(2024, 1, 2, 3, 4, 5)] * 2),
        ("'true'", "boolean", [True, True]),
        ("when", "string", ["2024-01-01 00:00:00.000000Z", None]),
    ],
)
def test_casts(source: str, target: str, expected: list[object]) -> None:
    compiled = compile_mapping([old("out", source, destinationType=target)], SCHEMA)
    assert [r["out"] for r in compiled.apply(BATCH).to_pylist()] == expected


@pytest.mark.parametrize(
    ("mappings", "message"),
    [
        ([old("x", "Nme + 1")], "unknown column 'Nme' (did you mean 'Name'?)"),
        ([old("x", "uper(Name)")], "unknown function uper() (did you mean upper()?)"),
        ([old("x", "upper(score)")], "upper() does not accept (decimal128(10, 2))"),
        ([old("x", "id"), old("x", "Name")], "mapped twice"),
        ([old("x", "id +")], "ends too early"),
        ([old("x", "substr(Name, 0)")], "counts from 1"),
        ([old("x", "cast(id, 'huge')")], "unknown type"),
        ([old("x", "id", destinationType="uuid")], "unknown type"),
        ([new("x", "missing", "ATTRIBUTE")], "unknown column"),
        ([], "at least one"),
    ],
)
def test_compile_errors_name_the_mapping(mappings: list[dict[str, object]], message: str) -> None:
    with pytest.raises(MappingError) as info:
        compile_mapping(mappings, SCHEMA)
    assert message in info.value.message
    if mappings:
        assert info.value.message.startswith("mappings[")


def test_runtime_cast_failure_names_column_and_value() -> None:
    compiled = compile_mapping([old("n", "Name", destinationType="long")], SCHEMA)
    with pytest.raises(MappingError, match=r"mappings\[0\]: cannot convert 'ada' to int64 for column 'n'"):
        compiled.apply(BATCH)


def test_empty_and_all_null_batches_keep_the_schema() -> None:
    compiled = compile_mapping([old("u", "upper(Name)"), old("k", "'c'"), old("n", "null")], SCHEMA)
    empty = compiled.apply(BATCH.slice(0, 0))
    assert empty.schema == compiled.output_schema and empty.num_rows == 0
    nulls = compiled.apply(BATCH.slice(1, 1))
    assert nulls.schema == compiled.output_schema
    assert nulls.to_pylist() == [{"u": None, "k": "c", "n": None}]


def test_validate_document() -> None:
    body = {"version": 0, "xdmSchema": "s", "mappings": [old("_id", "id"), new("x", "upper(Name)")]}
    assert validate_mapping_document(body) == body["mappings"]
    bad: object
    for bad in (
        [],
        None,
        {"mappings": []},
        {"mappings": [{"destinationXdmPath": "x"}]},
        {"mappings": [old("x", "id", color="red")]},
        {"mappings": [new("x", "upper(")]},
        {"mappings": [{"sourceType": "MAGIC", "source": "a", "destination": "b"}]},
        {"mappings": [old("x", "id", destinationType="nope")]},
    ):
        with pytest.raises(BadRequest):
            validate_mapping_document(bad)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_parser_only_raises_mapping_errors(text: str) -> None:
    with contextlib.suppress(MappingError):
        parse(text)


@settings(max_examples=50, deadline=None)
@given(st.permutations(SCHEMA.names))
def test_identity_mapping_returns_the_input(order: list[str]) -> None:
    compiled = compile_mapping([new(n, n, "ATTRIBUTE") for n in order], SCHEMA)
    assert compiled.apply(BATCH).to_pylist() == [{n: row[n] for n in order} for row in ROWS]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("id / 2", [0.5, 1.0]),  # true division, never silent truncation
        ("coalesce(Name, null, 'z')", ["ada", "z"]),
        ("iif(id = 1, null, id)", [None, 2]),
        ("iif(Name = 'ada', 'y', 'n')", ["y", None]),  # a null condition gives null, as in SQL
        ("Name = null", [None, None]),
        ("not (ratio > 0.1)", [False, None]),
        ("id >= 2 or ratio > 0", [True, True]),
        ("round(ratio, -1)", [0.0, None]),
    ],
)
def test_null_and_division_semantics(expression: str, expected: list[object]) -> None:
    assert [r["out"] for r in run(new("out", expression))] == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("not id", "and/or/not need true/false"),
        ("id and Name", "and/or/not need true/false"),
        ("iif(id, 1, 2)", "true/false condition"),
        ("Name + 'x'", "concat"),
        ("99999999999999999999999", "too large"),
        ("round(ratio, 99999999999)", "between -38 and 38"),
        ("substr(Name, 1, 9999999999)", "between 0 and"),
        ("order dat", "unknown column or invalid expression 'order dat'"),
        ("1 / 0", "divide by zero"),
        ("(" * 300 + "1" + ")" * 300, "nested too deeply"),
        ("-" * 3000 + "1", "mappings[0]"),
    ],
)
def test_more_compile_errors(source: str, message: str) -> None:
    schema = SCHEMA.append(pa.field("order date", pa.string()))
    with pytest.raises(MappingError) as info:
        compile_mapping([old("x", source)], schema)
    assert message in info.value.message and info.value.message.startswith("mappings[0]")


def test_unselected_column_fails_at_compile_naming_it() -> None:
    selected = pa.schema([SCHEMA.field("id"), SCHEMA.field("Name")])
    with pytest.raises(MappingError, match="unknown column 'score'"):
        compile_mapping([old("_id", "id"), old("s", "score * 2")], selected)


def test_odd_column_names_in_the_old_form_wait_for_the_schema() -> None:
    schema = pa.schema([("person.name", pa.string()), ("customer-id", pa.int64()), ("order date", pa.string())])
    mappings = validate_mapping_document(
        {"mappings": [old("n", "person.name"), old("c", "customer-id"), old("d", "order date")]}
    )
    batch = pa.RecordBatch.from_pylist([{"person.name": "p", "customer-id": 3, "order date": "d"}], schema=schema)
    assert compile_mapping(mappings, schema).apply(batch).to_pylist() == [{"n": "p", "c": 3, "d": "d"}]


def test_new_form_source_type_is_normalized() -> None:
    assert validate_mapping_document({"mappings": [new("x", "id", "attribute")]})[0]["sourceType"] == "ATTRIBUTE"


def test_text_without_offset_casts_to_date_time_as_utc() -> None:
    rows = run(old("t", "'2024-01-02T03:04:05'", destinationType="date-time"), old("u", "'2024-01-02 03:04:05+02:00'"))
    assert rows[0]["t"] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_runtime_failure_sample_is_the_first_bad_value() -> None:
    schema = pa.schema([("v", pa.string())])
    values = [str(i) for i in range(5000)] + ["oops"] + ["7"] * 3000
    batch = pa.RecordBatch.from_pydict({"v": values}, schema=schema)
    compiled = compile_mapping([old("n", "v", destinationType="int")], schema)
    with pytest.raises(MappingError, match=r"cannot convert 'oops' to int32 for column 'n'"):
        compiled.apply(batch)


def test_runtime_arithmetic_overflow_is_a_mapping_error() -> None:
    schema = pa.schema([("v", pa.int64())])
    compiled = compile_mapping([old("n", "v * 2")], schema)
    with pytest.raises(MappingError, match=r"mappings\[0\] \('n'\)"):
        compiled.apply(pa.RecordBatch.from_pydict({"v": [2**62]}, schema=schema))


def test_constants_only_still_read_one_column() -> None:
    compiled = compile_mapping([old("k", "'c'")], SCHEMA)
    assert compiled.input_columns == ("id",)
    assert compiled.apply(BATCH).num_rows == 2


def test_batch_of_only_the_input_columns_is_enough() -> None:
    compiled = compile_mapping([old("u", "upper(`a b`)"), old("i", "id")], SCHEMA)
    narrow = BATCH.select(list(compiled.input_columns))
    assert compiled.apply(narrow).to_pylist() == [{"u": "Q", "i": 1}, {"u": None, "i": 2}]


TOKENS = [
    *"idNamescore()'`\",+-*/=<>! 0123.9_名",
    " and ",
    " or ",
    " not ",
    "null",
    "iif(",
    "round(",
    "substr(",
    "cast(",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=30).map("".join))
def test_compiler_only_raises_mapping_errors(text: str) -> None:
    with contextlib.suppress(MappingError):
        compile_mapping([new("out", text)], SCHEMA).apply(BATCH)


def test_round_halves_away_from_zero() -> None:
    assert [r["out"] for r in run(new("out", "round(ratio * 5)"))] == [3.0, None]
