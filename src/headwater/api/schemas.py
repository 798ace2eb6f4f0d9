"""The error responses every router declares; the wire models themselves live in `headwater.api.models`."""

from __future__ import annotations

from typing import Any

from headwater.api.models.errors import GATEWAY, IMS, FlowErrorBody, GatewayErrorBody, ImsErrorBody

ERROR_RESPONSES = GATEWAY
IMS_RESPONSES = IMS

# `response_model` of a route answering the service's JSON as it is: FastAPI then writes the body with
# pydantic-core in one pass instead of walking it with `jsonable_encoder` and `json.dumps` (measured:
# a third of the CPU of a page of 20 flows). The documented schema is the route's `responses` model.
SERVICE_JSON: Any = Any

__all__ = ["ERROR_RESPONSES", "IMS_RESPONSES", "SERVICE_JSON", "FlowErrorBody", "GatewayErrorBody", "ImsErrorBody"]
