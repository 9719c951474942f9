"""A stateful Hudu: companies (with their integrations), article folders and knowledge-base
articles with ``updated_at`` ranges.

Shapes follow ``shared/specs/hudu.json`` (``{"companies": [...]}``, ``{"articles": [...]}``,
``{"folders": [...]}``, ``x-api-key`` auth, ``page``/``page_size`` paging: default 25, at most
1,000 — the cap the document states for its paged endpoints).
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
    max_page_size = 1000

    def __init__(self, *, api_key: str = "sim-hudu-key", **kw: Any) -> None:
        super().__init__(**kw)
        self.api_key = api_key
        self.companies: dict[int, dict[str, Any]] = {}
        self.articles: dict[int, dict[str, Any]] = {}
        self.folders: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def add_company(self, name: str, *, id_in_integration: str | None = None,
                    integrations: list[tuple[str, str]] | None = None, archived: bool = False) -> int:
        """``integrations``: (integrator name as Hudu shows it, that system's id for the company)."""
        cid = next(self._ids)
        now = _iso(self.now())
        links = [{"id": next(self._ids), "integrator_id": 1 + n, "integrator_name": integrator, "sync_id": n + 1,
                  "identifier": ident, "name": name, "potential_company_id": None, "company_id": cid,
                  "company_name": name} for n, (integrator, ident) in enumerate(integrations or [])]
        self.companies[cid] = {
            "id": cid, "slug": f"{_slug(name)}-{cid}", "name": name, "nickname": None, "city": "Springfield",
            "id_in_integration": id_in_integration or (links[0]["identifier"] if links else None),
            "archived": archived, "object_type": "Company", "url": f"/c/{_slug(name)}-{cid}",
            "full_url": f"{self.base_url}/c/{_slug(name)}-{cid}",
            "knowledge_base_url": f"{self.base_url}/c/{_slug(name)}-{cid}/knowledge_base",
            "integrations": links, "created_at": now, "updated_at": now,
        }
        return cid

    def add_folder(self, name: str, *, parent_id: int | None = None, company_id: int | None = None) -> int:
        fid = next(self._ids)
        now = _iso(self.now())
        self.folders[fid] = {"id": fid, "company_id": company_id, "icon": None, "description": "", "name": name,
                             "parent_folder_id": parent_id, "folder_type": "article", "created_at": now,
                             "updated_at": now}
        return fid

    def add_article(self, name: str, content: str, *, company_id: int | None = None, draft: bool = False,
                    folder_id: int | None = None) -> int:
        aid = next(self._ids)
        now = _iso(self.now())
        slug = f"{_slug(name)}-{aid}"
        self.articles[aid] = {
            "id": aid, "slug": slug, "name": name, "draft": draft, "content": content,
            "url": f"{self.base_url}/kba/{slug}", "object_type": "Article", "folder_id": folder_id,
            "enable_sharing": False, "share_url": None, "company_id": company_id,
            "created_at": now, "updated_at": now, "public_photos": [],
        }
        return aid

    def edit_article(self, aid: int, *, content: str | None = None, name: str | None = None,
                     draft: bool | None = None) -> None:
        article = self.articles[aid]
        if content is not None:
            article["content"] = content
        if name is not None:
            article["name"] = name
        if draft is not None:
            article["draft"] = draft
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
        ident = request.url.params.get("id_in_integration")
        if ident:
            rows = [r for r in rows if r["id_in_integration"] == ident
                    or any(i["identifier"] == ident for i in r["integrations"])]
        return {"companies": self._page(request, rows)}

    @route("GET", "/api/v1/folders")
    def get_folders(self, request: httpx.Request) -> Any:
        rows = sorted(self.folders.values(), key=lambda r: r["id"])
        kind = request.url.params.get("folder_type")
        if kind:
            rows = [r for r in rows if r["folder_type"] == kind]
        return {"folders": self._page(request, rows)}

    @route("GET", "/api/v1/articles")
    def get_articles(self, request: httpx.Request) -> Any:
        rows = sorted(self.articles.values(), key=lambda r: r["id"])
        rows = self._updated_filter(rows, request.url.params.get("updated_at"))
        if request.url.params.get("company_id"):
            rows = [r for r in rows if str(r["company_id"]) == request.url.params["company_id"]]
        if request.url.params.get("draft") in ("true", "false"):
            rows = [r for r in rows if r["draft"] == (request.url.params["draft"] == "true")]
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
