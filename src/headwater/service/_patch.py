"""JSON Patch (RFC 6902 subset: add, replace, remove) as the Flow Service accepts it.

Ops are case-insensitive (the OAS says ADD/REPLACE/REMOVE, the docs say add/replace/remove); a
single op object is accepted as well as an array (the OAS and the docs disagree).
"""

from __future__ import annotations

import copy
from typing import Any

from headwater.domain.numbers import ascii_int
from headwater.errors import BadRequest
from headwater.service._fields import known_fields

_OPS = ("add", "replace", "remove")


def normalize_ops(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list) or not body:
        raise BadRequest("The request body cannot be null or empty: send a JSON Patch array.", code="1405")
    ops = []
    for index, raw in enumerate(body):
        if not isinstance(raw, dict):
            raise BadRequest(f"Patch instruction {index} must be an object with op and path.", code="1455")
        # `from` belongs to move and copy, which are refused below by their op.
        raw = known_fields(raw, ("op", "path", "value", "from"), where=f"[{index}].", code="1455")
        op = raw.get("op")
        if not isinstance(op, str):
            raise BadRequest(f'Patch instruction {index}: missing field "op".', code="1455")
        if op.lower() not in _OPS:
            raise BadRequest(f"Unsupported operation '{op[:20]}' received.", code="1434")
        path = raw.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise BadRequest(f"The path {str(path)[:200]} provided in ops is invalid.", code="1365")
        if op.lower() != "remove" and "value" not in raw:
            raise BadRequest(f'Patch instruction {index}: missing field "value".', code="1455")
        ops.append({"op": op.lower(), "path": path, "value": raw.get("value")})
    return ops


def pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def apply_ops(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply ops to a deep copy of `doc`; an unreachable path is a 400 naming it."""
    out = copy.deepcopy(doc)
    for op in ops:
        parts = pointer(op["path"])
        invalid = BadRequest(f"The path {op['path'][:200]} provided in ops is invalid.", code="1365")
        if not parts or parts == [""]:
            raise invalid
        parent: Any = out
        for part in parts[:-1]:
            if isinstance(parent, dict) and part in parent:
                parent = parent[part]
            elif isinstance(parent, list) and ascii_int(part, low=0, high=len(parent) - 1) is not None:
                parent = parent[int(part)]
            else:
                raise invalid
        leaf = parts[-1]
        if isinstance(parent, dict):
            if op["op"] == "remove":
                if leaf not in parent:
                    raise invalid
                del parent[leaf]
            elif op["op"] == "replace" and leaf not in parent:
                raise invalid
            else:
                parent[leaf] = copy.deepcopy(op["value"])
        elif isinstance(parent, list):
            if leaf == "-" and op["op"] == "add":
                parent.append(copy.deepcopy(op["value"]))
                continue
            index = ascii_int(leaf, low=0, high=len(parent))
            if index is None:
                raise invalid
            limit = len(parent) + (1 if op["op"] == "add" else 0)
            if index >= limit:
                raise invalid
            if op["op"] == "remove":
                parent.pop(index)
            elif op["op"] == "add":
                parent.insert(index, copy.deepcopy(op["value"]))
            else:
                parent[index] = copy.deepcopy(op["value"])
        else:
            raise invalid
    return out
