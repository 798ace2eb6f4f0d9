"""Catalog datasets (`/data/foundation/catalog/dataSets`) and Data Prep mapping sets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from headwater.api.deps import Ctx, Svc
from headwater.api.paths import CATALOG
from headwater.domain.numbers import ascii_int
from headwater.errors import BadRequest
from headwater.service import ListQuery

catalog = APIRouter()
conversion = APIRouter()
JsonBody = Annotated[dict[str, Any], Body()]


def _bounded_int(value: str | None, name: str, default: int, maximum: int) -> int:
    if value is None:
        return default
    number = ascii_int(value, low=0, high=maximum)
    if number is None:
        raise BadRequest(f"The {name} parameter must be an integer between 0 and {maximum}.", code="1000")
    return number


@catalog.post("/dataSets", status_code=201, tags=["Datasets"])
def create_dataset(body: JsonBody, ctx: Ctx, svc: Svc) -> JSONResponse:
    result = svc.datasets.create(ctx, body)
    return JSONResponse(result, status_code=201, headers={"Location": f"{CATALOG}{result[0][1:]}"})


@catalog.get("/dataSets", tags=["Datasets"])
def list_datasets(
    ctx: Ctx, svc: Svc, limit: Annotated[str | None, Query()] = None, start: Annotated[str | None, Query()] = None
) -> dict[str, Any]:
    return svc.datasets.list_catalog(
        ctx, limit=_bounded_int(limit, "limit", 50, 100) or 50, start=_bounded_int(start, "start", 0, 10**9)
    )


@catalog.get("/dataSets/{dataset_id}", tags=["Datasets"])
def get_dataset(dataset_id: str, ctx: Ctx, svc: Svc) -> dict[str, Any]:
    return svc.datasets.get_catalog(ctx, dataset_id)


@catalog.get("/dataSets/{dataset_id}/preview", tags=["Datasets"])
def preview_dataset(
    dataset_id: str, ctx: Ctx, svc: Svc, limit: Annotated[str | None, Query()] = None
) -> dict[str, Any]:
    return svc.datasets.preview(ctx, dataset_id, limit=_bounded_int(limit, "limit", 100, 1000) or 100)


@catalog.delete("/dataSets/{dataset_id}", tags=["Datasets"])
def delete_dataset(dataset_id: str, ctx: Ctx, svc: Svc) -> list[str]:
    return svc.datasets.delete_catalog(ctx, dataset_id)


@conversion.post("/mappingSets", status_code=201, tags=["Mapping sets"])
def create_mapping_set(body: JsonBody, ctx: Ctx, svc: Svc) -> JSONResponse:
    return JSONResponse(svc.mapping_sets.create(ctx, body), status_code=201)


@conversion.get("/mappingSets", tags=["Mapping sets"])
def list_mapping_sets(ctx: Ctx, svc: Svc, limit: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    query = ListQuery.parse(limit=limit, max_limit=svc.settings.max_page_size)
    return svc.mapping_sets.list(ctx, query)


@conversion.get("/mappingSets/{mapping_id}", tags=["Mapping sets"])
def get_mapping_set(mapping_id: str, ctx: Ctx, svc: Svc) -> dict[str, Any]:
    return svc.mapping_sets.get_one(ctx, mapping_id)
