"""Every JSON request body is checked here before any route sees it.

Values that Python's `json` module accepts but that later break storage, sorting or rendering are
refused at the edge with a 400, so nothing stored can turn a later read into a 500:
- text that is not UTF-8, lone surrogates (`"\\ud800"`) and NUL characters, which neither SQLite's
  driver, PostgreSQL text nor a UTF-8 response can carry;
- nesting deeper than MAX_DEPTH, which recursive encoders and sort keys would exhaust;
- integers outside signed 64 bits (what every metadata database and JSON reader can hold) and
  numbers too long or too large to be finite, including NaN and Infinity, which JSON does not have.
"""

from __future__ import annotations

import json
import math
from typing import Any

from headwater.domain.numbers import INT64_MAX, INT64_MIN

MAX_DEPTH = 64
MAX_NUMBER_CHARS = 100


class JsonRefused(ValueError):
    """A body that is not acceptable JSON; the message says why and never quotes the body."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _parse_int(text: str) -> int:
    if len(text) > 20 or not INT64_MIN <= int(text) <= INT64_MAX:
        raise JsonRefused(
            f"The request body holds an integer of {len(text.lstrip('-'))} digits: integers must lie between "
            "-9223372036854775808 and 9223372036854775807 (send larger values as strings)."
        )
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text) if len(text) <= MAX_NUMBER_CHARS else math.inf
    if not math.isfinite(value):
        raise JsonRefused(
            f"The request body holds a number that is too long or too large ({len(text)} characters): "
            "numbers must be finite doubles (send exact decimals as strings)."
        )
    return value


def _parse_constant(name: str) -> Any:
    raise JsonRefused(f"The request body holds {name}, which is not JSON: send null or a string instead.")


def _check_text(text: str, where: str) -> None:
    if text.isascii():
        if "\x00" in text:
            raise JsonRefused(f"The request body holds a NUL character (\\u0000) in {where}, which cannot be stored.")
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JsonRefused(
            f"The request body holds an unpaired UTF-16 surrogate in {where}: it is not valid Unicode."
        ) from None


def _path(parts: tuple[Any, ...]) -> str:
    shown = "".join(f"[{p}]" if isinstance(p, int) else f".{str(p)[:40]}" for p in parts[:8])
    return ("the body" + shown) if shown else "the body"


def check_body(raw: bytes) -> Any:
    """The parsed body if it is acceptable JSON; JsonRefused otherwise (json.JSONDecodeError for bad syntax)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonRefused(f"The request body is not valid UTF-8 (at byte {exc.start}).") from None
    try:
        value = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except RecursionError:
        raise JsonRefused(f"The request body is nested more than {MAX_DEPTH} levels deep.") from None
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        item, parts = stack.pop()
        if len(parts) > MAX_DEPTH:
            raise JsonRefused(f"The request body is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(item, str):
            _check_text(item, _path(parts))
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key, "a key of " + _path(parts))
                stack.append((child, (*parts, key)))
        elif isinstance(item, list):
            stack.extend((child, (*parts, index)) for index, child in enumerate(item))
    return value
