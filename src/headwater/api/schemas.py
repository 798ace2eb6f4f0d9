"""Request bodies of the Flow Service, as Adobe's tutorials send them (camelCase, unknown fields refused)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpecRef(Strict):
    id: str = Field(min_length=1, max_length=64)
    version: str | None = Field(default=None, max_length=32)


class ConnectionAuthIn(Strict):
    specName: str = Field(min_length=1, max_length=200)
    type: str | None = Field(default=None, max_length=64)
    params: dict[str, Any]


class CreateConnection(Strict):
    name: str = Field(min_length=1, max_length=512)
    description: str | None = Field(default=None, max_length=4096)
    auth: ConnectionAuthIn
    connectionSpec: SpecRef


class IdEtag(BaseModel):
    id: str
    etag: str


PatchBody = list[dict[str, Any]] | dict[str, Any]


# Error bodies, declared on every route so clients (and the schema-driven fuzz tests) know the shapes.
class ErrorReport(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    detailed_message: str = Field(alias="detailed-message")
    request_id: str = Field(alias="request-id")


class FlowErrorBody(BaseModel):
    """Flow Service error: `{type, title, status, report, errorMessage, errorDetails}`."""

    type: str
    title: str
    status: int
    report: ErrorReport
    errorMessage: str
    errorDetails: str


class GatewayErrorBody(BaseModel):
    """Gateway (token, API key, org header) error: `{error_code, message}`."""

    error_code: str
    message: str


class ImsErrorBody(BaseModel):
    """OAuth token endpoint error: `{error, error_description}`."""

    error: str
    error_description: str


_EITHER: dict[str, Any] = {"model": FlowErrorBody | GatewayErrorBody}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {**_EITHER, "description": "Invalid request or header (Flow Service or gateway shape)"},
    401: {**_EITHER, "description": "Missing, invalid or expired token"},
    403: {**_EITHER, "description": "Wrong API key or org for the token"},
    404: {"model": FlowErrorBody, "description": "Not found in this org and sandbox"},
    409: {"model": FlowErrorBody, "description": "Conflicts with the resource's state"},
    412: {"model": FlowErrorBody, "description": "If-Match does not match the current etag"},
    413: {"model": FlowErrorBody, "description": "Body larger than the limit"},
    415: {"model": FlowErrorBody, "description": "Body is not JSON"},
    500: {"model": FlowErrorBody, "description": "Unexpected error (quote the request id)"},
    503: {"model": FlowErrorBody, "description": "A source or dependency is temporarily unavailable"},
}
IMS_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ImsErrorBody, "description": "Missing or malformed fields"},
    401: {"model": ImsErrorBody, "description": "Unknown client or wrong secret"},
    413: {"model": FlowErrorBody, "description": "Body larger than the limit"},
    415: {"model": FlowErrorBody, "description": "Body is neither form-encoded nor JSON"},
    429: {"model": ImsErrorBody, "description": "Too many failed requests from this address or for this client"},
}
