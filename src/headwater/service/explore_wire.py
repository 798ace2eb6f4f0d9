"""The Flow Service's explore JSON (camelCase, `meta:xdmType`) for the connector's plain domain types.

Connectors describe tables with `headwater.domain` dataclasses; the wire names Adobe's clients read
are chosen here, at the service's edge, so that a connector never knows the API's spelling.
"""

from __future__ import annotations

from typing import Any

from headwater.domain import ColumnInfo, ExploreItem, TablePreview, TableSchema


def explore_item_json(item: ExploreItem) -> dict[str, Any]:
    return {
        "type": item.type,
        "name": item.name,
        "path": item.path,
        "canPreview": item.can_preview,
        "canFetchSchema": item.can_fetch_schema,
    }


def column_json(column: ColumnInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"name": column.name, "type": column.platform_type}
    if column.xdm_meta_type and column.xdm_meta_type != column.platform_type:
        out["meta:xdmType"] = column.xdm_meta_type
    out["xdm"] = dict(column.xdm)
    out["meta"] = {"originalType": column.source_type}
    return out


def table_schema_json(schema: TableSchema) -> dict[str, Any]:
    return {"format": "flat", "schema": {"columns": [column_json(c) for c in schema.columns]}}


def table_preview_json(preview: TablePreview) -> dict[str, Any]:
    return {**table_schema_json(preview.schema), "data": preview.rows}
