"""Monitoring: the flow list (state, schedule, last and next run), a flow's runs with live progress, actions."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from headwater.console._access import PREFIX, Page, check_csrf, one, open_page, read_form, redirect
from headwater.console._paging import page_of
from headwater.console._render import when
from headwater.console._route import ConsoleRoute
from headwater.errors import BadRequest, HeadwaterError
from headwater.runs.schedule import Schedule, parse_schedule

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)
ACTIVE = ("pending", "inProgress")
RUNS_SHOWN = 20
SOON_SECONDS = 60  # a run due this soon is waited for on the flow page
_UNITS = {"minute": "minute", "hour": "hour", "day": "day", "week": "week"}


def _schedule(flow: dict[str, Any]) -> Schedule | None:
    try:
        return parse_schedule(flow.get("scheduleParams"))
    except BadRequest:
        return None  # a draft without a schedule


def schedule_text(flow: dict[str, Any]) -> str:
    schedule = _schedule(flow)
    if schedule is None:
        return "no schedule"
    start = when(schedule.start_time * 1000)
    if not schedule.recurring:
        return f"once, at {start}"
    unit = _UNITS[schedule.frequency.value]
    every = f"every {schedule.interval} {unit}s" if schedule.interval != 1 else f"every {unit}"
    return f"{every} from {start}"


def next_run_ms(flow: dict[str, Any], *, now_s: int) -> int | None:
    """When the scheduler next creates a run of this flow (None: disabled, draft, or a one-time flow done)."""
    schedule = _schedule(flow)
    if schedule is None or flow.get("state") != "enabled":
        return None
    if now_s < schedule.start_time:
        return schedule.start_time * 1000
    if not schedule.recurring:
        return None
    period = schedule.period_seconds
    return (schedule.start_time + ((now_s - schedule.start_time) // period + 1) * period) * 1000


def _live(flow: dict[str, Any], runs: list[dict[str, Any]]) -> bool:
    """Whether the runs table should refresh itself: a run is under way, or one is about to be created."""
    if any(r["metrics"]["statusSummary"]["status"] in ACTIVE for r in runs):
        return True
    schedule = _schedule(flow)
    if schedule is None or flow.get("state") != "enabled":
        return False
    now_s = int(time.time())
    if not schedule.recurring:
        return not runs and schedule.start_time <= now_s + SOON_SECONDS
    upcoming = next_run_ms(flow, now_s=now_s)
    return upcoming is not None and upcoming <= (now_s + SOON_SECONDS) * 1000


def _rows(flows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    now_s = int(time.time())
    return [
        {"flow": f, "schedule": schedule_text(f), "next": next_run_ms(f, now_s=now_s), "last": f.get("lastRunDetails")}
        for f in flows
    ]


@router.get(PREFIX + "/flows")
def flows(request: Request, after: str | None = None) -> Response:
    page = open_page(request)
    listed = page_of(page, page.svc.flows, after=after, base=PREFIX + "/flows")
    return page.render("flows.html", listed=listed, rows=_rows(listed.items))


def _runs(page: Page, flow_id: str) -> list[dict[str, Any]]:
    query_page = page_of(page, page.svc.runs, after=None, base="", property=(f"flowId=={flow_id}",), size=RUNS_SHOWN)
    return query_page.items


def _flow_parts(page: Page, flow: dict[str, Any]) -> dict[str, Any]:
    """The source table and the dataset a flow connects (each looked up in this sandbox)."""
    parts: dict[str, Any] = {"table": None, "connection_id": None, "dataset_id": None}
    try:
        source = page.svc.source_connections.get(page.ctx, flow["sourceConnectionIds"][0])["items"][0]
        parts["table"] = source["params"].get("tableName")
        parts["connection_id"] = source.get("baseConnectionId")
        target = page.svc.target_connections.get(page.ctx, flow["targetConnectionIds"][0])["items"][0]
        parts["dataset_id"] = target["params"].get("dataSetId")
    except (HeadwaterError, IndexError, KeyError):
        pass  # a deleted source or target: the flow page still shows what remains
    return parts


@router.get(PREFIX + "/flows/{flow_id}")
def flow(request: Request, flow_id: str, message: str | None = None) -> Response:
    page = open_page(request)
    item = page.svc.flows.get(page.ctx, flow_id)["items"][0]
    runs = _runs(page, flow_id)
    return page.render(
        "flow.html",
        flow=item,
        row=_rows([item])[0],
        parts=_flow_parts(page, item),
        runs=runs,
        live=_live(item, runs),
        message=message if message in ("run", "enable", "disable") else None,
    )


@router.get(PREFIX + "/flows/{flow_id}/runs")
def flow_runs(request: Request, flow_id: str) -> Response:
    """The runs table alone, polled by htmx while a run is pending or in progress."""
    page = open_page(request)
    # A flow of another sandbox is not found, and neither are its runs.
    item = page.svc.flows.get(page.ctx, flow_id)["items"][0]
    runs = _runs(page, flow_id)
    return page.render("_runs.html", flow_id=flow_id, runs=runs, live=_live(item, runs))


def _act(page: Page, flow_id: str, action: str) -> Response:
    if action in ("enable", "disable"):
        page.svc.flows.action(page.ctx, flow_id, action)
    elif action == "run":
        item = page.svc.flows.get(page.ctx, flow_id)["items"][0]
        schedule = _schedule(item)
        body: dict[str, Any] = {"flowId": flow_id}
        if schedule is not None and schedule.recurring:
            body["params"] = {"runNow": True}  # a recurring flow's next window, now
        page.svc.runs.create(page.ctx, body)
    else:
        raise BadRequest("Unknown action: use enable, disable or run.")
    return redirect(f"{PREFIX}/flows/{flow_id}?message={action}")


@router.post(PREFIX + "/flows/{flow_id}/action")
async def flow_action(request: Request, flow_id: str) -> Response:
    form = await read_form(request)

    def work() -> Response:
        page = open_page(request)
        check_csrf(page, form)
        return _act(page, flow_id, one(form, "op"))

    return await run_in_threadpool(work)
