"""Data Prep mapping sets (`/data/foundation/conversion/mappingSets`), referenced by a flow's Mapping step."""

from __future__ import annotations

import secrets
from typing import Any

from headwater.domain.kinds import ResourceKind
from headwater.domain.numbers import ascii_int
from headwater.errors import BadRequest
from headwater.mapping import validate_mapping_document
from headwater.service._core import Context, ResourceService, audit_fields
from headwater.store import Record


class MappingSetService(ResourceService):
    """Stores mapping sets; their expressions are compiled against the source schema when a flow uses them."""

    kind = ResourceKind.MAPPING_SET
    api_name = "mappingSets"

    def create(self, ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
        allowed = {"version", "xdmSchema", "xdmVersion", "id", "mappings", "name", "description"}
        unknown = set(body) - allowed
        if unknown:
            raise BadRequest(f"The field {sorted(unknown)[0]} is not allowed in a mapping set.", code="1000")
        # Versions are the server's to assign, and a mapping set here has exactly one: version 0.
        if "version" in body and ascii_int(body["version"], low=0, high=0) is None:
            raise BadRequest("A new mapping set is version 0: send version 0 or leave it out.", code="1000")
        mappings = validate_mapping_document(body)
        mapping_id = secrets.token_hex(16)
        doc = {
            "version": 0,
            "xdmSchema": body.get("xdmSchema"),
            "xdmVersion": body.get("xdmVersion"),
            "mappings": mappings,
            **audit_fields(ctx, created=True),
        }
        record = self.core.store.insert(self.kind, ctx.scope, id=mapping_id, doc=doc)
        return self._summary(record)

    @staticmethod
    def _summary(record: Record) -> dict[str, Any]:
        return {
            "id": record.id,
            "version": record.doc.get("version", 0),
            "createdDate": record.created_at,
            "modifiedDate": record.updated_at,
            "createdBy": record.doc.get("createdBy"),
            "modifiedBy": record.doc.get("updatedBy"),
        }

    def view(self, record: Record) -> dict[str, Any]:
        return {
            **self._summary(record),
            "xdmSchema": record.doc.get("xdmSchema"),
            "xdmVersion": record.doc.get("xdmVersion"),
            "mappings": record.doc["mappings"],
            "sandboxName": record.scope.sandbox,
            "imsOrgId": record.scope.org,
        }

    def get_one(self, ctx: Context, mapping_id: str) -> dict[str, Any]:
        return self.view(self.record(ctx, mapping_id))
