"""Hudu (API v1) — companies, knowledge-base articles and their folders, for KB linking.

Built against ``shared/specs/hudu.json`` (Swagger 2.0, basePath ``/api/v1``, Hudu 2.44.0).

Needs
    ``SWITCHBOARD_HUDU__BASE_URL``  the instance, e.g. ``https://docs.example.com``
    ``SWITCHBOARD_HUDU__API_KEY``   an API key (Admin → API Keys); read access is enough
Auth
    ``x-api-key`` header, the document's only security scheme.
Limits
    300 requests per minute (shared Redis bucket; the document's own "Rate Limiting" section).
    Lists are paged with ``page``/``page_size``. The document gives "1-1000, default: 25" for the
    endpoints whose page size it describes and no other cap anywhere, so we ask for 1,000 and stop
    on a short page: a full pull costs ``ceil(n / 1000)`` calls (one more only when ``n`` is an
    exact multiple of 1,000, to see the empty page).
Incremental articles
    ``updated_at=<start>,`` (the vendor's change marker, a range open at the end), de-duplicated
    at the boundary by article id. Drafts are not articles: one that changed since the cursor
    (an article taken back to draft) is listed in ``Pull.withdrawn`` for indexes to drop.
Links back
    An article's ``url`` (made absolute against the instance when Hudu sends a path), its folder
    path ("Printing / Drivers", from ``GET /folders``, fetched only when a pulled article is filed
    in a folder not seen yet, and kept for 15 minutes), and its company for client articles.
Client mapping
    A company's ``integrations`` list names the PSA/RMM it is synced from (``integrator_name``)
    and that system's id for it (``identifier``, else ``sync_id``). Those explicit links become
    ``Client.links`` ({"autotask": "29684001"}) and the proposals of ``switchboard clients docs``;
    names are never matched. (The ``id_in_integration`` filter is not used for this: an id alone
    does not say whether it is Autotask's, ConnectWise's or an RMM's; the integrations list does.)
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, Field, SecretStr

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
from connectors.errors import MalformedRecord
from connectors.http import VendorHttp
from connectors.pagination import PageNumberPaginator, PageRequest, paginate
from connectors.protocols import Pull, Rejected
from connectors.ratelimit import Limit
from connectors.text import text_of_html

__all__ = ["Hudu", "HuduArticle", "HuduCompany", "HuduSettings", "article_of", "links_of", "text_of_html"]

VENDOR = "hudu"
PAGE_SIZE = 1000
CREDENTIALS = "SWITCHBOARD_HUDU__API_KEY"
FOLDER_TTL = 900.0

INTEGRATORS: dict[str, tuple[str, ...]] = {
    "autotask": ("autotask",),
    "connectwise-psa": ("cwmanage", "connectwisemanage", "connectwisepsa", "manage"),
    "halopsa": ("halo", "halopsa"),
    "datto-rmm": ("dattormm", "datto"),
    "ninjaone": ("ninja", "ninjaone", "ninjarmm"),
    "tactical-rmm": ("tacticalrmm", "tactical"),
}
"""Switchboard vendor -> Hudu ``integrator_name`` spellings (lower-cased, letters and digits only)."""


class HuduSettings(BaseModel):
    base_url: str | None = None
    api_key: SecretStr | None = None
    requests_per_minute: int = 300
    timeout_seconds: float = 30.0


# -- vendor models -------------------------------------------------------------------------------------


class HuduArticle(VendorModel):
    id: int
    name: str
    content: str | None = ""
    url: str | None = None
    company_id: int | None = None
    folder_id: int | None = None
    draft: bool = False
    updated_at: datetime | None = None


class HuduIntegration(VendorModel):
    integrator_name: str | None = None
    identifier: str | None = None
    sync_id: int | str | None = None


class HuduCompany(VendorModel):
    id: int
    name: str
    id_in_integration: str | None = None
    full_url: str | None = None
    archived: bool | None = False
    integrations: list[HuduIntegration] | None = Field(default_factory=list)
    updated_at: datetime | None = None


class HuduFolder(VendorModel):
    id: int
    name: str
    parent_folder_id: int | None = None


# -- mapping (pure) --------------------------------------------------------------------------------------


def vendor_of_integrator(name: str | None) -> str | None:
    """Our vendor name for a Hudu integrator (``"CW Manage"`` -> ``connectwise-psa``), if we know it."""
    key = re.sub(r"[^a-z0-9]", "", (name or "").lower())
    for vendor, spellings in INTEGRATORS.items():
        if key in spellings:
            return vendor
    return None


def links_of(company: HuduCompany) -> dict[str, str]:
    """The systems a company is synced from, by our vendor name -> their id for it."""
    links: dict[str, str] = {}
    for i in company.integrations or []:
        vendor = vendor_of_integrator(i.integrator_name)
        ident = i.identifier or (str(i.sync_id) if i.sync_id not in (None, "") else None)
        if vendor and ident:
            links.setdefault(vendor, str(ident))
    return links


def folder_path(folder_id: int | None, folders: dict[int, HuduFolder]) -> str | None:
    names: list[str] = []
    seen: set[int] = set()
    while folder_id is not None and folder_id in folders and folder_id not in seen:
        seen.add(folder_id)
        names.append(folders[folder_id].name)
        folder_id = folders[folder_id].parent_folder_id
    return " / ".join(reversed(names)) or None


def article_of(a: HuduArticle, base_url: str, folders: dict[int, HuduFolder] | None = None) -> KBArticle:
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
        folder=folder_path(a.folder_id, folders or {}),
    )


def client_of(c: HuduCompany) -> Client:
    return Client(ref=Ref(vendor=VENDOR, id=str(c.id)), name=c.name, links=links_of(c))


# -- client ------------------------------------------------------------------------------------------------


class Hudu:
    """Hudu as a :class:`~connectors.protocols.DocumentSource`."""

    vendor = VENDOR

    def __init__(self, http: VendorHttp, base_url: str) -> None:
        self.http = http
        self.base_url = base_url
        self._folders: dict[int, HuduFolder] = {}
        self._folders_at = float("-inf")

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
        paginator = PageNumberPaginator(first, (key,), PAGE_SIZE)
        for body in paginate(self.http, paginator, operation):
            yield paginator.items(body)

    def _folder_map(self, wanted: set[int]) -> dict[int, HuduFolder]:
        """Article folders, fetched when a wanted one is unknown or the copy is older than 15 min."""
        if wanted and (not wanted <= set(self._folders) or time.monotonic() - self._folders_at > FOLDER_TTL):
            folders: dict[int, HuduFolder] = {}
            for records in self._pages("/folders", "folders", "get_folders", folder_type="article"):
                found, _ = read_records(HuduFolder, records, f"{VENDOR}:folders")
                folders.update((f.id, f) for f in found)
            self._folders, self._folders_at = folders, time.monotonic()
        return self._folders

    def pull_articles(self, cursor: str | None, now: datetime) -> Pull[KBArticle]:
        before = self.http.stats.requests
        cur = TimeCursor.loads(cursor)
        start = cur.query_from()
        params = {"updated_at": start.strftime("%Y-%m-%dT%H:%M:%SZ") + ","} if start else {}
        fresh: list[HuduArticle] = []
        withdrawn: list[str] = []
        rejected: list[Rejected] = []
        seen: list[tuple[str, datetime]] = []
        for records in self._pages("/articles", "articles", "get_articles", **params):
            items, bad = read_records(HuduArticle, records, f"{VENDOR}:articles")
            rejected += bad
            for a in items:
                if cur.is_new(str(a.id), a.updated_at):
                    if a.draft:
                        withdrawn.append(str(a.id))
                    else:
                        fresh.append(a)
                if a.updated_at is not None:
                    seen.append((str(a.id), a.updated_at))
        folders = self._folder_map({a.folder_id for a in fresh if a.folder_id is not None})
        articles = [article_of(a, self.base_url, folders) for a in fresh]
        return Pull(articles, cur.advanced(seen, now).dumps(), rejected, self.http.stats.requests - before,
                    withdrawn=withdrawn if cursor else [])

    def get_article(self, article_id: str) -> KBArticle:
        body = self.http.get_json(f"/api/v1/articles/{int(article_id)}", operation="get_articles_id")
        found, bad = read_records(HuduArticle, [body.get("article") if isinstance(body, dict) else None],
                                  f"{VENDOR}:articles")
        if bad:
            raise MalformedRecord(bad[0].reason, vendor=VENDOR, payload=bad[0].payload, stream=bad[0].stream)
        a = found[0]
        folders = self._folder_map({a.folder_id} if a.folder_id is not None else set())
        return article_of(a, self.base_url, folders)

    def companies(self) -> Iterator[HuduCompany]:
        for records in self._pages("/companies", "companies", "get_companies"):
            found, _ = read_records(HuduCompany, records, f"{VENDOR}:companies")
            yield from (c for c in found if not c.archived)

    def list_clients(self) -> Iterator[Client]:
        yield from (client_of(c) for c in self.companies())

    def linked_orgs(self, psa: str, company_ids: Iterable[str]) -> dict[str, list[Client]]:
        """The Hudu companies whose integrations record each PSA company (one pass over companies)."""
        wanted = {str(c) for c in company_ids}
        out: dict[str, list[Client]] = {c: [] for c in wanted}
        for company in self.companies():
            client = client_of(company)
            linked = client.links.get(psa)
            if linked in out:
                out[linked].append(client)
        return out

    def check(self) -> list[CheckResult]:
        def info() -> str:
            body = self.http.get_json("/api/v1/api_info", operation="get_api_info")
            return f"Hudu {body.get('version', '?')}"

        def companies() -> str:
            found = list(self.companies())
            linked = sum(1 for c in found if links_of(c))
            return f"{len(found)} companies readable, {linked} linked to a PSA/RMM by Hudu's integrations"

        def articles() -> str:
            body = self.http.get_json("/api/v1/articles", params={"page": 1, "page_size": 25, "draft": "false"},
                                      operation="get_articles")
            items = body.get("articles") if isinstance(body, dict) else None
            return f"articles readable ({len(items or [])} on the first page)"

        return [run_check(n, f) for n, f in (("api_info", info), ("companies", companies), ("articles", articles))]
