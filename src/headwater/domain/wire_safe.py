"""Stored documents made safe to render, whatever was stored before the edge checked input.

The API refuses bodies that JSON encoders and databases cannot carry (see api/strict_json.py), but
a document stored by an older version, or written by hand into the metadata database, may still
hold them. One such item must not turn every later list of its sandbox into a 500, so each value
that cannot be rendered is replaced by a stand-in that says what was there.
"""

from __future__ import annotations

import math
from typing import Any

MAX_DEPTH = 64
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def wire_safe(value: Any, depth: int = 0) -> Any:
    """`value` with unrenderable parts replaced: too deep, non-finite, oversized integers, invalid text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if _INT_MIN <= value <= _INT_MAX else "<integer too large to show>"
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
