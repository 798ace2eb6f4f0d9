"""`POST /ims/token/v3`: the OAuth server-to-server (client_credentials) token endpoint."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from headwater.api.deps import Svc
from headwater.errors import GatewayError

router = APIRouter()


def _ims_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


@router.post("/ims/token/v3", tags=["Authentication"])
async def issue_token(request: Request, svc: Svc) -> JSONResponse:
    """Exchange client_id and client_secret (form, JSON or query) for a bearer token."""
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
    grant = fields.get("grant_type", "client_credentials")
    if grant != "client_credentials":
        return _ims_error(400, "unsupported_grant_type", "Only grant_type=client_credentials is supported.")
    client_id, client_secret = fields.get("client_id"), fields.get("client_secret")
    if not isinstance(client_id, str) or not isinstance(client_secret, str) or not client_id or not client_secret:
        return _ims_error(400, "invalid_request", "client_id and client_secret are required.")
    try:
        token = svc.tokens.exchange(client_id, client_secret)
    except GatewayError as exc:
        return _ims_error(401, "invalid_client", exc.message)
    return JSONResponse(
        {"access_token": token, "token_type": "bearer", "expires_in": svc.tokens.ttl_seconds},
        headers={"Cache-Control": "no-store"},
    )
