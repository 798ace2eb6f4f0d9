"""Unknown fields of a request body: ignored, as Adobe's schemas allow, unless they look like a typo.

Adobe's request schemas do not forbid additional properties, so its clients may send fields that
Headwater has never heard of (`"status": "active"` on a run): those are dropped. A field that is
one or two edits away from a field Headwater knows, or differs from it only in case, is almost
certainly that field misspelt, and dropping it would silently lose what the caller meant: it is
refused with a hint instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from headwater.errors import BadRequest


def edit_distance(a: str, b: str, *, limit: int) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`, capped at `limit + 1`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    if len(a) > 200 or len(b) > 200:  # no field name is this long: not a typo of one
        return limit + 1
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return min(rows[-1][-1], limit + 1)


def near_miss(name: str, known: Iterable[str]) -> str | None:
    """The known field that `name` most likely misspells, if any.

    Short names allow one edit (`fow` for `flow`), longer ones two (`flowID`, `parms`); a name that
    differs only in case always counts.
    """
    best: tuple[int, str] | None = None
    for field in known:
        if name.lower() == field.lower():
            return field
        limit = 1 if len(field) <= 4 else 2
        distance = edit_distance(name.lower(), field.lower(), limit=limit)
        if distance <= limit and (best is None or distance < best[0]):
            best = (distance, field)
    return best[1] if best else None


def known_fields(body: dict[str, Any], known: Iterable[str], *, where: str = "", code: str) -> dict[str, Any]:
    """`body` without the fields Headwater does not know; a probable misspelling is a 400 with a hint."""
    names = tuple(known)
    kept: dict[str, Any] = {}
    for key, value in body.items():
        if key in names:
            kept[key] = value
            continue
        meant = near_miss(str(key), names)
        if meant is not None:
            raise BadRequest(f"The field {where}{str(key)[:100]} is not known: did you mean {where}{meant}?", code=code)
    return kept
