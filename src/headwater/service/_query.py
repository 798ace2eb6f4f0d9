"""List queries of the Flow Service: `property` filters, `orderby`, `limit`, `start`, paging tokens.

Filters are evaluated on the public JSON of each item, so any property a client can see it can
filter on (as Adobe documents: "on any property in an entity as long as the valid path is known").

Grammar of one `property` value (several `property` params are AND-ed):
    path==v1,v2   equal to any value (OR)          path!=v1,v2   equal to none
    path>v  path>=v  path<v  path<=v                (one value; numbers compare numerically)
    path~text     contains text (case-insensitive)
    path          exists (non-null)                 !path         does not exist
A path is dot-separated; `seg[]` matches any element of an array. Values may be wrapped in one
pair of double quotes. A single `=` is read as `==` (a typo in Adobe's own docs). String equality
is case-insensitive (Adobe's examples filter `status==Failed` against `failed`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from headwater.domain.numbers import ascii_int
from headwater.errors import BadRequest

_OPERATORS = ("==", "!=", ">=", "<=", ">", "<", "~", "=")
_PATH_RE = re.compile(r"^[A-Za-z_@$][A-Za-z0-9_:@$-]*(\[\])?(\.[A-Za-z_@$][A-Za-z0-9_:@$-]*(\[\])?)*$")
_TERM_RE = re.compile(r"^(?P<path>[^=!<>~]+)(?P<op>==|!=|>=|<=|=>|=<|!>|!<|>|<|~|=)(?P<value>.*)$", re.S)
_MISSING = object()


@dataclass(frozen=True)
class Term:
    """One parsed `property` filter."""

    path: str
    op: str  # ==, !=, >, >=, <, <=, ~, exists, !exists
    values: tuple[str, ...] = ()

    def matches(self, item: dict[str, Any]) -> bool:
        found = [v for v in _resolve(item, self.path.split(".")) if v is not None]
        if self.op == "exists":
            return bool(found)
        if self.op == "!exists":
            return not found
        if self.op == "!=":
            return not any(_equal(v, w) for v in found for w in self.values)
        if self.op == "==":
            return any(_equal(v, w) for v in found for w in self.values)
        if self.op == "~":
            needle = self.values[0].lower()
            return any(needle in _text(v).lower() for v in found)
        return any(_compare(v, self.values[0], self.op) for v in found)


def _resolve(value: Any, segments: Sequence[str]) -> list[Any]:
    if not segments:
        return [value]
    head, rest = segments[0], segments[1:]
    many = head.endswith("[]")
    key = head[:-2] if many else head
    if not isinstance(value, dict) or key not in value:
        return []
    child = value[key]
    if many:
        if not isinstance(child, list):
            return []
        return [r for element in child for r in _resolve(element, rest)]
    return _resolve(child, rest)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        if isinstance(value, dict | list):
            return json.dumps(value, sort_keys=True)
        return str(value)
    except (ValueError, RecursionError):
        # Stored before the edge bounded nesting and number size: comparable, never a 500.
        return f"<{type(value).__name__}>"


def _number(value: Any) -> float | None:
    """A finite float for numbers and numeric text; None otherwise (a stored value never raises here)."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    try:
        number = float(value) if isinstance(value, int | float) else float(str(value)[:400])
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _equal(actual: Any, wanted: str) -> bool:
    if isinstance(actual, int | float) and not isinstance(actual, bool):
        number = _number(wanted)
        return number is not None and _number(actual) == number
    return _text(actual).lower() == wanted.lower()


def _compare(actual: Any, wanted: str, op: str) -> bool:
    left: Any = _number(actual)
    right: Any = _number(wanted)
    if left is None or right is None:
        left, right = _text(actual), wanted
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    return bool(left <= right)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def parse_term(text: str) -> Term:
    raw = text.strip()
    if not raw:
        raise BadRequest("Invalid query value: an empty property filter was provided.", code="1453")
    if _PATH_RE.match(raw):
        return Term(raw, "exists")
    if raw.startswith("!") and _PATH_RE.match(raw[1:]):
        return Term(raw[1:], "!exists")
    match = _TERM_RE.match(raw)
    if not match:
        raise BadRequest(f"Invalid filter {raw[:200]!r} in property params.", code="1449")
    path, op, value = match.group("path").strip(), match.group("op"), match.group("value")
    if op not in _OPERATORS:
        raise BadRequest(f"Invalid operator {op} in filter params.", code="1450")
    if value.startswith(("=", "<", ">", "~")):
        raise BadRequest(f"Invalid operator {op}{value[0]} in filter params.", code="1450")
    if not _PATH_RE.match(path):
        raise BadRequest(f"Invalid field {path[:200]!r} in filter params.", code="1449")
    op = "==" if op == "=" else op
    values = tuple(_unquote(v) for v in value.split(",")) if op in ("==", "!=") else (_unquote(value),)
    if not value.strip() or any(v == "" for v in values):
        raise BadRequest(f"Invalid query value {raw[:200]} provided in query param.", code="1453")
    if "\x00" in value:  # no stored text holds one, and PostgreSQL refuses it in a query
        raise BadRequest("Invalid query value: a filter value holds a NUL character (%00).", code="1453")
    if op in (">", ">=", "<", "<=", "~") and "," in value:
        raise BadRequest(f"Operator '{op}' is not allowed for multiple values.", code="1443")
    return Term(path, op, values)


@dataclass(frozen=True)
class SortKey:
    path: str
    descending: bool


def parse_orderby(text: str | None) -> SortKey:
    if text is None or text == "":
        return SortKey("createdAt", False)
    raw = text.strip()
    descending = raw.startswith("-")
    bare = raw[1:] if raw[:1] in "+-" else raw
    if not _PATH_RE.match(bare) or "[]" in bare:
        raise BadRequest(
            f"Incorrect field= {raw[:100]} passed in orderBy, example are +name, -name, name.", code="1433"
        )
    return SortKey(bare, descending)


def _sort_value(item: dict[str, Any], path: str) -> tuple[int, Any]:
    found = _resolve(item, path.split("."))
    value = found[0] if found else None
    if value is None:
        return (0, 0)  # missing values sort first (last when descending)
    number = _number(value) if not isinstance(value, str) else None
    if number is not None:
        return (1, number)
    return (2, _text(value))


@dataclass(frozen=True)
class ListQuery:
    """A validated list request."""

    terms: tuple[Term, ...] = ()
    sort: SortKey = SortKey("createdAt", False)
    limit: int | None = None
    start: int = 0
    count: bool = False
    token: str | None = None
    raw_property: tuple[str, ...] = ()
    raw_orderby: str | None = None

    @classmethod
    def parse(
        cls,
        *,
        property: Sequence[str] = (),
        orderby: str | None = None,
        limit: str | None = None,
        start: str | None = None,
        count: str | None = None,
        continuation_token: str | None = None,
        max_limit: int,
    ) -> ListQuery:
        terms = tuple(parse_term(p) for p in property)
        parsed_limit = None
        if limit is not None:
            parsed_limit = ascii_int(limit, low=1, high=max_limit)
            if parsed_limit is None:
                raise BadRequest(f"The limit parameter must be an integer between 1 and {max_limit}.", code="1000")
        want_count = False
        if count is not None:
            if count.lower() not in ("true", "false"):
                raise BadRequest("The count parameter must be true or false.", code="1000")
            want_count = count.lower() == "true"
        if want_count and parsed_limit is not None:
            raise BadRequest(
                "The limit and count parameters cannot be given together in the same request.", code="1401"
            )
        parsed_start = 0
        if start is not None:
            offset = ascii_int(start, low=0, high=2**63 - 1)
            if offset is None:
                raise BadRequest("The start parameter must be a non-negative integer offset.", code="1000")
            parsed_start = offset
        return cls(
            terms=terms,
            sort=parse_orderby(orderby),
            limit=parsed_limit,
            start=parsed_start,
            count=want_count,
            token=continuation_token,
            raw_property=tuple(property),
            raw_orderby=orderby,
        )


_SIG_BYTES = 12
_NO_LIMIT_CHECK = 2**31  # a token's limit was checked when its first page was asked for

Position = tuple[tuple[int, Any], str]  # the last item's sort value and id


class PageTokens:
    """Signed, opaque continuation tokens that carry a whole list query and the position after its page.

    The next link is then only `?continuationToken=…`, as Adobe documents it (clients split the href on
    `=`). The token names its collection, so a token of another list is refused like a tampered one.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def encode(self, query: ListQuery, position: Position, *, collection: str) -> str:
        (rank, value), last_id = position
        body = json.dumps(
            {
                "c": collection,
                "p": list(query.raw_property),
                "o": query.raw_orderby,
                "l": query.limit,
                "k": [rank, value],
                "i": last_id,
            },
            separators=(",", ":"),
        )
        sig = hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:_SIG_BYTES]
        return base64.urlsafe_b64encode(body.encode() + b"." + sig).decode().rstrip("=")

    def open(self, query: ListQuery, *, collection: str) -> tuple[ListQuery, Position | None]:
        """The query a request stands for, and where its page starts (None: at the beginning).

        With a token, the token's query is the request's; parameters sent beside it (as older links
        did) must repeat it, and a `limit` beside it sets the size of the pages from there on.
        """
        if not query.token:
            return query, None
        invalid = BadRequest("The continuationToken is invalid or belongs to a different query.", code="1000")
        data = self._verified(query.token)
        if data is None or data.get("c") != collection:
            raise invalid
        try:
            raw_property = tuple(str(p) for p in data["p"])
            raw_orderby = data["o"] if data["o"] is None else str(data["o"])
            limit = data["l"]
            rank, value = data["k"]
            position: Position = ((int(rank), value), str(data["i"]))
        except (KeyError, TypeError, ValueError):
            raise invalid from None
        if query.raw_property and query.raw_property != raw_property:
            raise invalid
        if query.raw_orderby is not None and query.raw_orderby != raw_orderby:
            raise invalid
        opened = ListQuery.parse(
            property=raw_property,
            orderby=raw_orderby,
            limit=str(query.limit or limit) if (query.limit or limit) else None,
            max_limit=_NO_LIMIT_CHECK,
        )
        return opened, position

    def _verified(self, token: str) -> dict[str, Any] | None:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError):
            return None
        # The signature is raw bytes and may itself contain b".": cut it off by length, not by rsplit.
        body, dot, sig = raw[: -_SIG_BYTES - 1], raw[-_SIG_BYTES - 1 : -_SIG_BYTES], raw[-_SIG_BYTES:]
        if dot != b"." or len(sig) != _SIG_BYTES:
            return None
        if not hmac.compare_digest(hmac.new(self._key, body, hashlib.sha256).digest()[:_SIG_BYTES], sig):
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


def position_of(item: dict[str, Any], path: str) -> Position:
    """Where `item` stands in a list sorted by `path` (ties broken by id)."""
    return _sort_value(item, path), str(item.get("id", ""))


def next_links(page: list[dict[str, Any]], more: bool, query: ListQuery, *, tokens: PageTokens, base_path: str) -> Any:
    """`_links` of a page: `next` when more items follow, in Adobe's documented shape."""
    if not (more and page):
        return {}
    token = tokens.encode(query, position_of(page[-1], query.sort.path), collection=base_path)
    return {"next": {"href": f"{base_path}?{urlencode([('continuationToken', token)])}"}}


def in_memory_page(
    items: list[dict[str, Any]], query: ListQuery, position: Position | None, *, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """Sort filtered `items` by the query's order and cut the page after `position` (or at `start`)."""
    matched = sorted(items, key=lambda it: position_of(it, query.sort.path), reverse=query.sort.descending)
    if position is not None:
        after: Callable[[Position], bool] = (
            (lambda k: k < position) if query.sort.descending else (lambda k: k > position)
        )
        matched = [it for it in matched if after(position_of(it, query.sort.path))]
    elif query.start:
        matched = matched[query.start :]
    return matched[:limit], len(matched) > limit


def run_query(
    items: list[dict[str, Any]],
    query: ListQuery,
    *,
    tokens: PageTokens,
    base_path: str,
    default_limit: int,
) -> dict[str, Any]:
    """Filter, sort and page `items` (public JSON objects with an `id`) into Adobe's list shape."""
    query, position = tokens.open(query, collection=base_path)
    matched = [it for it in items if all(t.matches(it) for t in query.terms)]
    if query.count:
        return {"count": len(matched)}
    page, more = in_memory_page(matched, query, position, limit=query.limit or default_limit)
    return {"items": page, "_links": next_links(page, more, query, tokens=tokens, base_path=base_path)}
