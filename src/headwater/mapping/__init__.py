"""Data Prep-style mapping sets: rename, drop, cast and computed columns over Arrow batches.

The language and its rules are documented in docs/mapping.md.
"""

from __future__ import annotations

from typing import Any

from headwater.errors import BadRequest
from headwater.mapping._compile import CompiledMapping, compile_mapping, parse_type
from headwater.mapping._parser import MappingError, parse

__all__ = ["CompiledMapping", "MappingError", "compile_mapping", "validate_mapping_document"]

_ADOBE_KEYS = {"identity", "identityGroup", "namespaceCode", "version", "id", "description"}
MAX_MAPPINGS = 10_000


def validate_mapping_document(doc: Any) -> list[dict[str, Any]]:
    """Check the shape of a `POST /mappingSets` body; returns its mappings (stored as sent)."""
    if not isinstance(doc, dict):
        raise BadRequest("A mapping set must be a JSON object with a mappings array.", code="1000")
    mappings = doc.get("mappings")
    if not isinstance(mappings, list) or not mappings:
        raise BadRequest("The mandatory field mappings is not provided or is empty.", code="1000")
    if len(mappings) > MAX_MAPPINGS:
        raise BadRequest(f"A mapping set holds at most {MAX_MAPPINGS} mappings.", code="1000")
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(mappings):
        where = f"mappings[{i}]"
        if not isinstance(entry, dict):
            raise BadRequest(f"{where} must be an object.", code="1000")
        new_form = "sourceType" in entry
        keys = {"sourceType", "source", "destination"} if new_form else {"sourceAttribute", "destinationXdmPath"}
        unknown = set(entry) - keys - _ADOBE_KEYS - {"destinationType"}
        if unknown:
            raise BadRequest(f"{where}.{sorted(unknown)[0]} is not allowed.", code="1000")
        for key in sorted(keys - {"sourceType"}):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise BadRequest(f"{where}.{key} must be a non-empty string.", code="1000")
        normalized = dict(entry)
        try:
            if new_form:
                kind = entry["sourceType"].upper() if isinstance(entry["sourceType"], str) else None
                if kind not in ("ATTRIBUTE", "EXPRESSION"):
                    raise MappingError("sourceType must be ATTRIBUTE or EXPRESSION")
                normalized["sourceType"] = kind
                if kind == "EXPRESSION":
                    parse(entry["source"])
            # An old-form sourceAttribute that does not parse may still be a column name (`order date`,
            # `person.name`): only the source schema can tell, so it is checked at flow creation.
            if entry.get("destinationType") is not None:
                parse_type(entry["destinationType"])
        except MappingError as exc:
            raise BadRequest(f"{where}: {exc.message}", code="1000") from None
        out.append(normalized)
    return out
