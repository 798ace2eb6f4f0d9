"""GET /metrics (Prometheus text) and the middleware that times every request by its route template.

/metrics needs no token, like most exporters: scrapers rarely hold one, and what it shows is
aggregate and tenant-free (route templates, status codes, run statuses, row and byte totals;
never an org, sandbox, resource id or secret). An operator who does not want it reachable turns
it off with HEADWATER_METRICS=off, or keeps the API behind a proxy that does not forward /metrics.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Response
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headwater.observability.metrics import exposition, observe_request
from headwater.runs.model import RunStatus
from headwater.store import Store
from headwater.store.tables import runs

UNMATCHED = "unmatched"  # every path no route answers shares one label: raw paths would be unbounded
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def run_counts(store: Store) -> dict[str, int]:
    """Runs by status, every status listed (0 when none); one grouped query over the status index."""
    counts = {status.value: 0 for status in RunStatus}
    with store.engine.connect() as conn:
        for status, count in conn.execute(select(runs.c.status, func.count()).group_by(runs.c.status)):
            counts[status] = int(count)
    return counts


def metrics_router(store: Store) -> APIRouter:
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        body, content_type = exposition(lambda: run_counts(store))
        return Response(body, media_type=content_type)

    return router


def route_template(scope: Scope) -> str:
    """The template of the route that answered, prefix included (`/data/…/connections/{connection_id}`).

    Routing leaves the matched route and its path parameters in the scope. The route of an included
    router may carry only its own part of the template, so the prefix is what precedes that part,
    filled in with the parameters, in the request's path.
    """
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str):
        return UNMATCHED
    try:
        filled = template.format(**{k: str(v) for k, v in (scope.get("path_params") or {}).items()})
    except (KeyError, IndexError, ValueError):
        return template
    path: str = scope.get("path", "")
    return path[: len(path) - len(filled)] + template if filled and path.endswith(filled) else template


class RequestMetricsMiddleware:
    """Observes each HTTP request's latency, labelled with method, route template and status code."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app starts a response, an exception will become a 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = route_template(scope)
            observe_request(
                method=scope["method"] if scope["method"] in _METHODS else "other",
                route=route,
                status=status,
                seconds=time.perf_counter() - started,
            )
