"""What the user commands print: valid JSON with --json, aligned tables and `key: value` lines otherwise."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import typer

from headwater.domain.jsonify import non_finite_name

Column = tuple[str, str, Callable[[dict[str, Any]], Any]]  # key, header, how to read it from a row
_CELL = 48


def by_key(name: str) -> Callable[[dict[str, Any]], Any]:
    """A column reader: the row's value under `name`."""

    def read(row: dict[str, Any]) -> Any:
        return row.get(name)

    return read


def json_safe(value: Any) -> Any:
    """`value` with NaN and ±Infinity spelled as the preview rule spells them ("NaN", "Infinity")."""
    if isinstance(value, float) and not math.isfinite(value):
        return non_finite_name(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(json_safe(data), indent=2, allow_nan=False, ensure_ascii=False))


def cell(value: Any, null: str = "-") -> str:
    if value is None:
        return null
    if isinstance(value, float):
        value = json_safe(value)
    text = value if isinstance(value, str) else json.dumps(json_safe(value), ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[Column], *, empty: str = "(none)", null: str = "-") -> None:
    if not rows:
        if empty:
            typer.echo(empty)
        return
    cells = [[cell(read(row), null) for _, _, read in columns] for row in rows]
    widths = [max(len(header), *(len(r[i]) for r in cells)) for i, (_, header, _) in enumerate(columns)]
    typer.echo("  ".join(header.ljust(w) for (_, header, _), w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def listing(rows: Sequence[dict[str, Any]], columns: Sequence[Column], *, as_json: bool) -> None:
    """A list command's answer: the rows as strict JSON, or a table of `columns`."""
    if as_json:
        emit_json(list(rows))
    else:
        table(rows, columns)


def fields(doc: dict[str, Any], *, skip: Sequence[str] = ()) -> None:
    """A resource as `key: value` lines; nested values as compact JSON."""
    width = max((len(k) for k in doc if k not in skip), default=0)
    for key, value in doc.items():
        if key in skip:
            continue
        shown = value if isinstance(value, str) else json.dumps(json_safe(value), ensure_ascii=False)
        typer.echo(f"{key.ljust(width)}  {shown}")


def when(ms: Any) -> str | None:
    """Epoch milliseconds as UTC ISO 8601 to the second."""
    if not isinstance(ms, int | float) or isinstance(ms, bool):
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def size(n: float | None) -> str:
    """Bytes in binary units: 1.5 MiB."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def count(n: float | None) -> str:
    return "-" if n is None else f"{int(n):,}"
