"""`/sourceConnections`, `/targetConnections`, `/flowSpecs` and `/flows` of the Flow Service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Response
from fastapi.responses import JSONResponse

from headwater.api.deps import Ctx, ListQ, PropertyQ, StrQ, Svc, created, list_query
from headwater.api.paths import FLOW_SERVICE
from headwater.api.schemas import IdEtag, PatchBody
from headwater.service import Services
from headwater.service._core import ResourceService

router = APIRouter()
JsonBody = Annotated[dict[str, Any], Body()]
IfMatch = Annotated[str | None, Header(alias="If-Match")]


def add_crud_routes(path: str, tag: str, pick: Callable[[Services], Any]) -> None:
    """List, create, get, patch and delete for one collection whose service has create and patch."""

    def list_items(
        ctx: Ctx,
        svc: Svc,
        query: ListQ,
    ) -> dict[str, Any]:
        service: ResourceService = pick(svc)
        return service.list(ctx, query)

    def create_item(body: JsonBody, ctx: Ctx, svc: Svc) -> JSONResponse:
        result = pick(svc).create(ctx, body)
        return created(result, f"{FLOW_SERVICE}{path}/{result['id']}")

    def get_item(resource_id: str, ctx: Ctx, svc: Svc, response: Response) -> dict[str, Any]:
        result: dict[str, Any] = pick(svc).get(ctx, resource_id)
        response.headers["ETag"] = result["items"][0]["etag"]
        return result

    def patch_item(
        resource_id: str, ctx: Ctx, svc: Svc, body: Annotated[PatchBody, Body()], if_match: IfMatch = None
    ) -> Any:
        return pick(svc).patch(ctx, resource_id, if_match, body)

    def delete_item(resource_id: str, ctx: Ctx, svc: Svc) -> Response:
        pick(svc).delete(ctx, resource_id)
        return Response(status_code=204)

    name = path.strip("/")
    router.add_api_route(path, list_items, methods=["GET"], tags=[tag], name=f"list_{name}")
    router.add_api_route(
        path, create_item, methods=["POST"], tags=[tag], status_code=201, response_model=IdEtag, name=f"create_{name}"
    )
    router.add_api_route(f"{path}/{{resource_id}}", get_item, methods=["GET"], tags=[tag], name=f"get_{name}")
    router.add_api_route(
        f"{path}/{{resource_id}}",
        patch_item,
        methods=["PATCH"],
        tags=[tag],
        response_model=IdEtag,
        name=f"patch_{name}",
    )
    router.add_api_route(
        f"{path}/{{resource_id}}", delete_item, methods=["DELETE"], tags=[tag], status_code=204, name=f"delete_{name}"
    )


add_crud_routes("/sourceConnections", "Source connections", lambda s: s.source_connections)
add_crud_routes("/targetConnections", "Target connections", lambda s: s.target_connections)


@router.get("/flowSpecs", tags=["Flow specs"])
def list_flow_specs(_: Ctx, svc: Svc, property: PropertyQ = None) -> dict[str, Any]:
    return svc.flow_specs.list(list_query(svc, property, None, None, None, None, None))


@router.get("/flowSpecs/{spec_id}", tags=["Flow specs"])
def get_flow_spec(spec_id: str, _: Ctx, svc: Svc) -> dict[str, Any]:
    return svc.flow_specs.get(spec_id)


@router.get("/flows", tags=["Flows"])
def list_flows(
    ctx: Ctx,
    svc: Svc,
    query: ListQ,
) -> dict[str, Any]:
    return svc.flows.list(ctx, query)


@router.post("/flows", status_code=201, response_model=IdEtag, tags=["Flows"])
def create_flow(body: JsonBody, ctx: Ctx, svc: Svc, mode: StrQ = None) -> JSONResponse:
    result = svc.flows.create(ctx, body, mode=mode)
    return created(result, f"{FLOW_SERVICE}/flows/{result['id']}")


@router.get("/flows/{flow_id}", tags=["Flows"])
def get_flow(flow_id: str, ctx: Ctx, svc: Svc, response: Response) -> dict[str, Any]:
    result = svc.flows.get(ctx, flow_id)
    response.headers["ETag"] = result["items"][0]["etag"]
    return result


@router.patch("/flows/{flow_id}", response_model=IdEtag, tags=["Flows"])
def patch_flow(flow_id: str, ctx: Ctx, svc: Svc, body: Annotated[PatchBody, Body()], if_match: IfMatch = None) -> Any:
    return svc.flows.patch(ctx, flow_id, if_match, body)


@router.delete("/flows/{flow_id}", status_code=204, tags=["Flows"])
def delete_flow(flow_id: str, ctx: Ctx, svc: Svc) -> Response:
    svc.flows.delete(ctx, flow_id)
    return Response(status_code=204)


@router.post("/flows/{flow_id}/action", response_model=IdEtag, tags=["Flows"])
def flow_action(flow_id: str, ctx: Ctx, svc: Svc, op: StrQ = None) -> Any:
    return svc.flows.action(ctx, flow_id, op)
