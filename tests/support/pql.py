"""PQL row filters for tests: builders, and one table of rows and cases that both sources must agree on."""

from __future__ import annotations

import base64
import json
from typing import Any

CITY_ROWS: list[dict[str, Any]] = [
    {"id": 1, "city": "DDN", "amount": "10.50", "born": "2020-01-01", "seen": "2024-01-01T00:00:00Z", "score": 1.5,
     "active": True, "note": "a"},
    {"id": 2, "city": "Mumbai", "amount": "20.00", "born": "2020-06-01", "seen": "2024-02-01T00:00:00Z", "score": 2.5,
     "active": False, "note": "b"},
    {"id": 3, "city": None, "amount": "30.00", "born": None, "seen": None, "score": None, "active": None, "note": None},
    {"id": 4, "city": "Madrid", "amount": None, "born": "2021-01-01", "seen": "2024-03-01T00:00:00Z", "score": 4.5,
     "active": True, "note": "x' OR 1=1 --"},
    {"id": 5, "city": "it's", "amount": "50.25", "born": "2022-01-01", "seen": "2024-04-01T00:00:00Z", "score": 5.5,
     "active": False, "note": "d"},
    {"id": 6, "city": "M%ars", "amount": "60.00", "born": "2023-01-01", "seen": "2024-05-01T00:00:00Z", "score": 6.5,
     "active": None, "note": "e"},
]  # fmt: skip


def field(name: str) -> dict[str, Any]:
    return {"nodeType": "fieldLookup", "fieldName": name}


def lit(value: Any) -> dict[str, Any]:
    return {"nodeType": "literal", "value": value}


def fn(name: str, *params: dict[str, Any]) -> dict[str, Any]:
    return {"nodeType": "fnApply", "fnName": name, "params": list(params)}


def cmp(op: str, column: str, value: Any) -> dict[str, Any]:
    return fn(op, field(column), lit(value))


def pql(node: dict[str, Any]) -> dict[str, Any]:
    return {"type": "PQL", "format": "pql/json", "value": node}


def b64(doc: Any) -> str:
    return base64.b64encode(json.dumps(doc).encode()).decode()


# (case id, filter node, ids of CITY_ROWS it keeps): the same on PostgreSQL and BigQuery.
CASES: list[tuple[str, dict[str, Any], list[int]]] = [
    ("eq", cmp("=", "city", "DDN"), [1]),
    ("eq-pql-double", cmp("==", "city", "DDN"), [1]),
    ("ne-excludes-null", cmp("!=", "city", "DDN"), [2, 4, 5, 6]),
    ("is-null", cmp("=", "city", None), [3]),
    ("is-not-null", cmp("!=", "city", None), [1, 2, 4, 5, 6]),
    ("not-eq-excludes-null", fn("not", cmp("=", "city", "DDN")), [2, 4, 5, 6]),
    ("ne-or-null", fn("or", cmp("!=", "city", "DDN"), cmp("=", "city", None)), [2, 3, 4, 5, 6]),
    ("lt-decimal", cmp("<", "amount", 20), [1]),
    ("le-decimal-text", cmp("<=", "amount", "20.00"), [1, 2]),
    ("gt-float", cmp(">", "score", 4.5), [5, 6]),
    ("ge-date", cmp(">=", "born", "2021-01-01"), [4, 5, 6]),
    ("lt-timestamp", cmp("<", "seen", "2024-02-15T00:00:00Z"), [1, 2]),
    ("eq-timestamp-offset", cmp("=", "seen", "2024-02-01T01:00:00+01:00"), [2]),
    ("eq-bool", cmp("=", "active", True), [1, 4]),
    ("eq-int-text", cmp("=", "id", "5"), [5]),
    ("literal-first", fn(">", lit(20), field("amount")), [1]),
    ("like", cmp("like", "city", "M%"), [2, 4, 6]),
    ("in", fn("in", field("city"), lit(["DDN", "Madrid", "nowhere"])), [1, 4]),
    ("in-ints", fn("in", field("id"), lit([2, 3])), [2, 3]),
    ("and-or", fn("and", fn("or", cmp("=", "city", "DDN"), cmp(">", "amount", 40)), cmp("!=", "id", 6)), [1, 5]),
    ("and-single", fn("and", cmp("like", "city", "M%")), [2, 4, 6]),
    ("quote-in-value", cmp("=", "city", "it's"), [5]),
    ("injection-value", cmp("=", "city", "DDN' OR '1'='1"), []),
    ("injection-value-stored", cmp("=", "note", "x' OR 1=1 --"), [4]),
    ("injection-like", cmp("like", "note", "%' OR 1=1 --"), [4]),
]

# (case id, filters document, API code): one per class of bad filter.
BAD: list[tuple[str, Any, str]] = [
    ("type", {"type": "SQL", "format": "pql/json", "value": cmp("=", "city", "x")}, "1355"),
    ("format", {"type": "PQL", "format": "json", "value": cmp("=", "city", "x")}, "1356"),
    ("null-lt", pql(cmp("<", "amount", None)), "1377"),
    ("null-in", pql(fn("in", field("city"), lit(["a", None]))), "1377"),
    ("unknown-column", pql(cmp("=", "nope", 1)), "1378"),
    ("injection-column", pql(cmp("=", 'city" OR 1=1 --', "x")), "1378"),
    ("mismatch", pql(cmp("=", "amount", "abc")), "1379"),
    ("mismatch-date", pql(cmp(">", "born", "yesterday")), "1379"),
    ("like-number", pql(cmp("like", "amount", "1%")), "1379"),
    ("not-arity", pql(fn("not", cmp("=", "id", 1), cmp("=", "id", 2))), "1390"),
    ("unknown-fn", pql(fn("between", field("id"), lit(1))), "1390"),
    ("bad-node", pql({"nodeType": "sql", "value": "1=1"}), "1390"),
]
