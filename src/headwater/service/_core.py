"""What every service shares: the store, crypto, connectors, settings, and the resource envelope."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from headwater.connectors.base import ConnectorRegistry
from headwater.crypto import SecretBox
from headwater.domain.wire_safe import wire_safe
from headwater.errors import BadRequest, NotFound, PreconditionFailed
from headwater.identity import Principal
from headwater.service._query import ListQuery, PageTokens, run_query
from headwater.settings import Settings
from headwater.store import Record, Scope, Store


@dataclass(frozen=True)
class Context:
    """The caller of one request: principal, tenant scope, and the request id for error reports."""

    principal: Principal
    scope: Scope
    request_id: str = ""

    @property
    def actor(self) -> str:
        # Service tokens have no human user: Adobe then reports the client id as createdBy too.
        return f"{self.principal.client_id}@AdobeID"


@dataclass
class Core:
    """Shared dependencies, built once by `headwater.service.Services`."""

    settings: Settings
    store: Store
    box: SecretBox
    registry: ConnectorRegistry
    page_tokens: PageTokens


def new_id() -> str:
    return str(uuid.uuid4())


def audit_fields(ctx: Context, *, created: bool) -> dict[str, str]:
    fields = {"updatedBy": ctx.actor, "updatedClient": ctx.principal.client_id}
    if created:
        fields |= {"createdBy": ctx.actor, "createdClient": ctx.principal.client_id}
    return fields


def envelope(record: Record) -> dict[str, Any]:
    """The public JSON of a stored resource: its doc (without `_private` keys) plus Adobe's envelope."""
    public = {k: wire_safe(v) for k, v in record.doc.items() if not k.startswith("_")}
    return {
        "id": record.id,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
        "createdBy": public.pop("createdBy", None),
        "updatedBy": public.pop("updatedBy", None),
        "createdClient": public.pop("createdClient", None),
        "updatedClient": public.pop("updatedClient", None),
        "sandboxId": record.scope.sandbox_id,
        "sandboxName": record.scope.sandbox,
        "imsOrgId": record.scope.org,
        **public,
        "version": record.etag,
        "etag": record.etag,
    }


def id_and_etag(record: Record) -> dict[str, str]:
    return {"id": record.id, "etag": record.etag}


class ResourceService:
    """Get, list and delete for one kind of stored resource; subclasses add create and patch."""

    kind: str = ""
    api_name: str = ""  # the collection's name in URLs and error messages

    def __init__(self, core: Core) -> None:
        self.core = core

    def view(self, record: Record) -> dict[str, Any]:
        return envelope(record)

    def record(self, ctx: Context, resource_id: str) -> Record:
        record = self.core.store.get(self.kind, ctx.scope, resource_id)
        if record is None:
            raise NotFound(self.api_name, resource_id)
        return record

    def get(self, ctx: Context, resource_id: str) -> dict[str, Any]:
        return {"items": [self.view(self.record(ctx, resource_id))]}

    def views(self, ctx: Context, records: list[Record]) -> list[dict[str, Any]]:
        """The public form of many records; a service may override it to batch what `view` looks up."""
        return [self.view(r) for r in records]

    def list(self, ctx: Context, query: ListQuery) -> dict[str, Any]:
        items = self.views(ctx, self.core.store.list(self.kind, ctx.scope))
        return run_query(
            items,
            query,
            tokens=self.core.page_tokens,
            base_path=f"/{self.api_name}",
            default_limit=self.core.settings.default_page_size,
        )

    def delete(self, ctx: Context, resource_id: str) -> None:
        self.record(ctx, resource_id)
        self.before_delete(ctx, resource_id)
        if not self.core.store.delete(self.kind, ctx.scope, resource_id):
            raise NotFound(self.api_name, resource_id)

    def before_delete(self, ctx: Context, resource_id: str) -> None:
        """Refuse deletion of a resource that others still use (raise BadRequest)."""


def stale_etag(supplied: str, current: str) -> PreconditionFailed:
    return PreconditionFailed(
        f"Version not matching: The supplied version '{supplied[:80]}' does not match the current version "
        f"on entity '{current}'. Please ensure that the supplied version matches the current version "
        "on entity and try again."
    )


def require_if_match(if_match: str | None) -> str:
    if not if_match or not if_match.strip():
        raise BadRequest(
            "Header is missing: The header 'If-Match' is missing in the request. "
            "Please provide the header and try again.",
            code="1403",
        )
    return if_match


def patch_resource(
    service: ResourceService,
    ctx: Context,
    resource_id: str,
    if_match: str | None,
    body: Any,
    *,
    patchable: tuple[str, ...],
    rebuild: Callable[[Context, dict[str, Any], Record], dict[str, Any]],
) -> dict[str, str]:
    """The shared PATCH path: If-Match check, JSON Patch on the public doc, revalidation, compare-and-set.

    `rebuild` validates the patched doc exactly as create would and returns the doc to store.
    """
    from headwater.service._patch import apply_ops, normalize_ops
    from headwater.store.repository import etag_matches

    supplied = require_if_match(if_match)
    ops = normalize_ops(body)
    record = service.record(ctx, resource_id)
    if not etag_matches(record.etag, supplied):
        raise stale_etag(supplied, record.etag)
    for op in ops:
        top = op["path"].split("/")[1]
        if top == "connectionSpec":
            raise BadRequest(f"The connection spec of a {service.api_name} resource cannot be updated.", code="1414")
        if top not in patchable:
            raise BadRequest(f"The path {op['path'][:200]} provided in ops is invalid.", code="1365")
    public = {k: wire_safe(v) for k, v in record.doc.items() if not k.startswith("_")}
    patched = apply_ops(public, ops)
    doc = rebuild(ctx, patched, record)
    doc |= {k: v for k, v in record.doc.items() if k.startswith("_") and k not in doc}
    doc |= audit_fields(ctx, created=False)
    updated = service.core.store.update(
        service.kind, ctx.scope, resource_id, doc=doc, secrets=record.secrets, expected_etag=record.etag
    )
    return id_and_etag(updated)
