"""A server process builds its routes before it takes connections, not on its first requests.

FastAPI builds each included router's routes (their parameter and response models) the first time a
request is matched against them. Measured in process on a page of flows: the first request took
430-480 ms, 86% of it building routes; the second took 5 ms. Under load, every connection that reaches
a new web worker first waits behind that, which put a fresh server's first seconds into the p99 of
`bench/load_read.py`. One request for a path no route has, sent to the router alone (no middleware:
it is not logged or counted), is matched against every route, which builds them all.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message

log = logging.getLogger(__name__)

# No route has it: the router tries every route, building each router's routes on the way, and answers 404.
_NO_ROUTE = "/.headwater/warm-up"


async def build_routes(router: ASGIApp) -> None:
    """Match one request for a path no route has against `router` (the app's router, not the app)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": _NO_ROUTE,
        "raw_path": _NO_ROUTE.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
    }
    answered: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        answered.append(message)

    try:
        await router(scope, receive, send)
    except Exception:  # a warm-up that fails leaves the routes to be built on first use, as before
        log.warning("building the routes before serving failed; they are built on first use", exc_info=True)
        return
    status = answered[0].get("status") if answered else None
    if status != 404:
        log.warning("the warm-up path %s answered %s, not 404", _NO_ROUTE, status)
