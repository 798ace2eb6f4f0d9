"""ASGI middleware: request ids, body-size limit and content-type checks, before any routing."""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headwater.api.errors import ERROR_TYPE

_JSON_TYPES = ("application/json", "application/json-patch+json")
_FORM_PATHS = ("/ims/token/v3",)


async def _send_error(send: Send, rid: str, status: int, code: str, title: str, message: str) -> None:
    body = json.dumps(
        {
            "type": ERROR_TYPE.format(code=code, status=status),
            "title": title,
            "status": status,
            "report": {"detailed-message": message, "request-id": rid},
            "errorMessage": message,
            "errorDetails": message,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", rid.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class EdgeMiddleware:
    """Assigns a request id, enforces JSON content types and a maximum body size."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        rid = headers.get("x-request-id") or str(uuid.uuid4())
        rid = rid if len(rid) <= 128 and rid.isprintable() else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = rid

        method = scope["method"]
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await _send_error(
                send,
                rid,
                413,
                "1007",
                "Payload too large",
                f"The request body is larger than the limit of {self.max_body_bytes} bytes.",
            )
            return
        has_body = (length is not None and int(length) > 0) or "transfer-encoding" in headers
        if method in ("POST", "PUT", "PATCH") and has_body:
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            allowed = _JSON_TYPES + (("application/x-www-form-urlencoded",) if scope["path"] in _FORM_PATHS else ())
            if ctype not in allowed:
                await _send_error(
                    send,
                    rid,
                    415,
                    "1004",
                    "Unsupported media type",
                    f"Content-Type must be application/json (got {ctype[:60] or 'none'!r}).",
                )
                return

        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                hdrs: list[Any] = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in hdrs):
                    hdrs.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": hdrs}
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if too_large:
                await _send_error(
                    send,
                    rid,
                    413,
                    "1007",
                    "Payload too large",
                    f"The request body is larger than the limit of {self.max_body_bytes} bytes.",
                )


class _BodyTooLarge(Exception):
    pass
