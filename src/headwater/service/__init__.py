"""The service layer: one method per Flow Service operation, no HTTP; `Services` wires them all."""

from __future__ import annotations

from headwater.service._core import Context
from headwater.service._query import ListQuery
from headwater.service.assembly import Services

__all__ = ["Context", "ListQuery", "Services"]
