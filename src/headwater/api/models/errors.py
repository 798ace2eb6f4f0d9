"""The error bodies Headwater answers, and which statuses each kind of operation declares."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class ErrorReport(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    detailed_message: str = Field(alias="detailed-message")
    request_id: str = Field(alias="request-id")


class FlowErrorBody(BaseModel):
    """Flow Service error: `{type, title, status, report, errorMessage, errorDetails}`.

    `type` ends in FLOW-{code}-{status}: the Adobe code says which check refused the request.
    """

    type: str
    title: str
    status: int
    report: ErrorReport
    error_message: str
    error_details: str

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "type": "https://ns.adobe.com/aep/errors/FLOW-1380-400",
                    "title": "Bad request",
                    "status": 400,
                    "report": {
                        "detailed-message": "Failed to create flow run. Error message: flowId is required.",
                        "request-id": "5a3a7c0e-1c1b-4b0e-9a39-0e0c3d8f8d5b",
                    },
                    "errorMessage": "Failed to create flow run. Error message: flowId is required.",
                    "errorDetails": "Failed to create flow run. Error message: flowId is required.",
                }
            ]
        }
    )


class GatewayErrorBody(BaseModel):
    """Gateway (token, API key, org header) error: `{error_code, message}`."""

    error_code: str
    message: str

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"error_code": "403010", "message": "Oauth token is missing."}]}
    )


class ImsErrorBody(BaseModel):
    """OAuth token endpoint error: `{error, error_description}`."""

    error: str
    error_description: str


Responses = dict[int | str, dict[str, Any]]

_EITHER: dict[str, Any] = {"model": FlowErrorBody | GatewayErrorBody}
# What every operation behind the gateway may answer: header and body checks at the edge, the
# gateway's token, key and org checks, and an unavailable metadata database.
GATEWAY: Responses = {
    400: {**_EITHER, "description": "Invalid request, parameter, body or header (Flow Service or gateway shape)"},
    401: {"model": GatewayErrorBody, "description": "Missing, malformed or expired bearer token"},
    403: {"model": GatewayErrorBody, "description": "API key or org does not match the token"},
    413: {"model": FlowErrorBody, "description": "Body larger than the limit"},
    431: {"model": FlowErrorBody, "description": "Too many or too large request headers"},
    500: {"model": FlowErrorBody, "description": "Unexpected error (quote the request id)"},
    503: {"model": FlowErrorBody, "description": "The metadata database or a source is temporarily unavailable"},
}
NOT_FOUND: Responses = {404: {"model": FlowErrorBody, "description": "Not found in this org and sandbox"}}
WITH_BODY: Responses = {415: {"model": FlowErrorBody, "description": "A body that is not application/json"}}
STALE: Responses = {412: {"model": FlowErrorBody, "description": "If-Match does not match the current etag"}}

IMS: Responses = {
    400: {
        # The edge refuses JSON that cannot be stored safely before the endpoint sees it, in the Flow shape.
        "model": ImsErrorBody | FlowErrorBody,
        "description": "Missing or malformed fields, or credentials in the URL; unsafe JSON (Flow Service shape)",
    },
    401: {"model": ImsErrorBody, "description": "Unknown client or wrong secret"},
    413: {"model": FlowErrorBody, "description": "Body larger than the limit"},
    415: {"model": FlowErrorBody, "description": "Body is neither form-encoded nor JSON"},
    429: {"model": ImsErrorBody, "description": "Too many failed requests from this address or for this client"},
    431: {"model": FlowErrorBody, "description": "Too many or too large request headers"},
    500: {"model": FlowErrorBody, "description": "Unexpected error (quote the request id)"},
    503: {"model": FlowErrorBody, "description": "The metadata database is temporarily unavailable"},
}


def errors(*extra: Responses) -> Responses:
    """The error responses of one operation: the gateway's, plus those of its kind."""
    out: Responses = {}
    for group in extra:
        out.update(group)
    return out
