"""`/runs` of the Flow Service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from headwater.api.deps import Ctx, ListQ, StrQ, Svc
from headwater.api.paths import FLOW_SERVICE

router = APIRouter()


@router.get("/runs", tags=["Runs"])
def list_runs(
    ctx: Ctx,
    svc: Svc,
    query: ListQ,
) -> dict[str, Any]:
    return svc.runs.list(ctx, query)


@router.post("/runs", status_code=201, tags=["Runs"])
def create_run(ctx: Ctx, svc: Svc, body: Annotated[Any, Body()] = None) -> JSONResponse:
    result = svc.runs.create(ctx, body)
    item = result["items"][0]
    return JSONResponse(
        result, status_code=201, headers={"Location": f"{FLOW_SERVICE}/runs/{item['id']}", "ETag": item["etag"]}
    )


@router.get("/runs/{run_id}", tags=["Runs"])
@router.get("/runs/{run_id}/", include_in_schema=False)
def get_run(run_id: str, ctx: Ctx, svc: Svc) -> dict[str, Any]:
    return svc.runs.get(ctx, run_id)


@router.get("/runs/{run_id}/failedRecords", tags=["Runs"])
def run_failed_records(run_id: str, ctx: Ctx, svc: Svc) -> dict[str, Any]:
    """Headwater extension: the rows a run set aside (partial ingestion) and the reason for each."""
    return svc.runs.failed_records(ctx, run_id)


@router.post("/runs/{run_id}/action", tags=["Runs"])
def run_action(run_id: str, ctx: Ctx, svc: Svc, op: StrQ = None) -> dict[str, Any]:
    return svc.runs.action(ctx, run_id, op)
