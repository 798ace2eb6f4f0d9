"""Which `deltaColumn.dateFormat` values a text delta column can honour (domain/date_format.py)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from headwater.domain.date_format import check_date_format, sorts_as_text
from headwater.errors import BadRequest


@pytest.mark.parametrize(
    "fmt",
    [
        "YYYY-MM-DD",
        "yyyy-MM-dd",
        "yyyyMMdd",
        "YYYY-MM-DDTHH:mm:ss",
        "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
        "YYYY-MM-DD HH:mm:ss.SSSSSS",
        "YYYY",
        "YYYY-MM",
        "yyyy/MM/dd HH:mm",
    ],
)
def test_fixed_width_formats_from_the_year_down_sort_as_text(fmt: str) -> None:
    assert sorts_as_text(fmt)


@pytest.mark.parametrize(
    "fmt", ["MM/DD/YYYY", "DD-MM-YYYY", "dd MMM yyyy", "YYYY-M-D", "hh:mm a", "YYYY-DD-MM", "", "epoch", "YYYY-MM-DD x"]
)
def test_formats_that_would_order_values_wrongly_do_not(fmt: str) -> None:
    assert not sorts_as_text(fmt)


def test_typed_columns_take_any_format_as_a_description() -> None:
    check_date_format("MM/DD/YYYY", pa.timestamp("us", "UTC"), column="updated_at", code="1367")
    check_date_format("MM/DD/YYYY", pa.date32(), column="day", code="1367")


def test_a_text_column_refuses_a_format_it_cannot_order_and_names_it() -> None:
    with pytest.raises(BadRequest) as err:
        check_date_format("MM/DD/YYYY", pa.string(), column="day_text", code="1367")
    assert err.value.code == "1367" and "MM/DD/YYYY" in str(err.value) and "day_text" in str(err.value)
    check_date_format("YYYY-MM-DD", pa.string(), column="day_text", code="1367")


def test_a_number_column_refuses_a_date_format() -> None:
    with pytest.raises(BadRequest, match="applies to text or date columns"):
        check_date_format("YYYY-MM-DD", pa.int64(), column="id", code="1367")
