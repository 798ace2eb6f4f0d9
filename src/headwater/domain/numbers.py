"""Integers from text, the strict way: ASCII digits only, within stated bounds.

`str.isdigit()` accepts characters such as `²` or Arabic-Indic digits that `int()` then rejects or
reads differently, and `int()` of a 5,000-digit string raises: both once turned bad input into 500s.
"""

from __future__ import annotations

import re

_INTEGER = re.compile(r"-?[0-9]{1,19}")
# The range of a 64-bit signed integer: what both metadata databases and Iceberg's `long` hold.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def ascii_int(text: object, *, low: int, high: int) -> int | None:
    """The integer `text` spells in ASCII digits (an optional leading minus), if within [low, high]; else None."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if low <= text <= high else None
    if not isinstance(text, str):
        return None
    stripped = text.strip()
    if not _INTEGER.fullmatch(stripped):
        return None
    value = int(stripped)
    return value if low <= value <= high else None
