"""A stateful Hudu: companies and knowledge-base articles with ``updated_at`` ranges.

Shapes follow ``shared/specs/hudu.json`` (``{"companies": [...]}``, ``{"articles": [...]}``,
``x-api-key`` auth, ``page``/``page_size`` paging).
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.simulators.base import HttpError, Simulator, route

__all__ = ["HuduSimulator"]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


class HuduSimulator(Simulator):
    vendor = "hudu"
    base_url = "https://docs.msp.example"
    base_path = ""
    setting_path = ""
    rate_limit = (300, 60.0)
    max_page_size = 100

    def __init__(self, *, api_key: str = "sim-hudu-key", **kw: Any) -> None:
        super().__init__(**kw)
        self.api_key = api_key
        self.companies: dict[int, dict[str, Any]] = {}
        self.articles: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def add_company(self, name: str, *, id_in_integration: str | None = None) -> int:
        cid = next(self._ids)
        now = _iso(self.now())
        self.companies[cid] = {
            "id": cid, "slug": f"{_slug(name)}-{cid}", "name": name, "nickname": None, "city": "Springfield",
            "id_in_integration": id_in_integration, "archived": False, "url": f"/c/{_slug(name)}-{cid}",
            "created_at": now, "updated_at": now,
        }
        return cid

    def add_article(self, name: str, content: str, *, company_id: int | None = None, draft: bool = False) -> int:
        aid = next(self._ids)
        now = _iso(self.now())
        slug = f"{_slug(name)}-{aid}"
        self.articles[aid] = {
            "id": aid, "slug": slug, "name": name, "draft": draft, "content": content,
            "url": f"{self.base_url}/kba/{slug}", "object_type": "Article", "folder_id": None,
            "enable_sharing": False, "share_url": None, "company_id": company_id,
            "created_at": now, "updated_at": now, "public_photos": [],
        }
        return aid

    def edit_article(self, aid: int, *, content: str | None = None, name: str | None = None) -> None:
        article = self.articles[aid]
        if content is not None:
            article["content"] = content
        if name is not None:
            article["name"] = name
        article["updated_at"] = _iso(self.now())

    def error_body(self, status: int, message: str) -> Any:
        return {"error": message}

    def check_auth(self, request: httpx.Request) -> None:
        if request.headers.get("x-api-key") != self.api_key:
            raise HttpError(401, {"error": "Unauthorized"})

    def _page(self, request: httpx.Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        page = int(float(request.url.params.get("page", 1)))
        size = min(int(float(request.url.params.get("page_size", 25))), self.max_page_size)
        return rows[(page - 1) * size : page * size]

    @staticmethod
    def _updated_filter(rows: list[dict[str, Any]], spec: str | None) -> list[dict[str, Any]]:
        if not spec:
            return rows
        start_s, _, end_s = spec.partition(",")
        start = datetime.fromisoformat(start_s.replace("Z", "+00:00")) if start_s else None
        end = datetime.fromisoformat(end_s.replace("Z", "+00:00")) if end_s else None
        out = []
        for r in rows:
            when = datetime.fromisoformat(r["updated_at"].replace("Z", "+00:00"))
            if (start is None or when >= start) and (end is None or when <= end):
                out.append(r)
        return out

    @route("GET", "/api/v1/api_info")
    def api_info(self, request: httpx.Request) -> Any:
        return {"version": "2.44.0", "date": "2025-06-01"}

    @route("GET", "/api/v1/companies")
    def get_companies(self, request: httpx.Request) -> Any:
        rows = self._updated_filter(list(self.companies.values()), request.url.params.get("updated_at"))
        name = request.url.params.get("name")
        if name:
            rows = [r for r in rows if r["name"] == name]
        return {"companies": self._page(request, rows)}

    @route("GET", "/api/v1/articles")
    def get_articles(self, request: httpx.Request) -> Any:
        rows = sorted(self.articles.values(), key=lambda r: r["id"])
        rows = self._updated_filter(rows, request.url.params.get("updated_at"))
        if request.url.params.get("company_id"):
            rows = [r for r in rows if str(r["company_id"]) == request.url.params["company_id"]]
        if request.url.params.get("search"):
            q = request.url.params["search"].lower()
            rows = [r for r in rows if q in r["name"].lower() or q in (r["content"] or "").lower()]
        return {"articles": self._page(request, rows)}

    @route("GET", "/api/v1/articles/{aid}")
    def get_article(self, request: httpx.Request, aid: str) -> Any:
        article = self.articles.get(int(aid))
        if article is None:
            raise HttpError(404, {"error": "Record not found"})
        return {"article": article}
