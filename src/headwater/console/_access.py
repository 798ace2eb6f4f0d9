"""Who is asking: the session cookie turned into the same service Context the API builds, and CSRF checks.

Every console request goes through `open_page`: the session's access token is decoded and its client
checked active on every request (as `api/deps.py` does for a bearer token), and the Context scopes
every service call to the token's org and the session's sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from headwater.console._render import Renderer
from headwater.console._session import SESSION_COOKIE, Session, SessionCodec
from headwater.errors import GatewayError
from headwater.identity import Principal
from headwater.service import Context, Services
from headwater.store import Scope

PREFIX = "/console"
MAX_FORM_FIELDS = 500


class SignInRequired(Exception):
    """No valid session: the browser goes to the sign-in page (and comes back to `next_path`)."""

    def __init__(self, next_path: str, message: str = "") -> None:
        super().__init__(message)
        self.next_path = next_path
        self.message = message


class CsrfRefused(Exception):
    """A form came without this session's CSRF token."""


class FormError(Exception):
    """A form field the console itself refuses before any service is called."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


Form = dict[str, list[str]]


@dataclass(frozen=True)
class Page:
    """One signed-in request: services, the service Context, and the session."""

    svc: Services
    ctx: Context
    session: Session
    renderer: Renderer

    @property
    def principal(self) -> Principal:
        return self.ctx.principal

    def render(self, name: str, *, status: int = 200, **context: Any) -> Response:
        return self.renderer.page(name, status=status, page=self, **context)


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def renderer(request: Request) -> Renderer:
    found: Renderer = request.app.state.console_renderer
    return found


def codec(request: Request) -> SessionCodec:
    found: SessionCodec = request.app.state.console_sessions
    return found


def current_path(request: Request) -> str:
    path = request.url.path
    return path + ("?" + request.url.query if request.url.query else "")


def open_page(request: Request) -> Page:
    """The signed-in Page of this request, or SignInRequired. Blocking: call from a worker thread."""
    session = codec(request).open(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise SignInRequired(current_path(request))
    svc = services(request)
    try:
        principal = svc.tokens.verify(session.token)
    except GatewayError as exc:
        raise SignInRequired(current_path(request), exc.message) from None
    rid = getattr(request.state, "request_id", "") or ""
    ctx = Context(principal=principal, scope=Scope(principal.org, session.sandbox), request_id=rid)
    return Page(svc=svc, ctx=ctx, session=session, renderer=renderer(request))


async def read_form(request: Request) -> Form:
    """A urlencoded body as name → values; anything else is an empty form (and fails its CSRF check)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        return {}
    raw = await request.body()
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return {}
    form: Form = {}
    for key, value in pairs:
        form.setdefault(key, []).append(value)
    return form


def one(form: Mapping[str, list[str]], name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0] if values else default


def check_csrf(page: Page, form: Form) -> None:
    if not page.session.csrf_ok(one(form, "csrf")):
        raise CsrfRefused


def safe_next(path: str | None, default: str = PREFIX + "/flows") -> str:
    """A redirect target inside the console only (never another site: no scheme, no //host)."""
    if not path or not path.startswith(PREFIX + "/") or path.startswith("//") or "\\" in path:
        return default
    return path


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def signin_redirect(request: Request, exc: SignInRequired) -> Response:
    target = f"{PREFIX}/signin?next={quote(safe_next(exc.next_path), safe='/')}"
    if exc.message:
        target += "&expired=1"
    if request.headers.get("hx-request"):
        # An htmx fragment request cannot follow a redirect into a whole page: tell htmx to navigate.
        return Response(status_code=204, headers={"HX-Redirect": target})
    response = redirect(target)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def set_session_cookie(request: Request, response: Response, session: Session) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        codec(request).seal(session),
        max_age=codec(request).max_age_seconds,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
