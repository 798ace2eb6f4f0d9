"""The new-connection form, generated from a connection spec's authSpec JSON Schema.

Nothing here names a connector or a field: a new connector's spec gives its form. Each property
becomes one input: `format: password` a masked input (never filled back in), a boolean a checkbox,
an `enum` a select, a description that mentions PEM or JSON a text area (those values span lines).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headwater.console._access import FormError

_MULTILINE_HINTS = ("PEM", "JSON")
MAX_VALUE_CHARS = 1_100_000  # a 1 MiB CA certificate, the largest value a connector accepts


@dataclass(frozen=True)
class Field:
    """One input of a generated form."""

    name: str
    label: str
    description: str
    kind: str  # text | password | number | checkbox | select | textarea
    required: bool
    secret: bool
    types: tuple[str, ...]
    options: tuple[str, ...] = ()
    default: Any = None


def _types(prop: dict[str, Any]) -> tuple[tuple[str, ...], bool, bool]:
    """The JSON types a property takes, whether null is one of them, and whether it is a secret."""
    variants = prop.get("anyOf") or [prop]
    types: list[str] = []
    secret = prop.get("format") == "password" or bool(prop.get("writeOnly"))
    for variant in variants:
        given = variant.get("type", "string")
        types.extend(given if isinstance(given, list) else [given])
        secret = secret or variant.get("format") == "password" or bool(variant.get("writeOnly"))
    nullable = "null" in types
    return tuple(t for t in types if t != "null"), nullable, secret


def _label(name: str) -> str:
    words: list[str] = []
    for ch in name:
        if ch.isupper() and words and not words[-1].isupper():
            words.append(" ")
        words.append(ch)
    text = "".join(words)
    return text[:1].upper() + text[1:]


def fields_of(schema: dict[str, Any]) -> list[Field]:
    required = set(schema.get("required", []))
    out: list[Field] = []
    for name, prop in (schema.get("properties") or {}).items():
        types, nullable, secret = _types(prop)
        description = str(prop.get("description", ""))
        enum = prop.get("enum")
        if "boolean" in types and len(types) == 1:
            kind = "checkbox"
        elif isinstance(enum, list) and enum:
            kind = "select"
        elif any(hint in description for hint in _MULTILINE_HINTS):
            kind = "textarea"
        elif secret:
            kind = "password"
        elif types and all(t in ("integer", "number") for t in types):
            kind = "number"
        else:
            kind = "text"
        out.append(
            Field(
                name=str(name),
                label=str(prop.get("title") or _label(str(name))),
                description=description,
                kind=kind,
                required=name in required and not nullable,
                secret=secret,
                types=types,
                options=tuple(str(v) for v in enum) if isinstance(enum, list) else (),
                default=prop.get("default"),
            )
        )
    return out


def _coerce(field: Field, raw: str) -> Any:
    """A form string as the JSON type the schema wants (strings stay strings where a string is allowed)."""
    if "string" in field.types or not field.types:
        return raw
    if "integer" in field.types:
        try:
            return int(raw.strip())
        except ValueError:
            raise FormError(f"{field.label} must be a whole number.") from None
    if "number" in field.types:
        try:
            return float(raw.strip())
        except ValueError:
            raise FormError(f"{field.label} must be a number.") from None
    return raw


def params_from_form(fields: list[Field], form: dict[str, list[str]]) -> dict[str, Any]:
    """The auth params of a submitted form; empty optional inputs are left out, as an API client would."""
    params: dict[str, Any] = {}
    for field in fields:
        key = "p." + field.name
        if field.kind == "checkbox":
            if key in form:
                params[field.name] = True
            elif field.required:
                params[field.name] = False
            continue
        raw = (form.get(key) or [""])[0]
        if len(raw) > MAX_VALUE_CHARS:
            raise FormError(f"{field.label} is too long.")
        if field.kind != "textarea" and not field.secret:
            raw = raw.strip()
        if raw == "":
            if field.required:
                raise FormError(f"{field.label} is required.")
            continue
        if field.options and raw not in field.options:
            raise FormError(f"{field.label} must be one of: {', '.join(field.options)}.")
        params[field.name] = _coerce(field, raw)
    return params
