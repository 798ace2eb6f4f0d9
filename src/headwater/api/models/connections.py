"""Base connections and connection specs (`/connections`, `/connectionSpecs`), as Adobe's tutorials send them."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from headwater.api.models.base import Links, RequestModel, SpecRef, SpecRefOut, WireModel

PG_SPEC = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
BQ_SPEC = "3c9b37f8-13a6-43d8-bad3-b863b941fedd"


class ConnectionAuth(RequestModel):
    """Which auth spec of the connection spec, and its params (checked against that spec's JSON Schema)."""

    error_code: ClassVar[str] = "1304"
    where: ClassVar[str] = "auth."

    spec_name: str = Field(min_length=1, max_length=200, description="The `name` of one of the spec's authSpec.")
    type: str | None = Field(default=None, max_length=64, description="The auth type (e.g. OAuth2.0), if any.")
    params: dict[str, Any] = Field(description="The auth params; secrets are stored encrypted and masked on read.")


class CreateConnection(RequestModel):
    """`POST /connections`."""

    error_code: ClassVar[str] = "1304"

    name: str = Field(min_length=1, max_length=512)
    description: str | None = Field(default=None, max_length=4096)
    auth: ConnectionAuth
    connection_spec: SpecRef

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "name": "Test connection for PostgreSQL",
                    "description": "Test connection for PostgreSQL",
                    "auth": {
                        "specName": "Connection String Based Authentication",
                        "params": {
                            "connectionString": "Server={SERVER};Database={DATABASE};Port={PORT};UID={USERNAME};"
                            "Password={PASSWORD}"
                        },
                    },
                    "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
                },
                {
                    "name": "PostgreSQL base connection",
                    "description": "PostgreSQL base connection via basic authentication",
                    "auth": {
                        "specName": "Basic Authentication",
                        "params": {
                            "server": "localhost",
                            "port": "5432",
                            "database": "postgresql-acme",
                            "username": "acme",
                            "password": "xxxx",
                            "sslMode": "Allow",
                        },
                    },
                    "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
                },
                {
                    "name": "Google BigQuery base connection with service account",
                    "description": "Google BigQuery connection with service account",
                    "auth": {
                        "specName": "Service Authentication",
                        "params": {
                            "projectId": "{PROJECT_ID}",
                            "keyFileContent": "{KEY_FILE_CONTENT}",
                            "largeResultsDataSetId": "{LARGE_RESULTS_DATASET_ID}",
                        },
                    },
                    "connectionSpec": {"id": BQ_SPEC, "version": "1.0"},
                },
            ]
        }
    }


class ResourceOut(WireModel):
    """The envelope of every stored resource: ids, audit fields, tenant, version."""

    id: str
    created_at: int
    updated_at: int
    created_by: str | None = None
    updated_by: str | None = None
    created_client: str | None = None
    updated_client: str | None = None
    sandbox_id: str
    sandbox_name: str
    ims_org_id: str
    name: str | None = None
    description: str | None = None
    state: str | None = None
    version: str | None = None
    etag: str


class ConnectionAuthOut(WireModel):
    spec_name: str
    type: str | None = None
    params: dict[str, Any] = Field(description="Secret params are masked as ********.")


class Connection(ResourceOut):
    """A base connection; its secrets are masked."""

    connection_spec: SpecRefOut
    auth: ConnectionAuthOut


class ConnectionItems(WireModel):
    items: list[Connection]


class ConnectionList(ConnectionItems):
    links: Links | None = Field(default=None, alias="_links")


class Count(WireModel):
    """`count=true`: the number of matching resources instead of the page."""

    count: int


class TestError(WireModel):
    code: str
    message: str


class ConnectionTest(WireModel):
    """`result` is false, with the reason in `errors`, when the source cannot be reached or refuses the credentials."""

    result: bool
    errors: list[TestError] | None = None


class ExploreObject(WireModel):
    type: str
    name: str
    path: str
    can_preview: bool
    can_fetch_schema: bool


class ExploreColumn(WireModel):
    name: str
    type: str
    xdm: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None


class ExploreColumns(WireModel):
    columns: list[ExploreColumn]


class ExploreTable(WireModel):
    """A table's columns (`objectType=table`), and its first rows with `preview=true`."""

    format: str
    schema_: ExploreColumns = Field(alias="schema")
    data: list[dict[str, Any]] | None = None


class ConnectionSpec(WireModel):
    """A connection spec: its auth specs (JSON Schemas of `auth.params`), source spec and attributes."""

    id: str
    name: str
    provider_id: str
    version: str
    auth_spec: list[dict[str, Any]]
    attributes: dict[str, Any]


class ConnectionSpecItems(WireModel):
    items: list[ConnectionSpec]


class ConnectionSpecList(ConnectionSpecItems):
    links: Links | None = Field(default=None, alias="_links")
