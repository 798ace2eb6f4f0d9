"""Typed wire models of the API: request bodies (camelCase, Adobe's tutorial examples) and response shapes."""

from headwater.api.models.base import IdEtag, PatchOperation, RequestModel, WireModel, parse_body

__all__ = ["IdEtag", "PatchOperation", "RequestModel", "WireModel", "parse_body"]
