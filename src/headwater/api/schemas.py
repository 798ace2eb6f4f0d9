"""The error responses every router declares; the wire models themselves live in `headwater.api.models`."""

from __future__ import annotations

from headwater.api.models.errors import GATEWAY, IMS, FlowErrorBody, GatewayErrorBody, ImsErrorBody

ERROR_RESPONSES = GATEWAY
IMS_RESPONSES = IMS

__all__ = ["ERROR_RESPONSES", "IMS_RESPONSES", "FlowErrorBody", "GatewayErrorBody", "ImsErrorBody"]
