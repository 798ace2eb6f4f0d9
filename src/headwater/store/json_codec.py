"""Decoding the metadata store's JSON: the values `json.loads` gives, faster, and whether they render as is.

A page of 20 flows decoded each item's document and then checked that it renders as is
(`wire_safe.renders_as_is`: a `json.dumps` and a scan for long runs of digits per item), which was
most of the CPU of rendering the page. orjson decodes about 2.5x faster than `json.loads` and refuses
what cannot be rendered: NaN and infinities, lone surrogates, numbers beyond a double. The one value
it decodes differently is an integer beyond 64 bits (a float, not an int), so a text with a run of
16 or more digits is left to `json.loads`, as is every text orjson refuses. A value orjson decoded
from a text with fewer than MAX_DEPTH brackets therefore holds nothing `wire_safe` would replace:
no NaN or infinity, no lone surrogate, no integer beyond 64 bits, no nesting that deep. (It may
still fail `renders_as_is`, a cheaper and stricter check made on the encoded text, e.g. for 19
Arabic-Indic digits in a string; that check only decides whether to walk.)
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from headwater.domain.wire_safe import MAX_DEPTH

# bytes.translate table: ASCII digits to "1", every other byte to "0" (C code, about 1 us per KiB).
_DIGIT_MASK = bytes(0x31 if 0x30 <= b <= 0x39 else 0x30 for b in range(256))
# Runs of 16 digits: beyond them an integer may not fit 64 bits, and a float's digits may round
# differently from CPython's parser; neither is left to orjson.
_LONG_RUN = b"1" * 16


def loads_checked(text: str | bytes) -> tuple[Any, bool]:
    """The value `json.loads(text)` gives, and whether `wire_safe` would leave it as it is (False: not known)."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if _LONG_RUN not in raw.translate(_DIGIT_MASK) and raw.count(b"{") + raw.count(b"[") < MAX_DEPTH:
        try:
            return orjson.loads(raw), True
        except orjson.JSONDecodeError:
            pass  # NaN, a lone surrogate, a number beyond a double, or not JSON: json.loads decides
    return json.loads(text), False


def loads(text: str | bytes) -> Any:
    """`json.loads`, faster: the store's JSON columns decode with this."""
    return loads_checked(text)[0]
