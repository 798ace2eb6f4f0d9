"""`POST /ims/token/v3`: the OAuth server-to-server (client_credentials) token endpoint.

Guessing is contained three ways. The blocking exchange (a database read and a hash) runs in
worker threads, at most `_HASH_SLOTS` at a time, so guessers can neither stall the event loop nor
take every core. Failures are counted per client id and per source address (settings
auth_max_failures, auth_failure_window_seconds, auth_lockout_seconds); a locked-out caller gets
429 with Retry-After. And the 429 itself is answered after a pause (a tarpit), so a guesser that
ignores Retry-After costs the server about one cheap request per second per connection instead of
a busy loop of them.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from headwater.api.deps import Svc
from headwater.api.models.ims import TokenRequest, TokenResponse
from headwater.api.models.openapi import request_body
from headwater.errors import GatewayError
from headwater.identity import FailureLimiter
from headwater.service._fields import near_miss
from headwater.settings import Settings

router = APIRouter()

_HASH_SLOTS = max(1, (os.cpu_count() or 2) // 2)
_TARPIT_SECONDS = 1.0
_URL_CREDENTIALS = ("client_id", "client_secret")
_FIELDS = ("grant_type", "client_id", "client_secret", "scope")


class TokenGate:
    """Per-application state of the endpoint: the failure limiter and the hashing slots."""

    def __init__(self, settings: Settings) -> None:
        self.limiter = FailureLimiter(
            max_failures=settings.auth_max_failures,
            window_seconds=settings.auth_failure_window_seconds,
            lockout_seconds=settings.auth_lockout_seconds,
        )
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def slots(self) -> asyncio.Semaphore:
        # A semaphore belongs to one event loop; an app driven by several (test clients) gets one each.
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:
            self._slots, self._loop = asyncio.Semaphore(_HASH_SLOTS), loop
        return self._slots


def _gate(request: Request, settings: Settings) -> TokenGate:
    gate: TokenGate | None = getattr(request.app.state, "token_gate", None)
    if gate is None:
        gate = request.app.state.token_gate = TokenGate(settings)
    return gate


def _ims_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=headers)


async def _too_many(gate: TokenGate, *keys: str) -> JSONResponse:
    await asyncio.sleep(_TARPIT_SECONDS)
    wait = max(1, math.ceil(gate.limiter.retry_after(*keys) or 0))
    return _ims_error(
        429,
        "too_many_requests",
        f"Too many failed token requests from this address or for this client id; retry after {wait} s.",
        headers={"Retry-After": str(wait)},
    )


async def _fields(request: Request) -> dict[str, Any] | JSONResponse:
    fields: dict[str, Any] = dict(request.query_params)
    raw = await request.body()
    if raw:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if ctype == "application/x-www-form-urlencoded":
                fields |= dict(parse_qsl(raw.decode("utf-8"), strict_parsing=True))
            else:
                body = json.loads(raw)
                if not isinstance(body, dict):
                    raise ValueError
                fields |= body
        except ValueError:
            return _ims_error(400, "invalid_request", "The body must be form-encoded or a JSON object.")
    return fields


@router.post(
    "/ims/token/v3",
    tags=["Authentication"],
    summary="Get a bearer token",
    response_model=None,
    responses={200: {"model": TokenResponse, "description": "The token for `Authorization: Bearer …`"}},
    openapi_extra=request_body(TokenRequest, description="The API client's credentials.", form=True),
)
async def issue_token(request: Request, svc: Svc) -> JSONResponse:
    """Exchange client_id and client_secret (form-encoded or JSON body) for a bearer token (OAuth
    client_credentials); credentials in the query string are refused."""
    # URLs end up in access logs, proxy logs and shell history: a secret there is a leaked secret.
    if any(name in request.query_params for name in _URL_CREDENTIALS):
        return _ims_error(
            400,
            "invalid_request",
            "client_id and client_secret are not accepted in the URL query string: send them in the request "
            "body, form-encoded (Content-Type: application/x-www-form-urlencoded) or as JSON.",
        )
    gate = _gate(request, svc.settings)
    address = "addr:" + (request.client.host if request.client else "unknown")
    if gate.limiter.retry_after(address) is not None:
        return await _too_many(gate, address)
    fields = await _fields(request)
    if isinstance(fields, JSONResponse):
        return fields
    typo = next((meant for key in fields if (meant := near_miss(key, _FIELDS)) and meant != key), None)
    if typo is not None:
        return _ims_error(400, "invalid_request", f"Unknown field: did you mean {typo}?")
    grant = fields.get("grant_type", "client_credentials")
    if grant != "client_credentials":
        return _ims_error(400, "unsupported_grant_type", "Only grant_type=client_credentials is supported.")
    client_id, client_secret = fields.get("client_id"), fields.get("client_secret")
    if not isinstance(client_id, str) or not isinstance(client_secret, str) or not client_id or not client_secret:
        return _ims_error(400, "invalid_request", "client_id and client_secret are required.")
    # Truncated: real ids are at most 64 characters, and a megabyte-long "id" must not be kept in memory.
    keys = (address, "client:" + client_id[:80])
    token: str | None = None
    async with gate.slots():
        # Checked again inside: callers queued here while the limit was reached must not hash.
        locked = gate.limiter.retry_after(*keys) is not None
        if not locked:
            try:
                token = await run_in_threadpool(svc.tokens.exchange, client_id, client_secret)
            except GatewayError:
                gate.limiter.failed(*keys)
    if locked:
        return await _too_many(gate, *keys)
    if token is None:
        return _ims_error(401, "invalid_client", "The client id or client secret is not valid.")
    return JSONResponse(
        {"access_token": token, "token_type": "bearer", "expires_in": svc.tokens.ttl_seconds},
        headers={"Cache-Control": "no-store"},
    )
