"""Sources: the catalog of connection specs, new connections from their authSpec, test, and explore."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from headwater.console._access import (
    PREFIX,
    Form,
    FormError,
    Page,
    check_csrf,
    one,
    open_page,
    read_form,
    redirect,
)
from headwater.console._authform import fields_of, params_from_form
from headwater.console._paging import page_of
from headwater.console._route import ConsoleRoute
from headwater.errors import BadRequest, HeadwaterError, NotFound

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)
MAX_NAME = 512


def source_specs(page: Page) -> list[dict[str, Any]]:
    """The specs of sources (the data lake target spec is not something one connects to)."""
    return [s for s in page.svc.specs.all() if s.get("attributes", {}).get("isSource")]


def _spec(page: Page, spec_id: str) -> dict[str, Any]:
    for spec in source_specs(page):
        if spec["id"] == spec_id:
            return spec
    raise NotFound("connectionSpecs", spec_id[:64], "No such source type: pick one from the catalog.")


def _method(spec: dict[str, Any], name: str) -> dict[str, Any]:
    methods = spec["authSpec"]
    for method in methods:
        if method["name"] == name:
            return dict(method)
    return dict(methods[0])


@router.get(PREFIX + "/sources")
def sources(request: Request, after: str | None = None) -> Response:
    page = open_page(request)
    connections = page_of(page, page.svc.connections, after=after, base=PREFIX + "/sources")
    return page.render("sources.html", specs=source_specs(page), connections=connections)


def _new_form(page: Page, spec_id: str, method_name: str, *, error: str = "", values: Form | None = None) -> Response:
    spec = _spec(page, spec_id)
    method = _method(spec, method_name)
    return page.render(
        "connection_new.html",
        status=400 if error else 200,
        spec=spec,
        method=method,
        fields=fields_of(method["spec"]),
        error=error,
        values=values or {},
    )


@router.get(PREFIX + "/sources/new")
def new_connection(request: Request, spec: str = "", method: str = "") -> Response:
    return _new_form(open_page(request), spec, method)


def _create_connection(page: Page, form: Form) -> Response:
    spec_id, method_name = one(form, "spec"), one(form, "method")
    spec = _spec(page, spec_id)
    method = _method(spec, method_name)
    # Secrets are never sent back into the form, even when it is shown again with an error.
    fields = fields_of(method["spec"])
    kept = {k: v for k, v in form.items() if not any(f.secret and k == "p." + f.name for f in fields)}
    name = one(form, "name").strip()
    try:
        if not name:
            raise FormError("Give the connection a name.")
        if len(name) > MAX_NAME:
            raise FormError(f"The name is longer than {MAX_NAME} characters.")
        body = {
            "name": name,
            "description": one(form, "description")[:4096],
            "auth": {"specName": method["name"], "params": params_from_form(fields, form)},
            "connectionSpec": {"id": spec["id"], "version": spec["version"]},
        }
        created = page.svc.connections.create(page.ctx, body)
    except FormError as exc:
        return _new_form(page, spec_id, method["name"], error=exc.message, values=kept)
    except BadRequest as exc:
        return _new_form(page, spec_id, method["name"], error=exc.message, values=kept)
    return redirect(f"{PREFIX}/connections/{created['id']}?created=1")


@router.post(PREFIX + "/sources/new")
async def create_connection(request: Request) -> Response:
    form = await read_form(request)

    def work() -> Response:
        page = open_page(request)
        check_csrf(page, form)
        return _create_connection(page, form)

    return await run_in_threadpool(work)


@router.get(PREFIX + "/connections/{connection_id}")
def connection(request: Request, connection_id: str, created: str | None = None) -> Response:
    page = open_page(request)
    item = page.svc.connections.get(page.ctx, connection_id)["items"][0]
    spec = next((s for s in page.svc.specs.all() if s["id"] == item["connectionSpec"]["id"]), None)
    return page.render("connection.html", conn=item, spec=spec, created=created == "1")


@router.post(PREFIX + "/connections/{connection_id}/test")
async def test_connection(request: Request, connection_id: str) -> Response:
    form = await read_form(request)

    def work() -> Response:
        page = open_page(request)
        check_csrf(page, form)
        result = page.svc.connections.test(page.ctx, connection_id)
        return page.render("_test_result.html", result=result)

    return await run_in_threadpool(work)


@router.get(PREFIX + "/connections/{connection_id}/explore")
def explore(request: Request, connection_id: str, table: str | None = None) -> Response:
    page = open_page(request)
    conn = page.svc.connections.get(page.ctx, connection_id)["items"][0]
    objects = page.svc.connections.explore(page.ctx, connection_id, object_type="root", object_path=None, preview=None)
    preview: dict[str, Any] | None = None
    error = ""
    if table:
        try:
            preview = page.svc.connections.explore(
                page.ctx, connection_id, object_type="table", object_path=table, preview="true", preview_rows=20
            )
        except HeadwaterError as exc:
            if exc.status >= 500:
                raise
            error = exc.message
    schemas: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        schemas.setdefault(obj["path"].rpartition(".")[0] or "(default)", []).append(obj)
    return page.render("explore.html", conn=conn, schemas=schemas, table=table, preview=preview, error=error)
