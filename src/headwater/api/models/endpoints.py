"""Source and target connections (`/sourceConnections`, `/targetConnections`), as Adobe's tutorials send them."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from headwater.api.models.base import Links, RequestModel, SpecRef, SpecRefOut, WireModel
from headwater.api.models.connections import PG_SPEC, ResourceOut

LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"


class SourceData(RequestModel):
    error_code: ClassVar[str] = "1327"
    where: ClassVar[str] = "data."

    format: str | None = Field(default=None, description="tabular: the only format of database sources")


class SourceParams(RequestModel):
    """What a flow reads of the base connection: a table, optionally some of its columns and a row filter."""

    error_code: ClassVar[str] = "1323"
    where: ClassVar[str] = "params."

    table_name: str = Field(description="The explore path of the table (`schema.table`, `dataset.table`).")
    columns: list[str | dict[str, Any]] | None = Field(
        default=None, description="The columns to read (names or explore column objects); all when omitted."
    )
    filters: Any = Field(default=None, description="A PQL row filter (see the explore preview filters).")
    cdc_enabled: bool | None = Field(default=None, description="Change data capture is not supported: omit or false.")
    delta_column: Any = Field(
        default=None, description="Not here: the delta column belongs to the flow's Copy transformation (refused)."
    )


class CreateSourceConnection(RequestModel):
    """`POST /sourceConnections`."""

    error_code: ClassVar[str] = "1323"
    field_codes: ClassVar[dict[str, str]] = {"baseConnectionId": "1338", "connectionSpec": "1413", "data": "1327"}

    name: str
    description: str | None = None
    base_connection_id: str
    data: SourceData | None = None
    params: SourceParams
    connection_spec: SpecRef

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "name": "Database source connection",
                    "baseConnectionId": "6990abad-977d-41b9-a85d-17ea8cf1c0e4",
                    "description": "Database source connection",
                    "data": {"format": "tabular"},
                    "params": {
                        "tableName": "test1.Mytable",
                        "columns": [
                            {"name": "TestID", "type": "string", "xdm": {"type": "string"}},
                            {"name": "Name", "type": "string", "xdm": {"type": "string"}},
                        ],
                    },
                    "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
                }
            ]
        }
    }


class TargetData(RequestModel):
    error_code: ClassVar[str] = "1000"
    where: ClassVar[str] = "data."

    format: str | None = None
    schema_: dict[str, Any] | None = Field(
        default=None, alias="schema", description="The XDM schema `{id, version}` (kept as given)."
    )


class TargetParams(RequestModel):
    error_code: ClassVar[str] = "1325"
    where: ClassVar[str] = "params."

    data_set_id: str = Field(description="The Catalog dataset the flow writes to.")


class CreateTargetConnection(RequestModel):
    """`POST /targetConnections`."""

    error_code: ClassVar[str] = "1000"
    field_codes: ClassVar[dict[str, str]] = {"params": "1325", "connectionSpec": "1413", "baseConnectionId": "1332"}

    name: str | None = None
    description: str | None = None
    base_connection_id: str | None = Field(default=None, description="Not allowed for the data lake target.")
    data: TargetData | None = None
    params: TargetParams
    connection_spec: SpecRef

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "name": "Database target connection",
                    "description": "Database target connection",
                    "data": {
                        "schema": {
                            "id": "https://ns.adobe.com/{TENANT_ID}/schemas/52b59140414aa6a370ef5e21155fd7a686744b87",
                            "version": "application/vnd.adobe.xed-full+json;version=1",
                        }
                    },
                    "params": {"dataSetId": "6019e0e7c5dcf718db5ebc71"},
                    "connectionSpec": {"id": LAKE_SPEC, "version": "1.0"},
                }
            ]
        }
    }


class BaseConnectionRef(WireModel):
    id: str
    connection_spec: SpecRefOut


class SourceInherited(WireModel):
    base_connection: BaseConnectionRef


class SourceConnection(ResourceOut):
    base_connection_id: str
    data: dict[str, Any]
    params: dict[str, Any]
    connection_spec: SpecRefOut
    inherited_attributes: SourceInherited


class TargetConnection(ResourceOut):
    data: dict[str, Any]
    params: dict[str, Any]
    connection_spec: SpecRefOut


class SourceConnectionItems(WireModel):
    items: list[SourceConnection]


class SourceConnectionList(SourceConnectionItems):
    links: Links | None = Field(default=None, alias="_links")


class TargetConnectionItems(WireModel):
    items: list[TargetConnection]


class TargetConnectionList(TargetConnectionItems):
    links: Links | None = Field(default=None, alias="_links")
