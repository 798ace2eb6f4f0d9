"""What every service shares: the store, crypto, connectors, settings, and the resource envelope."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from headwater.connectors.base import ConnectorRegistry
from headwater.crypto import SecretBox
from headwater.domain.kinds import ResourceKind
from headwater.domain.wire_safe import renders_as_is, wire_safe
from headwater.errors import BadRequest, NotFound, PreconditionFailed
from headwater.identity import Principal
from headwater.lake import Lake
from headwater.runs.credentials import Credentials
from headwater.service._patch import apply_ops, normalize_ops
from headwater.service._query import ListQuery, PageTokens
from headwater.service._sql_lists import Collection, Column, list_page
from headwater.service._text_orders import text_ordered_page
from headwater.settings import Settings
from headwater.store import Record, Scope, Store
from headwater.store.repository import etag_matches


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
    """Shared dependencies, built once by `headwater.service.assembly.Services`."""

    settings: Settings
    store: Store
    box: SecretBox
    registry: ConnectorRegistry
    credentials: Credentials
    page_tokens: PageTokens
    open_lake: Callable[[], Lake]
    _lake: Lake | None = field(default=None, init=False, repr=False)

    @property
    def lake(self) -> Lake:
        """The lake, opened on first use: its catalog connects to the metadata database."""
        if self._lake is None:
            self._lake = self.open_lake()
        return self._lake


def new_id() -> str:
    return str(uuid.uuid4())


def audit_fields(ctx: Context, *, created: bool) -> dict[str, str]:
    fields = {"updatedBy": ctx.actor, "updatedClient": ctx.principal.client_id}
    if created:
        fields |= {"createdBy": ctx.actor, "createdClient": ctx.principal.client_id}
    return fields


def public_doc(doc: dict[str, Any], *, known_as_is: bool = False) -> dict[str, Any]:
    """A stored doc without its `_private` keys, as clients may see it (`known_as_is`: decoding showed
    it renders as is, Record.renders_as_is)."""
    if known_as_is or renders_as_is(doc):  # nearly always: one C pass instead of a walk in Python
        return {k: v for k, v in doc.items() if not k.startswith("_")}
    return {k: wire_safe(v) for k, v in doc.items() if not k.startswith("_")}


def envelope(
    resource_id: str,
    scope: Scope,
    *,
    created_at: int,
    updated_at: int,
    doc: dict[str, Any],
    known_as_is: bool = False,
    **head: Any,
) -> dict[str, Any]:
    """Adobe's envelope around a public doc: ids, audit fields, sandbox and org; `head` follows the id."""
    public = public_doc(doc, known_as_is=known_as_is)
    return {
        "id": resource_id,
        **head,
        "createdAt": created_at,
        "updatedAt": updated_at,
        "createdBy": public.pop("createdBy", None),
        "updatedBy": public.pop("updatedBy", None),
        "createdClient": public.pop("createdClient", None),
        "updatedClient": public.pop("updatedClient", None),
        "sandboxId": scope.sandbox_id,
        "sandboxName": scope.sandbox,
        "imsOrgId": scope.org,
        **public,
    }


def record_envelope(record: Record) -> dict[str, Any]:
    """The public JSON of a stored resource; its etag doubles as its version."""
    out = envelope(
        record.id,
        record.scope,
        created_at=record.created_at,
        updated_at=record.updated_at,
        doc=record.doc,
        known_as_is=record.renders_as_is,
    )
    return out | {"version": record.etag, "etag": record.etag}


def id_and_etag(record: Record) -> dict[str, str]:
    return {"id": record.id, "etag": record.etag}


# The public paths of an envelope (`record_envelope`) that a column of the resources table holds
# exactly (store/keys.py), so list filters and orders on them run in SQL.
ENVELOPE_COLUMNS = {
    "id": Column("id", "id"),
    "createdAt": Column("created_at", "number"),
    "updatedAt": Column("updated_at", "number"),
    "name": Column("name_key", "key"),
    "state": Column("state_key", "key"),
    "connectionSpec.id": Column("spec_key", "key"),
    "flowSpec.id": Column("spec_key", "key"),
    "baseConnectionId": Column("ref_key", "key"),
}


class ResourceService:
    """Get, list and delete for one kind of stored resource; subclasses add create and patch."""

    kind: ResourceKind
    api_name: str = ""  # the collection's name in URLs and error messages
    noun: str = ""  # how error messages name one resource, when not "<api_name> resource"
    columns: dict[str, Column] = ENVELOPE_COLUMNS

    def __init__(self, core: Core) -> None:
        self.core = core

    def view(self, record: Record) -> dict[str, Any]:
        return record_envelope(record)

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
        store = self.core.store
        collection = Collection(
            base_path=f"/{self.api_name}",
            columns=self.columns,
            fetch=lambda page: store.page(self.kind, ctx.scope, page),
            count=lambda conds: store.count(self.kind, ctx.scope, conds),
            views=lambda records: self.views(ctx, records),
        )
        tokens, default_limit = self.core.page_tokens, self.core.settings.default_page_size
        by_text = text_ordered_page(collection, query, tokens=tokens, default_limit=default_limit)
        if by_text is not None:
            return by_text
        return list_page(collection, query, tokens=tokens, default_limit=default_limit)

    def delete(self, ctx: Context, resource_id: str) -> None:
        self.record(ctx, resource_id)
        if not self.core.store.delete(self.kind, ctx.scope, resource_id):
            raise NotFound(self.api_name, resource_id)


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


Rebuild = Callable[["Context", dict[str, Any], Record, list[dict[str, Any]]], tuple[dict[str, Any], bytes | None]]


def patch_resource(
    service: ResourceService,
    ctx: Context,
    resource_id: str,
    if_match: str | None,
    body: Any,
    *,
    patchable: tuple[str, ...],
    rebuild: Rebuild,
    current: Callable[[Record], dict[str, Any]] | None = None,
    check: Callable[[Record], None] | None = None,
) -> dict[str, str]:
    """The one PATCH path: If-Match, JSON Patch on the resource's current JSON, revalidation, compare-and-set.

    `current` gives the JSON the ops apply to (by default the public doc); `check` may refuse the
    record before the ops are looked at; `rebuild` validates the patched JSON exactly as create
    would and returns the doc and sealed secrets to store.
    """
    supplied = require_if_match(if_match)
    ops = normalize_ops(body)
    record = service.record(ctx, resource_id)
    if not etag_matches(record.etag, supplied):
        raise stale_etag(supplied, record.etag)
    if check is not None:
        check(record)
    for op in ops:
        top = op["path"].split("/")[1]
        if top == "connectionSpec":
            raise BadRequest(
                f"The connection spec of a {service.noun or service.api_name + ' resource'} cannot be updated.",
                code="1414",
            )
        if top not in patchable:
            raise BadRequest(f"The path {op['path'][:200]} provided in ops is invalid.", code="1365")
    patched = apply_ops(current(record) if current else public_doc(record.doc), ops)
    doc, secrets = rebuild(ctx, patched, record, ops)
    doc |= {k: v for k, v in record.doc.items() if k.startswith("_") and k not in doc}
    doc |= audit_fields(ctx, created=False)
    updated = service.core.store.update(
        service.kind, ctx.scope, resource_id, doc=doc, secrets=secrets, expected_etag=record.etag
    )
    return id_and_etag(updated)
