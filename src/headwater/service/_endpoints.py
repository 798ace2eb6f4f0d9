"""What source and target connections share: field checks, create, the PATCH path and a guarded delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headwater.errors import BadRequest, NotFound
from headwater.service._core import Context, ResourceService, audit_fields, id_and_etag, new_id, patch_resource
from headwater.store import Record
from headwater.store.references import InUse

# The error a delete refused because a flow uses the resource answers with.
Refusal = Callable[[InUse], BadRequest]


def text_field(body: dict[str, Any], field: str, *, required: bool, code: str = "1323") -> str | None:
    """A string field of a request body; a required one must not be blank."""
    value = body.get(field)
    if value is None:
        if required:
            raise BadRequest(f"The mandatory field {field} is not provided.", code=code)
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadRequest(f"The field {field} must be a non-empty string.", code=code)
    return value


def spec_ref(body: dict[str, Any], field: str) -> dict[str, str]:
    """A `{id, version}` reference to a connection or flow spec."""
    ref = body.get(field)
    if not isinstance(ref, dict) or not isinstance(ref.get("id"), str):
        raise BadRequest(f"The mandatory field {field}.id is not provided.", code="1413")
    return {"id": ref["id"], "version": str(ref.get("version") or "1.0")}


def delete_unless_used(service: ResourceService, ctx: Context, resource_id: str, refusal: Refusal) -> None:
    """Delete a resource unless a flow uses it: the store checks and deletes in one transaction."""
    service.record(ctx, resource_id)
    try:
        deleted = service.core.store.delete_unless_used(service.kind, ctx.scope, resource_id)
    except InUse as used:
        raise refusal(used) from None
    if not deleted:
        raise NotFound(service.api_name, resource_id)


def _named_by_a_flow(used: InUse) -> BadRequest:
    return BadRequest(
        f"Found active flows containing id {used.resource_id}: delete flow {used.flow_id} first.", code="1447"
    )


class FlowEndpointService(ResourceService):
    """Create, PATCH of the listed fields, and a delete refused while a flow names the connection."""

    patchable: tuple[str, ...]

    def _build(self, ctx: Context, body: dict[str, Any], existing: Record | None) -> dict[str, Any]:
        raise NotImplementedError

    def create(self, ctx: Context, body: dict[str, Any]) -> dict[str, str]:
        doc = self._build(ctx, body, None) | audit_fields(ctx, created=True)
        return id_and_etag(self.core.store.insert(self.kind, ctx.scope, id=new_id(), doc=doc))

    def patch(self, ctx: Context, resource_id: str, if_match: str | None, body: Any) -> dict[str, str]:
        def rebuild(
            c: Context, doc: dict[str, Any], record: Record, ops: list[dict[str, Any]]
        ) -> tuple[dict[str, Any], bytes | None]:
            rebuilt = self._build(c, {**doc, "connectionSpec": record.doc["connectionSpec"]}, record)
            return rebuilt, record.secrets

        return patch_resource(self, ctx, resource_id, if_match, body, patchable=self.patchable, rebuild=rebuild)

    def delete(self, ctx: Context, resource_id: str) -> None:
        delete_unless_used(self, ctx, resource_id, _named_by_a_flow)
