"""Flow runs (`/runs`): on-demand creation as Adobe's tutorial sends it, and the run object."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from headwater.api.models.base import IdEtag, Links, RequestModel, WireModel
from headwater.api.models.connections import ResourceOut


class DeltaColumn(RequestModel):
    error_code: ClassVar[str] = "1380"
    where: ClassVar[str] = "params.deltaColumn."

    name: str
    date_format: str | None = None
    timezone: str | None = Field(default=None, description="UTC only: delta values without a zone are read as UTC.")


class RunParams(RequestModel):
    """Times are epoch seconds (below 1e11) or milliseconds, as numbers or numeric strings."""

    error_code: ClassVar[str] = "1380"
    where: ClassVar[str] = "params."

    start_time: int | str | None = Field(default=None, description="When the run starts.")
    window_start_time: int | str | None = Field(default=None, description="The earliest delta value read.")
    window_end_time: int | str | None = Field(default=None, description="The delta value read up to.")
    delta_column: DeltaColumn | None = Field(default=None, description="Needed on the first windowed run of a flow.")
    run_now: Any = Field(default=None, description="Headwater: true (alone) runs a recurring flow's next window now.")


class CreateRun(RequestModel):
    """`POST /runs`: an on-demand run of a `frequency: once` flow."""

    error_code: ClassVar[str] = "1380"

    flow_id: str = Field(min_length=1)
    params: RunParams | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "flowId": "3abea21c-7e36-4be1-bec1-d3bad0e3e0de",
                    "params": {
                        "startTime": "1663735590",
                        "windowStartTime": "1651584991",
                        "windowEndTime": "1651585967",
                        "deltaColumn": {"name": "DOB"},
                    },
                }
            ]
        }
    }


class CreatedRun(WireModel):
    items: list[IdEtag]


class Run(ResourceOut):
    flow_id: str
    provider_ref_id: str
    scheduled_at_utc: int | None = Field(default=None, alias="scheduledAtUTC")
    metrics: dict[str, Any] = Field(description="statusSummary (status, errors), durationSummary, recordSummary...")


class RunItems(WireModel):
    items: list[Run]


class RunList(RunItems):
    links: Links | None = Field(default=None, alias="_links")


class FailedRecords(WireModel):
    """Headwater: the rows a run set aside (partial ingestion), each with its reason."""

    failed_record_count: int
    items: list[dict[str, Any]]
    truncated: bool
