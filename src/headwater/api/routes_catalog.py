"""Catalog datasets (`/data/foundation/catalog/dataSets`) and Data Prep mapping sets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
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


def _bounded_int(value: str | None, name: str, default: int, maximum: int) -> int:
    if value is None:
        return default
    number = ascii_int(value, low=0, high=maximum)
    if number is None:
        raise BadRequest(f"The {name} parameter must be an integer between 0 and {maximum}.", code="1000")
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
def create_dataset(ctx: Ctx, svc: Svc, body: Annotated[Any, Body()] = None) -> JSONResponse:
    """An Apache Iceberg table: with `schema.columns`, with the columns of an explored `source` table, or
    (as for an XDM `schemaRef`) with the columns the first run writes."""
    result = svc.datasets.create(ctx, parse_body(CreateDataset, body).wire())
    return JSONResponse(result, status_code=201, headers={"Location": f"{CATALOG}{result[0][1:]}"})


@catalog.get(
    "/dataSets",
    tags=["Datasets"],
    summary="List datasets",
    response_model=None,
    responses={200: {"model": DatasetMap, "description": "Datasets keyed by id, as Catalog answers"}},
)
def list_datasets(
    ctx: Ctx,
    svc: Svc,
    limit: IntQ = None,
    start: IntQ = None,
    properties: PropertiesQ = None,
    order_by: CatalogOrderQ = None,
) -> Any:
    """The sandbox's datasets, `limit` (default 20, at most 100) from offset `start`, oldest first unless
    `orderBy` says otherwise; `properties=name,schemaRef` keeps only those properties of each."""
    found = svc.datasets.list_catalog(
        ctx,
        limit=_bounded_int(limit, "limit", 20, 100) or 20,
        start=_bounded_int(start, "start", 0, 10**9),
        order_by=order_by,
    )
    return _only(found, properties)


@catalog.get(
    "/dataSets/{dataset_id}",
    tags=["Datasets"],
    summary="Get a dataset",
    response_model=None,
    responses={200: {"model": DatasetMap, "description": "`{id: dataset}`"}, **NOT_FOUND},
)
def get_dataset(dataset_id: str, ctx: Ctx, svc: Svc, properties: PropertiesQ = None) -> Any:
    """One dataset, keyed by its id as Catalog answers (`properties` as for the list)."""
    return _only(svc.datasets.get_catalog(ctx, dataset_id), properties)


@catalog.get(
    "/dataSets/{dataset_id}/preview",
    tags=["Datasets"],
    summary="Preview a dataset",
    response_model=None,
    responses={200: {"model": DatasetPreview, "description": "Columns, first rows and the row count"}, **NOT_FOUND},
)
def preview_dataset(dataset_id: str, ctx: Ctx, svc: Svc, limit: IntQ = None) -> Any:
    """Headwater: the first `limit` rows (at most 1000) of the dataset's table."""
    return svc.datasets.preview(ctx, dataset_id, limit=_bounded_int(limit, "limit", 100, 1000) or 100)


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
    status_code=201,
    tags=["Mapping sets"],
    summary="Create a mapping set",
    response_model=None,
    responses={201: {"model": MappingSetSummary, "description": "The new mapping set's id and version"}, **WITH_BODY},
    openapi_extra=request_body(CreateMappingSet, description="The mappings (source column or expression to path)."),
)
def create_mapping_set(ctx: Ctx, svc: Svc, body: Annotated[Any, Body()] = None) -> JSONResponse:
    """Expressions are parsed now and compiled against the source table when a flow uses the mapping set."""
    return JSONResponse(svc.mapping_sets.create(ctx, parse_body(CreateMappingSet, body).wire()), status_code=201)


@conversion.get(
    "/mappingSets",
    tags=["Mapping sets"],
    summary="List mapping sets",
    response_model=None,
    responses={200: {"model": MappingSetPage, "description": "Data Prep's page: `{_links, _page, data}`"}},
)
def list_mapping_sets(
    ctx: Ctx, svc: Svc, limit: IntQ = None, start: IntQ = None, order_by: OrderByQ = None, name: NameQ = None
) -> Any:
    """The sandbox's mapping sets, `limit` (default 10, at most 100) from offset `start`, newest change
    first unless `orderBy` says otherwise; `name` keeps those of that name (letter case aside)."""
    return svc.mapping_sets.page(
        ctx,
        limit=_bounded_int(limit, "limit", 10, 100) or 10,
        start=_bounded_int(start, "start", 0, 10**9),
        order_by=order_by,
        name=name,
    )


@conversion.get(
    "/mappingSets/{mapping_id}",
    tags=["Mapping sets"],
    summary="Get a mapping set",
    response_model=None,
    responses={200: {"model": MappingSet, "description": "The mapping set"}, **NOT_FOUND},
)
def get_mapping_set(mapping_id: str, ctx: Ctx, svc: Svc) -> Any:
    """One mapping set with its mappings."""
    return svc.mapping_sets.get_one(ctx, mapping_id)
