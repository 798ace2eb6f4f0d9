"""`/connectionSpecs` and `/connections` of the Flow Service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Response
from fastapi.responses import JSONResponse

from headwater.api.deps import Ctx, ListQ, PropertyQ, StrQ, Svc, created, fast_read, list_query
from headwater.api.paths import FLOW_SERVICE
from headwater.api.schemas import CreateConnection, IdEtag, PatchBody

router = APIRouter()


# The hot read endpoints are `async def` (see deps.fast_read): specs are in memory, and the
# connection reads run inline on SQLite rather than paying a thread-pool hop per request.
@router.get("/connectionSpecs", tags=["Connection specs"])
async def list_connection_specs(_: Ctx, svc: Svc, property: PropertyQ = None) -> dict[str, Any]:
    return svc.specs.list(list_query(svc, property, None, None, None, None, None))


@router.get("/connectionSpecs/{spec_id}", tags=["Connection specs"])
async def get_connection_spec(spec_id: str, _: Ctx, svc: Svc) -> dict[str, Any]:
    return svc.specs.get(spec_id)


@router.get("/connections", tags=["Connections"])
async def list_connections(
    ctx: Ctx,
    svc: Svc,
    query: ListQ,
) -> dict[str, Any]:
    return await fast_read(svc, svc.connections.list, ctx, query)


@router.post("/connections", status_code=201, response_model=IdEtag, tags=["Connections"])
def create_connection(body: CreateConnection, ctx: Ctx, svc: Svc) -> JSONResponse:
    result = svc.connections.create(ctx, body.model_dump(exclude_none=True))
    return created(result, f"{FLOW_SERVICE}/connections/{result['id']}")


@router.get("/connections/{connection_id}", tags=["Connections"])
@router.get("/connections/{connection_id}/", include_in_schema=False)
async def get_connection(connection_id: str, ctx: Ctx, svc: Svc, response: Response) -> dict[str, Any]:
    result = await fast_read(svc, svc.connections.get, ctx, connection_id)
    response.headers["ETag"] = result["items"][0]["etag"]
    return result


@router.patch("/connections/{connection_id}", response_model=IdEtag, tags=["Connections"])
@router.patch("/connections/{connection_id}/", include_in_schema=False)
def patch_connection(
    connection_id: str,
    ctx: Ctx,
    svc: Svc,
    body: Annotated[PatchBody, Body()],
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> dict[str, str]:
    return svc.connections.patch(ctx, connection_id, if_match, body)


@router.delete("/connections/{connection_id}", status_code=204, tags=["Connections"])
@router.delete("/connections/{connection_id}/", status_code=204, include_in_schema=False)
def delete_connection(connection_id: str, ctx: Ctx, svc: Svc) -> Response:
    svc.connections.delete(ctx, connection_id)
    return Response(status_code=204)


@router.get("/connections/{connection_id}/test", tags=["Connections"])
def test_connection(connection_id: str, ctx: Ctx, svc: Svc) -> dict[str, Any]:
    return svc.connections.test(ctx, connection_id)


@router.get("/connections/{connection_id}/explore", tags=["Explore"])
def explore_connection(
    connection_id: str,
    ctx: Ctx,
    svc: Svc,
    objectType: StrQ = None,
    object: StrQ = None,
    preview: StrQ = None,
    filters: StrQ = None,
) -> Any:
    return svc.connections.explore(
        ctx, connection_id, object_type=objectType, object_path=object, preview=preview, filters=filters
    )
