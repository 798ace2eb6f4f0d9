"""The mapping expression language: a tokenizer and a recursive-descent parser (never `eval`).

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | cmp
    cmp     := sum (("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") sum)?
    sum     := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := "-" unary | atom
    atom    := number | 'string' | true | false | null | name "(" args? ")" | name | `name` | "name"
              | "(" expr ")"
Strings use single quotes ('' for a quote); identifiers in backticks or double quotes may hold any
character (a doubled delimiter stands for itself).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from headwater.errors import ConfigError


class MappingError(ConfigError):
    """A mapping that cannot be compiled or applied; the message names the mapping and the problem."""

    code = "1370"
    title = "Invalid mapping"


@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


Node = Column | Literal | Unary | Binary | Call

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
    | (?P<string>'(?:[^']|'')*')
    | (?P<quoted>`(?:[^`]|``)*`|"(?:[^"]|"")*")
    | (?P<name>[^\W\d]\w*)
    | (?P<op><=|>=|!=|<>|==|[-+*/(),<>=])
    )""",
    re.VERBOSE | re.UNICODE,
)
_KEYWORDS = {"and", "or", "not", "true", "false", "null"}
MAX_EXPRESSION = 4000


def tokenize(text: str) -> list[tuple[str, str]]:
    if len(text) > MAX_EXPRESSION:
        raise MappingError(f"expression is longer than {MAX_EXPRESSION} characters")
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            snippet = text[pos : pos + 20].strip()
            raise MappingError(f"unexpected text {snippet!r} at position {pos}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "name" and value.lower() in _KEYWORDS:
            kind = "keyword"
            value = value.lower()
        tokens.append((kind, value))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, *values: str) -> str | None:
        token = self.peek()
        if token is not None and token[0] in ("op", "keyword") and token[1] in values:
            self.i += 1
            return token[1]
        return None

    def expect(self, value: str) -> None:
        if self.take(value) is None:
            found = self.peek()
            raise MappingError(f"expected {value!r} but found {found[1] if found else 'the end'!r}")

    def parse(self) -> Node:
        if not self.tokens:
            raise MappingError("the expression is empty")
        node = self.or_()
        if self.peek() is not None:
            raise MappingError(f"unexpected {self.peek()[1]!r} after a complete expression")  # type: ignore[index]
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.take("or"):
            node = Binary("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.take("and"):
            node = Binary("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.take("not"):
            return Unary("not", self.not_())
        return self.cmp()

    def cmp(self) -> Node:
        node = self.sum()
        op = self.take("=", "==", "!=", "<>", "<", "<=", ">", ">=")
        if op:
            op = {"==": "=", "<>": "!="}.get(op, op)
            node = Binary(op, node, self.sum())
        return node

    def sum(self) -> Node:
        node = self.term()
        while (op := self.take("+", "-")) is not None:
            node = Binary(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while (op := self.take("*", "/")) is not None:
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.take("-"):
            return Unary("-", self.unary())
        return self.atom()

    def atom(self) -> Node:
        self.depth += 1
        if self.depth > 200:
            raise MappingError("the expression is nested too deeply")
        try:
            return self._atom()
        finally:
            self.depth -= 1

    def _atom(self) -> Node:
        token = self.peek()
        if token is None:
            raise MappingError("the expression ends too early")
        kind, value = token
        self.i += 1
        if kind == "number":
            return Literal(float(value) if any(c in value for c in ".eE") else int(value))
        if kind == "string":
            return Literal(value[1:-1].replace("''", "'"))
        if kind == "quoted":
            delim = value[0]
            return Column(value[1:-1].replace(delim * 2, delim))
        if kind == "keyword" and value in ("true", "false", "null"):
            return Literal({"true": True, "false": False, "null": None}[value])
        if kind == "name":
            if self.take("("):
                args: list[Node] = []
                if not self.take(")"):
                    args.append(self.or_())
                    while self.take(","):
                        args.append(self.or_())
                    self.expect(")")
                return Call(value.lower(), tuple(args))
            return Column(value)
        if kind == "op" and value == "(":
            node = self.or_()
            self.expect(")")
            return node
        raise MappingError(f"unexpected {value!r}")


def parse(text: str) -> Node:
    """Parse an expression; any problem is a MappingError (never another exception)."""
    if not isinstance(text, str):
        raise MappingError("an expression must be a string")
    try:
        return _Parser(text).parse()
    except RecursionError:
        raise MappingError("the expression is nested too deeply") from None
