"""HTTP edge (FastAPI). The only package that imports fastapi or starlette."""

from headwater.api.app import create_app

__all__ = ["create_app"]
