"""What every wire model shares: request bodies that ignore unknown fields but refuse typos, and
response models that document a shape without filtering it.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from headwater.errors import BadRequest
from headwater.service._fields import near_miss

M = TypeVar("M", bound="RequestModel")


class RequestModel(BaseModel):
    """A request body, or part of one: typed, strict (no coercion), unknown fields dropped.

    `error_code` is the Adobe code of a body this model refuses; `field_codes` overrides it for the
    fields whose checks Adobe numbers differently. `where` prefixes field names in messages.
    """

    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True, alias_generator=to_camel)

    error_code: ClassVar[str] = "1000"
    field_codes: ClassVar[dict[str, str]] = {}
    where: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _refuse_typos(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = [f.alias or name for name, f in cls.model_fields.items()]
            for key in data:
                if key in known:
                    continue
                meant = near_miss(str(key), known)
                if meant is not None:
                    raise BadRequest(
                        f"The field {cls.where}{str(key)[:100]} is not known: did you mean {cls.where}{meant}?",
                        code=cls.field_codes.get(meant, cls.error_code),
                    )
        return data

    def wire(self) -> dict[str, Any]:
        """The body as the service reads it: the fields the caller sent, under their wire names."""
        return self.model_dump(by_alias=True, exclude_unset=True)


# A union's member, as pydantic names it in an error's location (`int`, `dict[str,any]`, `SpecRef`).
_UNION_MEMBER = re.compile(r"^(int|str|float|bool|none|dict\[.*|list\[.*|function-.*|[A-Z]\w*)$")
_EXPECTED = {
    "model_type": "an object",
    "model_attributes_type": "an object",
    "dict_type": "an object",
    "list_type": "an array",
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "true or false",
}
_KINDS = {"int": "an integer", "str": "a string", "float": "a number", "bool": "true or false", "none": "null"}


def _kind(member: str) -> str:
    if member.startswith("dict["):
        return "an object"
    if member.startswith("list["):
        return "an array"
    return _KINDS.get(member, "an object")


def _messages(errors: list[Any]) -> list[str]:
    """Pydantic's errors as Adobe words them, one per field (a union's members merged); values are never
    echoed (they may be secrets)."""
    fields: dict[str, tuple[str, list[str]]] = {}
    for err in errors:
        loc = err.get("loc", ())
        members = [p for p in loc if isinstance(p, str) and _UNION_MEMBER.match(p)]
        field = ".".join(str(p) for p in loc if not (isinstance(p, str) and _UNION_MEMBER.match(p))) or "body"
        if err.get("type") == "missing":
            message = f"The mandatory field {field} is not provided."
        elif err.get("type") in _EXPECTED:
            message = f"The field {field} is invalid: it must be {_EXPECTED[err['type']]}."
        else:
            message = f"The field {field} is invalid: {err.get('msg', 'invalid value')}."
        known = fields.setdefault(field, (message, []))
        if members:
            known[1].append(_kind(members[-1]))
    out = []
    for field, (message, kinds) in fields.items():
        if len(kinds) > 1:
            message = f"The field {field} is invalid: it must be {' or '.join(dict.fromkeys(kinds))}."
        out.append(message)
    return out


def _code_for(model: type[RequestModel], loc: tuple[Any, ...]) -> str:
    """The Adobe code for an error at `loc`: the innermost code the path names (field codes win)."""
    code = model.error_code
    current: type[RequestModel] | None = model
    for part in loc:
        if current is None:
            break
        if not isinstance(part, str):
            continue  # a list index
        field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
        if field is None:
            break
        nested = next((m for m in _models_in(field.annotation) if issubclass(m, RequestModel)), None)
        if part in current.field_codes:
            code = current.field_codes[part]
        elif nested is not None:
            code = nested.error_code
        current = nested
    return code


def _models_in(annotation: Any) -> list[type[Any]]:
    """The pydantic model classes named by an annotation (`X | None`, `list[X]`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def parse_body(model: type[M], body: Any, *, missing_code: str = "1405", not_object_code: str = "1304") -> M:
    """`body` (parsed JSON, None when absent) validated as `model`, or a 400 in Adobe's shape and code."""
    if body is None:
        raise BadRequest("The request body cannot be null or empty.", code=missing_code)
    if not isinstance(body, dict):
        raise BadRequest("The field body is invalid: send a JSON object.", code=not_object_code)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors()
        code = _code_for(model, tuple(errors[0].get("loc", ())))
        raise BadRequest(" ".join(_messages(errors)[:10]), code=code) from None


class WireModel(BaseModel):
    """A response shape: documents the fields clients read; responses may carry more."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=to_camel)


class SpecRef(RequestModel):
    """A reference to a connection or flow spec."""

    id: str = Field(min_length=1, max_length=64, description="The spec id.")
    version: str | None = Field(default=None, max_length=32, description="Defaults to the spec's current version.")


class SpecRefOut(WireModel):
    id: str
    version: str | None = None


class IdEtag(BaseModel):
    """What create, PATCH and actions answer: the resource id and its new etag."""

    id: str
    etag: str

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": "056dd1b4-da33-42f9-add1-b4da3392f94e", "etag": '"1700e582-0000-0200-0000-5e3c85180000"'}
            ]
        }
    )


class Link(WireModel):
    href: str


class Links(WireModel):
    next: Link | None = None


class PatchOperation(WireModel):
    """One JSON Patch instruction (`add`, `replace` or `remove`, in either case)."""

    op: str = Field(description="add, replace or remove (case-insensitive)")
    path: str = Field(description="A JSON Pointer into the resource, e.g. /name or /auth/params")
    value: Any = Field(default=None, description="The new value (not for remove)")


PATCH_EXAMPLE = [
    {"op": "replace", "path": "/name", "value": "Test salesforce connection"},
    {"op": "add", "path": "/description", "value": "A test salesforce connection"},
]


class PatchDocument(RootModel[list[PatchOperation] | PatchOperation]):
    """A JSON Patch: an array of operations (one bare operation is accepted too)."""

    model_config = ConfigDict(json_schema_extra={"examples": [PATCH_EXAMPLE]})  # type: ignore[list-item]
