"""Connection specs and flow specs: a global, read-only catalog (not scoped to org or sandbox)."""

from __future__ import annotations

from typing import Any

from headwater.connectors.base import ConnectorSpec
from headwater.errors import NotFound
from headwater.runs.credentials import DATA_LAKE_SPEC_ID
from headwater.service._core import Core
from headwater.service._query import ListQuery, run_query

CRM_TO_AEP_FLOW_SPEC_ID = "14518937-270c-4525-bdec-c2ba7cce3860"
PROVIDER_ID = "0ed90a81-07f4-4586-8190-b40eccef1c5a"
# Built-in specs are nobody's edit: Adobe reports them with fixed audit fields.
CATALOG_AUDIT = {
    "createdAt": 0,
    "updatedAt": 0,
    "createdBy": "headwater",
    "updatedBy": "headwater",
    "createdClient": "headwater",
    "updatedClient": "headwater",
}
_PERMISSIONS = {
    "manage": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["write"]}],
    "view": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["read"]}],
}


def connector_spec_json(spec: ConnectorSpec) -> dict[str, Any]:
    return {
        "id": spec.id,
        **CATALOG_AUDIT,
        "name": spec.name,
        "providerId": spec.provider_id,
        "version": spec.version,
        "type": "Database",
        "authSpec": [{"name": m.name, "type": m.type, "spec": m.json_schema()} for m in spec.auth_methods],
        "sourceSpec": spec.source_spec,
        "exploreSpec": {"name": "Tabular", "type": "Tabular"},
        "attributes": {**spec.attributes, "label": spec.label},
        "permissionsInfo": _PERMISSIONS,
    }


DATA_LAKE_SPEC: dict[str, Any] = {
    "id": DATA_LAKE_SPEC_ID,
    **CATALOG_AUDIT,
    "name": "data-lake",
    "providerId": PROVIDER_ID,
    "version": "1.0",
    "authSpec": [],
    "targetSpec": {
        "name": "Data Lake",
        "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"dataSetId": {"type": "string", "description": "The target dataset (Iceberg table)."}},
            "required": ["dataSetId"],
        },
    },
    "attributes": {"category": "Target", "isSource": False, "isDestination": True, "label": "Data Lake (Iceberg)"},
    "permissionsInfo": _PERMISSIONS,
}


class SpecService:
    """`GET /connectionSpecs` and `/connectionSpecs/{id}`."""

    api_name = "connectionSpecs"

    def __init__(self, core: Core) -> None:
        self.core = core
        self._all: list[dict[str, Any]] | None = None

    def all(self) -> list[dict[str, Any]]:
        # Built once: the registry is fixed for the process, and generating the authSpec JSON
        # Schemas was most of the cost of GET /connectionSpecs (bench/load_read.py).
        if self._all is None:
            self._all = [connector_spec_json(s) for s in self.core.registry.specs()] + [DATA_LAKE_SPEC]
        return list(self._all)

    def list(self, query: ListQuery) -> dict[str, Any]:
        return run_query(
            self.all(), query, tokens=self.core.page_tokens, base_path="/connectionSpecs", default_limit=1000
        )

    def get(self, spec_id: str) -> dict[str, Any]:
        for spec in self.all():
            if spec["id"] == spec_id:
                return {"items": [spec]}
        raise NotFound(self.api_name, spec_id)
