"""Compiling a mapping set against an input Arrow schema, and applying it to record batches.

Every expression is type-checked at compile time by running it on zero-length arrays of the input
types: Arrow compute raises there exactly when it would raise on real data for a type mismatch, so
`upper(amount)` on a decimal fails when the flow is created, not in a run.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from headwater.domain.type_names import arrow_type_named, known_type_names
from headwater.mapping._operators import BINARY, NOT, UNARY, Value, as_text, convert, is_text, unify
from headwater.mapping._parser import Binary, Call, Column, Literal, MappingError, Node, Unary, parse

Evaluator = Callable[[pa.RecordBatch], Value]
# What Arrow compute raises for a type mismatch or a bad value (OverflowError: out of C range).
_ARROW_ERRORS = (pa.ArrowException, OverflowError)
_INT32 = 2**31 - 1


def parse_type(name: Any) -> pa.DataType:
    """A `destinationType` / `cast()` type name as an Arrow type."""
    if not isinstance(name, str):
        raise MappingError("a type name must be a string")
    found = arrow_type_named(name)
    if found is None:
        raise MappingError(f"unknown type {name[:40]!r}; use one of {known_type_names()}")
    return found


def _literal_int(node: Node, what: str, *, low: int, high: int) -> int:
    value: int | None = None
    if isinstance(node, Literal) and isinstance(node.value, int) and not isinstance(node.value, bool):
        value = node.value
    elif isinstance(node, Unary) and node.op == "-" and isinstance(node.operand, Literal):
        value = -_literal_int(node.operand, what, low=-high, high=-low)
    if value is None:
        raise MappingError(f"{what} must be an integer literal")
    if not low <= value <= high:
        raise MappingError(f"{what} must be between {low} and {high}")
    return value


def _function(call: Call, args: list[Evaluator]) -> Evaluator:
    name, n = call.name, len(args)

    def arity(*allowed: int, at_least: int | None = None) -> None:
        if (at_least is not None and n >= at_least) or n in allowed:
            return
        wanted = f"at least {at_least}" if at_least is not None else " or ".join(map(str, allowed))
        raise MappingError(f"{name}() takes {wanted} argument(s), got {n}")

    if name in UNARY:
        arity(1)
        fn = UNARY[name]
        return lambda b: fn(args[0](b))
    if name == "concat":
        arity(at_least=1)
        return lambda b: pc.binary_join_element_wise(*[as_text(a(b)) for a in args], "")
    if name == "substr":
        arity(2, 3)
        start = _literal_int(call.args[1], "substr() start (it counts from 1)", low=1, high=_INT32)
        stop = None if n == 2 else start - 1 + _literal_int(call.args[2], "substr() length", low=0, high=_INT32)
        return lambda b: pc.utf8_slice_codeunits(args[0](b), start - 1, stop)
    if name == "coalesce":
        arity(at_least=1)
        return lambda b: pc.coalesce(*unify([a(b) for a in args]))
    if name in ("iif", "if"):
        arity(3)

        def iif(b: pa.RecordBatch) -> Value:
            cond = args[0](b)
            if not (pa.types.is_boolean(cond.type) or pa.types.is_null(cond.type)):
                raise MappingError(f"iif() needs a true/false condition, not {cond.type}")
            return pc.if_else(pc.cast(cond, pa.bool_()), *unify([args[1](b), args[2](b)]))

        return iif
    if name == "round":
        arity(1, 2)
        # Bounded: Arrow crashes on absurd digit counts.
        digits = 0 if n == 1 else _literal_int(call.args[1], "round() digits", low=-38, high=38)
        return lambda b: pc.round(args[0](b), ndigits=digits, round_mode="half_towards_infinity")
    if name == "abs":
        arity(1)
        return lambda b: pc.abs_checked(args[0](b))
    if name == "cast":
        arity(2)
        target_node = call.args[1]
        if not isinstance(target_node, Literal) or not isinstance(target_node.value, str):
            raise MappingError("cast() takes a type name in quotes as its second argument, e.g. cast(x, 'long')")
        target = parse_type(target_node.value)
        return lambda b: convert(args[0](b), target)
    names = [*UNARY, "concat", "substr", "coalesce", "iif", "if", "round", "abs", "cast"]
    known = ", ".join(names)
    hint = difflib.get_close_matches(name, names, n=1)
    raise MappingError(f"unknown function {name}()" + (f" (did you mean {hint[0]}()?)" if hint else f"; use {known}"))


def _compile(node: Node, schema: pa.Schema, used: set[str]) -> Evaluator:
    if isinstance(node, Column):
        if node.name not in schema.names:
            raise _unknown_column(node.name, schema)
        used.add(node.name)
        name = node.name
        return lambda b: b.column(name)
    if isinstance(node, Literal):
        try:
            scalar = pa.scalar(node.value)
        except _ARROW_ERRORS:
            raise MappingError(f"the number {str(node.value)[:40]} is too large") from None
        return lambda b: scalar
    if isinstance(node, Unary):
        inner = _compile(node.operand, schema, used)
        if node.op == "not":
            return lambda b: NOT(inner(b))
        return lambda b: pc.negate_checked(inner(b))
    if isinstance(node, Binary):
        left, right = _compile(node.left, schema, used), _compile(node.right, schema, used)
        fn = BINARY[node.op]
        op = node.op

        def binary(b: pa.RecordBatch) -> Value:
            lhs, rhs = left(b), right(b)
            if op == "+" and (is_text(lhs.type) or is_text(rhs.type)):
                raise MappingError("+ adds numbers; join text with concat(a, b)")
            try:
                return fn(lhs, rhs)
            except pa.ArrowNotImplementedError:
                raise MappingError(f"{op!r} cannot combine {lhs.type} and {rhs.type}") from None

        return binary
    args = [_compile(a, schema, used) for a in node.args]
    evaluate = _function(node, args)
    name = node.name

    def call(b: pa.RecordBatch) -> Value:
        try:
            return evaluate(b)
        except pa.ArrowNotImplementedError:
            # Error path only (at flow creation, on empty arrays): evaluate the arguments again for their types.
            types = ", ".join(str(a(b).type) for a in args)
            raise MappingError(f"{name}() does not accept ({types})") from None

    return call


def _broadcast(value: Value, length: int) -> pa.Array:
    if isinstance(value, pa.ChunkedArray):
        return value.combine_chunks()
    if isinstance(value, pa.Array):
        return value
    if not value.is_valid:
        return pa.nulls(length, value.type if not pa.types.is_null(value.type) else pa.string())
    return pc.fill_null(pa.nulls(length, value.type), value)


@dataclass(frozen=True)
class _Output:
    name: str
    evaluate: Evaluator
    cast_to: pa.DataType | None
    index: int


def _cast(array: pa.Array, target: pa.DataType, out: _Output) -> pa.Array:
    try:
        return convert(array, target)
    except _ARROW_ERRORS:
        pass
    # Error path only: find one offending value to show (bisect, so it stays O(log n) casts).
    sample, part = "?", array
    while len(part) > 1:
        half = part.slice(0, len(part) // 2)
        try:
            convert(half, target)
            part = part.slice(len(part) // 2)
        except _ARROW_ERRORS:
            part = half
    if len(part) == 1:
        sample = repr(part[0].as_py())[:60]
    raise MappingError(f"mappings[{out.index}]: cannot convert {sample} to {target} for column {out.name!r}")


class CompiledMapping:
    """A mapping set bound to an input schema; `apply` turns input batches into output batches."""

    def __init__(self, outputs: list[_Output], output_schema: pa.Schema, input_columns: tuple[str, ...]) -> None:
        self._outputs = outputs
        self.output_schema = output_schema
        self.input_columns = input_columns

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        columns = []
        for out, field in zip(self._outputs, self.output_schema, strict=True):
            try:
                value = _broadcast(out.evaluate(batch), batch.num_rows)
            except KeyError as exc:
                raise MappingError(f"mappings[{out.index}] ({out.name!r}): the batch has no column {exc}") from None
            except MappingError as exc:
                raise MappingError(f"mappings[{out.index}] ({out.name!r}): {exc.message}") from None
            except _ARROW_ERRORS as exc:
                first = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
                raise MappingError(f"mappings[{out.index}] ({out.name!r}): {first}") from None
            if value.type != field.type:
                value = _cast(value, field.type, out)
            columns.append(value)
        return pa.RecordBatch.from_arrays(columns, schema=self.output_schema)


def _unknown_column(name: str, schema: pa.Schema) -> MappingError:
    hint = difflib.get_close_matches(name, schema.names, n=1)
    return MappingError(f"unknown column {name[:200]!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))


def _compile_source(entry: dict[str, Any], schema: pa.Schema, used: set[str]) -> Evaluator:
    if "sourceType" in entry:
        kind = str(entry["sourceType"]).upper()
        text = str(entry.get("source"))
        if kind == "ATTRIBUTE":
            return _compile(Column(text), schema, used)
        if kind != "EXPRESSION":
            raise MappingError("sourceType must be ATTRIBUTE or EXPRESSION")
        return _compile(parse(text), schema, used)
    source = str(entry.get("sourceAttribute"))
    # Adobe's old form has no type marker: a plain column name is an attribute, anything else an expression.
    if source in schema.names:
        return _compile(Column(source), schema, used)
    try:
        node = parse(source)
    except MappingError as exc:
        # `order dat` may be a mistyped column name as much as a broken expression: say both.
        hint = difflib.get_close_matches(source, schema.names, n=1)
        raise MappingError(
            f"unknown column or invalid expression {source[:200]!r}: {exc.message}"
            + (f" (did you mean {hint[0]!r}?)" if hint else "")
        ) from None
    return _compile(node, schema, used)


def destination_of(entry: dict[str, Any]) -> str:
    """The output column's name; "" when it is missing (a column may well be named "None")."""
    value = entry.get("destination") if "sourceType" in entry else entry.get("destinationXdmPath")
    return "" if value is None else str(value)


def compile_mapping(mappings: Sequence[dict[str, Any]], input_schema: pa.Schema) -> CompiledMapping:
    """Validate and compile; every error is a MappingError naming the mapping index."""
    if not mappings:
        raise MappingError("a mapping set needs at least one mapping")
    outputs: list[_Output] = []
    fields: list[pa.Field] = []
    used: set[str] = set()
    seen: set[str] = set()
    empty = pa.RecordBatch.from_arrays([pa.array([], f.type) for f in input_schema], schema=input_schema)
    for index, entry in enumerate(mappings):
        try:
            destination = destination_of(entry)
            if not destination:
                raise MappingError("the destination is empty")
            if destination in seen:
                raise MappingError(f"destination {destination!r} is mapped twice")
            seen.add(destination)
            evaluate = _compile_source(entry, input_schema, used)
            try:
                probe = _broadcast(evaluate(empty), 0)
            except _ARROW_ERRORS as exc:
                first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                raise MappingError(f"type error: {first}") from None
            cast_to = parse_type(entry["destinationType"]) if entry.get("destinationType") else None
            out_type = cast_to or (pa.string() if pa.types.is_null(probe.type) else probe.type)
            if pa.types.is_large_string(out_type):
                out_type = pa.string()
            output = _Output(destination, evaluate, cast_to, index)
            if cast_to is not None:
                try:
                    convert(probe, cast_to)
                except _ARROW_ERRORS:
                    raise MappingError(f"cannot convert {probe.type} to {cast_to}") from None
        except RecursionError:
            raise MappingError(f"mappings[{index}]: the expression is nested too deeply") from None
        except MappingError as exc:
            if exc.message.startswith("mappings["):
                raise
            raise MappingError(f"mappings[{index}]: {exc.message}") from None
        outputs.append(output)
        fields.append(pa.field(destination, out_type))
    ordered_inputs = tuple(n for n in input_schema.names if n in used)
    if not ordered_inputs and len(input_schema):
        # Constants only: still read one column, or the source would yield no rows to count.
        ordered_inputs = (input_schema.names[0],)
    return CompiledMapping(outputs, pa.schema(fields), ordered_inputs)
