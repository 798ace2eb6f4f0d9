"""HTTP edge (FastAPI). The only package that imports fastapi or starlette.

`create_app` is imported on first use: `headwater serve`'s parent process imports a module of this
package (the access log's configuration) but serves nothing, and importing the app (the service
layer, Iceberg, Arrow, the connectors) delayed the start of its web workers by seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from headwater.api.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
