"""Catalog's list filters on `/dataSets`: simple filters (`name=a,b`, `name=!a`), `property=` conditions
and `tags=`, each answered exactly or refused with a 400.

A filter becomes SQL conditions where a store column holds what the dataset shows (`created`,
`updated`, `id`, and the lower-cased `name_key`, a superset that the exact, letter-case-sensitive
check then narrows), and otherwise a check on each dataset's view. Catalog's `~` is a regular
expression; a backtracking engine can spend seconds on a hostile one, so only its literal form is
answered (text with optional `^` and `$` anchors) and anything else is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from headwater.domain.numbers import ascii_int
from headwater.errors import BadRequest
from headwater.store.keys import fits
from headwater.store.paging import Cond

Check = Callable[[dict[str, Any]], bool]

# A dataset's top-level properties, by what a filter can do with them.
_TEXT = ("name", "description", "imsOrg", "sandboxId", "sandboxName", "createdUser", "createdClient",
         "updatedUser", "id", "version", "schema")  # fmt: skip
_NUMBER = {"created": "created_at", "updated": "updated_at"}
_OBJECT = ("tags", "schemaRef", "classification", "fileDescription", "iceberg")
# Every dataset has these (so testing whether they exist needs no read).
_ALWAYS = ("name", "description", "imsOrg", "sandboxId", "sandboxName", "id", "version", "created", "updated",
           "classification", "fileDescription", "iceberg", "tags")  # fmt: skip
# Catalog's version of a dataset; Headwater's datasets cannot be modified, so every one is 1.0.0.
DATASET_VERSION = "1.0.0"
# The simple filters (`{property}={value}`) Catalog documents for the dataSets list.
SIMPLE = ("name", "description", "createdUser", "createdClient", "updatedUser", "created", "updated", "version")
_MAX_VALUES = 100
_TERM = re.compile(r"^(?P<path>[^=!<>~]*)(?P<op>==|!=|<=|>=|<|>|~)(?P<value>.*)$", re.S)
_NAME = re.compile(r"^[A-Za-z_@][A-Za-z0-9_@]*$")
_REGEX_SPECIAL = set(".^$*+?()[]{}|\\")


@dataclass(frozen=True)
class DatasetFilter:
    """What a list request keeps: SQL conditions, and checks on each view for the rest."""

    conds: tuple[Cond, ...] = ()
    checks: tuple[Check, ...] = ()

    def matches(self, view: dict[str, Any]) -> bool:
        return all(check(view) for check in self.checks)

    def __add__(self, other: DatasetFilter) -> DatasetFilter:
        return DatasetFilter(self.conds + other.conds, self.checks + other.checks)


NONE = DatasetFilter()
_NEVER = DatasetFilter(conds=(Cond("id", "never"),))


def _bad(message: str) -> BadRequest:
    return BadRequest(message, code="1000")


def parse_filters(params: Sequence[tuple[str, str]]) -> DatasetFilter:
    """The filter of a list request's filter parameters (name, value), all AND-ed as Catalog combines them."""
    out = NONE
    for name, value in params:
        if "\x00" in value:
            # No stored text holds one (the edge refuses it in bodies), and PostgreSQL cannot compare it.
            raise _bad(f"The {name} filter holds a NUL character (%00), which no dataset's value can hold.")
        if name == "property":
            out += _property(value)
        elif name == "tags":
            out += _tags(value)
        elif name == "enableErrorDiagnostics":
            raise _bad(
                "The enableErrorDiagnostics filter is not supported: Headwater datasets have no error "
                "diagnostics (the field is refused on create)."
            )
        elif name in SIMPLE:
            negate = value.startswith("!")
            out += _equal(name, _values(name, value[1:] if negate else value), negate=negate)
        else:  # pragma: no cover - the route passes only the filter parameters
            raise _bad(f"The query parameter {name[:100]!r} is not supported.")
    return out


def _values(prop: str, text: str) -> tuple[str, ...]:
    values = tuple(text.split(","))
    if not text or any(v == "" for v in values):
        raise _bad(f"The {prop} filter needs a value (several are separated by commas).")
    if len(values) > _MAX_VALUES:
        raise _bad(f"The {prop} filter may list at most {_MAX_VALUES} values.")
    return values


def _integers(prop: str, values: tuple[str, ...]) -> tuple[int, ...]:
    numbers = tuple(ascii_int(v.strip(), low=0, high=2**63 - 1) for v in values)
    if any(n is None for n in numbers):
        raise _bad(f"The {prop} filter compares epoch milliseconds: give whole non-negative numbers.")
    return tuple(n for n in numbers if n is not None)


def _equal(prop: str, values: tuple[str, ...], *, negate: bool) -> DatasetFilter:
    """`prop` equal to one of `values` (or, negated, to none of them): text compares exactly."""
    if prop in _NUMBER:
        return DatasetFilter(conds=(Cond(_NUMBER[prop], "not_in" if negate else "in", _integers(prop, values)),))
    if prop == "version":
        return NONE if (DATASET_VERSION in values) != negate else _NEVER
    if prop == "id":
        return DatasetFilter(conds=(Cond("id", "not_in" if negate else "in", values),))
    if prop == "name":
        matchers = [_wildcard(v) for v in values]

        def named(view: dict[str, Any]) -> bool:
            name = view.get("name")
            return isinstance(name, str) and any(m(name) for m in matchers) != negate

        plain = not any("*" in v for v in values)
        if plain and not negate and all(fits("name_key", v) for v in values):
            # The index narrows the rows to names equal but for letter case; the check decides.
            return DatasetFilter(conds=(Cond("name_key", "in", tuple(v.lower() for v in values)),), checks=(named,))
        return DatasetFilter(checks=(named,))
    wanted = set(values)

    def equal(view: dict[str, Any]) -> bool:
        value = view.get(prop)
        return (isinstance(value, str) and value in wanted) != negate

    return DatasetFilter(checks=(equal,))


def _wildcard(pattern: str) -> Callable[[str], bool]:
    """Catalog's name pattern: `*` stands for any text (also none), `**` for a literal asterisk."""
    parts: list[str | None] = []  # text, or None for a wildcard
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            parts.append("*")
            i += 2
        elif pattern[i] == "*":
            parts.append(None)
            i += 1
        else:
            parts.append(pattern[i])
            i += 1
    if None not in parts:
        literal = "".join(p for p in parts if p is not None)
        return lambda text: text == literal
    return lambda text: _glob(parts, text)


def _glob(parts: list[str | None], text: str) -> bool:
    """Whether `text` matches `parts` (characters and wildcards), in O(len(text) * len(parts))."""
    p = t = 0
    star, mark = -1, 0
    while t < len(text):
        if p < len(parts) and parts[p] is not None and parts[p] == text[t]:
            p, t = p + 1, t + 1
        elif p < len(parts) and parts[p] is None:
            star, mark, p = p, t, p + 1
        elif star >= 0:
            p, mark = star + 1, mark + 1
            t = mark
        else:
            return False
    while p < len(parts) and parts[p] is None:
        p += 1
    return p == len(parts)


def _property(text: str) -> DatasetFilter:
    """One `property=` condition: `name` (exists), `!name`, `name==a,b`, `name!=a`, `name~^text$`,
    `created>ms`, `version<=1.0.0`."""
    raw = text.strip()
    bare = raw[1:] if raw.startswith("!") else raw
    if _NAME.match(bare):
        return _exists(_known(bare), negate=bare != raw)
    match = _TERM.match(raw)
    if not match:
        raise _bad(f"Invalid property filter {raw[:200]!r}: use name, !name, name==value, name~text, created>ms, ...")
    prop, op, value = _known(match.group("path").strip()), match.group("op"), match.group("value")
    if prop in _OBJECT:
        raise _bad(f"{prop} is an object: a property filter can only test whether it exists ({prop} or !{prop}).")
    if op in ("==", "!="):
        return _equal(prop, _values(prop, value), negate=op == "!=")
    if op == "~":
        return _regex(prop, value)
    return _compare(prop, op, value)


def _known(prop: str) -> str:
    if "." in prop or "[" in prop:
        raise _bad(f"The property filter {prop[:100]!r} is not a top-level property: Catalog filters on those only.")
    if prop not in (*_TEXT, *_NUMBER, *_OBJECT):
        raise _bad(
            f"Datasets have no property {prop[:100]!r} to filter on. "
            f"Filter on one of {', '.join((*_TEXT, *_NUMBER, *_OBJECT))}."
        )
    return prop


def _exists(prop: str, *, negate: bool) -> DatasetFilter:
    if prop in _ALWAYS:
        return _NEVER if negate else NONE

    def present(view: dict[str, Any]) -> bool:
        return (view.get(prop) is not None) != negate

    return DatasetFilter(checks=(present,))


def _regex(prop: str, pattern: str) -> DatasetFilter:
    """`~`: only literal text, optionally anchored with `^` and `$` (backslash escapes a symbol)."""
    if prop in _NUMBER:
        raise _bad(f"{prop} is a number: compare it with ==, !=, <, <=, > or >=.")
    start = pattern.startswith("^")
    body = pattern[1:] if start else pattern
    end = body.endswith("$") and not body.endswith("\\$")
    body = body[:-1] if end else body
    literal: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body) and not body[i + 1].isalnum():
            literal.append(body[i + 1])
            i += 2
            continue
        if char in _REGEX_SPECIAL:
            raise _bad(
                f"The ~ filter on {prop} supports literal text with optional ^ and $ anchors (escape a symbol "
                f"with a backslash); {char!r} as a regular expression operator is not supported."
            )
        literal.append(char)
        i += 1
    text = "".join(literal)

    def found(view: dict[str, Any]) -> bool:
        value = view.get(prop)
        if not isinstance(value, str):
            return False
        if start and end:
            return value == text
        if start:
            return value.startswith(text)
        if end:
            return value.endswith(text)
        return text in value

    return DatasetFilter(checks=(found,))


def _version(text: str) -> tuple[int, ...] | None:
    parts = text.strip().split(".")
    numbers = [ascii_int(p, low=0, high=10**9) for p in parts]
    return None if not parts or any(n is None for n in numbers) else tuple(n for n in numbers if n is not None)


_OUR_VERSION = (1, 0, 0)  # DATASET_VERSION as numbers
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compare(prop: str, op: str, value: str) -> DatasetFilter:
    if "," in value:
        raise _bad(f"The {op} operator takes one value.")
    if prop in _NUMBER:
        return DatasetFilter(conds=(Cond(_NUMBER[prop], op, _integers(prop, (value,))),))
    if prop == "version":
        wanted = _version(value)
        if wanted is None:
            raise _bad("A version compares as dotted whole numbers, e.g. version>1.0.3.")
        return NONE if _ORDER[op](_OUR_VERSION, wanted) else _NEVER
    raise _bad(f"{prop} is text: compare created, updated or version with {op}; filter text with ==, != or ~.")


def _tags(text: str) -> DatasetFilter:
    """`tags=name:value,other:*`: every listed tag present with a value matching (`*` for any text)."""
    wanted: list[tuple[str, Callable[[str], bool]]] = []
    for pair in _values("tags", text):
        tag, colon, pattern = pair.partition(":")
        if not colon or not tag or not pattern:
            raise _bad("The tags filter lists name:value pairs, e.g. tags=sampleTag:123456,secondTag:*.")
        wanted.append((tag, _wildcard(pattern)))

    def tagged(view: dict[str, Any]) -> bool:
        tags = view.get("tags")
        if not isinstance(tags, dict):
            return False
        for tag, matches in wanted:
            values = tags.get(tag)
            if not isinstance(values, list) or not any(isinstance(v, str) and matches(v) for v in values):
                return False
        return True

    return DatasetFilter(checks=(tagged,))
