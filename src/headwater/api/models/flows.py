"""Dataflows and the flow spec (`/flows`, `/flowSpecs`), as Adobe's tutorials send them."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from headwater.api.models.base import Links, RequestModel, SpecRef, SpecRefOut, WireModel
from headwater.api.models.connections import ResourceOut

CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"


class Transformation(RequestModel):
    """`Copy` (its `deltaColumn` drives incremental runs) or `Mapping` (a Data Prep mapping set)."""

    where: ClassVar[str] = "transformations[]."

    name: str = Field(description="Copy or Mapping")
    params: dict[str, Any] = Field(default_factory=dict)


class ScheduleParams(RequestModel):
    """Numbers may be sent as strings, as Adobe's tutorials do; they are echoed as sent."""

    where: ClassVar[str] = "scheduleParams."
    field_codes: ClassVar[dict[str, str]] = {"startTime": "1317", "frequency": "1397", "interval": "1362"}

    start_time: int | str = Field(description="Epoch seconds of the first run.")
    frequency: str = Field(description="once, minute, hour, day or week")
    interval: int | str | None = Field(default=None, description="Required unless once; at least 15 for minute.")
    backfill: bool | str | None = Field(default=None, description="Read rows older than startTime (default true).")


class FlowOptions(RequestModel):
    where: ClassVar[str] = "options."

    error_diagnostics_enabled: bool | None = None
    partial_ingestion_percent: int | float | None = Field(
        default=None, description="Set aside up to this percentage of rows that fail mapping rather than failing."
    )
    write_mode: str | None = Field(default=None, description="Headwater: append (default) or replace (once flows).")
    inlet_url: Any = Field(default=None, description="Streaming sources only (refused).")


class CreateFlow(RequestModel):
    """`POST /flows` (`?mode=draft` saves an unvalidated draft)."""

    error_code: ClassVar[str] = "1000"
    field_codes: ClassVar[dict[str, str]] = {
        "flowSpec": "1413",
        "sourceConnectionIds": "1321",
        "targetConnectionIds": "1321",
        "state": "1410",
    }

    name: str
    description: str | None = None
    flow_spec: SpecRef
    source_connection_ids: list[str] | None = None
    target_connection_ids: list[str] | None = None
    transformations: list[Transformation] | None = None
    schedule_params: ScheduleParams | None = None
    options: FlowOptions | None = None
    labels: Any = None
    state: Any = Field(default=None, description="Not allowed in a create request (set by the actions).")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "name": "Database dataflow using BigQuery",
                    "description": "collecting test1.Mytable",
                    "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
                    "sourceConnectionIds": ["b7581b59-c603-4df1-a689-d23d7ac440f3"],
                    "targetConnectionIds": ["320f119a-5ac1-4ab1-88ea-eb19e674ea2e"],
                    "transformations": [
                        {
                            "name": "Copy",
                            "params": {
                                "deltaColumn": {"name": "Datefield", "dateFormat": "YYYY-MM-DD", "timezone": "UTC"}
                            },
                        },
                        {
                            "name": "Mapping",
                            "params": {"mappingId": "0b090130b58b4819afc78b6dc98b484d", "mappingVersion": 0},
                        },
                    ],
                    "scheduleParams": {
                        "startTime": "1612310466",
                        "frequency": "minute",
                        "interval": "15",
                        "backfill": "true",
                    },
                }
            ]
        }
    }


class ConnectionRef(WireModel):
    id: str
    connection_spec: SpecRefOut


class FlowInherited(WireModel):
    source_connections: list[dict[str, Any]]
    target_connections: list[ConnectionRef]
    properties: dict[str, Any] | None = None


class LastRunDetails(WireModel):
    id: str
    state: str
    started_at_utc: int | None = Field(default=None, alias="startedAtUTC")
    completed_at_utc: int | None = Field(default=None, alias="completedAtUTC")


class Flow(ResourceOut):
    flow_spec: SpecRefOut
    source_connection_ids: list[str]
    target_connection_ids: list[str]
    transformations: list[dict[str, Any]]
    schedule_params: dict[str, Any]
    inherited_attributes: FlowInherited
    runs: str = Field(description="The runs of this flow: /runs?property=flowId=={id}")
    last_operation: dict[str, Any] | None = None
    last_run_details: LastRunDetails | None = None


class FlowItems(WireModel):
    items: list[Flow]


class FlowList(FlowItems):
    links: Links | None = Field(default=None, alias="_links")


class FlowSpec(WireModel):
    """The CRMToAEP flow spec: what a database dataflow accepts (transformations, schedule, run params)."""

    id: str
    name: str
    provider_id: str
    version: str
    source_connection_spec_ids: list[str]
    target_connection_spec_ids: list[str]
    attributes: dict[str, Any]


class FlowSpecItems(WireModel):
    items: list[FlowSpec]


class FlowSpecList(FlowSpecItems):
    links: Links | None = Field(default=None, alias="_links")
