"""`/sourceConnections`: a table of a base connection, the source side of a flow."""

from __future__ import annotations

from typing import Any

from headwater.domain.kinds import ResourceKind, ResourceState
from headwater.domain.row_filter import bind_filter, parse_filter
from headwater.errors import BadRequest, HeadwaterError
from headwater.runs.plan import column_names
from headwater.service._core import Context
from headwater.service._endpoints import FlowEndpointService, spec_ref, text_field
from headwater.service._fields import known_fields
from headwater.store import Record

_STATES = (ResourceState.ENABLED, ResourceState.DISABLED)
# A database source's params; deltaColumn is known (some sources take it here) but belongs to the flow.
_PARAMS = ("tableName", "columns", "filters", "cdcEnabled", "deltaColumn")


class SourceConnectionService(FlowEndpointService):
    """`/sourceConnections`: a table of a base connection."""

    kind = ResourceKind.SOURCE_CONNECTION
    api_name = "sourceConnections"
    patchable = ("name", "description", "params", "state", "data", "baseConnectionId")

    def _build(self, ctx: Context, body: dict[str, Any], existing: Record | None) -> dict[str, Any]:
        name = text_field(body, "name", required=True)
        base_id = text_field(body, "baseConnectionId", required=True, code="1338")
        assert base_id is not None
        base = self.core.store.get(ResourceKind.CONNECTION, ctx.scope, base_id)
        if base is None:
            raise BadRequest(f"The base connection {base_id} is not found in this sandbox.", code="1338")
        spec = spec_ref(body, "connectionSpec")
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
        params = known_fields(params, _PARAMS, where="params.", code="1323")
        if "deltaColumn" in params:
            raise BadRequest(
                "The field params.deltaColumn is not allowed: the delta column belongs to the flow's Copy "
                "transformation.",
                code="1323",
            )
        if params.get("cdcEnabled") not in (None, False):
            # Accepting it would promise change data capture that no run performs.
            raise BadRequest(
                "params.cdcEnabled: change data capture is not supported; flows copy by delta column "
                "(docs/incremental.md). Omit it or send false.",
                code="1323",
            )
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
        if params.get("filters") is not None:
            self._check_filters(base, params["tableName"], params["filters"])
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
            "state": body.get("state", ResourceState.ENABLED) if existing else ResourceState.ENABLED,
        }
        if doc["state"] not in _STATES:
            raise BadRequest("State must be one of enabled, disabled.", code="1456")
        return doc

    def _check_filters(self, base: Record, table: str, filters: Any) -> None:
        """Refuse a bad filter now: its shape always, its columns and values against the live table.

        A table that cannot be described right now (source down, credentials now refused, table not
        yet created) does not block the save: creating the flow and every run bind the filter again.
        """
        row_filter = parse_filter(filters)
        try:
            connector, auth = self.core.credentials.resolve(base)
            schema = connector.describe(auth, table)
        except HeadwaterError:
            return
        bind_filter(row_filter, schema)

    def view(self, record: Record) -> dict[str, Any]:
        out = super().view(record)
        out["inheritedAttributes"] = {
            "baseConnection": {"id": record.doc["baseConnectionId"], "connectionSpec": record.doc["connectionSpec"]}
        }
        return out
