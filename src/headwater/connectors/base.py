"""The connector contract and the registry that finds connectors.

A connector is a `spec` and five calls: `check`; the three views of explore (`list_objects`,
`describe`, `preview`); and `read`. It is one module exposing `create(settings) -> Connector`,
registered under the `headwater.connectors` entry-point group; built-in and third-party connectors
are found the same way. Connectors raise the errors of `headwater.errors` that say who must act
(`ConfigError`, `TransientError`, `NotFound`, `InvalidAuth`, `InvalidTablePath`); which API code
each becomes is decided there, never by a connector.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pyarrow as pa
from pydantic import BaseModel, ValidationError

from headwater.domain import ReadRequest, TablePreview, TableSchema
from headwater.errors import ConfigError, InvalidAuth, NotFound, UnknownAuthSpec

if TYPE_CHECKING:
    from headwater.domain import ExploreItem
    from headwater.domain.row_filter import RowFilter
    from headwater.settings import Settings

JSON_SCHEMA_DRAFT7 = "http://json-schema.org/draft-07/schema#"


@dataclass(frozen=True)
class AuthMethod:
    """One entry of a connection spec's `authSpec`: a name and the typed model of its params.

    Secret params are `SecretStr` fields, so the served JSON Schema marks them `format: password`
    and reprs and logs are redacted by type.
    """

    name: str
    type: str
    model: builtins.type[BaseModel]
    description: str = ""
    aliases: tuple[str, ...] = ()
    # Handed to the model's validators as pydantic's validation context: what the connector knows
    # from the operator's settings (e.g. which source addresses are refused). Not part of the spec.
    context: Mapping[str, Any] | None = field(default=None, compare=False)

    def json_schema(self) -> dict[str, Any]:
        schema = self.model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
            for branch in (prop, *prop.get("anyOf", ())):
                branch.pop("writeOnly", None)
        schema.pop("description", None)
        return {"$schema": JSON_SCHEMA_DRAFT7, "description": self.description, **schema}

    def secret_fields(self) -> frozenset[str]:
        props = self.json_schema().get("properties", {})
        # An optional secret (`SecretStr | None`) is an anyOf whose string branch has the format.
        return frozenset(
            k
            for k, v in props.items()
            if v.get("format") == "password" or any(b.get("format") == "password" for b in v.get("anyOf", ()))
        )

    def parse(self, params: Any) -> BaseModel:
        """Validate `auth.params`; the error names the failing field and never echoes a value."""
        if not isinstance(params, dict):
            raise InvalidAuth("auth.params must be a JSON object.")
        try:
            parsed: BaseModel = self.model.model_validate(params, context=self.context)
            return parsed
        except ValidationError as exc:
            raise InvalidAuth(describe_validation_error(exc, prefix="auth.params")) from None


def describe_validation_error(exc: ValidationError, *, prefix: str) -> str:
    """A message naming each failing field, without the input values (they may be secrets)."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in (prefix, *err["loc"]))
        if err["type"] == "missing":
            parts.append(f"The mandatory field {loc} is not provided.")
        elif err["type"] == "extra_forbidden":
            parts.append(f"The field {loc} is not allowed.")
        else:
            parts.append(f"The field {loc} is invalid: {err['msg']}.")
    return " ".join(parts)


@dataclass(frozen=True)
class ConnectorSpec:
    """A connection spec as served by `GET /connectionSpecs`."""

    id: str
    name: str
    label: str
    auth_methods: tuple[AuthMethod, ...]
    provider_id: str = "0ed90a81-07f4-4586-8190-b40eccef1c5a"
    version: str = "1.0"
    category: str = "Database"
    attributes: dict[str, Any] = field(default_factory=dict)
    source_spec: dict[str, Any] | None = None

    def auth_method(self, spec_name: str) -> AuthMethod:
        for method in self.auth_methods:
            if spec_name == method.name or spec_name in method.aliases:
                return method
        valid = ", ".join(repr(m.name) for m in self.auth_methods)
        raise UnknownAuthSpec(
            f"The auth spec '{spec_name}' could not be found for the connection spec ID {self.id}. "
            f"Valid auth specs: {valid}."
        )


@runtime_checkable
class Connector(Protocol):
    """A source system: its spec, `check`, three explore calls and `read`, one per Flow Service operation."""

    spec: ConnectorSpec

    def check(self, auth: BaseModel) -> None:
        """Connect for real; raise ConfigError (user must act) or TransientError with an actionable message."""
        ...

    def list_objects(self, auth: BaseModel) -> list[ExploreItem]:
        """`explore?objectType=root`: every table and view the credentials can read."""
        ...

    def describe(self, auth: BaseModel, table: str) -> TableSchema:
        """`explore?objectType=table`: a table's columns and their mapped types; NotFound if absent."""
        ...

    def preview(
        self, auth: BaseModel, table: str, *, limit: int = 100, row_filter: RowFilter | None = None
    ) -> TablePreview:
        """`explore?...&preview=true`: the schema and the first rows (matching `row_filter`), JSON-ready."""
        ...

    def read(self, auth: BaseModel, request: ReadRequest) -> Iterator[pa.RecordBatch]:
        """Stream the table as record batches of one stable schema (that of `describe` for the columns)."""
        ...


ConnectorFactory = Callable[["Settings"], Connector]


class ConnectorRegistry:
    """Connectors by connection spec id, filled from the `headwater.connectors` entry-point group."""

    def __init__(self, connectors: dict[str, Connector]) -> None:
        self._by_id = connectors

    @classmethod
    def load(cls, settings: Settings) -> ConnectorRegistry:
        found: dict[str, Connector] = {}
        for ep in entry_points(group="headwater.connectors"):
            factory: ConnectorFactory = ep.load()
            connector = factory(settings)
            found[connector.spec.id] = connector
        return cls(found)

    def specs(self) -> list[ConnectorSpec]:
        return [c.spec for c in self._by_id.values()]

    def get(self, spec_id: str) -> Connector:
        try:
            return self._by_id[spec_id]
        except KeyError:
            valid = ", ".join(f"{c.spec.id} ({c.spec.name})" for c in self._by_id.values())
            raise NotFound(
                "connectionSpecs", spec_id, f"The connection spec {spec_id} is not found. Valid: {valid}."
            ) from None

    def __contains__(self, spec_id: object) -> bool:
        return spec_id in self._by_id


def not_readable(table: str) -> ConfigError:
    """The error for a table that exists in the request but not in the source."""
    return ConfigError(f"The table {table!r} does not exist or is not readable with these credentials.")


def database_attributes(column_escape_char: str) -> dict[str, Any]:
    """The `attributes` of a SQL database source spec: what may be filtered at the source."""
    return {
        "category": "Database",
        "isSource": True,
        "filterAtSource": {
            "enabled": True,
            "queryLanguage": "SQL",
            "logicalOperators": ["and", "or", "not"],
            "comparisonOperators": ["=", "!=", "<", "<=", ">", ">=", "like", "in"],
            "columnNameEscapeChar": column_escape_char,
            "valueEscapeChar": "'",
        },
    }


def database_source_spec(label: str) -> dict[str, Any]:
    """The `sourceSpec` shared by table-based sources (params of a source connection)."""
    return {
        "spec": {
            "$schema": JSON_SCHEMA_DRAFT7,
            "type": "object",
            "description": f"Defines params required when a {label} connection is used as a source in a flow.",
            "properties": {
                "tableName": {"type": "string", "description": "The explore path of the table to read."},
                "columns": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
                        "required": ["name"],
                    },
                },
                "filters": {"type": "object", "description": "A PQL row filter"},
                "cdcEnabled": {"type": "boolean"},
                "deltaColumn": {"type": "string"},
            },
            "required": ["tableName"],
        },
        "attributes": {"uiAttributes": {"isSource": True, "category": {"key": "database"}}},
    }
