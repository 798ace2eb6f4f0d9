"""The web console: server-rendered pages over the same service layer and authorization as the API.

`mount(app)` adds it to the API's application: `/` and everything under `/console/`. Pages are
Jinja2 templates; htmx (vendored, pinned) adds live run progress and the connection test in place.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from headwater.console import _datasets, _flows, _signin, _sources, _wizard
from headwater.console._access import PREFIX
from headwater.console._render import STATIC_DIR, Renderer
from headwater.console._session import SessionCodec
from headwater.service import Services


def mount(app: FastAPI, services: Services) -> None:
    """Serve the console from `app`; sessions last as long as the access tokens they hold."""
    app.state.console_renderer = Renderer()
    app.state.console_sessions = SessionCodec(
        services.core.box.signing_key, max_age_seconds=services.settings.token_ttl_seconds
    )
    for module in (_signin, _sources, _wizard, _flows, _datasets):
        app.include_router(module.router)
    app.mount(PREFIX + "/static", StaticFiles(directory=STATIC_DIR), name="console-static")


__all__ = ["mount"]
