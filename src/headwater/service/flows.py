"""Source connections, target connections and dataflows (`/sourceConnections`, `/targetConnections`, `/flows`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from headwater.domain import TableSchema
from headwater.errors import BadRequest, NotFound
from headwater.runs.ledger import Ledger, RunRow
from headwater.service._core import (
    Context,
    ResourceService,
    audit_fields,
    id_and_etag,
    new_id,
    patch_resource,
)
from headwater.service._schedule import Schedule, parse_schedule
from headwater.service.specs import CRM_TO_AEP_FLOW_SPEC_ID, DATA_LAKE_SPEC_ID
from headwater.store import Record, now_ms

FLOW_STATES = ("enabled", "disabled", "draft")


def _orderable(arrow_type: pa.DataType) -> bool:
    """Delta columns must be ordered scalars: arrays, structs, booleans and binary cannot drive a cursor."""
    return bool(
        pa.types.is_integer(arrow_type)
        or pa.types.is_decimal(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_temporal(arrow_type)
        or pa.types.is_string(arrow_type)
    )


def _text(body: dict[str, Any], field: str, *, required: bool, code: str = "1323") -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise BadRequest(f"The mandatory field {field} is not provided.", code=code)
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadRequest(f"The field {field} must be a non-empty string.", code=code)
    return value


def _spec_ref(body: dict[str, Any], field: str) -> dict[str, str]:
    ref = body.get(field)
    if not isinstance(ref, dict) or not isinstance(ref.get("id"), str):
        raise BadRequest(f"The mandatory field {field}.id is not provided.", code="1413")
    return {"id": ref["id"], "version": str(ref.get("version") or "1.0")}


def column_names(params: dict[str, Any]) -> list[str] | None:
    """The selected column names of a source connection (`params.columns`), or None for all."""
    columns = params.get("columns")
    if columns is None:
        return None
    return [c if isinstance(c, str) else c["name"] for c in columns]


class _FlowEndpointService(ResourceService):
    """What source and target connections share: create, PATCH of the listed fields, and a delete
    refused while a flow uses the connection (`flow_field` names the flow's list of ids)."""

    patchable: tuple[str, ...]
    flow_field: str

    def _build(self, ctx: Context, body: dict[str, Any], existing: Record | None) -> dict[str, Any]:
        raise NotImplementedError

    def create(self, ctx: Context, body: dict[str, Any]) -> dict[str, str]:
        doc = self._build(ctx, body, None) | audit_fields(ctx, created=True)
        return id_and_etag(self.core.store.insert(self.kind, ctx.scope, id=new_id(), doc=doc))

    def patch(self, ctx: Context, resource_id: str, if_match: str | None, body: Any) -> dict[str, str]:
        return patch_resource(
            self,
            ctx,
            resource_id,
            if_match,
            body,
            patchable=self.patchable,
            rebuild=lambda c, doc, rec: self._build(c, {**doc, "connectionSpec": rec.doc["connectionSpec"]}, rec),
        )

    def before_delete(self, ctx: Context, resource_id: str) -> None:
        refuse_if_used(self.core.store.list("flow", ctx.scope), self.flow_field, resource_id)


class SourceConnectionService(_FlowEndpointService):
    """`/sourceConnections`: a table of a base connection."""

    kind = "sourceConnection"
    api_name = "sourceConnections"
    patchable = ("name", "description", "params", "state", "data", "baseConnectionId")
    flow_field = "sourceConnectionIds"

    def _build(self, ctx: Context, body: dict[str, Any], existing: Record | None) -> dict[str, Any]:
        name = _text(body, "name", required=True)
        base_id = _text(body, "baseConnectionId", required=True, code="1338")
        assert base_id is not None
        base = self.core.store.get("connection", ctx.scope, base_id)
        if base is None:
            raise BadRequest(f"The base connection {base_id} is not found in this sandbox.", code="1338")
        spec = _spec_ref(body, "connectionSpec")
        if spec["id"] != base.doc["connectionSpec"]["id"]:
            raise BadRequest(
                "The spec ID provided is invalid: connectionSpec.id must be the base connection's spec "
                f"({base.doc['connectionSpec']['id']}).",
                code="1413",
            )
        data = body.get("data") or {"format": "tabular"}
        if not isinstance(data, dict) or data.get("format", "tabular") != "tabular":
            raise BadRequest('Unsupported data.format: database sources use "tabular".', code="1327")
        params = body.get("params")
        if not isinstance(params, dict):
            raise BadRequest("params cannot be null or empty in the source connection.", code="1323")
        unknown = set(params) - {"tableName", "columns", "filters", "cdcEnabled", "deltaColumn"}
        if unknown:
            raise BadRequest(f"The field params.{sorted(unknown)[0]} is not allowed.", code="1323")
        if not isinstance(params.get("tableName"), str) or not params["tableName"].strip():
            raise BadRequest("tableName cannot be null or empty in the source connection.", code="1323")
        columns = params.get("columns")
        if columns is not None:
            if not isinstance(columns, list) or not columns:
                raise BadRequest("params.columns must be a non-empty array of columns.", code="1323")
            for i, col in enumerate(columns):
                ok = isinstance(col, str) or (isinstance(col, dict) and isinstance(col.get("name"), str))
                if not ok:
                    raise BadRequest(
                        f"params.columns[{i}] must be a column name or an object with a name.", code="1323"
                    )
            names = column_names(params) or []
            if len(set(names)) != len(names):
                raise BadRequest("params.columns lists a column twice.", code="1323")
        for key in ("description",):
            if key in body and not isinstance(body[key], str):
                raise BadRequest(f"The field {key} must be a string.", code="1323")
        doc = {
            "name": name,
            "description": body.get("description", ""),
            "baseConnectionId": base_id,
            "data": {"format": "tabular"},
            "params": params,
            "connectionSpec": spec,
            "state": body.get("state", "enabled") if existing else "enabled",
        }
        if doc["state"] not in ("enabled", "disabled"):
            raise BadRequest("State must be one of enabled, disabled.", code="1456")
        return doc

    def view(self, record: Record) -> dict[str, Any]:
        out = super().view(record)
        out["inheritedAttributes"] = {
            "baseConnection": {"id": record.doc["baseConnectionId"], "connectionSpec": record.doc["connectionSpec"]}
        }
        return out



class TargetConnectionService(_FlowEndpointService):
    """`/targetConnections`: the data lake target, naming a dataset."""

    kind = "targetConnection"
    api_name = "targetConnections"
    patchable = ("name", "description", "params", "state", "data")
    flow_field = "targetConnectionIds"

    def _build(self, ctx: Context, body: dict[str, Any], existing: Record | None) -> dict[str, Any]:
        spec = _spec_ref(body, "connectionSpec")
        if spec["id"] != DATA_LAKE_SPEC_ID:
            raise BadRequest(
                f"The target connection spec ID is not valid={spec['id'][:64]}. "
                f"The allowed value is: {DATA_LAKE_SPEC_ID}.",
                code="1307",
            )
        if body.get("baseConnectionId"):
            raise BadRequest("A data lake target connection cannot have a baseConnectionId.", code="1332")
        params = body.get("params")
        if not isinstance(params, dict) or not isinstance(params.get("dataSetId"), str) or not params["dataSetId"]:
            raise BadRequest("The dataSetId param cannot be null or empty in target connection.", code="1325")
        unknown = set(params) - {"dataSetId"}
        if unknown:
            raise BadRequest(f"The field params.{sorted(unknown)[0]} is not allowed.", code="1325")
        if self.core.store.get("dataSet", ctx.scope, params["dataSetId"]) is None:
            raise BadRequest(f"The dataset {params['dataSetId'][:64]} is not found in this sandbox.", code="1325")
        data = body.get("data", {})
        if not isinstance(data, dict):
            raise BadRequest("The field data must be an object.", code="1000")
        name = body.get("name", "")
        if not isinstance(name, str) or not isinstance(body.get("description", ""), str):
            raise BadRequest("The fields name and description must be strings.", code="1000")
        state = body.get("state", "enabled") if existing else "enabled"
        if state not in ("enabled", "disabled"):
            raise BadRequest("State must be one of enabled, disabled.", code="1456")
        return {
            "name": name,
            "description": body.get("description", ""),
            "data": data,
            "params": {"dataSetId": params["dataSetId"]},
            "connectionSpec": spec,
            "state": state,
        }



def refuse_if_used(flows: list[Record], field: str, resource_id: str) -> None:
    users = [f.id for f in flows if resource_id in f.doc.get(field, [])]
    if users:
        raise BadRequest(f"Found active flows containing id {resource_id}: delete flow {users[0]} first.", code="1447")


@dataclass(frozen=True)
class FlowPlan:
    """Everything a run needs, resolved from a flow at validation time."""

    source: Record
    target: Record
    dataset: Record
    schedule: Schedule | None
    delta_column: str | None
    mapping_id: str | None
    table_schema: TableSchema | None


class FlowService(ResourceService):
    """`/flows`: dataflows from one source connection to one dataset."""

    kind = "flow"
    api_name = "flows"

    # -- validation -----------------------------------------------------------------------------
    def _one_id(self, body: dict[str, Any], field: str) -> str:
        ids = body.get(field)
        if not isinstance(ids, list) or len(ids) != 1 or not isinstance(ids[0], str):
            raise BadRequest(f"The length of {field} should be one.", code="1321")
        return ids[0]

    def _transformations(self, body: dict[str, Any]) -> tuple[str | None, str | None]:
        items = body.get("transformations", [])
        if not isinstance(items, list):
            raise BadRequest("transformations must be an array.", code="1000")
        delta, mapping = None, None
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("params", {}), dict):
                raise BadRequest(f"transformations[{i}] must be an object with name and params.", code="1000")
            name = str(item.get("name", "")).lower()
            params = item.get("params", {})
            if name == "copy":
                column = params.get("deltaColumn")
                if column is None:
                    continue
                if not isinstance(column, dict) or not isinstance(column.get("name"), str) or not column["name"]:
                    raise BadRequest("The delta column must be an object with a name.", code="1367")
                delta = column["name"]
            elif name == "mapping":
                mapping_id = params.get("mappingId")
                if not isinstance(mapping_id, str) or not mapping_id:
                    raise BadRequest(f"transformations[{i}].params.mappingId is required.", code="1370")
                mapping = mapping_id
            else:
                raise BadRequest(
                    f"Unknown transformation {str(item.get('name'))[:40]!r}: use Copy or Mapping.", code="1000"
                )
        return delta, mapping

    def plan(self, ctx: Context, body: dict[str, Any], *, draft: bool = False) -> FlowPlan:
        """Validate a flow body against the store and the live source (columns, delta, mapping)."""
        from headwater.service.connections import ConnectionService

        store = self.core.store
        source_id = self._one_id(body, "sourceConnectionIds")
        target_id = self._one_id(body, "targetConnectionIds")
        source = store.get("sourceConnection", ctx.scope, source_id)
        if source is None:
            raise BadRequest(f"The source connection {source_id[:64]} is not found in this sandbox.", code="1338")
        target = store.get("targetConnection", ctx.scope, target_id)
        if target is None:
            raise BadRequest(f"The target connection {target_id[:64]} is not found in this sandbox.", code="1338")
        dataset = store.get("dataSet", ctx.scope, target.doc["params"]["dataSetId"])
        if dataset is None:
            raise BadRequest("The target connection's dataset no longer exists.", code="1325")
        delta, mapping_id = self._transformations(body)
        schedule = parse_schedule(body.get("scheduleParams")) if (body.get("scheduleParams") or not draft) else None
        if schedule is not None:
            if schedule.frequency == "once" and delta:
                raise BadRequest(
                    "The delta column in copy transform is not allowed when frequency is set to once.", code="1369"
                )
            if schedule.frequency != "once" and not delta:
                raise BadRequest(
                    "The delta column is required in copy transformation for a recurring schedule: "
                    "without it every run would copy the whole table again.",
                    code="1367",
                )
        # Every reference is checked against this sandbox, drafts included: a draft that names another
        # sandbox's mapping set would otherwise carry a foreign id into the flow it becomes.
        mapping = store.get("mappingSet", ctx.scope, mapping_id) if mapping_id else None
        if mapping_id and mapping is None:
            raise BadRequest(f"The mapping set {mapping_id[:64]} is not found in this sandbox.", code="1370")
        if draft:
            return FlowPlan(source, target, dataset, schedule, delta, mapping_id, None)
        base = store.get("connection", ctx.scope, source.doc["baseConnectionId"])
        if base is None:
            raise BadRequest("The source connection's base connection no longer exists.", code="1338")
        connector, auth = ConnectionService(self.core).resolve_record(base)
        table = source.doc["params"]["tableName"]
        try:
            table_schema = connector.describe(auth, table)
        except NotFound:
            raise BadRequest(
                f"No columns were found for table {table[:200]!r}: it does not exist.", code="1330"
            ) from None
        selected = column_names(source.doc["params"])
        for name in selected or []:
            if table_schema.column(name) is None:
                raise BadRequest(
                    f"The column {name[:100]!r} of params.columns is not in table {table[:200]!r}.", code="1330"
                )
        if delta:
            column = table_schema.column(delta)
            if column is None:
                raise BadRequest(f"The delta column {delta[:100]!r} is not in table {table[:200]!r}.", code="1367")
            if not _orderable(column.arrow_type):
                raise BadRequest(
                    f"The delta column {delta[:100]!r} has type {column.source_type}, which cannot order rows; "
                    "use a timestamp, date or integer column.",
                    code="1367",
                )
        if mapping is not None:
            from headwater.mapping import compile_mapping

            input_schema = table_schema.arrow_schema
            if selected:
                input_schema = pa.schema([input_schema.field(n) for n in selected])
            compile_mapping(mapping.doc["mappings"], input_schema)
        return FlowPlan(source, target, dataset, schedule, delta, mapping_id, table_schema)

    def _build(self, ctx: Context, body: dict[str, Any], *, state: str) -> dict[str, Any]:
        allowed = {
            "name",
            "description",
            "flowSpec",
            "sourceConnectionIds",
            "targetConnectionIds",
            "transformations",
            "scheduleParams",
            "options",
            "labels",
        }
        if "state" in body:
            raise BadRequest("`State` is not allowed in the create flow request.", code="1410")
        unknown = set(body) - allowed
        if unknown:
            raise BadRequest(f"The field {sorted(unknown)[0]} is not allowed in a flow.", code="1000")
        name = _text(body, "name", required=True, code="1000")
        if "description" in body and not isinstance(body["description"], str):
            raise BadRequest("The field description must be a string.", code="1000")
        spec = _spec_ref(body, "flowSpec")
        if spec["id"] != CRM_TO_AEP_FLOW_SPEC_ID:
            raise BadRequest(
                f"The flow spec ID provided is invalid: database dataflows use {CRM_TO_AEP_FLOW_SPEC_ID} (CRMToAEP).",
                code="1413",
            )
        options = body.get("options", {})
        if not isinstance(options, dict) or set(options) - {"errorDiagnosticsEnabled", "partialIngestionPercent"}:
            raise BadRequest("options may hold errorDiagnosticsEnabled and partialIngestionPercent only.", code="1000")
        self.plan(ctx, body, draft=state == "draft")
        doc = {
            "name": name,
            "description": body.get("description", ""),
            "flowSpec": spec,
            "state": state,
            "sourceConnectionIds": body.get("sourceConnectionIds", []),
            "targetConnectionIds": body.get("targetConnectionIds", []),
            "transformations": body.get("transformations", []),
            "scheduleParams": body.get("scheduleParams", {}),
        }
        if options:
            doc["options"] = options
        if "labels" in body:
            doc["labels"] = body["labels"]
        return doc

    # -- operations -----------------------------------------------------------------------------
    def views(self, ctx: Context, records: list[Record]) -> list[dict[str, Any]]:
        last_runs = Ledger(self.core.store).last_finished(ctx.scope)
        return [self.view(r, last_runs=last_runs) for r in records]

    def view(self, record: Record, *, last_runs: dict[str, RunRow] | None = None) -> dict[str, Any]:
        out = super().view(record)
        store = self.core.store
        sources, targets = [], []
        for sid in record.doc.get("sourceConnectionIds", []):
            src = store.get("sourceConnection", record.scope, sid)
            if src is not None:
                base = {"id": src.doc["baseConnectionId"], "connectionSpec": src.doc["connectionSpec"]}
                sources.append({"id": sid, "connectionSpec": src.doc["connectionSpec"], "baseConnection": base})
        for tid in record.doc.get("targetConnectionIds", []):
            tgt = store.get("targetConnection", record.scope, tid)
            if tgt is not None:
                targets.append({"id": tid, "connectionSpec": tgt.doc["connectionSpec"]})
        out["inheritedAttributes"] = {"sourceConnections": sources, "targetConnections": targets}
        out["runs"] = f"/runs?property=flowId=={record.id}"
        if last_runs is None:
            last_runs = Ledger(store).last_finished(record.scope, [record.id])
        last = last_runs.get(record.id)
        if last is not None:  # read at view time, so a run ending never changes the flow's etag
            duration = last.doc.get("metrics", {}).get("durationSummary", {})
            out["lastRunDetails"] = {
                "id": last.id,
                "state": last.status.value,
                "startedAtUTC": duration.get("startedAtUTC"),
                "completedAtUTC": duration.get("completedAtUTC"),
            }
        return out

    def create(self, ctx: Context, body: dict[str, Any], *, mode: str | None = None) -> dict[str, str]:
        if mode not in (None, "", "draft"):
            raise BadRequest("The mode query parameter accepts only draft.", code="1368")
        state = "draft" if mode == "draft" else "enabled"
        doc = self._build(ctx, body, state=state) | audit_fields(ctx, created=True)
        doc["lastOperation"] = {"started": now_ms(), "updated": 0, "operation": "create"}
        return id_and_etag(self.core.store.insert(self.kind, ctx.scope, id=new_id(), doc=doc))

    def patch(self, ctx: Context, resource_id: str, if_match: str | None, body: Any) -> dict[str, str]:
        from headwater.service._patch import normalize_ops

        ops = normalize_ops(body)

        def rebuild(c: Context, doc: dict[str, Any], rec: Record) -> dict[str, Any]:
            keep = {k: doc.pop(k) for k in ("state", "lastOperation") if k in doc}
            # Audit fields are in the stored doc but not allowed in a create body; the creator stays.
            created = {k: doc.pop(k) for k in ("createdBy", "createdClient") if k in doc}
            for drop in ("inheritedAttributes", "runs", "lastRunDetails", "updatedBy", "updatedClient"):
                doc.pop(drop, None)
            new = self._build(c, doc, state=keep.get("state", rec.doc["state"])) | created
            new["lastOperation"] = {"started": now_ms(), "updated": now_ms(), "operation": "update", "ops": ops}
            return new

        return patch_resource(
            self,
            ctx,
            resource_id,
            if_match,
            ops,
            patchable=("name", "description", "scheduleParams", "transformations", "options", "labels"),
            rebuild=rebuild,
        )

    def action(self, ctx: Context, resource_id: str, op: str | None) -> dict[str, str]:
        """`POST /flows/{id}/action?op=enable|disable|publish`."""
        wanted = (op or "").lower()
        record = self.record(ctx, resource_id)
        state = record.doc["state"]
        if wanted == "enable":
            if state == "draft":
                raise BadRequest(
                    "The action enable cannot be applied on the current state draft: publish it.", code="1422"
                )
            new_state = "enabled"
        elif wanted == "disable":
            if state == "draft":
                raise BadRequest("The action disable cannot be applied on the current state draft.", code="1422")
            new_state = "disabled"
        elif wanted == "publish":
            if state != "draft":
                raise BadRequest(f"The action publish cannot be applied on the current state {state}.", code="1422")
            public = {
                k: v
                for k, v in record.doc.items()
                if k
                in (
                    "name",
                    "description",
                    "flowSpec",
                    "sourceConnectionIds",
                    "targetConnectionIds",
                    "transformations",
                    "scheduleParams",
                    "options",
                    "labels",
                )
            }
            self.plan(ctx, public)
            new_state = "enabled"
        else:
            raise BadRequest(f"Unsupported flow action {str(op)[:20]!r}: use enable, disable or publish.", code="1401")
        doc = {
            **record.doc,
            "state": new_state,
            "lastOperation": {"started": now_ms(), "updated": now_ms(), "operation": wanted},
            **audit_fields(ctx, created=False),
        }
        updated = self.core.store.update(
            self.kind, ctx.scope, resource_id, doc=doc, secrets=None, expected_etag=record.etag
        )
        return id_and_etag(updated)
