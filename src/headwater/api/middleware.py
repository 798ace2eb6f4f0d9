"""ASGI middleware: request ids, header and body limits, content-type and JSON checks, before any routing."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headwater.api.errors import error_body
from headwater.api.strict_json import JsonRefused, check_body
from headwater.observability.context import set_request_id

_JSON_TYPES = ("application/json", "application/json-patch+json")
_FORM_PATHS = ("/ims/token/v3",)
_FORM_PREFIXES = ("/console/",)  # the web console's HTML forms
_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")


async def _send_error(send: Send, rid: str, status: int, code: str, title: str, message: str) -> None:
    body = json.dumps(error_body(status=status, code=code, title=title, message=message, request_id=rid)).encode()
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


def _takes_forms(path: str) -> bool:
    return path in _FORM_PATHS or path.startswith(_FORM_PREFIXES)


class _BodyTooLarge(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, refused as soon as it passes `limit` (a chunked body has no length up front)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later calls wait for the client's disconnect, as the server's own would

    return replay


class EdgeMiddleware:
    """Assigns a request id; enforces header limits, JSON content types, a maximum body size and strict JSON.

    Bodies are read here in full (they are bounded by `max_body_bytes`) so that an oversized chunked
    body gets its 413 before any route runs, and so that every JSON body is checked once, in one place.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_header_bytes: int, max_header_count: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.max_header_count = max_header_count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}
        rid = headers.get("x-request-id") or str(uuid.uuid4())
        rid = rid if len(rid) <= 128 and rid.isascii() and rid.isprintable() else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = rid
        set_request_id(rid)  # every log line of this request carries it, the 500 handler's and uvicorn's too

        if len(raw_headers) > self.max_header_count or sum(len(k) + len(v) for k, v in raw_headers) > (
            self.max_header_bytes
        ):
            await _send_error(
                send,
                rid,
                431,
                "1007",
                "Request header fields too large",
                f"The request headers exceed the limit of {self.max_header_count} headers or "
                f"{self.max_header_bytes} bytes in all.",
            )
            return
        length = headers.get("content-length")
        if length is not None and (not _CONTENT_LENGTH.fullmatch(length) or int(length) > self.max_body_bytes):
            await self._too_large(send, rid)
            return
        has_body = (length is not None and int(length) > 0) or "transfer-encoding" in headers
        if not has_body:
            await self.app(scope, receive, self._with_request_id(send, rid))
            return
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if scope["method"] in ("POST", "PUT", "PATCH"):
            allowed = _JSON_TYPES + (("application/x-www-form-urlencoded",) if _takes_forms(scope["path"]) else ())
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
        try:
            body = await _read_body(receive, self.max_body_bytes)
        except _BodyTooLarge:
            await self._too_large(send, rid)
            return
        if ctype in _JSON_TYPES and body.strip():
            try:
                check_body(body)
            except JsonRefused as exc:
                await _send_error(send, rid, 400, "1000", "Bad request", exc.message)
                return
            except ValueError:
                pass  # a syntax error: the route answers it in its own error shape
        await self.app(scope, _replay(body, receive), self._with_request_id(send, rid))

    async def _too_large(self, send: Send, rid: str) -> None:
        await _send_error(
            send,
            rid,
            413,
            "1007",
            "Payload too large",
            f"The request body is larger than the limit of {self.max_body_bytes} bytes.",
        )

    @staticmethod
    def _with_request_id(send: Send, rid: str) -> Send:
        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                hdrs: list[Any] = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in hdrs):
                    hdrs.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": hdrs}
            await send(message)

        return tracking_send
