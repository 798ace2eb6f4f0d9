"""The dataflow wizard: table and columns, filter, mapping, delta column, schedule, write mode → review → create."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from headwater.console._access import PREFIX, Form, FormError, Page, check_csrf, one, open_page, read_form, redirect
from headwater.console._route import ConsoleRoute
from headwater.console._wizard_body import (
    FILTER_OPS,
    FREQUENCIES,
    WizardAnswers,
    dataset_body,
    flow_body,
    mapping_body,
    read_answers,
    source_body,
    target_body,
)
from headwater.errors import HeadwaterError

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)
log = logging.getLogger("headwater.console")


def _describe(page: Page, connection_id: str, table: str) -> list[dict[str, Any]]:
    found = page.svc.connections.explore(
        page.ctx, connection_id, object_type="table", object_path=table, preview="false"
    )
    columns: list[dict[str, Any]] = found["schema"]["columns"]
    return columns


def _form(
    page: Page, connection_id: str, table: str, *, values: Form | None = None, error: str = "", status: int = 200
) -> Response:
    conn = page.svc.connections.get(page.ctx, connection_id)["items"][0]
    columns = _describe(page, connection_id, table)
    values = values or {}
    chosen = set(values.get("column", [])) if values else {c["name"] for c in columns}
    return page.render(
        "wizard.html",
        status=status,
        conn=conn,
        table=table,
        columns=columns,
        chosen=chosen,
        values={k: v[0] if v else "" for k, v in values.items()},
        error=error,
        filter_ops=FILTER_OPS,
        frequencies=FREQUENCIES,
    )


@router.get(PREFIX + "/connections/{connection_id}/flow")
def wizard(request: Request, connection_id: str, table: str = "") -> Response:
    page = open_page(request)
    if not table:
        return redirect(f"{PREFIX}/connections/{connection_id}/explore")
    try:
        return _form(page, connection_id, table)
    except HeadwaterError as exc:
        if exc.status >= 500:
            raise
        return page.render("error.html", status=exc.status, title="Cannot describe the table", message=exc.message)


def _answers(page: Page, connection_id: str, form: Form) -> WizardAnswers:
    names = [c["name"] for c in _describe(page, connection_id, one(form, "table"))]
    return read_answers(form, known_columns=names)


def _review(page: Page, connection_id: str, form: Form) -> Response:
    table = one(form, "table")
    try:
        answers = _answers(page, connection_id, form)
    except FormError as exc:
        return _form(page, connection_id, table, values=form, error=exc.message, status=400)
    return page.render("wizard_review.html", conn_id=connection_id, answers=answers, form=form, filter_ops=FILTER_OPS)


def _create(page: Page, connection_id: str, form: Form) -> Response:
    """Create the five resources in Adobe's order; if one is refused, remove those already created."""
    table = one(form, "table")
    try:
        answers = _answers(page, connection_id, form)
    except FormError as exc:
        return _form(page, connection_id, table, values=form, error=exc.message, status=400)
    svc, ctx = page.svc, page.ctx
    conn = svc.connections.get(ctx, connection_id)["items"][0]
    spec = next(s for s in svc.specs.all() if s["id"] == conn["connectionSpec"]["id"])
    undo: list[Callable[[], Any]] = []
    try:
        source = svc.source_connections.create(ctx, source_body(answers, connection_id=connection_id, spec=spec))
        undo.append(lambda: svc.source_connections.delete(ctx, source["id"]))
        dataset_id = svc.datasets.create(ctx, dataset_body(answers, connection_id=connection_id))[0].split("/")[-1]
        undo.append(lambda: svc.datasets.delete_catalog(ctx, dataset_id))
        target = svc.target_connections.create(ctx, target_body(answers, dataset_id=dataset_id))
        undo.append(lambda: svc.target_connections.delete(ctx, target["id"]))
        mapping = svc.mapping_sets.create(ctx, mapping_body(answers))
        undo.append(lambda: svc.mapping_sets.delete(ctx, mapping["id"]))
        flow = svc.flows.create(
            ctx, flow_body(answers, source_id=source["id"], target_id=target["id"], mapping_id=mapping["id"])
        )
    except HeadwaterError as exc:
        for step in reversed(undo):
            try:
                step()
            except HeadwaterError:
                log.warning("console: could not remove a resource of a refused dataflow")
        if exc.status >= 500:
            raise
        return _form(page, connection_id, table, values=form, error=exc.message, status=400)
    return redirect(f"{PREFIX}/flows/{flow['id']}")


def _post(handler: Callable[[Page, str, Form], Response]) -> Callable[[Request, str], Any]:
    async def route(request: Request, connection_id: str) -> Response:
        form = await read_form(request)

        def work() -> Response:
            page = open_page(request)
            check_csrf(page, form)
            return handler(page, connection_id, form)

        return await run_in_threadpool(work)

    return route


def _edit(page: Page, connection_id: str, form: Form) -> Response:
    return _form(page, connection_id, one(form, "table"), values=form)


router.add_api_route(PREFIX + "/connections/{connection_id}/flow/review", _post(_review), methods=["POST"])
router.add_api_route(PREFIX + "/connections/{connection_id}/flow/edit", _post(_edit), methods=["POST"])
router.add_api_route(PREFIX + "/connections/{connection_id}/flow/create", _post(_create), methods=["POST"])
