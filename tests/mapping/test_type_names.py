"""One table of platform type names: mappings and datasets accept the same names."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest

from headwater.domain.jsonify import json_value
from headwater.domain.type_names import TYPE_NAMES, arrow_type_named, type_name_of
from headwater.errors import BadRequest
from headwater.mapping._compile import parse_type
from headwater.service.datasets import arrow_type


@pytest.mark.parametrize("name", [*TYPE_NAMES, "decimal(18,4)", "Decimal( 10 , 2 )", " TIME "])
def test_a_mapping_and_a_dataset_accept_the_same_names(name: str) -> None:
    assert parse_type(name) == arrow_type(name, field="t") == arrow_type_named(name)


@pytest.mark.parametrize("name", ["varchar", "decimal(40,2)", "decimal(3,4)", "decimal(0,0)", ""])
def test_unknown_names_are_refused_by_both(name: str) -> None:
    assert arrow_type_named(name) is None
    with pytest.raises(BadRequest, match="unknown type"):
        arrow_type(name, field="t")


@pytest.mark.parametrize(
    ("arrow", "name"),
    [
        (pa.int32(), "int"),
        (pa.float64(), "double"),
        (pa.timestamp("us", tz="UTC"), "date-time"),
        (pa.timestamp("us"), "timestamp"),
        (pa.time64("us"), "time"),
        (pa.decimal128(18, 4), "decimal(18,4)"),
        (pa.list_(pa.int64()), "list<item: int64>"),
    ],
)
def test_a_dataset_shows_the_first_name_of_its_type(arrow: pa.DataType, name: str) -> None:
    assert type_name_of(arrow) == name
    if name in TYPE_NAMES:
        assert arrow_type_named(name) == arrow


def test_json_value_renders_what_json_cannot_carry() -> None:
    moment = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert json_value(float("nan")) == "NaN" and json_value(float("-inf")) == "-Infinity"
    assert json_value(float("inf")) == "Infinity" and json_value(None) is None
    assert json_value(decimal.Decimal("1.50")) == "1.50"
    assert json_value(decimal.Decimal("0E-9")) == "0.000000000" and json_value(decimal.Decimal("1E+3")) == "1000"
    assert json_value(b"\x00\xff") == "AP8="
    assert json_value(moment) == "2024-01-01T12:00:00+02:00"
    assert json_value([moment], zoneless_utc=True) == ["2024-01-01T10:00:00"]
    assert json_value([("k", 1)]) == [["k", 1]]
