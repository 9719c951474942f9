"""Paginators: tiny state machines (first request -> read page -> next request or stop).

A paginator that is handed the same next-page token twice raises
:class:`~connectors.errors.PaginationLoop` instead of looping forever.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from connectors.errors import MalformedRecord, PaginationLoop

__all__ = ["PageNumberPaginator", "PageRequest", "NextUrlPaginator", "paginate", "dig"]


@dataclass(frozen=True)
class PageRequest:
    method: str
    url: str
    params: dict[str, Any] | None = None
    json_body: Any = None


def dig(body: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


@dataclass
class NextUrlPaginator:
    """Follows a "next page URL" found in each page (Datto RMM, Autotask: ``pageDetails.nextPageUrl``).

    The next URL is requested with GET and no extra parameters, as both vendors document.
    """

    first: PageRequest
    next_path: tuple[str, ...] = ("pageDetails", "nextPageUrl")
    _seen: set[str] = field(default_factory=set)

    def next(self, body: Any) -> PageRequest | None:
        url = dig(body, self.next_path)
        if not url:
            return None
        if url in self._seen:
            raise PaginationLoop(f"next page URL repeated: {url}")
        self._seen.add(url)
        return PageRequest("GET", url)


@dataclass
class PageNumberPaginator:
    """``page=1,2,3…`` with a fixed page size; stops on a short page (Hudu, ConnectWise, Halo)."""

    first: PageRequest
    items_path: tuple[str, ...]
    page_size: int
    page_param: str = "page"
    first_page: int = 1
    stop_on_empty: bool = False
    """Stop only on an empty page (for vendors that do not publish their page-size cap)."""
    _page: int = 0
    _last_ids: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        self._page = self.first_page

    def items(self, body: Any) -> list[Any]:
        found = dig(body, self.items_path) if self.items_path else body
        if not isinstance(found, list):
            raise MalformedRecord(f"page has no list at {'.'.join(self.items_path) or '<root>'}", payload=body)
        return found

    def next(self, body: Any) -> PageRequest | None:
        items = self.items(body)
        if not items or (not self.stop_on_empty and len(items) < self.page_size):
            return None
        ids = tuple(i.get("id") if isinstance(i, dict) else i for i in items)
        if ids == self._last_ids:
            raise PaginationLoop(f"page {self._page + 1} repeated page {self._page}")
        self._last_ids = ids
        self._page += 1
        params = dict(self.first.params or {})
        params[self.page_param] = self._page
        return PageRequest(self.first.method, self.first.url, params, self.first.json_body)


def paginate(http: Any, paginator: NextUrlPaginator | PageNumberPaginator, operation: str) -> Iterator[Any]:
    """Yield each page's decoded JSON body, following ``paginator`` until it stops."""
    request: PageRequest | None = paginator.first
    while request is not None:
        response = http.request(
            request.method, request.url, params=request.params, json_body=request.json_body, operation=operation,
            idempotent=True,
        )
        body = http.json_of(response, operation)
        yield body
        request = paginator.next(body)
