"""Catalog datasets (`/dataSets`) and Data Prep mapping sets (`/mappingSets`)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from headwater.api.models.base import Links, RequestModel, WireModel


class SchemaRef(RequestModel):
    where: ClassVar[str] = "schemaRef."

    id: str | None = Field(default=None, description="The XDM schema's $id (kept as given).")
    contentType: str | None = None


class DatasetColumn(RequestModel):
    name: str
    type: str = Field(description="string, long, int, double, boolean, date, date-time, decimal(p,s), ...")


class DatasetSchema(RequestModel):
    """Headwater: the dataset's columns, when no run should decide them."""

    where: ClassVar[str] = "schema."

    columns: list[DatasetColumn]


class DatasetSource(RequestModel):
    """Headwater: take the schema of an explored source table."""

    where: ClassVar[str] = "source."

    connectionId: str
    tableName: str
    columns: list[str] | None = None


class CreateDataset(RequestModel):
    """`POST /dataSets`. Without `schema` or `source`, the first run that writes to it sets its schema."""

    error_code: ClassVar[str] = "1000"

    name: str = Field(min_length=1)
    description: str | None = None
    schemaRef: SchemaRef | None = None
    tags: dict[str, list[str]] | None = None
    fileDescription: dict[str, Any] | None = Field(default=None, description='Only {"format": "parquet"}.')
    schema_: DatasetSchema | None = Field(default=None, alias="schema")
    source: DatasetSource | None = None
    # Catalog fields Headwater does not implement: refused rather than silently dropped.
    enableErrorDiagnostics: Any = Field(default=None, description="Not supported (refused).")
    observableSchema: Any = Field(default=None, description="Not supported (refused).")
    basePath: Any = Field(default=None, description="Read-only in Catalog (refused).")
    dataSourceId: Any = Field(default=None, description="Not supported (refused).")

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
    dataBehavior: str
    managedBy: str


class Dataset(WireModel):
    """A Catalog dataset; `iceberg` and `schema.columns` are Headwater's (the table the data lands in).

    Every property may be left out by the `properties` parameter, so none is required here.
    """

    id: str | None = None
    name: str | None = None
    description: str | None = None
    imsOrg: str | None = None
    sandboxId: str | None = None
    sandboxName: str | None = None
    created: int | None = None
    updated: int | None = None
    createdUser: str | None = None
    createdClient: str | None = None
    updatedUser: str | None = None
    version: str | None = None
    classification: Classification | None = None
    schemaRef: dict[str, Any] | None = None
    tags: dict[str, Any] | None = None
    fileDescription: dict[str, Any] | None = None


DatasetMap = dict[str, Dataset]


class DatasetPreview(WireModel):
    columns: list[dict[str, Any]]
    data: list[dict[str, Any]]
    rowCount: int


class CreateMappingSet(RequestModel):
    """`POST /mappingSets`: expressions are checked now and compiled against the source when a flow uses them."""

    error_code: ClassVar[str] = "1000"

    version: int | str | None = Field(default=None, description="0: a mapping set has one version.")
    xdmSchema: str | None = None
    xdmVersion: str | None = None
    id: Any = Field(default=None, description="Assigned by the server (send null or omit).")
    name: str | None = None
    description: str | None = None
    mappings: list[dict[str, Any]]
    # Data Prep fields Headwater does not implement: refused rather than silently dropped.
    inputSchema: Any = Field(default=None, description="Not supported (refused).")
    outputSchema: Any = Field(default=None, description="Not supported (refused).")
    allowNullValues: Any = Field(default=None, description="Not supported (refused).")

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
    createdDate: int
    modifiedDate: int
    createdBy: str | None = None
    modifiedBy: str | None = None


class MappingSet(MappingSetSummary):
    xdmSchema: str | None = None
    xdmVersion: str | None = None
    mappings: list[dict[str, Any]]


class PageInfo(WireModel):
    count: int
    limit: int


class MappingSetPage(WireModel):
    """Data Prep's list shape: `{_links, _page: {count, limit}, data}`."""

    links: dict[str, Links | Any] | None = Field(default=None, alias="_links")
    page: PageInfo = Field(alias="_page")
    data: list[MappingSet]
