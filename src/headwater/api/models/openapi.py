"""The published OpenAPI document: request bodies from the models, the bearer scheme, no phantom 422.

Routes read their bodies as plain JSON and validate them with `parse_body`, so that every refusal is
a 400 with Adobe's code for that field; `request_body` declares the model in the document instead.
FastAPI would also declare a 422 on every route with parameters, which Headwater never answers
(its validation errors are 400s in Adobe's shape): those are removed here.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

_REF = "#/components/schemas/{model}"
_REQUEST_MODELS: dict[str, type[BaseModel]] = {}
BEARER = "bearer"
GATEWAY_HEADERS = ("x-api-key", "x-gw-ims-org-id", "x-sandbox-name")


def request_body(model: type[BaseModel], *, description: str, form: bool = False) -> dict[str, Any]:
    """`openapi_extra` declaring `model` as the operation's required JSON (or form) body, with its examples."""
    _REQUEST_MODELS[model.__name__] = model
    schema = {"$ref": _REF.format(model=model.__name__)}
    extra: Any = model.model_config.get("json_schema_extra") or {}
    examples: list[Any] = list(extra.get("examples", []))
    media: dict[str, Any] = {"schema": schema}
    if examples:
        media["examples"] = {f"example{i + 1}": {"value": value} for i, value in enumerate(examples)}
    content = {"application/json": media}
    if form:
        content["application/x-www-form-urlencoded"] = {"schema": schema}
    return {"requestBody": {"required": True, "description": description, "content": content}}


def _drop_validation_errors(doc: dict[str, Any]) -> None:
    for path in doc.get("paths", {}).values():
        for operation in path.values():
            operation.get("responses", {}).pop("422", None)
    schemas = doc.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def _add_request_models(doc: dict[str, Any]) -> None:
    if not _REQUEST_MODELS:
        return
    _, defs = models_json_schema([(m, "validation") for m in _REQUEST_MODELS.values()], ref_template=_REF)
    doc.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))


_LOCATIONS = {"path": 0, "query": 1, "header": 2, "cookie": 3}


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _add_dependency_parameters(doc: dict[str, Any], routes: Any) -> None:
    """The parameters of dependencies that read the request themselves (their `openapi_parameters`,
    api/deps.py), on each operation that uses them, in FastAPI's order: path, query, header."""
    for route in routing.iter_route_contexts(routes):
        if not isinstance(route.original_route, routing.APIRoute):
            continue
        api_route: Any = route  # the route as included: its prefix, dependencies and schema flag
        if not api_route.include_in_schema:
            continue
        declared: dict[tuple[str, str], dict[str, Any]] = {}
        for call in _calls(api_route.dependant):
            for parameter in getattr(call, "openapi_parameters", []):
                declared.setdefault((parameter["in"], parameter["name"]), copy.deepcopy(parameter))
        if not declared:
            continue
        for method in api_route.methods or ():
            operation = doc["paths"][api_route.path_format][method.lower()]
            present = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
            added = [p for key, p in declared.items() if key not in present]
            parameters = [*operation.get("parameters", []), *added]
            operation["parameters"] = sorted(parameters, key=lambda p: _LOCATIONS[p["in"]])


def _add_security(doc: dict[str, Any]) -> None:
    """The gateway's bearer token on every operation that takes the gateway headers."""
    doc.setdefault("components", {})["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "The access_token from POST /ims/token/v3 (client_credentials).",
        }
    }
    for path in doc.get("paths", {}).values():
        for operation in path.values():
            parameters = operation.get("parameters", [])
            if any(p.get("name") == "x-api-key" for p in parameters):
                operation["security"] = [{BEARER: []}]
            for parameter in parameters:
                # Optional to FastAPI, so the gateway's own checks answer in its order and shape,
                # but every call needs them, as Adobe documents.
                if parameter.get("in") == "header" and parameter.get("name") in GATEWAY_HEADERS:
                    parameter["required"] = True
                    parameter["schema"] = {"type": "string", "title": parameter["schema"].get("title", "")}


def install(app: FastAPI) -> None:
    """Replace the app's OpenAPI generator with one that applies the above (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            _drop_validation_errors(doc)
            _add_request_models(doc)
            _add_dependency_parameters(doc, app.routes)
            _add_security(doc)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
