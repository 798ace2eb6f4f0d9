"""Catalog datasets (`/data/foundation/catalog/dataSets`): each dataset is one Apache Iceberg table.

A dataset's columns are given (`schema.columns`), taken from an explored source table (`source`),
or — as in Adobe's tutorials, where a dataset names an XDM schema Headwater does not host — set by
the first run that writes to it. A dataset shows them as `iceberg.columns`, beside the rest of what
it shows of its table: Catalog's own `schema` is a string (a legacy XDM schema reference), and it is
answered only as given.
"""

from __future__ import annotations

import secrets
from typing import Any

import pyarrow as pa

from headwater.domain.jsonify import json_rows
from headwater.domain.kinds import ResourceKind
from headwater.domain.type_names import arrow_type_named, known_type_names
from headwater.errors import BadRequest, NotFound
from headwater.lake import DatasetIdent, Lake, namespace_for
from headwater.runs.dataset_facts import columns_of, refresh_facts
from headwater.runs.plan import lake_ident
from headwater.service._core import Context, ResourceService, audit_fields
from headwater.service._fields import known_fields
from headwater.service.catalog_filters import DatasetFilter
from headwater.service.connections import ConnectionService
from headwater.store import Record
from headwater.store.paging import Cond, Page
from headwater.store.references import InUse


def arrow_type(name: str, *, field: str) -> pa.DataType:
    """A platform type name (`string`, `long`, `date-time`, `decimal(18,4)`, ...) as an Arrow type."""
    found = arrow_type_named(name)
    if found is None:
        raise BadRequest(f"{field}: unknown type {name[:40]!r}. Use one of {known_type_names()}.", code="1000")
    return found


def _columns(schema: pa.Schema) -> list[dict[str, str]]:
    return columns_of(schema)


# Catalog fields Headwater does not implement: refused, since accepting them would promise a behaviour.
_NOT_SUPPORTED = ("enableErrorDiagnostics", "observableSchema", "basePath", "dataSourceId")
# Catalog's own fields, and Headwater's `schema.columns` and `source` (a dataset's columns).
_KNOWN = ("name", "description", "schemaRef", "schema", "source", "tags", "fileDescription")
# What Catalog's clients read to tell datasets apart: every Headwater dataset holds records its
# user's flows write.
_CLASSIFICATION = {"dataBehavior": "record", "managedBy": "CUSTOMER"}


# Rows read per statement when a list filter or a delete's check must look at stored docs.
_SCAN_CHUNK = 500
# What a view shows of a table it has not read; list filters never look at it (catalog_filters.py).
_UNREAD_FACTS: dict[str, Any] = {"schema": None, "dataFiles": 0, "snapshot": None}


def _current(facts: dict[str, Any] | None) -> dict[str, Any] | None:
    """Kept facts, unless kept before they held the table's snapshot (then read again, once)."""
    return facts if facts is not None and "snapshot" in facts else None


NO_FILTER = DatasetFilter()


# Datasets one lookup may name (`GET /dataSets/{id1},{id2}`): as many as a list page holds.
_MAX_IDS = 100

# Catalog's `orderBy` fields that a column of the store holds (and indexes).
_ORDER_COLUMNS = {"created": "created_at", "updated": "updated_at"}


def catalog_order(order_by: str | None) -> tuple[str, bool]:
    """Catalog's `orderBy` (`created`, `asc:updated`, `desc:created`) as a store column and direction."""
    if order_by is None:
        return "created_at", False
    direction, _, field = order_by.strip().rpartition(":")
    column = _ORDER_COLUMNS.get(field.strip())
    if column is None or direction.strip().lower() not in ("", "asc", "desc"):
        raise BadRequest(
            "The orderBy parameter must be created or updated, optionally prefixed asc: or desc: (e.g. desc:created).",
            code="1000",
        )
    return column, direction.strip().lower() == "desc"


def _file_description(given: Any) -> dict[str, Any]:
    """Catalog's `fileDescription`, as far as it is true of an Iceberg table of Parquet files.

    Adobe's clients send `{"persisted": true, "containerFormat": "parquet", "format": "parquet"}`
    (aepp's `createDataSets`); each of those is kept as sent. Any other value would describe files
    Headwater does not write, so it is refused.
    """
    if given is None:
        return {"format": "parquet"}
    if (
        not isinstance(given, dict)
        or set(given) - {"format", "containerFormat", "persisted"}
        or any(str(given.get(k, "parquet")).lower() != "parquet" for k in ("format", "containerFormat"))
        or given.get("persisted", True) is not True
    ):
        raise BadRequest(
            'fileDescription may only say {"format": "parquet", "containerFormat": "parquet", "persisted": true}: '
            "a dataset's data is persisted as Parquet files.",
            code="1000",
        )
    out: dict[str, Any] = {"format": "parquet"}
    if "containerFormat" in given:
        out["containerFormat"] = "parquet"
    if "persisted" in given:
        out["persisted"] = True
    return out


class DatasetService(ResourceService):
    """Datasets of the Catalog API, stored as Iceberg tables in the lake."""

    kind = ResourceKind.DATASET
    api_name = "dataSets"

    @property
    def lake(self) -> Lake:
        return self.core.lake

    def _schema_from_body(self, ctx: Context, body: dict[str, Any]) -> pa.Schema | None:
        given, source = body.get("schema"), body.get("source")
        if isinstance(given, str):
            given = None  # Catalog's legacy reference to an XDM schema (see `_schema_ref`), not columns
        if given is not None and source is not None:
            raise BadRequest("Give either schema or source for a dataset, not both.", code="1000")
        if given is not None:
            columns = given.get("columns") if isinstance(given, dict) else None
            if not isinstance(columns, list) or not columns:
                raise BadRequest("schema.columns must be a non-empty array of {name, type}.", code="1000")
            fields = []
            for i, col in enumerate(columns):
                if not isinstance(col, dict) or not isinstance(col.get("name"), str) or not col["name"]:
                    raise BadRequest(f"schema.columns[{i}] needs a name.", code="1000")
                if not isinstance(col.get("type"), str):
                    raise BadRequest(f"schema.columns[{i}] needs a type.", code="1000")
                fields.append(pa.field(col["name"], arrow_type(col["type"], field=f"schema.columns[{i}].type")))
            if len({f.name for f in fields}) != len(fields):
                raise BadRequest("schema.columns lists a column twice.", code="1000")
            return pa.schema(fields)
        if source is not None:
            if (
                not isinstance(source, dict)
                or not isinstance(source.get("connectionId"), str)
                or not isinstance(source.get("tableName"), str)
            ):
                raise BadRequest("source needs connectionId and tableName.", code="1000")
            connector, auth, _ = ConnectionService(self.core).resolve(ctx, source["connectionId"])
            try:
                table = connector.describe(auth, source["tableName"])
            except NotFound:
                raise BadRequest(
                    f"The source table {source['tableName'][:200]!r} was not found.", code="1330"
                ) from None
            schema = table.arrow_schema
            wanted = source.get("columns")
            if wanted is not None:
                if not isinstance(wanted, list) or not all(isinstance(c, str) for c in wanted):
                    raise BadRequest("source.columns must be an array of column names.", code="1000")
                missing = [c for c in wanted if c not in schema.names]
                if missing:
                    raise BadRequest(f"source.columns names an unknown column {missing[0][:100]!r}.", code="1330")
                schema = pa.schema([schema.field(c) for c in wanted])
            return schema
        return None

    @staticmethod
    def _schema_ref(body: dict[str, Any]) -> tuple[Any, str | None]:
        """The dataset's `schemaRef`, and Catalog's legacy string `schema` when one was sent.

        The legacy string names an XDM schema as `schemaRef.id` does, so it means the same here: a
        schema Headwater does not host, whose columns the first run sets. It stands for `schemaRef`
        when none is given, and must then agree with it.
        """
        ref, legacy = body.get("schemaRef"), body.get("schema")
        if not isinstance(legacy, str):
            return ref, None
        if not legacy.strip():
            raise BadRequest("schema, when a string, must name an XDM schema (e.g. its $id).", code="1000")
        if ref is None:
            return {"id": legacy}, legacy
        if not isinstance(ref, dict) or ref.get("id") != legacy:
            raise BadRequest(
                "schema and schemaRef.id name different XDM schemas: send schemaRef alone (schema is Catalog's "
                "legacy form of it).",
                code="1000",
            )
        return ref, legacy

    def create(self, ctx: Context, body: dict[str, Any]) -> list[str]:
        body = known_fields(body, (*_KNOWN, *_NOT_SUPPORTED), code="1000")
        for field in _NOT_SUPPORTED:
            if body.get(field) not in (None, False):
                raise BadRequest(
                    f"The field {field} is not supported: a dataset is an Iceberg table whose files Headwater "
                    "manages. Omit it.",
                    code="1000",
                )
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("The mandatory field name is not provided.", code="1000")
        file_description = _file_description(body.get("fileDescription"))
        schema_ref, legacy_schema = self._schema_ref(body)
        schema = self._schema_from_body(ctx, body)
        dataset_id = secrets.token_hex(12)
        ident = DatasetIdent(namespace_for(ctx.scope.org, ctx.scope.sandbox), f"ds_{dataset_id}")
        doc: dict[str, Any] = {
            "name": name,
            "description": body.get("description", "") if isinstance(body.get("description", ""), str) else "",
            "schemaRef": schema_ref,
            "tags": body.get("tags", {}),
            "fileDescription": file_description,
            "_iceberg": {"namespace": ident[0], "table": ident[1]},
            **audit_fields(ctx, created=True),
        }
        if legacy_schema is not None:
            doc["schema"] = legacy_schema  # answered as sent, as Catalog does
        if schema is not None:
            self.lake.create_dataset(ident, schema)
        record = self.core.store.insert(self.kind, ctx.scope, id=dataset_id, doc=doc)
        refresh_facts(self.core.store, self.lake, record)
        return [f"@/dataSets/{dataset_id}"]

    def _facts(self, records: list[Record]) -> dict[str, dict[str, Any]]:
        """What each dataset's view shows of its table, from the store (the lake only when not kept)."""
        kept = self.core.store.lake_facts([r.id for r in records])
        return {r.id: _current(kept.get(r.id)) or refresh_facts(self.core.store, self.lake, r) for r in records}

    def view(self, record: Record, *, facts: dict[str, Any] | None = None) -> dict[str, Any]:
        ident = lake_ident(record)
        public = {k: v for k, v in record.doc.items() if not k.startswith("_")}
        out: dict[str, Any] = {
            **public,
            "imsOrg": record.scope.org,
            "sandboxId": record.scope.sandbox_id,
            "sandboxName": record.scope.sandbox,
            "created": record.created_at,
            "updated": record.updated_at,
            "createdUser": public.pop("createdBy", None),
            "createdClient": public.pop("createdClient", None),
            "updatedUser": public.pop("updatedBy", None),
            "version": "1.0.0",
            "classification": dict(_CLASSIFICATION),
            "id": record.id,
        }
        out.pop("createdBy", None)
        out.pop("updatedBy", None)
        out.pop("updatedClient", None)
        if out.get("schemaRef") is None:
            # Catalog leaves out what a dataset does not have: `schemaRef: null` would break clients
            # that read `dataset.get("schemaRef", {}).get("id")`.
            out.pop("schemaRef", None)
        if facts is None:
            facts = self._facts([record])[record.id]
        out["iceberg"] = {"namespace": ident[0], "table": ident[1], "dataFiles": facts["dataFiles"]}
        if facts.get("schema") is not None:
            # Left out until the table has columns (a dataset created for an XDM schema, before its first run).
            out["iceberg"]["columns"] = facts["schema"]["columns"]
        if facts.get("snapshot") is not None:
            # What Catalog's lastBatchId would tell (which write the data is as of), as the table knows
            # it: the run it names is served at /flowservice/runs/{runId}. Left out until a run commits.
            out["iceberg"]["snapshot"] = facts["snapshot"]
        return out

    def get_catalog(self, ctx: Context, dataset_ids: str) -> dict[str, Any]:
        """One dataset, or Catalog's lookup of several (`id1,id2,...`) read in one query; all must exist
        in the sandbox, since an answer without one would not say whether it was found."""
        ids = list(dict.fromkeys(part.strip() for part in dataset_ids.split(",")))
        if len(ids) == 1:
            return {ids[0]: self.view(self.record(ctx, ids[0]))}
        if "" in ids or len(ids) > _MAX_IDS:
            raise BadRequest(f"Look up 1 to {_MAX_IDS} datasets at once, their ids separated by commas.", code="1000")
        page = Page(conds=(Cond("id", "in", tuple(ids)),), limit=len(ids))
        found = {r.id: r for r in self.core.store.page(self.kind, ctx.scope, page)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(self.api_name, missing[0])
        facts = self._facts(list(found.values()))
        return {i: self.view(found[i], facts=facts[i]) for i in ids}

    def list_catalog(
        self,
        ctx: Context,
        *,
        limit: int,
        start: int,
        order_by: str | None = None,
        filters: DatasetFilter = NO_FILTER,
    ) -> dict[str, Any]:
        """`limit` datasets from offset `start` that pass `filters`, oldest first unless Catalog's
        `orderBy` says otherwise."""
        column, descending = catalog_order(order_by)
        if filters.checks:
            records = self._scan(ctx, filters, column, descending, start + limit)[start:]
        else:
            page = Page(conds=filters.conds, order=column, descending=descending, limit=limit, offset=start)
            records = self.core.store.page(self.kind, ctx.scope, page)
        facts = self._facts(records)
        return {r.id: self.view(r, facts=facts[r.id]) for r in records}

    def _scan(self, ctx: Context, filters: DatasetFilter, column: str, descending: bool, wanted: int) -> list[Record]:
        """The first `wanted` datasets in order that pass the in-memory checks, read in keyset chunks
        narrowed by the filter's SQL conditions (the checks read only stored fields, not the lake)."""
        found: list[Record] = []
        after: tuple[Any, str] | None = None
        while len(found) < wanted:
            page = Page(conds=filters.conds, order=column, descending=descending, after=after, limit=_SCAN_CHUNK)
            chunk = self.core.store.page(self.kind, ctx.scope, page)
            found += [r for r in chunk if filters.matches(self.view(r, facts=_UNREAD_FACTS))]
            if len(chunk) < _SCAN_CHUNK:
                break
            last = chunk[-1]
            after = (last.created_at if column == "created_at" else last.updated_at, last.id)
        return found[:wanted]

    def delete_catalog(self, ctx: Context, dataset_id: str) -> list[str]:
        """Delete the dataset unless a target connection names it (checked in the delete's own
        transaction, store/references.py), then its table."""
        record = self.record(ctx, dataset_id)
        try:
            deleted = self.core.store.delete_unless_used(self.kind, ctx.scope, dataset_id)
        except InUse as used:
            raise BadRequest(
                f"The dataset {dataset_id} is the target of target connection {used.user_id}: delete it first.",
                code="1447",
            ) from None
        if not deleted:
            raise NotFound(self.api_name, dataset_id)
        ident = lake_ident(record)
        if self.lake.exists(ident):
            self.lake.drop_dataset(ident)
        return [f"@/dataSets/{dataset_id}"]

    def preview(self, ctx: Context, dataset_id: str, *, limit: int = 100) -> dict[str, Any]:
        record = self.record(ctx, dataset_id)
        ident = lake_ident(record)
        if not self.lake.exists(ident):
            return {"columns": [], "data": [], "rowCount": 0}
        table = self.lake.preview(ident, limit=limit)
        return {
            "columns": _columns(table.schema),
            "data": json_rows(table),
            "rowCount": self.lake.row_count(ident),
        }
