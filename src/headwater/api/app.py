"""The FastAPI application: `create_app(settings)` wires services, routes, errors and middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from headwater import __version__, console
from headwater.api import (
    errors,
    heap,
    routes_catalog,
    routes_connections,
    routes_flows,
    routes_ims,
    routes_runs,
    warm,
)
from headwater.api.metrics import RequestMetricsMiddleware, metrics_router
from headwater.api.middleware import EdgeMiddleware
from headwater.api.paths import CATALOG, CONVERSION, FLOW_SERVICE
from headwater.api.schemas import ERROR_RESPONSES, IMS_RESPONSES
from headwater.service import Services
from headwater.settings import Settings


def create_app(
    settings: Settings | None = None, *, services: Services | None = None, settle_heap: bool = False
) -> FastAPI:
    """The app; `settle_heap` (a server process, not a test) builds the routes before serving
    (api/warm.py) and sets the started heap aside from the collector (api/heap.py)."""
    settings = settings or Settings()
    svc = services or Services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc.migrate()
        # The embedded scheduler and worker pool (a no-op when run_embedded_executor is off).
        stop_engine = svc.start_background()
        if settle_heap:
            await warm.build_routes(app.router)  # before the heap is settled: what it builds stays
            heap.settle()
        try:
            yield
        finally:
            stop_engine()

    app = FastAPI(
        title="Flow Service API - Sources (Headwater)",
        version=__version__,
        description="A self-hosted, wire-compatible Flow Service API for PostgreSQL and BigQuery sources.",
        lifespan=lifespan,
    )
    app.state.services = svc
    errors.install(app)
    app.include_router(routes_ims.router, responses=IMS_RESPONSES)
    app.include_router(routes_connections.router, prefix=FLOW_SERVICE, responses=ERROR_RESPONSES)
    app.include_router(routes_flows.router, prefix=FLOW_SERVICE, responses=ERROR_RESPONSES)
    app.include_router(routes_catalog.catalog, prefix=CATALOG, responses=ERROR_RESPONSES)
    app.include_router(routes_catalog.conversion, prefix=CONVERSION, responses=ERROR_RESPONSES)
    app.include_router(routes_runs.router, prefix=FLOW_SERVICE, responses=ERROR_RESPONSES)
    console.mount(app, svc)  # the web console: `/` and `/console/...`, same services and authorization
    if settings.metrics:
        app.include_router(metrics_router(svc.store))
    app.add_middleware(
        EdgeMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
        max_header_count=settings.max_header_count,
    )
    if settings.metrics:
        app.add_middleware(RequestMetricsMiddleware)  # outermost: refusals at the edge are timed too
    return app
