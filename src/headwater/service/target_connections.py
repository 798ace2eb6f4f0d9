"""`/targetConnections`: the data lake target of a flow, naming a dataset."""

from __future__ import annotations

from typing import Any

from headwater.domain.kinds import ResourceKind, ResourceState
from headwater.errors import BadRequest
from headwater.runs.credentials import DATA_LAKE_SPEC_ID
from headwater.service._core import ENVELOPE_COLUMNS, Context
from headwater.service._endpoints import FlowEndpointService, spec_ref
from headwater.service._fields import known_fields
from headwater.store import Record

_STATES = (ResourceState.ENABLED, ResourceState.DISABLED)


class TargetConnectionService(FlowEndpointService):
    """`/targetConnections`: the data lake target, naming a dataset."""

    kind = ResourceKind.TARGET_CONNECTION
    api_name = "targetConnections"
    patchable = ("name", "description", "params", "state", "data")
    # `ref_key` holds a target connection's dataset (store/keys.py), not a base connection: a
    # `baseConnectionId` filter is checked on the items (where it never matches), not on that column.
    columns = {path: col for path, col in ENVELOPE_COLUMNS.items() if path != "baseConnectionId"}

    def _build(self, ctx: Context, body: dict[str, Any], existing: Record | None) -> dict[str, Any]:
        spec = spec_ref(body, "connectionSpec")
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
        params = known_fields(params, ("dataSetId",), where="params.", code="1325")
        if self.core.store.get(ResourceKind.DATASET, ctx.scope, params["dataSetId"]) is None:
            raise BadRequest(f"The dataset {params['dataSetId'][:64]} is not found in this sandbox.", code="1325")
        data = body.get("data", {})
        if not isinstance(data, dict):
            raise BadRequest("The field data must be an object.", code="1000")
        name = body.get("name", "")
        if not isinstance(name, str) or not isinstance(body.get("description", ""), str):
            raise BadRequest("The fields name and description must be strings.", code="1000")
        state = body.get("state", ResourceState.ENABLED) if existing else ResourceState.ENABLED
        if state not in _STATES:
            raise BadRequest("State must be one of enabled, disabled.", code="1456")
        return {
            "name": name,
            "description": body.get("description", ""),
            "data": data,
            "params": {"dataSetId": params["dataSetId"]},
            "connectionSpec": spec,
            "state": state,
        }
