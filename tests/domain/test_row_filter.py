"""Row filters parsed and bound without a database: each bad-filter class has its Adobe code."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from typing import Any

import pyarrow as pa
import pytest

from headwater.domain import ColumnInfo, TableSchema
from headwater.domain.row_filter import (
    MAX_DEPTH,
    Comparison,
    Junction,
    Membership,
    Negation,
    bind_filter,
    decode_filter,
    parse_filter,
)
from headwater.errors import BadRequest
from tests.support.pql import BAD, cmp, field, fn, lit, pql


def _col(name: str, arrow: pa.DataType, source: str) -> ColumnInfo:
    return ColumnInfo(name=name, source_type=source, arrow_type=arrow, platform_type="string", xdm={})


SCHEMA = TableSchema(
    "s.people",
    (
        _col("id", pa.int32(), "integer"),
        _col("city", pa.string(), "text"),
        _col("amount", pa.decimal128(10, 2), "numeric(10,2)"),
        _col("born", pa.date32(), "date"),
        _col("seen", pa.timestamp("us", tz="UTC"), "timestamp with time zone"),
        _col("local", pa.timestamp("us"), "timestamp without time zone"),
        _col("score", pa.float64(), "double precision"),
        _col("active", pa.bool_(), "boolean"),
        _col("note", pa.string(), "text"),
        _col("tags", pa.list_(pa.string()), "text[]"),
    ),
)


def _code(doc: Any) -> str:
    with pytest.raises(BadRequest) as raised:
        bind_filter(parse_filter(doc), SCHEMA)
    assert raised.value.message.startswith("Invalid row filter: ")
    return raised.value.code


@pytest.mark.parametrize(("doc", "code"), [(doc, code) for _, doc, code in BAD], ids=[c for c, _, _ in BAD])
def test_each_bad_filter_class_has_its_code(doc: Any, code: str) -> None:
    assert _code(doc) == code


def test_more_bad_shapes() -> None:
    assert _code(pql(cmp("=", "tags", "x"))) == "1379"  # arrays cannot be compared
    assert _code(pql(cmp("=", "id", 2**63))) == "1379"
    assert _code(pql(cmp("=", "id", True))) == "1379"
    assert _code(pql(cmp("=", "city", 5))) == "1379"
    assert _code(pql(cmp("=", "city", ["a"]))) == "1390"
    assert _code(pql(fn("in", field("id"), lit([])))) == "1390"
    assert _code(pql(fn("and"))) == "1390"
    assert _code(pql({"nodeType": "fnApply", "fnName": "=", "params": [{"nodeType": "literal", "value": 1}]})) == "1390"
    assert _code({"type": "PQL", "format": "pql/json", "value": cmp("=", "id", 1), "sql": "1=1"}) == "1390"
    assert _code("city = 'x'") == "1390"
    deep: dict[str, Any] = cmp("=", "id", 1)
    for _ in range(MAX_DEPTH + 1):
        deep = fn("not", deep)
    assert _code(pql(deep)) == "1390"
    missing_value = pql(fn("=", {"nodeType": "fieldLookup", "fieldName": "id"}, {"nodeType": "literal"}))
    assert _code(missing_value) == "1377"


def test_values_are_coerced_to_the_column_type() -> None:
    doc = pql(
        fn(
            "and",
            cmp("=", "id", "7"),
            cmp("<", "amount", 20.5),
            cmp(">=", "born", "2021-01-01"),
            cmp("<", "seen", "2024-02-01T01:00:00+01:00"),
            cmp("<", "local", "2024-02-01T01:00:00+01:00"),
            cmp("=", "active", "false"),
            cmp(">", "score", 3),
            fn("not", cmp("=", "city", None)),
            fn("in", {"nodeType": "fieldLookup", "fieldName": "id"}, {"nodeType": "literal", "value": [1, "2"]}),
        )
    )
    bound = bind_filter(parse_filter(doc), SCHEMA)
    assert bound.bound and bound.columns() == ["active", "amount", "born", "city", "id", "local", "score", "seen"]
    assert isinstance(bound.root, Junction)
    values = [p.value for p in bound.root.parts if isinstance(p, Comparison)]
    assert values == [
        7,
        decimal.Decimal("20.5"),
        dt.date(2021, 1, 1),
        dt.datetime(2024, 2, 1, tzinfo=dt.UTC),
        dt.datetime(2024, 2, 1),
        False,
        3.0,
    ]
    negated = bound.root.parts[7]
    assert negated == Negation(Comparison("city", "=", None))
    assert bound.root.parts[8] == Membership("id", (1, 2))


def test_literal_first_is_mirrored() -> None:
    mirrored = fn("<", {"nodeType": "literal", "value": 5}, {"nodeType": "fieldLookup", "fieldName": "id"})
    parsed = parse_filter(pql(mirrored))
    assert parsed.root == Comparison("id", ">", 5)


def test_explore_filters_decode_from_base64() -> None:
    doc = pql(cmp("like", "city", "M%"))
    raw = json.dumps(doc).encode()
    for text in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")):
        assert decode_filter(text).root == Comparison("city", "like", "M%")
    for bad in ("not base64!", base64.b64encode(b"not json").decode(), "", "x" * 70_000):
        with pytest.raises(BadRequest) as raised:
            decode_filter(bad)
        assert raised.value.code == "1389"
    # Decodable but not a PQL document: the class of its fault, not 1389.
    with pytest.raises(BadRequest) as raised:
        decode_filter(base64.b64encode(json.dumps({"type": "SQL"}).encode()).decode())
    assert raised.value.code == "1355"
