"""`/runs` of the Flow Service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from headwater.api.deps import Ctx, ListQ, StrQ, Svc, fast_read
from headwater.api.models import parse_body
from headwater.api.models.connections import Count
from headwater.api.models.errors import NOT_FOUND, WITH_BODY
from headwater.api.models.openapi import request_body
from headwater.api.models.runs import CreatedRun, CreateRun, FailedRecords, RunItems, RunList
from headwater.api.paths import FLOW_SERVICE
from headwater.api.schemas import SERVICE_JSON

router = APIRouter()
TAG = "Runs"


@router.get(
    "/runs",
    tags=[TAG],
    summary="List flow runs",
    response_model=SERVICE_JSON,
    responses={200: {"model": RunList | Count, "description": "A page of runs, or `{count}`"}},
)
async def list_runs(ctx: Ctx, svc: Svc, query: ListQ) -> Any:
    """The sandbox's runs, usually `property=flowId=={FLOW_ID}`; filtered, ordered, paged."""
    return await fast_read(svc, svc.runs.list, ctx, query)


@router.post(
    "/runs",
    status_code=201,
    tags=[TAG],
    summary="Create an on-demand run",
    response_model=None,
    responses={
        201: {"model": CreatedRun, "description": "`{items: [{id, etag}]}`; `Location` names the run"},
        **NOT_FOUND,
        **WITH_BODY,
    },
    openapi_extra=request_body(CreateRun, description="The flow, and the window of this run."),
)
def create_run(ctx: Ctx, svc: Svc, body: Annotated[Any, Body()] = None) -> JSONResponse:
    """A run of a `frequency: once` flow over the given window (Headwater: `params.runNow: true` runs a
    recurring flow's next window now)."""
    parsed = parse_body(CreateRun, body, missing_code="1380", not_object_code="1380")
    result = svc.runs.create(ctx, parsed.wire())
    item = result["items"][0]
    return JSONResponse(
        result, status_code=201, headers={"Location": f"{FLOW_SERVICE}/runs/{item['id']}", "ETag": item["etag"]}
    )


@router.get(
    "/runs/{run_id}",
    tags=[TAG],
    summary="Get a flow run",
    response_model=SERVICE_JSON,
    responses={200: {"model": RunItems, "description": "`{items: [run]}`"}, **NOT_FOUND},
)
@router.get("/runs/{run_id}/", include_in_schema=False)
async def get_run(run_id: str, ctx: Ctx, svc: Svc) -> Any:
    """One run: its status, metrics (rows, bytes, duration) and errors."""
    return await fast_read(svc, svc.runs.get, ctx, run_id)


@router.get(
    "/runs/{run_id}/failedRecords",
    tags=[TAG],
    summary="Get a run's failed records",
    response_model=SERVICE_JSON,
    responses={200: {"model": FailedRecords, "description": "The rows set aside, each with its reason"}, **NOT_FOUND},
)
def run_failed_records(run_id: str, ctx: Ctx, svc: Svc) -> Any:
    """Headwater extension: the rows a run set aside (partial ingestion) and the reason for each."""
    return svc.runs.failed_records(ctx, run_id)


@router.post(
    "/runs/{run_id}/action",
    tags=[TAG],
    summary="Re-trigger a flow run",
    response_model=SERVICE_JSON,
    responses={200: {"model": RunItems, "description": "`{items: [run]}`, pending again"}, **NOT_FOUND, **WITH_BODY},
)
def run_action(run_id: str, ctx: Ctx, svc: Svc, op: StrQ = None) -> Any:
    """`op=RE_TRIGGER`: runs a failed or cancelled run of an enabled flow again."""
    return svc.runs.action(ctx, run_id, op)
