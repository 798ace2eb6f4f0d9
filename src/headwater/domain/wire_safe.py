"""Stored documents made safe to render, whatever was stored before the edge checked input.

The API refuses bodies that JSON encoders and databases cannot carry (see api/strict_json.py), but
a document stored by an older version, or written by hand into the metadata database, may still
hold them. One such item must not turn every later list of its sandbox into a 500, so each value
that cannot be rendered is replaced by a stand-in that says what was there.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from headwater.domain.numbers import INT64_MAX, INT64_MIN

MAX_DEPTH = 64
# 19 digits in a row may be an integer beyond 64 bits (or just text): such a value takes the slow path.
_LONG_DIGITS = re.compile(r"\d{19,}")


def renders_as_is(value: Any) -> bool:
    """Whether `value` holds nothing `wire_safe` would replace, decided by C code in one pass.

    The encoder refuses NaN and infinities, UTF-8 encoding refuses lone surrogates, and a text with
    fewer than MAX_DEPTH brackets cannot nest that deep and with no run of 19 digits holds no integer
    beyond 64 bits. Brackets or digits inside strings only send a safe value down the slow path.
    """
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")
    except (ValueError, TypeError, RecursionError):  # UnicodeEncodeError is a ValueError
        return False
    return text.count("{") + text.count("[") < MAX_DEPTH and _LONG_DIGITS.search(text) is None


def wire_safe(value: Any, depth: int = 0) -> Any:
    """`value` with unrenderable parts replaced: too deep, non-finite, oversized integers, invalid text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if INT64_MIN <= value <= INT64_MAX else "<integer too large to show>"
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value if value.isascii() else value.encode("utf-8", "replace").decode("utf-8")
    if depth >= MAX_DEPTH:
        return "<nested too deeply to show>"
    if isinstance(value, dict):
        return {wire_safe(str(k), depth): wire_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [wire_safe(v, depth + 1) for v in value]
    return str(value)
