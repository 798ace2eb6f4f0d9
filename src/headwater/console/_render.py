"""Templates and the formatting every page shares: times, durations, counts and preview cells."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

_HERE = Path(__file__).parent
STATIC_DIR = _HERE / "static"
HTMX = "htmx-2.0.11.min.js"

# Scripts and styles come only from /console/static; nothing is inlined, nothing is framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
NON_FINITE = ("NaN", "Infinity", "-Infinity")
_FLOAT_TYPES = ("double", "float", "number")


def when(epoch_ms: Any) -> str:
    """Epoch milliseconds as UTC text; '—' when unknown."""
    if not isinstance(epoch_ms, int | float) or isinstance(epoch_ms, bool) or epoch_ms <= 0:
        return "—"
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(start_ms: Any, end_ms: Any) -> str:
    if not isinstance(start_ms, int) or not isinstance(end_ms, int) or end_ms < start_ms:
        return "—"
    seconds = (end_ms - start_ms) / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "—"


def size(value: Any) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return "—"
    number = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if number < 1024 or unit == "GiB":
            return f"{number:.0f} {unit}" if unit == "B" else f"{number:.1f} {unit}"
        number /= 1024
    return str(value)


def cell(value: Any, type_name: str = "") -> Markup:
    """One preview value: NULL, NaN and ±Infinity are marked up so they never look like text.

    Previews follow one JSON rule (domain/jsonify.py): NULL is null, and a float's NaN and ±Infinity
    are the strings "NaN", "Infinity" and "-Infinity"; only the column's type tells such a float
    from a text column holding those words.
    """
    if value is None:
        return Markup('<span class="v-null" title="NULL (no value)">NULL</span>')
    if isinstance(value, str) and value in NON_FINITE and type_name.lower().startswith(_FLOAT_TYPES):
        return Markup('<span class="v-special" title="floating-point {0}">{0}</span>').format(value)
    if isinstance(value, bool):
        return Markup('<span class="v-bool">{}</span>').format("true" if value else "false")
    if isinstance(value, dict | list):
        return Markup("<code>{}</code>").format(json.dumps(value, allow_nan=False, ensure_ascii=False))
    if value == "":
        return Markup('<span class="v-empty" title="empty string">""</span>')
    return escape(str(value))


def make_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(_HERE / "templates")),
        autoescape=select_autoescape(("html",), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, count=count, size=size, cell=cell)
    env.globals.update(duration=duration, htmx=HTMX)
    return env


class Renderer:
    """Renders a template into an HTML response with the console's security headers."""

    def __init__(self) -> None:
        self.env = make_env()

    def page(
        self, name: str, *, status: int = 200, headers: dict[str, str] | None = None, **context: Any
    ) -> HTMLResponse:
        html = self.env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})
