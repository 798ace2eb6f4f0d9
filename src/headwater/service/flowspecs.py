"""The `CRMToAEP` flow spec that database dataflows use (global catalog, read-only)."""

from __future__ import annotations

from typing import Any

from headwater.connectors.bigquery import BIGQUERY_SPEC_ID
from headwater.connectors.postgres import POSTGRES_SPEC_ID
from headwater.domain.kinds import Frequency
from headwater.errors import NotFound
from headwater.runs.credentials import DATA_LAKE_SPEC_ID
from headwater.service._core import Core
from headwater.service._query import ListQuery, run_query
from headwater.service.specs import CATALOG_AUDIT, CRM_TO_AEP_FLOW_SPEC_ID, PROVIDER_ID

_DELTA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "dateFormat": {"type": "string"}, "timezone": {"type": "string"}},
    "required": ["name"],
}

CRM_TO_AEP: dict[str, Any] = {
    "id": CRM_TO_AEP_FLOW_SPEC_ID,
    **CATALOG_AUDIT,
    "name": "CRMToAEP",
    "providerId": PROVIDER_ID,
    "version": "1.0",
    "sourceConnectionSpecIds": [POSTGRES_SPEC_ID, BIGQUERY_SPEC_ID],
    "targetConnectionSpecIds": [DATA_LAKE_SPEC_ID],
    "optionSpec": {
        "name": "OptionSpec",
        "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "errorDiagnosticsEnabled": {"type": "boolean", "default": False},
                "partialIngestionPercent": {"type": "number", "exclusiveMinimum": 0},
            },
        },
    },
    "transformationSpecs": [
        {
            "name": "Copy",
            "spec": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {"deltaColumn": _DELTA},
                "required": ["deltaColumn"],
            },
        },
        {
            "name": "Mapping",
            "spec": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "description": "defines various params required for different mapping from source to target",
                "properties": {"mappingId": {"type": "string"}, "mappingVersion": {"type": "string"}},
            },
        },
    ],
    "scheduleSpec": {
        "name": "PeriodicSchedule",
        "type": "Periodic",
        "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "startTime": {"description": "epoch time", "type": "integer"},
                "frequency": {"type": "string", "enum": [f.value for f in Frequency]},
                "interval": {"type": "integer"},
                "backfill": {"type": "boolean", "default": True},
            },
            "required": ["startTime", "frequency"],
        },
    },
    "runSpec": {
        "name": "ProviderParams",
        "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "startTime": {"type": "integer"},
                "windowStartTime": {"type": "integer"},
                "windowEndTime": {"type": "integer"},
                "deltaColumn": _DELTA,
            },
        },
    },
    "attributes": {
        "isSourceFlow": True,
        "isDraftModeSupported": True,
        "frequency": "batch",
        "notification": {"category": "sources", "flowRun": {"enabled": True}},
    },
    "permissionsInfo": {
        "manage": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["write"]}],
        "view": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["read"]}],
    },
}


class FlowSpecService:
    """`GET /flowSpecs` and `/flowSpecs/{id}`."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def list(self, query: ListQuery) -> dict[str, Any]:
        return run_query([CRM_TO_AEP], query, tokens=self.core.page_tokens, base_path="/flowSpecs", default_limit=100)

    def get(self, spec_id: str) -> dict[str, Any]:
        if spec_id != CRM_TO_AEP_FLOW_SPEC_ID:
            raise NotFound("flowSpecs", spec_id)
        return {"items": [CRM_TO_AEP]}
