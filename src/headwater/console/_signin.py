"""Sign-in (client id and secret, or an access token), sign-out and the sandbox switcher.

A client secret is exchanged exactly as `POST /ims/token/v3` exchanges it, behind the same failure
limiter (shared through `app.state.token_gate`), so the console is no way around the API's lockout.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from headwater.api.routes_ims import TokenGate
from headwater.console._access import (
    PREFIX,
    CsrfRefused,
    check_csrf,
    one,
    open_page,
    read_form,
    redirect,
    renderer,
    safe_next,
    services,
    set_session_cookie,
)
from headwater.console._route import ConsoleRoute
from headwater.console._session import SESSION_COOKIE, SIGNIN_COOKIE, new_session
from headwater.domain.sandbox import is_sandbox_name
from headwater.errors import GatewayError
from headwater.identity import Principal

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)
_INVALID = "The client id or client secret is not valid."


def _gate(request: Request) -> TokenGate:
    gate: TokenGate | None = getattr(request.app.state, "token_gate", None)
    if gate is None:
        gate = request.app.state.token_gate = TokenGate(services(request).settings)
    return gate


def _signin_page(request: Request, *, error: str = "", status: int = 200, client_id: str = "") -> Response:
    nonce = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(24)
    expired = request.query_params.get("expired") == "1"
    response = renderer(request).page(
        "signin.html",
        status=status,
        page=None,
        nonce=nonce,
        error=error or ("Your session ended: sign in again." if expired else ""),
        next=safe_next(request.query_params.get("next")),
        client_id=client_id,
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        nonce,
        max_age=3600,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/")
def root() -> Response:
    return redirect(PREFIX + "/flows")


@router.get(PREFIX)
@router.get(PREFIX + "/")
def console_root() -> Response:
    return redirect(PREFIX + "/flows")


@router.get(PREFIX + "/signin")
def signin_form(request: Request) -> Response:
    return _signin_page(request)


async def _sign_in(request: Request, client_id: str, client_secret: str, token: str) -> tuple[Principal, str] | str:
    """The principal and access token of a token or of client credentials, or the message to show instead."""
    svc = services(request)
    if token:
        if not token.isascii():
            return "The access token is not valid."
        try:
            return await run_in_threadpool(svc.tokens.verify, token), token
        except GatewayError as exc:
            return exc.message
    if not client_id or not client_secret:
        return "Give a client id and client secret, or an access token."
    gate = _gate(request)
    keys = ("addr:" + (request.client.host if request.client else "unknown"), "client:" + client_id[:80])
    if gate.limiter.retry_after(*keys) is not None:
        return "Too many failed sign-ins from this address or for this client id; try again later."
    async with gate.slots():
        try:
            access = await run_in_threadpool(svc.tokens.exchange, client_id, client_secret)
        except GatewayError:
            gate.limiter.failed(*keys)
            return _INVALID
    return svc.tokens.decode(access), access


@router.post(PREFIX + "/signin")
async def signin(request: Request) -> Response:
    form = await read_form(request)
    nonce = request.cookies.get(SIGNIN_COOKIE, "")
    if not nonce or not hmac.compare_digest(nonce.encode(), one(form, "csrf").encode()):
        return _signin_page(request, error="The sign-in form expired: try again.", status=403)
    client_id, token = one(form, "client_id").strip(), one(form, "token").strip()
    found = await _sign_in(request, client_id, one(form, "client_secret"), token)
    if isinstance(found, str):
        return _signin_page(request, error=found, status=401, client_id=client_id if client_id.isascii() else "")
    response = redirect(safe_next(one(form, "next")))
    set_session_cookie(request, response, new_session(found[1]))
    response.delete_cookie(SIGNIN_COOKIE, path=PREFIX)
    return response


@router.post(PREFIX + "/signout")
async def signout(request: Request) -> Response:
    form = await read_form(request)
    page = await run_in_threadpool(open_page, request)
    check_csrf(page, form)
    response = redirect(PREFIX + "/signin")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


_SECTIONS = ("flows", "sources", "datasets")


@router.post(PREFIX + "/sandbox")
async def switch_sandbox(request: Request) -> Response:
    form = await read_form(request)
    page = await run_in_threadpool(open_page, request)
    check_csrf(page, form)
    sandbox = one(form, "sandbox").strip()
    if not is_sandbox_name(sandbox):
        return page.render(
            "error.html",
            status=400,
            title="Invalid sandbox name",
            message="A sandbox name is lowercase letters, digits and dashes (at most 63), e.g. prod or dev-1.",
        )
    # Resources are per sandbox: go back to the section's list, not to a page of the old sandbox.
    section = one(form, "section")
    response = redirect(f"{PREFIX}/{section if section in _SECTIONS else 'flows'}")
    set_session_cookie(request, response, page.session.with_sandbox(sandbox))
    return response


__all__ = ["CsrfRefused", "router"]
