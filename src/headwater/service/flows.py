"""`/flows`: dataflows from one source connection to one dataset, validated as their runs will read them."""

from __future__ import annotations

from typing import Any

from headwater.domain.kinds import ResourceKind, ResourceState
from headwater.errors import BadRequest, NotFound
from headwater.mapping import compile_mapping
from headwater.runs.ledger import Ledger
from headwater.runs.ledger_reads import LastRun
from headwater.runs.plan import FlowDefinition, build_plan, parse_flow
from headwater.service._core import Context, ResourceService, audit_fields, id_and_etag, new_id, patch_resource
from headwater.service._endpoints import spec_ref, text_field
from headwater.service._fields import known_fields
from headwater.service.specs import CRM_TO_AEP_FLOW_SPEC_ID
from headwater.store import Record, now_ms

# The fields a client sends when creating a flow; the rest of a stored flow is Headwater's.
_BODY_FIELDS = (
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
_PATCHABLE = ("name", "description", "scheduleParams", "transformations", "options", "labels")


_WRITE_MODES = ("append", "replace")
# What a flow shows of the source and target connections it names (`inheritedAttributes`).
_SHOWN_OF_CONNECTIONS = ("connectionSpec", "baseConnectionId")
_OPTION_KEYS = ("errorDiagnosticsEnabled", "partialIngestionPercent", "writeMode")


def _options(given: Any, schedule: Any) -> dict[str, Any]:
    """A flow's `options`, each one honoured by its runs (runs/partial.py, Lake.write_run), or a 400.

    `partialIngestionPercent` (0 < p ≤ 100) and `errorDiagnosticsEnabled` are Adobe's;
    `writeMode` (`append`, the default, or `replace`) is a Headwater extension (docs/decisions.md).
    """
    if not isinstance(given, dict):
        raise BadRequest(
            "options must be an object of errorDiagnosticsEnabled, partialIngestionPercent and writeMode.", code="1000"
        )
    options = known_fields(given, (*_OPTION_KEYS, "inletUrl"), where="options.", code="1000")
    if "inletUrl" in options:
        raise BadRequest("options.inletUrl belongs to streaming sources; database flows read in batches.", code="1000")
    percent = options.get("partialIngestionPercent")
    if percent is not None and (
        isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 < percent <= 100
    ):
        raise BadRequest("options.partialIngestionPercent must be a number above 0 and at most 100.", code="1000")
    if "errorDiagnosticsEnabled" in options and not isinstance(options["errorDiagnosticsEnabled"], bool):
        raise BadRequest("options.errorDiagnosticsEnabled must be true or false.", code="1000")
    mode = options.get("writeMode", "append")
    if mode not in _WRITE_MODES:
        raise BadRequest("options.writeMode must be append or replace.", code="1000")
    frequency = schedule.get("frequency") if isinstance(schedule, dict) else None
    if mode == "replace" and str(frequency).lower() != "once":
        raise BadRequest(
            "options.writeMode replace needs frequency once: each run of a recurring flow copies only its "
            "window, so replacing the dataset with it would drop every earlier window.",
            code="1000",
        )
    return options


class FlowService(ResourceService):
    """`/flows`: dataflows from one source connection to one dataset."""

    kind = ResourceKind.FLOW
    api_name = "flows"

    def validate(self, ctx: Context, body: dict[str, Any], *, draft: bool = False) -> FlowDefinition:
        """Validate a flow body against the store and, unless a draft, the live source table."""
        definition = parse_flow(body, draft=draft)
        store = self.core.store
        source = store.get(ResourceKind.SOURCE_CONNECTION, ctx.scope, definition.source_id)
        if source is None:
            raise BadRequest(
                f"The source connection {definition.source_id[:64]} is not found in this sandbox.", code="1338"
            )
        target = store.get(ResourceKind.TARGET_CONNECTION, ctx.scope, definition.target_id)
        if target is None:
            raise BadRequest(
                f"The target connection {definition.target_id[:64]} is not found in this sandbox.", code="1338"
            )
        dataset = store.get(ResourceKind.DATASET, ctx.scope, target.doc["params"]["dataSetId"])
        if dataset is None:
            raise BadRequest("The target connection's dataset no longer exists.", code="1325")
        # Every reference is checked against this sandbox, drafts included: a draft that names another
        # sandbox's mapping set would otherwise carry a foreign id into the flow it becomes.
        mapping_id = definition.mapping_id
        mapping_set = store.get(ResourceKind.MAPPING_SET, ctx.scope, mapping_id) if mapping_id else None
        if mapping_id and mapping_set is None:
            raise BadRequest(f"The mapping set {mapping_id[:64]} is not found in this sandbox.", code="1370")
        if draft:
            return definition
        base = store.get(ResourceKind.CONNECTION, ctx.scope, source.doc["baseConnectionId"])
        if base is None:
            raise BadRequest("The source connection's base connection no longer exists.", code="1338")
        connector, auth = self.core.credentials.resolve(base)
        try:
            build_plan(
                definition,
                source=source,
                dataset=dataset,
                mapping_set=mapping_set,
                connector=connector,
                auth=auth,
                compile_mapping=compile_mapping,
            )
        except NotFound:
            table = source.doc["params"]["tableName"]
            raise BadRequest(
                f"No columns were found for table {table[:200]!r}: it does not exist.", code="1330"
            ) from None
        return definition

    def _build(self, ctx: Context, body: dict[str, Any], *, state: ResourceState) -> dict[str, Any]:
        if "state" in body:
            raise BadRequest("`State` is not allowed in the create flow request.", code="1410")
        body = known_fields(body, _BODY_FIELDS, code="1000")
        name = text_field(body, "name", required=True, code="1000")
        if "description" in body and not isinstance(body["description"], str):
            raise BadRequest("The field description must be a string.", code="1000")
        spec = spec_ref(body, "flowSpec")
        if spec["id"] != CRM_TO_AEP_FLOW_SPEC_ID:
            raise BadRequest(
                f"The flow spec ID provided is invalid: database dataflows use {CRM_TO_AEP_FLOW_SPEC_ID} (CRMToAEP).",
                code="1413",
            )
        options = _options(body.get("options", {}), body.get("scheduleParams"))
        self.validate(ctx, body, draft=state == ResourceState.DRAFT)
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
        """A page of flows in three queries whatever its size: the flows, what they name, their last runs."""
        if not records:
            return []
        store = self.core.store
        named = [i for r in records for f in ("sourceConnectionIds", "targetConnectionIds") for i in r.doc.get(f, [])]
        related = store.get_fields(ctx.scope, named, _SHOWN_OF_CONNECTIONS)
        last_runs = Ledger(store).last_finished(ctx.scope, [r.id for r in records])
        return [self._view(r, related, last_runs) for r in records]

    def view(self, record: Record) -> dict[str, Any]:
        store = self.core.store
        named = [*record.doc.get("sourceConnectionIds", []), *record.doc.get("targetConnectionIds", [])]
        related = store.get_fields(record.scope, named, _SHOWN_OF_CONNECTIONS)
        return self._view(record, related, Ledger(store).last_finished(record.scope, [record.id]))

    def _view(
        self, record: Record, related: dict[str, tuple[str, dict[str, Any]]], last_runs: dict[str, LastRun]
    ) -> dict[str, Any]:
        out = super().view(record)

        def of_kind(resource_id: str, kind: ResourceKind) -> dict[str, Any] | None:
            found = related.get(resource_id)
            return found[1] if found is not None and found[0] == kind else None

        sources, targets = [], []
        for sid in record.doc.get("sourceConnectionIds", []):
            src = of_kind(sid, ResourceKind.SOURCE_CONNECTION)
            if src is not None:
                base = {"id": src["baseConnectionId"], "connectionSpec": src["connectionSpec"]}
                sources.append({"id": sid, "connectionSpec": src["connectionSpec"], "baseConnection": base})
        for tid in record.doc.get("targetConnectionIds", []):
            tgt = of_kind(tid, ResourceKind.TARGET_CONNECTION)
            if tgt is not None:
                targets.append({"id": tid, "connectionSpec": tgt["connectionSpec"]})
        # `properties` comes from the flow spec's attributes: clients list source flows with
        # `property=inheritedAttributes.properties.isSourceFlow==true`.
        out["inheritedAttributes"] = {
            "sourceConnections": sources,
            "targetConnections": targets,
            "properties": {"isSourceFlow": True},
        }
        out["runs"] = f"/runs?property=flowId=={record.id}"
        last = last_runs.get(record.id)
        if last is not None:  # read at view time, so a run ending never changes the flow's etag
            out["lastRunDetails"] = {
                "id": last.id,
                "state": last.status.value,
                "startedAtUTC": last.started_at,
                "completedAtUTC": last.completed_at,
            }
        return out

    def create(self, ctx: Context, body: dict[str, Any], *, mode: str | None = None) -> dict[str, str]:
        if mode not in (None, "", "draft"):
            raise BadRequest("The mode query parameter accepts only draft.", code="1368")
        state = ResourceState.DRAFT if mode == "draft" else ResourceState.ENABLED
        doc = self._build(ctx, body, state=state) | audit_fields(ctx, created=True)
        doc["lastOperation"] = {"started": now_ms(), "updated": 0, "operation": "create"}
        return id_and_etag(self.core.store.insert(self.kind, ctx.scope, id=new_id(), doc=doc))

    def patch(self, ctx: Context, resource_id: str, if_match: str | None, body: Any) -> dict[str, str]:
        def rebuild(
            c: Context, doc: dict[str, Any], record: Record, ops: list[dict[str, Any]]
        ) -> tuple[dict[str, Any], bytes | None]:
            keep = {k: doc.pop(k) for k in ("state", "lastOperation") if k in doc}
            # Audit fields are in the stored doc but not allowed in a create body; the creator stays.
            created = {k: doc.pop(k) for k in ("createdBy", "createdClient") if k in doc}
            for drop in ("inheritedAttributes", "runs", "lastRunDetails", "updatedBy", "updatedClient"):
                doc.pop(drop, None)
            new = self._build(c, doc, state=ResourceState(keep.get("state", record.doc["state"]))) | created
            new["lastOperation"] = {"started": now_ms(), "updated": now_ms(), "operation": "update", "ops": ops}
            return new, record.secrets

        return patch_resource(self, ctx, resource_id, if_match, body, patchable=_PATCHABLE, rebuild=rebuild)

    def action(self, ctx: Context, resource_id: str, op: str | None) -> dict[str, str]:
        """`POST /flows/{id}/action?op=enable|disable|publish`."""
        wanted = (op or "").lower()
        record = self.record(ctx, resource_id)
        state = record.doc["state"]
        if wanted == "enable":
            if state == ResourceState.DRAFT:
                raise BadRequest(
                    "The action enable cannot be applied on the current state draft: publish it.", code="1422"
                )
            new_state = ResourceState.ENABLED
        elif wanted == "disable":
            if state == ResourceState.DRAFT:
                raise BadRequest("The action disable cannot be applied on the current state draft.", code="1422")
            new_state = ResourceState.DISABLED
        elif wanted == "publish":
            if state != ResourceState.DRAFT:
                raise BadRequest(f"The action publish cannot be applied on the current state {state}.", code="1422")
            self.validate(ctx, {k: v for k, v in record.doc.items() if k in _BODY_FIELDS})
            new_state = ResourceState.ENABLED
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
