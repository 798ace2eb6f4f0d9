"""Request dependencies: the header rules of the Adobe gateway, resolved into a service Context, and list parameters."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, TypeVar

from fastapi import Body, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from headwater.domain.sandbox import is_sandbox_name
from headwater.errors import BadRequest, GatewayError
from headwater.service import Context, ListQuery, Services
from headwater.store import Scope

T = TypeVar("T")


async def fast_read(svc: Services, fn: Callable[..., T], *args: Any) -> T:
    """Run a short metadata read (a resource, a page of a list) on one store connection (Store.read):
    inline on a local SQLite store, in a worker thread otherwise.

    An indexed SQLite lookup takes ~0.2 ms, less than the hop to a worker thread and back, and the
    hop's GIL contention is what made p99 of GET /connections/{id} miss 50 ms under 50 clients
    (bench/load_read.py); a sync route also hops twice (the endpoint, then its response check): a page
    of runs measured 3.7 -> 2.0 CPU ms per request inline. Lists read one page in SQL, so the loop is
    held for milliseconds; only unusual filters (checked in memory, page by page) hold it longer. A
    networked database may stall on connect, so it keeps the worker threads.
    """
    store = svc.store
    if store.engine.dialect.name == "sqlite":
        return store.read(fn, *args)
    # The request's context (its id, for log lines) goes along, as the thread pool would take it.
    call = functools.partial(contextvars.copy_context().run, store.read, fn, *args)
    return await asyncio.get_running_loop().run_in_executor(_READERS, call)


# The threads that run reads of a networked store (a few keep two cores busy). More only queue on
# the GIL and on the connection pool: a reader beyond the pool's 10 idle connections opens a new one
# and closes it on return (a PostgreSQL backend started and ended per request), which made most of
# the p99 tail. A plain executor, not AnyIO's thread pool: a hop costs ~25 us of CPU, not ~90.
_READERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="headwater-read")


# Both dependencies are `async def` on purpose: a sync dependency costs a hop to the thread pool on
# every request (measured: bench/load_read.py). Their only I/O is the token's client lookup, which
# goes through fast_read.
async def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def _string_parameter(name: str, location: str, description: str = "") -> dict[str, Any]:
    described = {"description": description} if description else {}
    any_string = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    return {
        **described,
        "in": location,
        "name": name,
        "required": False,
        "schema": {**any_string, **described, "title": name.title()},
    }


# Both dependencies below read the request itself rather than declaring each header and query
# parameter to FastAPI: resolving and validating ten declared parameters per request cost about
# 0.2 ms of CPU (a sixth of GET /connections/{id}). What they read is declared here instead, and
# models/openapi.py adds it to the operations that use them, as FastAPI would have.
GATEWAY_PARAMETERS = [
    _string_parameter("x-api-key", "header", "The API client id the bearer token was issued to."),
    _string_parameter("x-gw-ims-org-id", "header", "The IMS org of the API client, e.g. ACME@AdobeOrg."),
    _string_parameter("x-sandbox-name", "header", "The sandbox (lowercase, e.g. prod); resources live in one."),
]


async def context(request: Request) -> Context:
    """Checks, in the gateway's order: token, API key, org, sandbox.

    The sandbox header is required (Adobe's 2105-400), not defaulted: a request that forgets it
    must not silently land in `prod`.
    """
    svc: Services = request.app.state.services
    headers = request.headers
    authorization = headers.get("authorization")
    if not authorization or not authorization.strip():
        raise GatewayError(401, "403010", "Oauth token is missing.")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise GatewayError(401, "401013", "Oauth token is not valid: use 'Authorization: Bearer <token>'.")
    if not token.strip().isascii():  # tokens are ASCII; anything else is not ours (and must not be a 500)
        raise GatewayError(401, "401013", "Oauth token is not valid")
    principal = svc.tokens.decode(token.strip())
    # Checked on every request, not cached, so a revoked client's tokens stop working at once.
    await fast_read(svc, svc.tokens.require_active, principal)
    x_api_key = headers.get("x-api-key")
    if not x_api_key:
        raise GatewayError(403, "403000", "Api Key is required")
    if x_api_key != principal.client_id:
        raise GatewayError(403, "403003", "Api Key is invalid: it must be the client id the token was issued to.")
    x_gw_ims_org_id = headers.get("x-gw-ims-org-id")
    if not x_gw_ims_org_id:
        raise GatewayError(400, "400003", "Missing header: x-gw-ims-org-id")
    if x_gw_ims_org_id != principal.org:
        raise GatewayError(403, "403025", "Profile is not valid: the token does not belong to this IMS org.")
    x_sandbox_name = headers.get("x-sandbox-name")
    if x_sandbox_name is None or not x_sandbox_name.strip():
        raise BadRequest(
            "The header x-sandbox-name is missing in the request. Provide the sandbox name (e.g. prod).",
            code="2105",
        )
    sandbox = x_sandbox_name.strip()
    if not is_sandbox_name(sandbox):
        raise BadRequest(
            "The header x-sandbox-name must be a lowercase sandbox name (letters, digits, dashes).", code="1007"
        )
    return Context(principal=principal, scope=Scope(principal.org, sandbox), request_id=request.state.request_id)


context.openapi_parameters = GATEWAY_PARAMETERS  # type: ignore[attr-defined]


Ctx = Annotated[Context, Depends(context)]
Svc = Annotated[Services, Depends(services)]


PropertyQ = Annotated[list[str] | None, Query(description='Filter, e.g. name=="x"; repeat to AND')]
StrQ = Annotated[str | None, Query()]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="The resource's current etag (required).")]


async def _patch_body(body: Annotated[Any, Body()] = None) -> Any:
    """A JSON Patch body as sent: an array of operations, or one operation (the service checks each)."""
    if body is not None and not isinstance(body, list | dict):
        raise BadRequest("The field body is invalid: send a JSON Patch array.", code="1304")
    return body


PatchBody = Annotated[Any, Depends(_patch_body)]


def list_query(
    svc: Services,
    property: list[str] | None,
    orderby: str | None,
    limit: str | None,
    start: str | None,
    count: str | None,
    continuation_token: str | None,
) -> ListQuery:
    return ListQuery.parse(
        property=property or [],
        orderby=orderby,
        limit=limit,
        start=start,
        count=count,
        continuation_token=continuation_token,
        max_limit=svc.settings.max_page_size,
    )


LIST_PARAMETERS = [
    {
        "description": 'Filter, e.g. name=="x"; repeat to AND',
        "in": "query",
        "name": "property",
        "required": False,
        "schema": {
            "anyOf": [{"items": {"type": "string"}, "type": "array"}, {"type": "null"}],
            "description": 'Filter, e.g. name=="x"; repeat to AND',
            "title": "Property",
        },
    },
    *(_string_parameter(name, "query") for name in ("orderby", "limit", "start", "count", "continuationToken")),
]


async def list_params(request: Request) -> ListQuery:
    """The list query parameters every collection accepts (filter, order, page, count), parsed once."""
    query = request.query_params
    svc: Services = request.app.state.services
    return list_query(
        svc,
        query.getlist("property") or None,
        query.get("orderby"),
        query.get("limit"),
        query.get("start"),
        query.get("count"),
        query.get("continuationToken"),
    )


list_params.openapi_parameters = LIST_PARAMETERS  # type: ignore[attr-defined]


ListQ = Annotated[ListQuery, Depends(list_params)]


def created(result: dict[str, str], location: str) -> JSONResponse:
    return JSONResponse(result, status_code=201, headers={"Location": location, "ETag": result["etag"]})
