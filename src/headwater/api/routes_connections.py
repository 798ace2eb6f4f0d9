"""`/connectionSpecs` and `/connections` of the Flow Service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from fastapi.responses import JSONResponse

from headwater.api.deps import Ctx, IfMatch, ListQ, PatchBody, PropertyQ, StrQ, Svc, created, fast_read, list_query
from headwater.api.models import IdEtag, parse_body
from headwater.api.models.base import PatchDocument
from headwater.api.models.connections import (
    ConnectionItems,
    ConnectionList,
    ConnectionSpecItems,
    ConnectionSpecList,
    ConnectionTest,
    Count,
    CreateConnection,
    ExploreObject,
    ExploreTable,
)
from headwater.api.models.errors import NOT_FOUND, STALE, WITH_BODY
from headwater.api.models.openapi import request_body
from headwater.api.paths import FLOW_SERVICE
from headwater.api.schemas import SERVICE_JSON

router = APIRouter()
TAG_SPECS, TAG = "Connection specs", "Connections"


# The hot read endpoints are `async def` (see deps.fast_read): specs are in memory, and the
# connection reads run inline on SQLite rather than paying a thread-pool hop per request.
@router.get(
    "/connectionSpecs",
    tags=[TAG_SPECS],
    summary="List connection specs",
    response_model=SERVICE_JSON,
    responses={200: {"model": ConnectionSpecList, "description": "The specs: PostgreSQL, BigQuery, the data lake"}},
)
async def list_connection_specs(_: Ctx, svc: Svc, property: PropertyQ = None) -> Any:
    """The connection specs, e.g. `property=name=="postgre-sql"`; an `authSpec` is the JSON Schema of `auth.params`."""
    return svc.specs.list(list_query(svc, property, None, None, None, None, None))


@router.get(
    "/connectionSpecs/{spec_id}",
    tags=[TAG_SPECS],
    summary="Get a connection spec",
    response_model=SERVICE_JSON,
    responses={200: {"model": ConnectionSpecItems, "description": "`{items: [spec]}`"}, **NOT_FOUND},
)
async def get_connection_spec(spec_id: str, _: Ctx, svc: Svc) -> Any:
    """One connection spec by id."""
    return svc.specs.get(spec_id)


@router.get(
    "/connections",
    tags=[TAG],
    summary="List base connections",
    response_model=SERVICE_JSON,
    responses={200: {"model": ConnectionList | Count, "description": "A page of connections, or `{count}`"}},
)
async def list_connections(ctx: Ctx, svc: Svc, query: ListQ) -> Any:
    """The sandbox's base connections (secrets masked), filtered by `property`, ordered by `orderby`, paged."""
    return await fast_read(svc, svc.connections.list, ctx, query)


@router.post(
    "/connections",
    status_code=201,
    response_model=IdEtag,
    tags=[TAG],
    summary="Create a base connection",
    responses={201: {"description": "Created; `Location` names it"}, **WITH_BODY},
    openapi_extra=request_body(CreateConnection, description="The connection spec, auth spec and its params."),
)
def create_connection(ctx: Ctx, svc: Svc, body: Annotated[Any, Body()] = None) -> JSONResponse:
    """Checks `auth.params` against the auth spec's JSON Schema and stores the secrets encrypted; does not connect."""
    parsed = parse_body(CreateConnection, body)
    result = svc.connections.create(ctx, parsed.model_dump(by_alias=True, exclude_none=True))
    return created(result, f"{FLOW_SERVICE}/connections/{result['id']}")


@router.get(
    "/connections/{connection_id}",
    tags=[TAG],
    summary="Get a base connection",
    response_model=SERVICE_JSON,
    responses={200: {"model": ConnectionItems, "description": "`{items: [connection]}`; ETag header"}, **NOT_FOUND},
)
@router.get("/connections/{connection_id}/", include_in_schema=False)
async def get_connection(connection_id: str, ctx: Ctx, svc: Svc, response: Response) -> Any:
    """One base connection; its secret params are masked."""
    result = await fast_read(svc, svc.connections.get, ctx, connection_id)
    response.headers["ETag"] = result["items"][0]["etag"]
    return result


@router.patch(
    "/connections/{connection_id}",
    response_model=IdEtag,
    tags=[TAG],
    summary="Update a base connection",
    responses={**NOT_FOUND, **STALE, **WITH_BODY},
    openapi_extra=request_body(PatchDocument, description="JSON Patch operations on the connection."),
)
@router.patch("/connections/{connection_id}/", include_in_schema=False)
def patch_connection(connection_id: str, ctx: Ctx, svc: Svc, body: PatchBody, if_match: IfMatch = None) -> Any:
    """JSON Patch of name, description, state or auth (If-Match required); the result is validated as on create."""
    return svc.connections.patch(ctx, connection_id, if_match, body)


@router.delete(
    "/connections/{connection_id}",
    status_code=204,
    tags=[TAG],
    summary="Delete a base connection",
    responses={204: {"description": "Deleted"}, **NOT_FOUND},
)
@router.delete("/connections/{connection_id}/", status_code=204, include_in_schema=False)
def delete_connection(connection_id: str, ctx: Ctx, svc: Svc) -> Response:
    """Refused (1418) while a flow reads from one of its source connections."""
    svc.connections.delete(ctx, connection_id)
    return Response(status_code=204)


@router.get(
    "/connections/{connection_id}/test",
    tags=[TAG],
    summary="Test a base connection",
    response_model=SERVICE_JSON,
    responses={200: {"model": ConnectionTest, "description": "`result` true, or false with the reason"}, **NOT_FOUND},
)
def test_connection(connection_id: str, ctx: Ctx, svc: Svc) -> Any:
    """Connects to the source with the stored credentials."""
    return svc.connections.test(ctx, connection_id)


@router.get(
    "/connections/{connection_id}/explore",
    tags=["Explore"],
    summary="Explore a base connection",
    response_model=SERVICE_JSON,
    responses={
        200: {"model": list[ExploreObject] | ExploreTable, "description": "Tables (root), or a table's columns"},
        **NOT_FOUND,
    },
)
def explore_connection(
    connection_id: str,
    ctx: Ctx,
    svc: Svc,
    objectType: StrQ = None,
    object: StrQ = None,
    preview: StrQ = None,
    filters: StrQ = None,
) -> Any:
    """`objectType=root` lists tables; `objectType=table&object=schema.table` gives its columns, and
    `preview=true` its first rows (`filters`: a Base64 PQL row filter)."""
    return svc.connections.explore(
        ctx, connection_id, object_type=objectType, object_path=object, preview=preview, filters=filters
    )
