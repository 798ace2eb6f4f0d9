"""`/sourceConnections`, `/targetConnections`, `/flowSpecs` and `/flows` of the Flow Service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from fastapi.responses import JSONResponse

from headwater.api.deps import Ctx, IfMatch, ListQ, PatchBody, PropertyQ, StrQ, Svc, created, fast_read, list_query
from headwater.api.models import IdEtag, RequestModel, WireModel, parse_body
from headwater.api.models.base import PatchDocument
from headwater.api.models.connections import Count
from headwater.api.models.endpoints import (
    CreateSourceConnection,
    CreateTargetConnection,
    SourceConnectionItems,
    SourceConnectionList,
    TargetConnectionItems,
    TargetConnectionList,
)
from headwater.api.models.errors import NOT_FOUND, STALE, WITH_BODY
from headwater.api.models.flows import CreateFlow, FlowItems, FlowList, FlowSpecItems, FlowSpecList
from headwater.api.models.openapi import request_body
from headwater.api.paths import FLOW_SERVICE
from headwater.api.schemas import SERVICE_JSON
from headwater.service import Services
from headwater.service._core import ResourceService

router = APIRouter()


@dataclass(frozen=True)
class Collection:
    """One collection with create and patch: its path, models and words for the docs."""

    path: str
    tag: str
    noun: str
    pick: Callable[[Services], Any]
    create: type[RequestModel]
    items: type[WireModel]
    page: type[WireModel]
    create_doc: str


def add_crud_routes(c: Collection) -> None:
    """List, create, get, patch and delete for one collection whose service has create and patch."""

    async def list_items(ctx: Ctx, svc: Svc, query: ListQ) -> Any:
        service: ResourceService = c.pick(svc)
        return await fast_read(svc, service.list, ctx, query)

    def create_item(ctx: Ctx, svc: Svc, body: Annotated[Any, Body()] = None) -> JSONResponse:
        result = c.pick(svc).create(ctx, parse_body(c.create, body).wire())
        return created(result, f"{FLOW_SERVICE}{c.path}/{result['id']}")

    async def get_item(resource_id: str, ctx: Ctx, svc: Svc, response: Response) -> Any:
        result: dict[str, Any] = await fast_read(svc, c.pick(svc).get, ctx, resource_id)
        response.headers["ETag"] = result["items"][0]["etag"]
        return result

    def patch_item(resource_id: str, ctx: Ctx, svc: Svc, body: PatchBody, if_match: IfMatch = None) -> Any:
        return c.pick(svc).patch(ctx, resource_id, if_match, body)

    def delete_item(resource_id: str, ctx: Ctx, svc: Svc) -> Response:
        c.pick(svc).delete(ctx, resource_id)
        return Response(status_code=204)

    name, one = c.path.strip("/"), "{resource_id}"
    router.add_api_route(
        c.path,
        list_items,
        methods=["GET"],
        tags=[c.tag],
        name=f"list_{name}",
        summary=f"List {c.noun}s",
        description=f"The sandbox's {c.noun}s, filtered by `property`, ordered by `orderby`, paged.",
        response_model=SERVICE_JSON,
        responses={200: {"model": c.page | Count, "description": f"A page of {c.noun}s, or `{{count}}`"}},
    )
    router.add_api_route(
        c.path,
        create_item,
        methods=["POST"],
        tags=[c.tag],
        status_code=201,
        response_model=IdEtag,
        name=f"create_{name}",
        summary=f"Create a {c.noun}",
        description=c.create_doc,
        responses={201: {"description": "Created; `Location` names it"}, **WITH_BODY},
        openapi_extra=request_body(c.create, description=f"The {c.noun}."),
    )
    router.add_api_route(
        f"{c.path}/{one}",
        get_item,
        methods=["GET"],
        tags=[c.tag],
        name=f"get_{name}",
        summary=f"Get a {c.noun}",
        description=f"One {c.noun}, wrapped in `items`; the ETag header is its etag.",
        response_model=SERVICE_JSON,
        responses={200: {"model": c.items, "description": f"`{{items: [{c.noun}]}}`"}, **NOT_FOUND},
    )
    router.add_api_route(
        f"{c.path}/{one}",
        patch_item,
        methods=["PATCH"],
        tags=[c.tag],
        response_model=IdEtag,
        name=f"patch_{name}",
        summary=f"Update a {c.noun}",
        description="JSON Patch (If-Match required); the result is validated as a create would be.",
        responses={**NOT_FOUND, **STALE, **WITH_BODY},
        openapi_extra=request_body(PatchDocument, description=f"JSON Patch operations on the {c.noun}."),
    )
    router.add_api_route(
        f"{c.path}/{one}",
        delete_item,
        methods=["DELETE"],
        tags=[c.tag],
        status_code=204,
        name=f"delete_{name}",
        summary=f"Delete a {c.noun}",
        description="Refused (1447) while a flow uses it.",
        responses={204: {"description": "Deleted"}, **NOT_FOUND},
    )


add_crud_routes(
    Collection(
        "/sourceConnections",
        "Source connections",
        "source connection",
        lambda s: s.source_connections,
        CreateSourceConnection,
        SourceConnectionItems,
        SourceConnectionList,
        "A table of a base connection (`params.tableName`), optionally some of its columns and a row filter.",
    )
)
add_crud_routes(
    Collection(
        "/targetConnections",
        "Target connections",
        "target connection",
        lambda s: s.target_connections,
        CreateTargetConnection,
        TargetConnectionItems,
        TargetConnectionList,
        "The data lake target: the Catalog dataset (`params.dataSetId`) a flow writes to.",
    )
)


@router.get(
    "/flowSpecs",
    tags=["Flow specs"],
    summary="List flow specs",
    response_model=SERVICE_JSON,
    responses={200: {"model": FlowSpecList, "description": "CRMToAEP, the spec of database dataflows"}},
)
async def list_flow_specs(_: Ctx, svc: Svc, property: PropertyQ = None) -> Any:
    """The flow specs, e.g. `property=name=="CRMToAEP"`."""
    return svc.flow_specs.list(list_query(svc, property, None, None, None, None, None))


@router.get(
    "/flowSpecs/{spec_id}",
    tags=["Flow specs"],
    summary="Get a flow spec",
    response_model=SERVICE_JSON,
    responses={200: {"model": FlowSpecItems, "description": "`{items: [spec]}`"}, **NOT_FOUND},
)
async def get_flow_spec(spec_id: str, _: Ctx, svc: Svc) -> Any:
    """One flow spec by id."""
    return svc.flow_specs.get(spec_id)


@router.get(
    "/flows",
    tags=["Flows"],
    summary="List dataflows",
    response_model=SERVICE_JSON,
    responses={200: {"model": FlowList | Count, "description": "A page of flows, or `{count}`"}},
)
async def list_flows(ctx: Ctx, svc: Svc, query: ListQ) -> Any:
    """The sandbox's flows, e.g. `property=inheritedAttributes.properties.isSourceFlow==true`, ordered, paged."""
    return await fast_read(svc, svc.flows.list, ctx, query)


@router.post(
    "/flows",
    status_code=201,
    response_model=IdEtag,
    tags=["Flows"],
    summary="Create a dataflow",
    responses={201: {"description": "Created; `Location` names it"}, **WITH_BODY},
    openapi_extra=request_body(CreateFlow, description="The source and target connections, steps and schedule."),
)
def create_flow(ctx: Ctx, svc: Svc, mode: StrQ = None, body: Annotated[Any, Body()] = None) -> JSONResponse:
    """Validated as its runs will read it: references in this sandbox, the live table, the delta column and the
    mapping; `mode=draft` saves it unvalidated, to publish later."""
    result = svc.flows.create(ctx, parse_body(CreateFlow, body).wire(), mode=mode)
    return created(result, f"{FLOW_SERVICE}/flows/{result['id']}")


@router.get(
    "/flows/{flow_id}",
    tags=["Flows"],
    summary="Get a dataflow",
    response_model=SERVICE_JSON,
    responses={200: {"model": FlowItems, "description": "`{items: [flow]}`; ETag header"}, **NOT_FOUND},
)
async def get_flow(flow_id: str, ctx: Ctx, svc: Svc, response: Response) -> Any:
    """One flow, with its inherited connection specs and its last finished run."""
    result = await fast_read(svc, svc.flows.get, ctx, flow_id)
    response.headers["ETag"] = result["items"][0]["etag"]
    return result


@router.patch(
    "/flows/{flow_id}",
    response_model=IdEtag,
    tags=["Flows"],
    summary="Update a dataflow",
    responses={**NOT_FOUND, **STALE, **WITH_BODY},
    openapi_extra=request_body(PatchDocument, description="JSON Patch operations on the flow."),
)
def patch_flow(flow_id: str, ctx: Ctx, svc: Svc, body: PatchBody, if_match: IfMatch = None) -> Any:
    """JSON Patch of name, description, scheduleParams, transformations, options or labels (If-Match required)."""
    return svc.flows.patch(ctx, flow_id, if_match, body)


@router.delete(
    "/flows/{flow_id}",
    status_code=204,
    tags=["Flows"],
    summary="Delete a dataflow",
    responses={204: {"description": "Deleted"}, **NOT_FOUND},
)
def delete_flow(flow_id: str, ctx: Ctx, svc: Svc) -> Response:
    """Deletes the flow; its dataset and runs stay."""
    svc.flows.delete(ctx, flow_id)
    return Response(status_code=204)


@router.post(
    "/flows/{flow_id}/action",
    response_model=IdEtag,
    tags=["Flows"],
    summary="Enable, disable or publish a dataflow",
    responses={**NOT_FOUND, **WITH_BODY},
)
def flow_action(flow_id: str, ctx: Ctx, svc: Svc, op: StrQ = None) -> Any:
    """`op=enable`, `disable` or `publish` (a draft, validated as a create)."""
    return svc.flows.action(ctx, flow_id, op)
