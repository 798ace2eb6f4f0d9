"""A server process builds its routes before serving (api/warm.py), so a first request does not."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import fastapi.routing
import pytest
from fastapi.testclient import TestClient

from headwater.api import create_app
from headwater.api.warm import build_routes
from headwater.settings import Settings


def test_after_the_warm_up_a_first_request_builds_no_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(data_dir=tmp_path, run_embedded_executor=False))
    built: list[Any] = []
    build = fastapi.routing._IncludedRouter._build_effective_context

    def counted(self: Any, route: Any) -> Any:
        built.append(route)
        return build(self, route)

    monkeypatch.setattr(fastapi.routing._IncludedRouter, "_build_effective_context", counted)
    with caplog.at_level(logging.WARNING, logger="headwater.api.warm"):
        asyncio.run(build_routes(app.router))
    assert not caplog.records  # answered 404, as a path no route has must be
    assert len(built) >= 40  # every route of every router
    built.clear()
    with TestClient(app) as client:
        for path in ("/data/foundation/flowservice/flows", "/data/foundation/catalog/dataSets", "/ims/token/v3"):
            assert client.get(path).status_code in (401, 405)
    assert built == []
