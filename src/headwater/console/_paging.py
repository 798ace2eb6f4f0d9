"""One page of a collection through its service's list method: the console never renders a whole sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlparse

from headwater.service import Context, ListQuery

PAGE_SIZE = 50


class Lister(Protocol):
    def list(self, ctx: Context, query: ListQuery) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ListPage:
    """The items of one page, and the console URL of the next page when there is one."""

    items: list[dict[str, Any]]
    next_url: str | None
    first_url: str | None


def _token(links: dict[str, Any]) -> str | None:
    href = (links.get("next") or {}).get("href")
    if not href:
        return None
    found = parse_qs(urlparse(href).query).get("continuationToken")
    return found[0] if found else None


def page_of(
    page: Any,
    service: Lister,
    *,
    after: str | None,
    base: str,
    property: tuple[str, ...] = (),
    orderby: str = "-createdAt",
    size: int = PAGE_SIZE,
) -> ListPage:
    """Newest first, `size` at a time; `after` is the continuation token the previous page handed out."""
    query = ListQuery.parse(
        property=list(property),
        orderby=orderby,
        limit=str(size),
        continuation_token=after or None,
        max_limit=page.svc.settings.max_page_size,
    )
    result = service.list(page.ctx, query)
    token = _token(result.get("_links", {}))
    sep = "&" if "?" in base else "?"
    return ListPage(
        items=list(result.get("items", [])),
        next_url=f"{base}{sep}after={quote(token, safe='')}" if token else None,
        first_url=base if after else None,
    )
