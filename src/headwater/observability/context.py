"""The request and run a log line belongs to, carried in context variables.

asyncio gives each request its own task and context, and Starlette copies the context into the
threads that run sync routes, so a request id set at the edge reaches every line the request logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("headwater_request_id", default=None)
run_id: ContextVar[str | None] = ContextVar("headwater_run_id", default=None)


def set_request_id(rid: str) -> None:
    """Tag the rest of the current request's task with `rid` (a request's task ends with it)."""
    request_id.set(rid)


@contextmanager
def run_scope(rid: str) -> Iterator[None]:
    """Tag every line logged in this thread while a run executes with its id."""
    token = run_id.set(rid)
    try:
        yield
    finally:
        run_id.reset(token)
