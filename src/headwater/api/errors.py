"""One place that turns exceptions into Adobe's two error shapes and a status code."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from headwater.api.models import openapi
from headwater.errors import GatewayError, HeadwaterError
from headwater.lake import store_unavailable

log = logging.getLogger("headwater.api")

ERROR_TYPE = "https://ns.adobe.com/aep/errors/FLOW-{code}-{status}"


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if not rid:
        rid = str(uuid.uuid4())
        request.state.request_id = rid
    return str(rid)


def error_body(*, status: int, code: str, title: str, message: str, request_id: str, **report: Any) -> dict[str, Any]:
    """Adobe's Flow Service error body: the only place its shape is written."""
    return {
        "type": ERROR_TYPE.format(code=code, status=status),
        "title": title,
        "status": status,
        "report": {"detailed-message": message, "request-id": request_id, **report},
        "errorMessage": message,
        "errorDetails": message,
    }


def flow_error(request: Request, *, status: int, code: str, title: str, message: str, **report: Any) -> JSONResponse:
    rid = request_id(request)
    body = error_body(status=status, code=code, title=title, message=message, request_id=rid, **report)
    return JSONResponse(body, status_code=status, headers={"x-request-id": rid})


def gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
    rid = request_id(request)
    return JSONResponse(
        {"error_code": exc.error_code, "message": exc.message},
        status_code=exc.status,
        headers={"x-request-id": rid},
    )


def _validation_message(exc: RequestValidationError) -> tuple[str, str]:
    """A message naming each failing field; input values are never echoed (they may be secrets)."""
    parts: list[str] = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        field = ".".join(loc) or "body"
        kind = err.get("type", "")
        if kind == "json_invalid":
            return "1000", "The request body is not valid JSON: " + str(err.get("ctx", {}).get("error", "")) + "."
        if kind == "missing":
            if field == "body":
                return "1405", "The request body cannot be null or empty."
            parts.append(f"The mandatory field {field} is not provided.")
        elif kind == "extra_forbidden":
            parts.append(f"The field {field} is not allowed.")
        else:
            parts.append(f"The field {field} is invalid: {err.get('msg', 'invalid value')}.")
    return "1304", " ".join(parts[:10]) or "The request is invalid."


def install(app: FastAPI) -> None:
    # The published document declares the errors these handlers answer, and no FastAPI 422.
    openapi.install(app)

    @app.exception_handler(HeadwaterError)
    async def _headwater(request: Request, exc: HeadwaterError) -> JSONResponse:
        if exc.status >= 500:
            log.error("request failed: %s", exc.message)
        return flow_error(request, status=exc.status, code=exc.code, title=exc.title, message=exc.message, **exc.report)

    @app.exception_handler(GatewayError)
    async def _gateway(request: Request, exc: GatewayError) -> JSONResponse:
        return gateway_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = _validation_message(exc)
        return flow_error(request, status=400, code=code, title="Bad request", message=message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Resource not found", 405: "Method not allowed"}
        message = (
            f"No such endpoint: {request.method} {request.url.path}." if exc.status_code == 404 else str(exc.detail)
        )
        code = {404: "1003", 405: "1000"}.get(exc.status_code, "1000")
        return flow_error(
            request, status=exc.status_code, code=code, title=titles.get(exc.status_code, "Error"), message=message
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if store_unavailable(exc):
            # The store's own text may name its endpoint: the log has it, the client a clear 503.
            log.warning("object store unavailable on %s %s: %s", request.method, request.url.path, exc)
            return flow_error(
                request,
                status=503,
                code="1011",
                title="Service unavailable",
                message="The data lake's object store is unreachable or busy; nothing was changed. Retry later.",
            )
        # The traceback goes to the log for the operator; the client gets only the request id.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return flow_error(
            request,
            status=500,
            code="1005",
            title="Internal server error",
            message="An unexpected error occurred. Quote the request id when reporting it.",
        )
