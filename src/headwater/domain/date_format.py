"""`deltaColumn.dateFormat`: when text delta values can be ordered as text.

A cursor compares delta values in the source, with the column's own order. For timestamp and date
columns that order is time order whatever `dateFormat` says, so the format only describes them. A
text column is compared as text, which is time order only when every value is written with fixed-
width fields from the most significant down: `YYYY-MM-DD`, `yyyyMMddHHmmss`, `YYYY-MM-DDTHH:mm:ss.SSS`.
Any other format (`MM/DD/YYYY`, month names, 12-hour clocks) would order values wrongly, so it is
refused rather than accepted and ignored.
"""

from __future__ import annotations

import re

import pyarrow as pa

from headwater.errors import BadRequest

# Fields from the most significant down; each pattern is fixed width.
_FIELDS = (
    re.compile(r"YYYY|yyyy|uuuu"),
    re.compile(r"MM"),
    re.compile(r"DD|dd"),
    re.compile(r"HH"),
    re.compile(r"mm"),
    re.compile(r"ss"),
    re.compile(r"S{1,9}"),
)
# What may stand between fields: punctuation, a space, or a quoted or bare `T` / trailing `Z`.
_SEPARATOR = re.compile(r"(?:[-/:. _]|'T'|T)?")
_END = re.compile(r"(?:'Z'|Z|XXX|X)?")


def sorts_as_text(date_format: str) -> bool:
    """True if text written in `date_format` sorts in time order (fixed width, most significant first)."""
    pos, used = 0, 0
    for field in _FIELDS:
        if pos == len(date_format):
            break
        if used:
            sep = _SEPARATOR.match(date_format, pos)
            pos = sep.end() if sep else pos
        match = field.match(date_format, pos)
        if match is None:
            break
        pos, used = match.end(), used + 1
    end = _END.match(date_format, pos)
    return used > 0 and end is not None and end.end() == len(date_format)


def check_date_format(date_format: str | None, arrow_type: pa.DataType, *, column: str, code: str) -> None:
    """Refuse a `dateFormat` that the delta column's comparison would not honour."""
    if date_format is None or pa.types.is_temporal(arrow_type):
        return  # typed values order themselves; the format describes them
    if not pa.types.is_string(arrow_type) and not pa.types.is_large_string(arrow_type):
        raise BadRequest(
            f"deltaColumn.dateFormat applies to text or date columns; {column[:100]!r} holds {arrow_type}. "
            "Remove dateFormat.",
            code=code,
        )
    if not sorts_as_text(date_format):
        raise BadRequest(
            f"deltaColumn.dateFormat {date_format[:60]!r} does not sort in time order as text: Headwater "
            f"compares the text values of {column[:100]!r}, so use a format with fixed-width fields from "
            "the year down (e.g. YYYY-MM-DD or YYYY-MM-DDTHH:mm:ss) or a timestamp column.",
            code=code,
        )
