"""IT Glue — organizations and troubleshooting articles (flexible assets), for KB linking.

IT Glue has no API document in ``shared/specs``. Built against its public API reference,
https://api.itglue.com/developer (read as crawled 2025-08-18: the introduction on keys, regions,
rate limiting and errors; ``GET /organizations``, ``GET /organizations/:id``,
``GET /flexible_asset_types``, ``GET /flexible_asset_types/:id``, ``GET /flexible_assets``,
``GET /flexible_assets/:id``), and the knowledge-base articles it links: "Pagination in the IT
Glue API" and "Sorting and filtering in the IT Glue API". The simulator
(``connectors/simulators/itglue.py``) checks every request against the parameters those pages
declare, in place of a contract document.

Needs
    ``SWITCHBOARD_ITGLUE__API_KEY``          an API key (Account → Settings → API Keys; an
        Administrator makes it). Keys unused for 90 days are revoked by IT Glue.
    ``SWITCHBOARD_ITGLUE__REGION``           ``us`` (api.itglue.com, default), ``eu``
        (api.eu.itglue.com) or ``au`` (api.au.itglue.com); ``__BASE_URL`` overrides it.
    ``SWITCHBOARD_ITGLUE__ARTICLE_TYPE_ID``  the flexible asset type that holds the MSP's
        troubleshooting articles (``switchboard connectors check itglue`` lists the types).
Auth
    ``x-api-key`` header. IT Glue answers a wrong or revoked key with 403 (its reference says so),
    so 401 and 403 both name the key setting and are never retried.
Limits
    3,000 requests per 5 minutes (shared Redis bucket), 429 beyond. Pages of at most 1,000
    (``page[size]``), numbered with ``page[number]``; the JSON:API ``meta.next-page`` says when
    to stop, so a full pull costs exactly ``ceil(n / 1000)`` calls.
Articles
    Why flexible assets, not Documents: the reference documents the Documents resource for
    updates only (no index or show), while ``GET /flexible_assets`` is documented with
    ``filter[flexible-asset-type-id]`` (required), ``filter[organization-id]`` and
    ``sort=updated_at``. An article is a flexible asset of the configured type; its title is the
    asset's ``name`` (IT Glue builds it from the type's "use for title" fields), its body the text
    traits (``__BODY_TRAITS`` picks name-keys; default every text trait), its link the vendor's
    ``resource-url``. Archived assets are not articles: one archived since the cursor is listed in
    ``Pull.withdrawn`` for indexes to drop.
Incremental articles
    The reference offers no ``filter[updated_at]`` on flexible assets (only on organizations), so
    the pull asks for ``sort=-updated_at`` and stops at the first page that reaches back past the
    cursor: ten changed articles among ten thousand cost one call. Records sharing the boundary
    timestamp are de-duplicated by id (``TimeCursor``); the cursor never moves past the sync's
    start, so an article edited while we page is picked up next time.
Client mapping
    IT Glue keeps the PSA company an organization is synced from (ConnectWise Manage, Autotask,
    …) and filters on it: ``filter[psa_id]`` with ``filter[psa_integration_type]``. Proposals for
    the client map come from that link, one call per mapped PSA company — never from names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, Field, SecretStr, field_validator

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
from connectors.errors import AuthError, ConnectorError, MalformedRecord, PaginationLoop
from connectors.http import VendorHttp
from connectors.pagination import PageRequest
from connectors.protocols import Pull, Rejected
from connectors.ratelimit import Limit
from connectors.text import text_of_html

__all__ = [
    "REGIONS",
    "ItGlue",
    "ItGlueSettings",
    "ItgFlexibleAsset",
    "ItgOrganization",
    "JsonApiPaginator",
    "article_of",
    "flatten",
]

VENDOR = "itglue"
PAGE_MAX = 1000
CREDENTIALS = "SWITCHBOARD_ITGLUE__API_KEY"
REGIONS = {"us": "https://api.itglue.com", "eu": "https://api.eu.itglue.com", "au": "https://api.au.itglue.com"}
M = TypeVar("M", bound=BaseModel)
PSA_INTEGRATION_TYPES = {"autotask": "autotask", "connectwise-psa": "manage"}
"""Switchboard PSA name -> IT Glue's ``psa_integration_type`` (the PSAs IT Glue syncs with)."""


class ItGlueSettings(BaseModel):
    region: Literal["us", "eu", "au"] = "us"
    base_url: str | None = None
    """Overrides ``region`` (a proxy, or a simulator)."""
    api_key: SecretStr | None = None
    article_type_id: int | None = None
    body_traits: list[str] = Field(default_factory=list)
    """Name-keys of the traits that make an article's body; empty: every text trait, in order."""
    requests_per_5_minutes: int = 3000
    timeout_seconds: float = 30.0

    @property
    def effective_base_url(self) -> str:
        return (self.base_url or REGIONS[self.region]).rstrip("/")


# -- vendor models ----------------------------------------------------------------------------------


def flatten(resource: Any) -> Any:
    """A JSON:API resource object as one flat dict (``id`` + its ``attributes``)."""
    if not isinstance(resource, dict) or not isinstance(resource.get("attributes"), dict):
        return resource
    return {"id": resource.get("id"), "type": resource.get("type"), **resource["attributes"]}


class _Resource(VendorModel):
    id: int

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        # JSON:API ids are strings ("401"); a missing or non-numeric id fails the record
        return int(value) if isinstance(value, str) and value.isdigit() else value


class ItgOrganization(_Resource):
    name: str
    short_name: str | None = Field(None, alias="short-name")
    organization_type_name: str | None = Field(None, alias="organization-type-name")
    organization_status_name: str | None = Field(None, alias="organization-status-name")
    primary: bool | None = False
    updated_at: datetime | None = Field(None, alias="updated-at")


class ItgFlexibleAssetType(_Resource):
    name: str
    enabled: bool | None = True


class ItgFlexibleAsset(_Resource):
    name: str
    organization_id: int | None = Field(None, alias="organization-id")
    organization_name: str | None = Field(None, alias="organization-name")
    resource_url: str | None = Field(None, alias="resource-url")
    flexible_asset_type_id: int | None = Field(None, alias="flexible-asset-type-id")
    traits: dict[str, Any] = Field(default_factory=dict)
    archived: bool | None = False
    updated_at: datetime = Field(alias="updated-at")


# -- mapping (pure) -----------------------------------------------------------------------------------

def body_of(traits: dict[str, Any], keys: Iterable[str] = ()) -> str:
    """The article text: the chosen traits (or every text trait), HTML made readable.

    Tag traits (links to configurations, contacts…) are objects, not text, and are left out.
    """
    wanted = list(keys) or [k for k, v in traits.items() if isinstance(v, str)]
    parts = [text_of_html(traits[k]) for k in wanted if isinstance(traits.get(k), str) and traits[k].strip()]
    return "\n".join(p for p in parts if p)


def article_of(a: ItgFlexibleAsset, body_traits: Iterable[str] = ()) -> KBArticle:
    return KBArticle(
        ref=Ref(vendor=VENDOR, id=str(a.id)),
        title=a.name,
        body=body_of(a.traits, body_traits),
        url=a.resource_url or None,
        client=Ref(vendor=VENDOR, id=str(a.organization_id)) if a.organization_id else None,
        updated_at=utc(a.updated_at),
    )


def client_of(o: ItgOrganization, links: dict[str, str] | None = None) -> Client:
    return Client(ref=Ref(vendor=VENDOR, id=str(o.id)), name=o.name, links=links or {})


def read_resources(model: type[M], data: Any, stream: str) -> tuple[list[M], list[Rejected]]:
    """Validate each JSON:API resource of ``data``; a bad one is rejected with its reason."""
    return read_records(model, [flatten(r) for r in data] if isinstance(data, list) else data, stream)


# -- pagination ---------------------------------------------------------------------------------------


@dataclass
class JsonApiPaginator:
    """``page[number]=1,2,3…`` until ``meta.next-page`` is null (IT Glue's JSON:API meta).

    A next page that does not move forward raises :class:`PaginationLoop` instead of looping.
    """

    first: PageRequest
    _seen: set[int] = field(default_factory=set)

    def next(self, body: Any) -> PageRequest | None:
        meta = body.get("meta") if isinstance(body, dict) else None
        nxt = meta.get("next-page") if isinstance(meta, dict) else None
        if nxt in (None, ""):
            return None
        try:
            number = int(nxt)
        except (TypeError, ValueError):
            raise MalformedRecord(f"meta.next-page is not a page number: {nxt!r}", vendor=VENDOR, payload=meta) from None
        if number in self._seen or number <= 1:
            raise PaginationLoop(f"next page {number} was already requested", vendor=VENDOR)
        self._seen.add(number)
        params = dict(self.first.params or {})
        params["page[number]"] = number
        return PageRequest(self.first.method, self.first.url, params)


def classify_error(response: httpx.Response) -> ConnectorError | None:
    """IT Glue answers a wrong, revoked or expired key with 403: name the key, do not retry."""
    if response.status_code == 403:
        return AuthError(
            f"{response.request.method} {response.request.url.path} -> HTTP 403: IT Glue refused the API key "
            f"(wrong, revoked, or unused for 90 days) or the key lacks access; check {CREDENTIALS}",
            vendor=VENDOR, status=403,
        )
    return None


# -- client ---------------------------------------------------------------------------------------------


class ItGlue:
    """IT Glue as a :class:`~connectors.protocols.DocumentSource`."""

    vendor = VENDOR

    def __init__(self, http: VendorHttp, settings: ItGlueSettings) -> None:
        self.http = http
        self.settings = settings

    def __repr__(self) -> str:
        return f"ItGlue({self.http!r})"

    @classmethod
    def from_settings(
        cls,
        settings: ItGlueSettings,
        *,
        redis: Any = None,
        prefix: str = "switchboard",
        transport: httpx.BaseTransport | None = None,
    ) -> ItGlue:
        key = require(settings.api_key, CREDENTIALS, VENDOR)
        assert settings.api_key is not None
        per = settings.requests_per_5_minutes
        http = build_http(
            VENDOR,
            settings.effective_base_url,
            auth=HeaderAuth({"x-api-key": settings.api_key}),
            limiter=make_limiter(VENDOR, key[-8:], Limit(per, 300.0, burst=max(1, per // 30)), redis=redis,
                                 prefix=prefix),
            secrets=secret_values(settings.api_key),
            credential_settings=CREDENTIALS,
            transport=transport,
            timeout=settings.timeout_seconds,
            headers={"Accept": "application/vnd.api+json"},
            classify=classify_error,
        )
        return cls(http, settings)

    # -- reads ------------------------------------------------------------------------------------------
    def _pages(self, path: str, operation: str, **params: Any) -> Iterator[Any]:
        first = PageRequest("GET", path, {"page[size]": PAGE_MAX, "page[number]": 1, **params})
        paginator = JsonApiPaginator(first)
        request: PageRequest | None = first
        while request is not None:
            response = self.http.request("GET", request.url, params=request.params, operation=operation)
            body = self.http.json_of(response, operation)
            if not isinstance(body, dict) or "data" not in body:
                raise MalformedRecord(f"{operation}: the answer has no 'data'", vendor=VENDOR, payload=body,
                                      stream=f"{VENDOR}:{operation}")
            yield body
            request = paginator.next(body)

    def _article_type(self) -> int:
        if self.settings.article_type_id is None:
            from connectors.errors import NotConfigured

            raise NotConfigured(
                "setting SWITCHBOARD_ITGLUE__ARTICLE_TYPE_ID is not set (the flexible asset type that holds "
                "troubleshooting articles; `switchboard connectors check itglue` lists them)", vendor=VENDOR)
        return self.settings.article_type_id

    def pull_articles(self, cursor: str | None, now: datetime) -> Pull[KBArticle]:
        before = self.http.stats.requests
        type_id = self._article_type()
        cur = TimeCursor.loads(cursor)
        start = cur.query_from()
        articles: list[KBArticle] = []
        withdrawn: list[str] = []
        rejected: list[Rejected] = []
        seen: list[tuple[str, datetime]] = []
        ids: set[str] = set()
        stream = f"{VENDOR}:flexible_assets"
        params = {"filter[flexible-asset-type-id]": type_id, "sort": "-updated_at"}
        for body in self._pages("/flexible_assets", "flexible_assets_index", **params):
            items, bad = read_resources(ItgFlexibleAsset, body["data"], stream)
            rejected += bad
            reached_back = False
            for a in items:
                if start is not None and utc(a.updated_at) < start:
                    reached_back = True  # newest first: everything after this is older still
                    continue
                if str(a.id) in ids:
                    continue  # pushed onto the next page by an edit made while we paged: we have it
                ids.add(str(a.id))
                seen.append((str(a.id), a.updated_at))
                if cur.is_new(str(a.id), a.updated_at):
                    if a.archived:
                        withdrawn.append(str(a.id))
                    else:
                        articles.append(article_of(a, self.settings.body_traits))
            if reached_back:
                break
        return Pull(articles, cur.advanced(seen, now).dumps(), rejected, self.http.stats.requests - before,
                    withdrawn=withdrawn if cursor else [])

    def get_article(self, article_id: str) -> KBArticle:
        body = self.http.get_json(f"/flexible_assets/{int(article_id)}", operation="flexible_assets_show")
        items, bad = read_resources(ItgFlexibleAsset, [body.get("data") if isinstance(body, dict) else None],
                                    f"{VENDOR}:flexible_assets")
        if bad:
            raise MalformedRecord(bad[0].reason, vendor=VENDOR, payload=bad[0].payload, stream=bad[0].stream)
        return article_of(items[0], self.settings.body_traits)

    def list_clients(self) -> Iterator[Client]:
        """Client organizations: all but the account's primary one (the MSP itself)."""
        for body in self._pages("/organizations", "organizations_index", sort="id"):
            orgs, _ = read_resources(ItgOrganization, body["data"], f"{VENDOR}:organizations")
            yield from (client_of(o) for o in orgs if not o.primary)

    def linked_orgs(self, psa: str, company_ids: Iterable[str]) -> dict[str, list[Client]]:
        """The organizations IT Glue syncs from each PSA company (one filtered call per company).

        Empty for a PSA IT Glue does not sync with (HaloPSA, …): no link, no proposal.
        """
        kind = PSA_INTEGRATION_TYPES.get(psa)
        out: dict[str, list[Client]] = {}
        if kind is None:
            return out
        for company_id in company_ids:
            found: list[Client] = []
            params = {"filter[psa_id]": company_id, "filter[psa_integration_type]": kind}
            for body in self._pages("/organizations", "organizations_index", **params):
                orgs, _ = read_resources(ItgOrganization, body["data"], f"{VENDOR}:organizations")
                found += [client_of(o, {psa: company_id}) for o in orgs]
            out[company_id] = found
        return out

    def article_types(self) -> list[ItgFlexibleAssetType]:
        types: list[ItgFlexibleAssetType] = []
        for body in self._pages("/flexible_asset_types", "flexible_asset_types_index", sort="name"):
            found, _ = read_resources(ItgFlexibleAssetType, body["data"], f"{VENDOR}:flexible_asset_types")
            types += found
        return types

    # -- check ----------------------------------------------------------------------------------------
    def check(self) -> list[CheckResult]:
        def organizations() -> str:
            body = self.http.get_json("/organizations", params={"page[size]": 1}, operation="organizations_index")
            total = (body.get("meta") or {}).get("total-count", "?") if isinstance(body, dict) else "?"
            return f"key accepted; {total} organizations readable"

        def articles() -> str:
            if self.settings.article_type_id is None:
                names = ", ".join(f"{t.id} {t.name!r}" for t in self.article_types()[:15])
                raise ConnectorError(
                    "SWITCHBOARD_ITGLUE__ARTICLE_TYPE_ID is not set; flexible asset types: " + (names or "none"),
                    vendor=VENDOR)
            type_id = self.settings.article_type_id
            body = self.http.get_json(f"/flexible_asset_types/{type_id}", operation="flexible_asset_types_show")
            name = ((body.get("data") or {}).get("attributes") or {}).get("name", "?")
            page = self.http.get_json("/flexible_assets", params={"filter[flexible-asset-type-id]": type_id,
                                                                   "page[size]": 1}, operation="flexible_assets_index")
            total = (page.get("meta") or {}).get("total-count", "?")
            return f"article type {type_id} {name!r}: {total} articles readable"

        return [run_check(n, f) for n, f in (("organizations", organizations), ("articles", articles))]
