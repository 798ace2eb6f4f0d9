"""The operators and one-argument functions of mapping expressions, over Arrow arrays and scalars.

Binary operators unify a bare `null` with the other side's type, compare dates with text by reading
the text as a date, divide integers as floats, and insist on booleans for and/or/not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from headwater.mapping._parser import MappingError

# An Arrow array or scalar (pyarrow ships no type stubs, so mypy sees it as Any).
Value: TypeAlias = Any


def unify(values: Sequence[Value]) -> list[Value]:
    """Give a bare `null` literal the type of its siblings, so `coalesce(x, null)` type-checks."""
    typed = next((v.type for v in values if not pa.types.is_null(v.type)), None)
    if typed is None:
        return list(values)
    return [pa.scalar(None, typed) if pa.types.is_null(v.type) else v for v in values]


def _arith(name: str) -> Callable[..., Value]:
    fn = getattr(pc, name)
    return lambda a, b: fn(*unify([a, b]))


def is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _compare(name: str) -> Callable[..., Value]:
    fn = getattr(pc, name)

    def compare(a: Value, b: Value) -> Value:
        a, b = unify([a, b])
        # Arrow has no date-vs-text kernel; people write `when >= '2024-01-01'`, so read the text as the
        # other side's type (a bad literal then fails at flow creation, like any constant error).
        if pa.types.is_temporal(a.type) and is_text(b.type):
            b = convert(b, a.type)
        elif pa.types.is_temporal(b.type) and is_text(a.type):
            a = convert(a, b.type)
        return fn(a, b)

    return compare


def _divide(a: Value, b: Value) -> Value:
    # True division: `price / 100` on integer columns must not silently truncate.
    a, b = unify([a, b])
    if pa.types.is_integer(a.type) and pa.types.is_integer(b.type):
        a, b = pc.cast(a, pa.float64()), pc.cast(b, pa.float64())
    return pc.divide_checked(a, b)


def _boolean(fn: Callable[..., Value]) -> Callable[..., Value]:
    def check(*values: Value) -> Value:
        values = tuple(unify(values))
        for v in values:
            if pa.types.is_null(v.type):
                continue
            if not pa.types.is_boolean(v.type):
                raise MappingError(f"and/or/not need true/false values, not {v.type}")
        return fn(*[pc.cast(v, pa.bool_()) for v in values])

    return check


BINARY: dict[str, Callable[[Value, Value], Value]] = {
    "+": _arith("add_checked"),
    "-": _arith("subtract_checked"),
    "*": _arith("multiply_checked"),
    "/": _divide,
    "=": _compare("equal"),
    "!=": _compare("not_equal"),
    "<": _compare("less"),
    "<=": _compare("less_equal"),
    ">": _compare("greater"),
    ">=": _compare("greater_equal"),
    "and": _boolean(pc.and_kleene),
    "or": _boolean(pc.or_kleene),
}
NOT = _boolean(pc.invert)


def as_text(value: Value) -> Value:
    # binary_join_element_wise needs one string type for all its arguments, so large_string is narrowed too.
    return value if pa.types.is_string(value.type) else pc.cast(value, pa.string())


UNARY: dict[str, Callable[[Value], Value]] = {
    "upper": pc.utf8_upper,
    "ucase": pc.utf8_upper,  # Data Prep's name
    "lower": pc.utf8_lower,
    "lcase": pc.utf8_lower,  # Data Prep's name
    "trim": pc.utf8_trim_whitespace,
    "ltrim": pc.utf8_ltrim_whitespace,
    "rtrim": pc.utf8_rtrim_whitespace,
    "length": pc.utf8_length,
    # Date parts of a date or timestamp (a zoned timestamp's parts are in its zone, UTC for ours).
    "year": pc.year,
    "month": pc.month,
    "day": pc.day,
    "hour": pc.hour,
    "minute": pc.minute,
    "second": pc.second,
}


def convert(value: Value, target: pa.DataType) -> Value:
    """`pc.cast`, except that text without a UTC offset cast to a zoned timestamp is read as UTC."""
    try:
        return pc.cast(value, target)
    except pa.ArrowInvalid:
        if not (pa.types.is_timestamp(target) and target.tz and pa.types.is_string(value.type)):
            raise
    naive = pc.cast(value, pa.timestamp(target.unit))
    return pc.cast(pc.assume_timezone(naive, "UTC"), target)
