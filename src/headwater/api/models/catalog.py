"""Catalog datasets (`/dataSets`) and Data Prep mapping sets (`/mappingSets`)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from headwater.api.models.base import Links, RequestModel, WireModel


class SchemaRef(RequestModel):
    where: ClassVar[str] = "schemaRef."

    id: str | None = Field(default=None, description="The XDM schema's $id (kept as given).")
    content_type: str | None = None


class DatasetColumn(RequestModel):
    name: str
    type: str = Field(description="string, long, int, double, boolean, date, date-time, decimal(p,s), ...")


class DatasetSchema(RequestModel):
    """Headwater: the dataset's columns, when no run should decide them (answered as `iceberg.columns`)."""

    where: ClassVar[str] = "schema."

    columns: list[DatasetColumn]


class DatasetSource(RequestModel):
    """Headwater: take the schema of an explored source table."""

    where: ClassVar[str] = "source."

    connection_id: str
    table_name: str
    columns: list[str] | None = None


class CreateDataset(RequestModel):
    """`POST /dataSets`. Without `schema` or `source`, the first run that writes to it sets its schema."""

    error_code: ClassVar[str] = "1000"

    name: str = Field(min_length=1)
    description: str | None = None
    schema_ref: SchemaRef | None = None
    tags: dict[str, list[str]] | None = None
    file_description: dict[str, Any] | None = Field(
        default=None,
        description='{"format": "parquet"}, optionally with "containerFormat": "parquet" and "persisted": true.',
    )
    schema_: DatasetSchema | str | None = Field(
        default=None,
        alias="schema",
        description="Headwater's `{columns}`, or Catalog's legacy string: an XDM schema's reference, taken as "
        "`schemaRef.id` (it must agree with `schemaRef` when both are sent).",
    )
    source: DatasetSource | None = None
    # Catalog fields Headwater does not implement: refused rather than silently dropped.
    enable_error_diagnostics: Any = Field(default=None, description="Not supported (refused).")
    observable_schema: Any = Field(default=None, description="Not supported (refused).")
    base_path: Any = Field(default=None, description="Read-only in Catalog (refused).")
    data_source_id: Any = Field(default=None, description="Not supported (refused).")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "name": "Database dataset",
                    "schemaRef": {
                        "id": "https://ns.adobe.com/{TENANT_ID}/schemas/52b59140414aa6a370ef5e21155fd7a686744b87",
                        "contentType": "application/vnd.adobe.xed-full+json;version=1",
                    },
                },
                {"name": "orders", "schema": {"columns": [{"name": "id", "type": "long"}]}},
            ]
        }
    }


class Classification(WireModel):
    data_behavior: str
    managed_by: str


class SchemaRefOut(WireModel):
    id: str | None = None
    content_type: str | None = None


class ColumnOut(WireModel):
    name: str
    type: str = Field(description="The platform type: string, long, decimal(p,s), date-time, ...")
    arrow_type: str = Field(description="The Arrow type of the Iceberg table's column.")


class IcebergSnapshot(WireModel):
    """Headwater: the table's current Iceberg snapshot."""

    id: str = Field(description="The Iceberg snapshot id (a 64-bit integer, as text).")
    committed: int = Field(description="When it was committed (epoch ms).")
    run_id: str | None = Field(
        default=None, description="The flow run that committed it (Flow Service `GET /runs/{runId}`)."
    )
    flow_id: str | None = Field(default=None, description="That run's flow.")


class IcebergTable(WireModel):
    """Headwater: the Apache Iceberg table the dataset's data lands in."""

    namespace: str
    table: str
    data_files: int = Field(description="Data files of the table's current snapshot.")
    columns: list[ColumnOut] | None = Field(
        default=None, description="The table's columns; left out until the first run sets them."
    )
    snapshot: IcebergSnapshot | None = Field(
        default=None, description="The current snapshot: which run the data is as of; left out until a run commits."
    )


class Dataset(WireModel):
    """A Catalog dataset; `iceberg` is Headwater's (the table the data lands in, with its columns).

    Every property may be left out by the `properties` parameter, so none is required here. `schema`
    is Catalog's legacy string (an XDM schema's reference), present only when the dataset was created
    with one; `schemaRef` is left out when the dataset has none.
    """

    id: str | None = None
    name: str | None = None
    description: str | None = None
    ims_org: str | None = None
    sandbox_id: str | None = None
    sandbox_name: str | None = None
    created: int | None = None
    updated: int | None = None
    created_user: str | None = None
    created_client: str | None = None
    updated_user: str | None = None
    version: str | None = None
    classification: Classification | None = None
    schema_ref: SchemaRefOut | None = None
    tags: dict[str, list[str]] | None = None
    file_description: dict[str, Any] | None = None
    schema_: str | None = Field(default=None, alias="schema", description="Catalog's legacy XDM schema reference.")
    iceberg: IcebergTable | None = None


DatasetMap = dict[str, Dataset]


class DatasetPreview(WireModel):
    columns: list[dict[str, Any]]
    data: list[dict[str, Any]]
    row_count: int


class CreateMappingSet(RequestModel):
    """`POST /mappingSets`: expressions are checked now and compiled against the source when a flow uses them."""

    error_code: ClassVar[str] = "1000"

    version: int | str | None = Field(default=None, description="0: a mapping set has one version.")
    xdm_schema: str | None = None
    xdm_version: str | None = None
    id: Any = Field(default=None, description="Assigned by the server (send null or omit).")
    name: str | None = None
    description: str | None = None
    mappings: list[dict[str, Any]]
    output_schema: Any = Field(
        default=None,
        description="Only `{schemaRef: {id, contentType}}`: the XDM schema's reference, as `xdmSchema` (which it must "
        "agree with when both are sent).",
    )
    # Data Prep fields Headwater does not implement: refused rather than silently dropped.
    input_schema: Any = Field(default=None, description="Not supported (refused).")
    allow_null_values: Any = Field(default=None, description="Not supported (refused).")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "version": 0,
                    "xdmSchema": "https://ns.adobe.com/{TENANT_ID}/schemas/52b59140414aa6a370ef5e21155fd7a686744b87",
                    "xdmVersion": "1.0",
                    "id": None,
                    "mappings": [
                        {
                            "destinationXdmPath": "_id",
                            "sourceAttribute": "TestID",
                            "identity": False,
                            "identityGroup": None,
                            "namespaceCode": None,
                            "version": 0,
                        },
                        {
                            "destinationXdmPath": "person.name.fullName",
                            "sourceAttribute": "Name",
                            "identity": False,
                            "identityGroup": None,
                            "namespaceCode": None,
                            "version": 0,
                        },
                    ],
                }
            ]
        }
    }


class MappingSetSummary(WireModel):
    """What creating a mapping set answers."""

    id: str
    version: int
    created_date: int
    modified_date: int
    created_by: str | None = None
    modified_by: str | None = None


class OutputSchema(WireModel):
    schema_ref: SchemaRefOut


class MappingSet(MappingSetSummary):
    """A mapping set; `schemaRef` and `outputSchema.schemaRef` name its `xdmSchema`, when it has one."""

    name: str | None = None
    description: str | None = None
    xdm_schema: str | None = None
    xdm_version: str | None = None
    schema_ref: SchemaRefOut | None = None
    output_schema: OutputSchema | None = None
    mappings: list[dict[str, Any]]
    sandbox_name: str | None = None
    ims_org_id: str | None = None


class PageInfo(WireModel):
    count: int
    limit: int


class MappingSetPage(WireModel):
    """Data Prep's list shape: `{_links, _page: {count, limit}, data}`."""

    links: dict[str, Links | Any] | None = Field(default=None, alias="_links")
    page: PageInfo = Field(alias="_page")
    data: list[MappingSet]
