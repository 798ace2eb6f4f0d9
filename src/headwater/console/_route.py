"""The route class of every console page: service errors become HTML pages, never the API's JSON."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from headwater.console._access import CsrfRefused, SignInRequired, renderer, signin_redirect
from headwater.errors import GatewayError, HeadwaterError

log = logging.getLogger("headwater.console")


class ConsoleRoute(APIRoute):
    """Turns SignInRequired into the sign-in page, a CSRF refusal into 403, and a Headwater error into its page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except SignInRequired as exc:
                return signin_redirect(request, exc)
            except GatewayError as exc:
                return signin_redirect(request, SignInRequired(request.url.path, exc.message))
            except CsrfRefused:
                return renderer(request).page(
                    "error.html",
                    status=403,
                    page=None,
                    title="Form refused",
                    message="This form did not come from your current session (CSRF check). "
                    "Reload the page and try again.",
                )
            except HeadwaterError as exc:
                if exc.status >= 500:
                    log.error("console request failed: %s", exc.message)
                title = {404: "Not found"}.get(exc.status, "Something went wrong" if exc.status >= 500 else "Refused")
                return renderer(request).page(
                    "error.html",
                    status=exc.status,
                    page=None,
                    title=title,
                    message=exc.message,
                    request_id=getattr(request.state, "request_id", ""),
                )

        return handler
