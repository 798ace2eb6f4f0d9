"""Catalog datasets (`/data/foundation/catalog/dataSets`) and Data Prep mapping sets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse

from headwater.api.deps import Ctx, Svc
from headwater.api.models import parse_body
from headwater.api.models.catalog import (
    CreateDataset,
    CreateMappingSet,
    DatasetMap,
    DatasetPreview,
    MappingSet,
    MappingSetPage,
    MappingSetSummary,
)
from headwater.api.models.errors import NOT_FOUND, WITH_BODY
from headwater.api.models.openapi import request_body
from headwater.api.paths import CATALOG
from headwater.domain.numbers import ascii_int
from headwater.errors import BadRequest
from headwater.service.catalog_filters import SIMPLE, parse_filters

catalog = APIRouter()
conversion = APIRouter()
IntQ = Annotated[str | None, Query()]
PropertiesQ = Annotated[str | None, Query(description="Comma-separated top-level properties to return")]
OrderByQ = Annotated[
    str | None,
    Query(
        alias="orderBy",
        description="createdDate or updatedDate; prefix - for descending, + (or nothing) for ascending",
    ),
]
CatalogOrderQ = Annotated[
    str | None, Query(alias="orderBy", description="created or updated, optionally asc: or desc: (desc:created)")
]
NameQ = Annotated[str | None, Query(description="Only the mapping sets of this name (any letter case)")]
ExpandQ = Annotated[
    str | None,
    Query(alias="expandSchema", description="false (the default); true is refused: Headwater hosts no XDM schemas"),
]
VersionQ = Annotated[str | None, Query(description="0, the one version a mapping set has; another is not found")]
FilterQ = Annotated[str | None, Query(description="Catalog's simple filter: value, v1,v2 (any), or !v1,v2 (none)")]
NumberFilterQ = Annotated[str | None, Query(description="Epoch ms: value, v1,v2 (any), or !v1,v2 (none)")]
PropertyQ = Annotated[
    list[str] | None,
    Query(
        description="name, !name, name==a,b, name!=a, name~^literal$, created>ms, version<=1.0.0 "
        "(repeat to combine; `*` in a name is a wildcard)"
    ),
]
TagsQ = Annotated[str | None, Query(description="name:value pairs, comma-separated, all required; `*` in a value")]
DataSourceQ = Annotated[
    str | None, Query(alias="requestDataSource", description="false (the default); true is refused")
]
DiagnosticsQ = Annotated[str | None, Query(alias="enableErrorDiagnostics", description="Refused: not supported")]

# The query parameters each operation answers; any other is refused, so that no filter a client
# sends is silently left out of the answer.
_DATASET_FILTERS = frozenset({*SIMPLE, "property", "tags", "enableErrorDiagnostics"})
_DATASET_LIST = frozenset({"limit", "start", "orderBy", "properties", *_DATASET_FILTERS})
_MAPPING_LIST = frozenset({"limit", "start", "orderBy", "name", "expandSchema"})


def _only_params(request: Request, allowed: frozenset[str]) -> None:
    unknown = sorted({name for name in request.query_params if name not in allowed})
    if unknown:
        raise BadRequest(
            f"The query parameter {unknown[0][:100]!r} is not supported here. Supported: {', '.join(sorted(allowed))}.",
            code="1000",
        )


def _no_data_source(value: str | None) -> None:
    """Catalog's `requestDataSource`: aepp sends `False` on every create, which is what Headwater does;
    `true` asks for a data source (and a `dataSourceId`) that Headwater does not keep, so it is refused."""
    if value is not None and value.strip().lower() != "false":
        raise BadRequest(
            "requestDataSource=true is not supported: Headwater keeps no Catalog data sources. Leave it out or "
            "send false.",
            code="1000",
        )


def _bounded_int(value: str | None, name: str, default: int, maximum: int, *, low: int = 0) -> int:
    if value is None:
        return default
    number = ascii_int(value, low=low, high=maximum)
    if number is None:
        raise BadRequest(f"The {name} parameter must be an integer between {low} and {maximum}.", code="1000")
    return number


def _only(datasets: dict[str, Any], properties: str | None) -> dict[str, Any]:
    """Catalog's `properties`: each dataset cut down to the listed top-level properties."""
    if properties is None:
        return datasets
    wanted = {p.strip() for p in properties.split(",") if p.strip()}
    if not wanted:
        raise BadRequest("The properties parameter must list top-level properties, e.g. name,schemaRef.", code="1000")
    return {key: {k: v for k, v in item.items() if k in wanted} for key, item in datasets.items()}


@catalog.post(
    "/dataSets",
    status_code=201,
    tags=["Datasets"],
    summary="Create a dataset",
    response_model=None,
    responses={201: {"model": list[str], "description": '`["@/dataSets/{id}"]`'}, **NOT_FOUND, **WITH_BODY},
    openapi_extra=request_body(CreateDataset, description="The dataset; its columns given, explored, or left to runs."),
)
def create_dataset(
    ctx: Ctx, svc: Svc, body: Annotated[Any, Body()] = None, request_data_source: DataSourceQ = None
) -> JSONResponse:
    """An Apache Iceberg table: with `schema.columns`, with the columns of an explored `source` table, or
    (as for an XDM `schemaRef`) with the columns the first run writes. `requestDataSource=true` is
    refused: Headwater creates no Catalog data sources."""
    _no_data_source(request_data_source)
    result = svc.datasets.create(ctx, parse_body(CreateDataset, body).wire())
    return JSONResponse(result, status_code=201, headers={"Location": f"{CATALOG}{result[0][1:]}"})


@catalog.get(
    "/dataSets",
    tags=["Datasets"],
    summary="List datasets",
    response_model=None,
    responses={200: {"model": DatasetMap, "description": "Datasets keyed by id, as Catalog answers"}},
)
# Each filter is a parameter so that the published document lists it; the filters are read from
# the request itself, where a parameter may repeat (`property`) and their order is kept.
def list_datasets(
    request: Request,
    ctx: Ctx,
    svc: Svc,
    limit: IntQ = None,
    start: IntQ = None,
    properties: PropertiesQ = None,
    order_by: CatalogOrderQ = None,
    name: FilterQ = None,
    description: FilterQ = None,
    created: NumberFilterQ = None,
    updated: NumberFilterQ = None,
    created_client: Annotated[str | None, Query(alias="createdClient", description="As name")] = None,
    created_user: Annotated[str | None, Query(alias="createdUser", description="As name")] = None,
    updated_user: Annotated[str | None, Query(alias="updatedUser", description="As name")] = None,
    version: FilterQ = None,
    property: PropertyQ = None,
    tags: TagsQ = None,
    enable_error_diagnostics: DiagnosticsQ = None,
) -> Any:
    """The sandbox's datasets that pass Catalog's filters, `limit` (default 20, at most 100) from offset
    `start`, oldest first unless `orderBy` says otherwise; `properties=name,schemaRef` keeps only those
    properties of each. Text filters compare exactly (letter case too); any other parameter is refused."""
    _only_params(request, _DATASET_LIST)
    filters = parse_filters([(k, v) for k, v in request.query_params.multi_items() if k in _DATASET_FILTERS])
    found = svc.datasets.list_catalog(
        ctx,
        limit=_bounded_int(limit, "limit", 20, 100, low=1),
        start=_bounded_int(start, "start", 0, 10**9),
        order_by=order_by,
        filters=filters,
    )
    return _only(found, properties)


@catalog.get(
    "/dataSets/{dataset_id}",
    tags=["Datasets"],
    summary="Get a dataset",
    response_model=None,
    responses={200: {"model": DatasetMap, "description": "`{id: dataset}`"}, **NOT_FOUND},
)
def get_dataset(dataset_id: str, request: Request, ctx: Ctx, svc: Svc, properties: PropertiesQ = None) -> Any:
    """One dataset, keyed by its id as Catalog answers (`properties` as for the list); `id1,id2,...` looks
    up several (at most 100, all in the sandbox, else 404) in one answer."""
    _only_params(request, frozenset({"properties"}))
    return _only(svc.datasets.get_catalog(ctx, dataset_id), properties)


@catalog.get(
    "/dataSets/{dataset_id}/preview",
    tags=["Datasets"],
    summary="Preview a dataset",
    response_model=None,
    responses={200: {"model": DatasetPreview, "description": "Columns, first rows and the row count"}, **NOT_FOUND},
)
def preview_dataset(dataset_id: str, request: Request, ctx: Ctx, svc: Svc, limit: IntQ = None) -> Any:
    """Headwater: the first `limit` rows (at most 1000) of the dataset's table."""
    _only_params(request, frozenset({"limit"}))
    return svc.datasets.preview(ctx, dataset_id, limit=_bounded_int(limit, "limit", 100, 1000, low=1))


@catalog.delete(
    "/dataSets/{dataset_id}",
    tags=["Datasets"],
    summary="Delete a dataset",
    response_model=None,
    responses={200: {"model": list[str], "description": '`["@/dataSets/{id}"]`'}, **NOT_FOUND},
)
def delete_dataset(dataset_id: str, ctx: Ctx, svc: Svc) -> Any:
    """Drops the table; refused (1447) while a target connection names the dataset."""
    return svc.datasets.delete_catalog(ctx, dataset_id)


@conversion.post(
    "/mappingSets",
    status_code=200,
    tags=["Mapping sets"],
    summary="Create a mapping set",
    response_model=None,
    responses={200: {"model": MappingSetSummary, "description": "The new mapping set's id and version"}, **WITH_BODY},
    openapi_extra=request_body(CreateMappingSet, description="The mappings (source column or expression to path)."),
)
def create_mapping_set(ctx: Ctx, svc: Svc, body: Annotated[Any, Body()] = None) -> JSONResponse:
    """Expressions are parsed now and compiled against the source table when a flow uses the mapping set.

    Answers 200 with the new set's summary, as Data Prep documents (not 201 as Catalog's creates do)."""
    return JSONResponse(svc.mapping_sets.create(ctx, parse_body(CreateMappingSet, body).wire()), status_code=200)


@conversion.get(
    "/mappingSets",
    tags=["Mapping sets"],
    summary="List mapping sets",
    response_model=None,
    responses={200: {"model": MappingSetPage, "description": "Data Prep's page: `{_links, _page, data}`"}},
)
def list_mapping_sets(
    request: Request,
    ctx: Ctx,
    svc: Svc,
    limit: IntQ = None,
    start: IntQ = None,
    order_by: OrderByQ = None,
    name: NameQ = None,
    expand_schema: ExpandQ = None,
) -> Any:
    """The sandbox's mapping sets, `limit` (default 10, at most 100) from offset `start`, newest change
    first unless `orderBy` says otherwise; `name` keeps those of that name (letter case aside)."""
    _only_params(request, _MAPPING_LIST)
    return svc.mapping_sets.page(
        ctx,
        limit=_bounded_int(limit, "limit", 10, 100, low=1),
        start=_bounded_int(start, "start", 0, 10**9),
        order_by=order_by,
        name=name,
        expand_schema=expand_schema,
    )


@conversion.get(
    "/mappingSets/{mapping_id}",
    tags=["Mapping sets"],
    summary="Get a mapping set",
    response_model=None,
    responses={200: {"model": MappingSet, "description": "The mapping set"}, **NOT_FOUND},
)
def get_mapping_set(
    mapping_id: str, request: Request, ctx: Ctx, svc: Svc, version: VersionQ = None, expand_schema: ExpandQ = None
) -> Any:
    """One mapping set with its mappings."""
    _only_params(request, frozenset({"version", "expandSchema"}))
    return svc.mapping_sets.get_one(ctx, mapping_id, version=version, expand_schema=expand_schema)
