"""Hudu (API v1) — companies and knowledge-base articles, for KB linking.

Built against ``shared/specs/hudu.json`` (Swagger 2.0, basePath ``/api/v1``).

Needs
    ``SWITCHBOARD_HUDU__BASE_URL``  the instance, e.g. ``https://docs.example.com``
    ``SWITCHBOARD_HUDU__API_KEY``   an API key (Admin → API Keys); read access is enough
Auth
    ``x-api-key`` header, the document's only security scheme.
Limits
    300 requests per minute (shared Redis bucket). Lists are paged with ``page``/``page_size``;
    Hudu does not publish a page-size cap, so we ask for 100 and stop on an empty page rather
    than on a short one (a server that caps lower still delivers everything).
Incremental articles
    ``updated_at=<start>,`` (the vendor's change marker, a range open at the end), de-duplicated
    at the boundary by article id.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, SecretStr

from connectors.auth import HeaderAuth, require
from connectors.base import (
    CheckResult,
    VendorModel,
    build_http,
    make_limiter,
    read_records,
    run_check,
    secret_values,
)
from connectors.canonical import Client, KBArticle, Ref, utc
from connectors.cursor import TimeCursor
from connectors.http import VendorHttp
from connectors.pagination import PageNumberPaginator, PageRequest, paginate
from connectors.protocols import Pull, Rejected
from connectors.ratelimit import Limit

VENDOR = "hudu"
PAGE_SIZE = 100
CREDENTIALS = "SWITCHBOARD_HUDU__API_KEY"


class HuduSettings(BaseModel):
    base_url: str | None = None
    api_key: SecretStr | None = None
    requests_per_minute: int = 300
    timeout_seconds: float = 30.0


class HuduArticle(VendorModel):
    id: int
    name: str
    content: str | None = ""
    url: str | None = None
    company_id: int | None = None
    draft: bool = False
    updated_at: datetime | None = None


class HuduCompany(VendorModel):
    id: int
    name: str
    id_in_integration: str | None = None
    updated_at: datetime | None = None


_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"[ \t\r\f\v]+")


def text_of_html(content: str) -> str:
    text = re.sub(r"</(p|li|h\d|div|tr)>|<br\s*/?>", "\n", content, flags=re.I)
    text = html.unescape(_TAGS.sub(" ", text))
    return "\n".join(_SPACE.sub(" ", line).strip() for line in text.splitlines() if line.strip())


def article_of(a: HuduArticle, base_url: str) -> KBArticle:
    url = a.url or None
    if url and url.startswith("/"):
        url = base_url.rstrip("/") + url
    return KBArticle(
        ref=Ref(vendor=VENDOR, id=str(a.id)),
        title=a.name,
        body=text_of_html(a.content or ""),
        url=url,
        client=Ref(vendor=VENDOR, id=str(a.company_id)) if a.company_id else None,
        updated_at=utc(a.updated_at) if a.updated_at else None,
    )


class Hudu:
    """Hudu as a :class:`~connectors.protocols.DocumentSource`."""

    vendor = VENDOR

    def __init__(self, http: VendorHttp, base_url: str) -> None:
        self.http = http
        self.base_url = base_url

    def __repr__(self) -> str:
        return f"Hudu({self.http!r})"

    @classmethod
    def from_settings(
        cls,
        settings: HuduSettings,
        *,
        redis: Any = None,
        prefix: str = "switchboard",
        transport: httpx.BaseTransport | None = None,
    ) -> Hudu:
        base = require(settings.base_url, "SWITCHBOARD_HUDU__BASE_URL", VENDOR).rstrip("/")
        key = require(settings.api_key, CREDENTIALS, VENDOR)
        assert settings.api_key is not None
        limit = Limit(settings.requests_per_minute, 60.0, burst=max(1, settings.requests_per_minute // 10))
        http = build_http(
            VENDOR,
            base,
            auth=HeaderAuth({"x-api-key": settings.api_key}),  # type: ignore[dict-item]
            limiter=make_limiter(VENDOR, key[:6], limit, redis=redis, prefix=prefix),
            secrets=secret_values(settings.api_key),
            credential_settings=CREDENTIALS,
            transport=transport,
            timeout=settings.timeout_seconds,
        )
        return cls(http, base)

    def _pages(self, path: str, key: str, operation: str, **params: Any) -> Iterator[list[Any]]:
        first = PageRequest("GET", f"/api/v1{path}", {"page": 1, "page_size": PAGE_SIZE, **params})
        paginator = PageNumberPaginator(first, (key,), PAGE_SIZE, stop_on_empty=True)
        for body in paginate(self.http, paginator, operation):
            yield paginator.items(body)

    def pull_articles(self, cursor: str | None, now: datetime) -> Pull[KBArticle]:
        before = self.http.stats.requests
        cur = TimeCursor.loads(cursor)
        start = cur.query_from()
        params = {"updated_at": start.strftime("%Y-%m-%dT%H:%M:%SZ") + ","} if start else {}
        articles: list[KBArticle] = []
        rejected: list[Rejected] = []
        seen: list[tuple[str, datetime]] = []
        for records in self._pages("/articles", "articles", "get_articles", **params):
            items, bad = read_records(HuduArticle, records, f"{VENDOR}:articles")
            rejected += bad
            for a in items:
                if a.draft:
                    continue
                if cur.is_new(str(a.id), a.updated_at):
                    articles.append(article_of(a, self.base_url))
                if a.updated_at is not None:
                    seen.append((str(a.id), a.updated_at))
        return Pull(articles, cur.advanced(seen, now).dumps(), rejected, self.http.stats.requests - before)

    def list_clients(self) -> Iterator[Client]:
        for records in self._pages("/companies", "companies", "get_companies"):
            companies, _ = read_records(HuduCompany, records, f"{VENDOR}:companies")
            for c in companies:
                yield Client(ref=Ref(vendor=VENDOR, id=str(c.id)), name=c.name)

    def check(self) -> list[CheckResult]:
        def info() -> str:
            body = self.http.get_json("/api/v1/api_info", operation="get_api_info")
            return f"Hudu {body.get('version', '?')}"

        def companies() -> str:
            return f"{sum(1 for _ in self.list_clients())} companies readable"

        def articles() -> str:
            pulled = self.pull_articles(None, datetime.now().astimezone())
            return f"{len(pulled.items)} articles readable"

        return [run_check(n, f) for n, f in (("api_info", info), ("companies", companies), ("articles", articles))]
