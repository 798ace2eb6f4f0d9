"""A flow parsed once into typed parts, and the plan of what a run of it reads and writes.

Creating, patching and publishing a flow validate it with the same `parse_flow` and `build_plan`
that every run uses, so a flow the API accepted is a flow a run can execute, checked the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import pyarrow as pa
from pydantic import BaseModel

from headwater.connectors.base import Connector
from headwater.domain import TableSchema
from headwater.domain.date_format import check_date_format
from headwater.domain.numbers import ascii_int
from headwater.domain.row_filter import RowFilter, bind_filter, parse_filter
from headwater.errors import BadRequest
from headwater.lake import DatasetIdent
from headwater.runs.schedule import Schedule, parse_schedule
from headwater.store import Record


class CompiledMappingLike(Protocol):
    """What a run needs of `headwater.mapping.CompiledMapping`."""

    @property
    def output_schema(self) -> pa.Schema: ...

    @property
    def input_columns(self) -> list[str] | tuple[str, ...]: ...

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch: ...


MappingCompiler = Callable[[list[Any], pa.Schema], CompiledMappingLike]


@dataclass(frozen=True)
class FlowDefinition:
    """A flow's references, schedule and transformations, parsed from its JSON."""

    source_id: str
    target_id: str
    schedule: Schedule | None  # None only for a draft saved without scheduleParams
    delta_column: str | None
    mapping_id: str | None
    # `deltaColumn.dateFormat`, checked against the column's type when the plan is built.
    delta_date_format: str | None = None

    @property
    def incremental(self) -> bool:
        """Each run continues from the cursor the previous one committed."""
        return bool(self.delta_column) and self.schedule is not None and self.schedule.recurring

    def with_run_delta(self, run_params: dict[str, Any]) -> FlowDefinition:
        """An on-demand run may name the delta column of its window (`params.deltaColumn`)."""
        given = run_params.get("deltaColumn")
        if self.delta_column or not isinstance(given, dict) or not given.get("name"):
            return self
        return replace(self, delta_column=str(given["name"]), delta_date_format=given.get("dateFormat"))


def _one_id(body: dict[str, Any], field: str) -> str:
    ids = body.get(field)
    if not isinstance(ids, list) or len(ids) != 1 or not isinstance(ids[0], str):
        raise BadRequest(f"The length of {field} should be one.", code="1321")
    return ids[0]


def _transformations(body: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The delta column (its JSON) of the Copy step and the mapping set id of the Mapping step."""
    items = body.get("transformations", [])
    if not isinstance(items, list):
        raise BadRequest("transformations must be an array.", code="1000")
    delta, mapping = None, None
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("params", {}), dict):
            raise BadRequest(f"transformations[{i}] must be an object with name and params.", code="1000")
        name = str(item.get("name", "")).lower()
        params = item.get("params", {})
        if name == "copy":
            column = params.get("deltaColumn")
            if column is None:
                continue
            if not isinstance(column, dict) or not isinstance(column.get("name"), str) or not column["name"]:
                raise BadRequest("The delta column must be an object with a name.", code="1367")
            check_delta_options(column, "transformations[].params.deltaColumn", code="1367")
            delta = column
        elif name == "mapping":
            mapping_id = params.get("mappingId")
            if not isinstance(mapping_id, str) or not mapping_id:
                raise BadRequest(f"transformations[{i}].params.mappingId is required.", code="1370")
            # Mapping sets have a single version (0); naming another would silently run version 0.
            if "mappingVersion" in params and ascii_int(params["mappingVersion"], low=0, high=0) is None:
                raise BadRequest(
                    f"transformations[{i}].params.mappingVersion must be 0: mapping sets have one version.",
                    code="1370",
                )
            mapping = mapping_id
        else:
            raise BadRequest(
                f"Unknown transformation {str(item.get('name'))[:40]!r}: use Copy or Mapping.", code="1000"
            )
    return delta, mapping


_UTC_NAMES = frozenset({"utc", "gmt", "etc/utc", "etc/gmt", "z", "+00:00", "utc+0", "gmt+0"})


def check_delta_options(column: dict[str, Any], where: str, *, code: str) -> None:
    """`timezone` and `dateFormat` of a delta column, as far as Headwater can honour them.

    `dateFormat` must be text; whether the column's comparison honours it is checked against the
    column's type when the plan is built (domain/date_format.py). Values without a zone are read as
    UTC, which is also what Adobe requires of table sources, so any other `timezone` is refused rather
    than silently ignored.
    """
    timezone = column.get("timezone")
    if timezone is not None and (not isinstance(timezone, str) or timezone.strip().lower() not in _UTC_NAMES):
        raise BadRequest(
            f"{where}.timezone must be UTC: Headwater reads delta values without a zone as UTC.", code=code
        )
    if "dateFormat" in column and not isinstance(column["dateFormat"], str):
        raise BadRequest(f"{where}.dateFormat must be a string.", code=code)


def parse_flow(body: dict[str, Any], *, draft: bool = False) -> FlowDefinition:
    """Parse a flow's JSON (a request body or a stored doc); a draft may omit its schedule."""
    source_id = _one_id(body, "sourceConnectionIds")
    target_id = _one_id(body, "targetConnectionIds")
    delta_json, mapping_id = _transformations(body)
    delta = delta_json["name"] if delta_json else None
    given = body.get("scheduleParams")
    schedule = parse_schedule(given) if (given or not draft) else None
    if schedule is not None:
        if not schedule.recurring and delta:
            raise BadRequest(
                "The delta column in copy transform is not allowed when frequency is set to once.", code="1369"
            )
        if schedule.recurring and not delta:
            raise BadRequest(
                "The delta column is required in copy transformation for a recurring schedule: "
                "without it every run would copy the whole table again.",
                code="1367",
            )
    date_format = delta_json.get("dateFormat") if delta_json else None
    return FlowDefinition(source_id, target_id, schedule, delta, mapping_id, date_format)


def column_names(params: dict[str, Any]) -> list[str] | None:
    """The selected column names of a source connection (`params.columns`), or None for all."""
    columns = params.get("columns")
    if columns is None:
        return None
    return [c if isinstance(c, str) else c["name"] for c in columns]


def lake_ident(dataset: Record) -> DatasetIdent:
    """The Iceberg (namespace, table) of a dataset record."""
    ice = dataset.doc["_iceberg"]
    return DatasetIdent(str(ice["namespace"]), str(ice["table"]))


def _orderable(arrow_type: pa.DataType) -> bool:
    """Delta columns must be ordered scalars: arrays, structs, booleans and binary cannot drive a cursor."""
    return bool(
        pa.types.is_integer(arrow_type)
        or pa.types.is_decimal(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_temporal(arrow_type)
        or pa.types.is_string(arrow_type)
    )


@dataclass(frozen=True)
class FlowPlan:
    """What a run of a flow reads, how it maps it, and where it writes it."""

    definition: FlowDefinition
    connector: Connector
    auth: BaseModel
    table: str
    table_schema: TableSchema
    ident: DatasetIdent
    read_columns: tuple[str, ...] | None
    mapping: CompiledMappingLike | None
    output_schema: pa.Schema
    delta_type: pa.DataType | None
    # The source connection's `params.filters`, bound to the table as described for this plan.
    row_filter: RowFilter | None = None

    @property
    def delta_column(self) -> str | None:
        return self.definition.delta_column

    @property
    def incremental(self) -> bool:
        return self.definition.incremental


def build_plan(
    definition: FlowDefinition,
    *,
    source: Record,
    dataset: Record,
    mapping_set: Record | None,
    connector: Connector,
    auth: BaseModel,
    compile_mapping: MappingCompiler,
) -> FlowPlan:
    """Check the flow against the live source table and compile its mapping.

    Raises BadRequest naming what no longer fits, and lets NotFound from `describe` through: a
    missing table is reported differently when a flow is created and when a run finds it gone.
    """
    table = source.doc["params"]["tableName"]
    table_schema = connector.describe(auth, table)
    selected = column_names(source.doc["params"])
    for name in selected or []:
        if table_schema.column(name) is None:
            raise BadRequest(
                f"The column {name[:100]!r} of params.columns is not in table {table[:200]!r}.", code="1330"
            )
    filters = source.doc["params"].get("filters")
    row_filter = bind_filter(parse_filter(filters), table_schema) if filters is not None else None
    delta = definition.delta_column
    delta_type = None
    if delta:
        column = table_schema.column(delta)
        if column is None:
            raise BadRequest(f"The delta column {delta[:100]!r} is not in table {table[:200]!r}.", code="1367")
        if not _orderable(column.arrow_type):
            raise BadRequest(
                f"The delta column {delta[:100]!r} has type {column.source_type}, which cannot order rows; "
                "use a timestamp, date or integer column.",
                code="1367",
            )
        check_date_format(definition.delta_date_format, column.arrow_type, column=delta, code="1367")
        delta_type = column.arrow_type
    described = table_schema.arrow_schema
    input_schema = pa.schema([described.field(n) for n in selected]) if selected else described
    read_columns: tuple[str, ...] | None = tuple(selected) if selected else None
    mapping = None
    output_schema = input_schema
    if mapping_set is not None:
        mapping = compile_mapping(mapping_set.doc["mappings"], input_schema)
        read_columns = tuple(mapping.input_columns)
        output_schema = mapping.output_schema
    return FlowPlan(
        definition=definition,
        connector=connector,
        auth=auth,
        table=table,
        table_schema=table_schema,
        ident=lake_ident(dataset),
        read_columns=read_columns,
        mapping=mapping,
        output_schema=output_schema,
        delta_type=delta_type,
        row_filter=row_filter,
    )
