"""Data Prep mapping sets (`/data/foundation/conversion/mappingSets`), referenced by a flow's Mapping step."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from headwater.domain.kinds import ResourceKind
from headwater.domain.numbers import ascii_int
from headwater.errors import BadRequest, NotFound
from headwater.mapping import validate_mapping_document
from headwater.service._core import Context, ResourceService, audit_fields
from headwater.service._fields import known_fields
from headwater.store import Record
from headwater.store.keys import fits
from headwater.store.paging import Cond, Page

# Data Prep fields Headwater does not implement: refused, since accepting them would promise a behaviour.
_NOT_SUPPORTED = ("inputSchema", "allowNullValues")
_KNOWN = ("version", "xdmSchema", "xdmVersion", "id", "mappings", "name", "description", "outputSchema")


def _schema_ref(body: dict[str, Any]) -> dict[str, Any] | None:
    """The XDM schema the set maps to: `xdmSchema`, or `outputSchema.schemaRef` (Data Prep's newer form,
    which aepp's `createMappingSet` sends). Either is a reference kept as given, like a dataset's
    `schemaRef`; when both are sent they must name the same schema.
    """
    xdm_schema, output = body.get("xdmSchema"), body.get("outputSchema")
    if output is None:
        return {"id": xdm_schema} if xdm_schema is not None else None
    ref = output.get("schemaRef") if isinstance(output, dict) and set(output) == {"schemaRef"} else None
    if (
        not isinstance(ref, dict)
        or set(ref) - {"id", "contentType"}
        or not isinstance(ref.get("id"), str)
        or not ref["id"].strip()
        or not isinstance(ref.get("contentType", ""), str)
    ):
        raise BadRequest(
            "outputSchema may only be {schemaRef: {id, contentType}}: Headwater keeps the reference to the XDM "
            "schema and does not host its content.",
            code="1000",
        )
    if xdm_schema is not None and xdm_schema != ref["id"]:
        raise BadRequest("xdmSchema and outputSchema.schemaRef.id name different XDM schemas: send one.", code="1000")
    return dict(ref)


def _both_forms(mapping: dict[str, Any]) -> dict[str, Any]:
    """A mapping under both of Data Prep's spellings, as Data Prep answers it: clients read either
    `source`/`destination` or `sourceAttribute`/`destinationXdmPath`."""
    out = dict(mapping)
    for new, old in (("source", "sourceAttribute"), ("destination", "destinationXdmPath")):
        if new in mapping and old not in mapping:
            out[old] = mapping[new]
        elif old in mapping and new not in mapping:
            out[new] = mapping[old]
    return out


class MappingSetService(ResourceService):
    """Stores mapping sets; their expressions are compiled against the source schema when a flow uses them."""

    kind = ResourceKind.MAPPING_SET
    api_name = "mappingSets"

    def create(self, ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
        body = known_fields(body, (*_KNOWN, *_NOT_SUPPORTED), code="1000")
        for field in _NOT_SUPPORTED:
            if body.get(field) not in (None, False):
                raise BadRequest(
                    f"The field {field} is not supported: mapping sets map source columns to destination paths "
                    "only. Omit it.",
                    code="1000",
                )
        # Versions are the server's to assign, and a mapping set here has exactly one: version 0.
        if "version" in body and ascii_int(body["version"], low=0, high=0) is None:
            raise BadRequest("A new mapping set is version 0: send version 0 or leave it out.", code="1000")
        for field in ("name", "description", "xdmSchema", "xdmVersion"):
            if body.get(field) is not None and not isinstance(body[field], str):
                raise BadRequest(f"The field {field} must be a string.", code="1000")
        schema_ref = _schema_ref(body)
        mappings = validate_mapping_document(body)
        mapping_id = secrets.token_hex(16)
        doc = {
            "version": 0,
            "xdmSchema": schema_ref["id"] if schema_ref is not None else None,
            "schemaRef": schema_ref,
            "xdmVersion": body.get("xdmVersion"),
            "mappings": mappings,
            **audit_fields(ctx, created=True),
        }
        doc |= {k: body[k] for k in ("name", "description") if body.get(k) is not None}
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
        out = {
            **self._summary(record),
            "xdmSchema": record.doc.get("xdmSchema"),
            "xdmVersion": record.doc.get("xdmVersion"),
            "mappings": [_both_forms(m) for m in record.doc["mappings"]],
            "sandboxName": record.scope.sandbox,
            "imsOrgId": record.scope.org,
        }
        out |= {k: record.doc[k] for k in ("name", "description") if k in record.doc}
        xdm_schema = record.doc.get("xdmSchema")
        if isinstance(xdm_schema, str):
            # Data Prep answers the schema a mapping set was created for under its newer names too
            # (what current clients read); its content type only when it was sent.
            ref = record.doc.get("schemaRef") or {"id": xdm_schema}
            out["schemaRef"] = dict(ref)
            out["outputSchema"] = {"schemaRef": dict(ref)}
        return out

    def get_one(
        self, ctx: Context, mapping_id: str, *, version: str | None = None, expand_schema: str | None = None
    ) -> dict[str, Any]:
        """One mapping set. Data Prep's `version` may only name version 0, the one version a set has
        here; `expandSchema=true` asks for an XDM schema Headwater does not host, so it is refused."""
        expand(expand_schema)
        record = self.record(ctx, mapping_id)
        if version is not None:
            number = ascii_int(version, low=0, high=2**31 - 1)
            if number is None:
                raise BadRequest("The version parameter must be a non-negative integer.", code="1000")
            if number != record.doc.get("version", 0):
                raise NotFound(
                    self.api_name,
                    mapping_id,
                    f"The mapping set {mapping_id} has no version {number}: a mapping set has one version, 0.",
                )
        return self.view(record)

    def page(
        self,
        ctx: Context,
        *,
        limit: int,
        start: int,
        order_by: str | None = None,
        name: str | None = None,
        expand_schema: str | None = None,
    ) -> dict[str, Any]:
        """Data Prep's list: `{_links, _page: {count, limit}, data}`, `limit` from offset `start`.

        Newest change first unless `orderBy` names `createdDate` or `updatedDate` (`-` descending,
        `+` or no sign ascending); `name` keeps the mapping sets of that name (any letter case). The
        page is cut in SQL on the (kind, sandbox, time, id) index: one row beyond the page tells
        whether a next page exists without counting the sandbox.
        """
        expand(expand_schema)
        column, descending = _order(order_by)
        page = Page(conds=_named(name), order=column, descending=descending, limit=limit + 1, offset=start)
        records = self.core.store.page(self.kind, ctx.scope, page)
        data = [self.view(r) for r in records[:limit]]
        links: dict[str, Any] = {}
        if len(records) > limit:
            query: dict[str, Any] = {"limit": limit, "start": start + limit}
            query |= {"orderBy": order_by.strip()} if order_by is not None else {}
            query |= {"name": name} if name is not None else {}
            links["next"] = {"href": f"/mappingSets?{urlencode(query)}"}
        return {"_links": links, "_page": {"count": len(data), "limit": limit}, "data": data}


# Data Prep's `orderBy` fields as store columns; `lastUpdateDate` is the name Data Prep gives its
# default order, `modifiedDate` the field that shows the update.
_ORDER_COLUMNS = {
    "createddate": "created_at",
    "updateddate": "updated_at",
    "lastupdatedate": "updated_at",
    "modifieddate": "updated_at",
}


def _order(order_by: str | None) -> tuple[str, bool]:
    """The column and direction of `orderBy`; an unescaped `+` arrives as a space, so both mean ascending."""
    if order_by is None:
        return "updated_at", True
    text = order_by.strip()
    descending = text.startswith("-")
    column = _ORDER_COLUMNS.get(text.lstrip("+-").strip().lower())
    if column is None:
        raise BadRequest(
            "The orderBy parameter must be createdDate or updatedDate, prefixed with - for descending order.",
            code="1000",
        )
    return column, descending


def expand(expand_schema: str | None) -> None:
    """Data Prep's `expandSchema`: false (the default) is what Headwater answers; true is refused,
    since the full output schema is an XDM schema Headwater does not host."""
    if expand_schema is None or expand_schema.strip().lower() == "false":
        return
    if expand_schema.strip().lower() == "true":
        raise BadRequest(
            "expandSchema=true is not supported: Headwater does not host XDM schemas, so it cannot return a "
            "mapping set's full output schema. Leave expandSchema out or send false.",
            code="1000",
        )
    raise BadRequest("The expandSchema parameter must be true or false.", code="1000")


def _named(name: str | None) -> tuple[Cond, ...]:
    """The SQL condition of a `name` filter, on the lower-cased copy of the name the store keeps."""
    if name is None:
        return ()
    if not name.strip() or not fits("name_key", name) or "\x00" in name:
        raise BadRequest(
            "The name parameter must be a mapping set's name (1 to 255 characters, without NUL).", code="1000"
        )
    return (Cond("name_key", "in", (name.lower(),)),)
