"""A stateful IT Glue: organizations, flexible asset types and flexible assets (JSON:API).

IT Glue publishes no API document we can validate against, so this simulator carries the
parameters its public reference (https://api.itglue.com/developer) declares for each endpoint it
serves — :data:`DOCUMENTED` — and records a contract problem for any request that strays from
them (an undocumented parameter, a value of the wrong type, a missing required filter, a page
larger than 1,000). Tests made through the ``sim`` fixture fail on those problems at teardown,
as they do for vendors with a document in ``shared/specs``.

Behaviour copied from the reference: ``x-api-key`` auth (a wrong key gets 403, a missing one 401),
JSON:API bodies (``data``/``meta``/``links``, dasherized attributes, string ids), ``page[size]``
up to 1,000 (default 50), ``meta.next-page``/``total-pages``/``total-count``, ``sort`` with ``-`` for
descending, date-range filters ``start,end`` with ``*`` for an open end, and 3,000 requests per
5 minutes.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.simulators.base import HttpError, Simulator, route

__all__ = ["DOCUMENTED", "ItGlueSimulator"]

_NUMBER = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class Param:
    kind: str = "string"  # string | number | bool | date-range | enum
    values: tuple[str, ...] = ()
    required: bool = False


_PAGE = {"page[number]": Param("number"), "page[size]": Param("number")}
DOCUMENTED: dict[tuple[str, str], dict[str, Param]] = {
    ("GET", "/organizations"): {
        "filter[id]": Param("number"), "filter[name]": Param(), "filter[organization_type_id]": Param("number"),
        "filter[organization_status_id]": Param("number"), "filter[created_at]": Param("date-range"),
        "filter[updated_at]": Param("date-range"), "filter[my_glue_account_id]": Param("number"),
        "filter[psa_id]": Param(),
        "filter[psa_integration_type]": Param("enum", ("manage", "autotask", "tigerpaw", "kaseya-bms",
                                                       "pulseway-psa", "vorex")),
        "filter[group_id]": Param("number"), "filter[primary]": Param(),
        "filter[exclude][id]": Param("number"), "filter[exclude][name]": Param(),
        "filter[exclude][organization_type_id]": Param("number"),
        "filter[exclude][organization_status_id]": Param("number"),
        "filter[range][my_glue_account_id]": Param(),
        "sort": Param("enum", ("name", "id", "updated_at", "organization_status_name", "organization_type_name",
                               "created_at", "short_name", "my_glue_account_id")),
        "include": Param("enum", ("adapters_resources", "attachments", "rmm_companies")),
        **_PAGE,
    },
    ("GET", "/organizations/{id}"): {"include": Param("enum", ("adapters_resources", "attachments", "rmm_companies"))},
    ("GET", "/flexible_asset_types"): {
        "filter[id]": Param("number"), "filter[name]": Param(), "filter[icon]": Param(),
        "filter[enabled]": Param("bool"), "sort": Param("enum", ("id", "name", "created_at", "updated_at")),
        "include": Param("enum", ("flexible_asset_fields",)), **_PAGE,
    },
    ("GET", "/flexible_asset_types/{id}"): {"include": Param("enum", ("flexible_asset_fields",))},
    ("GET", "/flexible_assets"): {
        "filter[flexible-asset-type-id]": Param("number", required=True), "filter[name]": Param(),
        "filter[organization-id]": Param("number"), "sort": Param("enum", ("name", "created_at", "updated_at")),
        "include": Param("enum", ("adapters_resources", "distinct_remote_assets", "attachments", "passwords",
                                  "user_resource_accesses", "group_resource_accesses")),
        **_PAGE,
    },
    ("GET", "/flexible_assets/{id}"): {
        "include": Param("enum", ("adapters_resources", "distinct_remote_assets", "attachments", "passwords",
                                  "user_resource_accesses", "group_resource_accesses", "recent_versions",
                                  "related_items", "authorized_users")),
    },
}
"""(method, path) -> query parameters the public reference declares (read 2025-08-18)."""

MAX_PAGE = 1000
DEFAULT_PAGE = 50
PSA_TYPES = {"autotask", "manage", "tigerpaw", "kaseya-bms", "pulseway-psa", "vorex"}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse_date(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


class ItGlueSimulator(Simulator):
    vendor = "itglue"
    base_url = "https://api.itglue.com"
    rate_limit = (3000, 300.0)

    def __init__(self, *, api_key: str = "ITG.sim-itglue-key", subdomain: str = "msp", **kw: Any) -> None:
        super().__init__(**kw)
        self.api_key = api_key
        self.web = f"https://{subdomain}.itglue.com"
        self.organizations: dict[int, dict[str, Any]] = {}
        self.psa_links: dict[int, tuple[str, str]] = {}
        """organization id -> (psa_integration_type, psa_id): the PSA company it syncs from."""
        self.asset_types: dict[int, dict[str, Any]] = {}
        self.assets: dict[int, dict[str, Any]] = {}
        self.before_assets_page: Any = None
        """Test hook ``f(query)`` run before each ``GET /flexible_assets`` page: someone edits meanwhile."""
        self._ids = itertools.count(1001)

    # -- state --------------------------------------------------------------------------------------
    def add_organization(self, name: str, *, psa: tuple[str, str] | None = None, primary: bool = False) -> int:
        """``psa``: (IT Glue integration type, PSA company id) when IT Glue syncs it from a PSA."""
        oid = next(self._ids)
        now = _iso(self.now())
        self.organizations[oid] = {
            "name": name, "alert": None, "description": None, "organization-type-id": 86,
            "organization-type-name": "Owner" if primary else "Customer", "organization-status-id": 68,
            "organization-status-name": "Active", "primary": primary, "logo": "", "quick-notes": None,
            "short-name": _slug(name)[:20], "created-at": now, "updated-at": now, "parent-id": None,
            "ancestor-ids": "[]",
        }
        if psa is not None:
            assert psa[0] in PSA_TYPES, psa
            self.psa_links[oid] = (psa[0], str(psa[1]))
        return oid

    def add_asset_type(self, name: str, *, description: str = "", icon: str = "book") -> int:
        tid = next(self._ids)
        now = _iso(self.now())
        self.asset_types[tid] = {"name": name, "description": description, "icon": icon, "enabled": True,
                                 "show-in-menu": True, "created-at": now, "updated-at": now}
        return tid

    def add_asset(self, type_id: int, name: str, traits: dict[str, Any], *, organization_id: int | None = None,
                  archived: bool = False) -> int:
        aid = next(self._ids)
        org = organization_id or next((i for i, o in self.organizations.items() if o["primary"]), None)
        if org is None:
            org = self.add_organization("MSP (internal)", primary=True)
        type_name = self.asset_types[type_id]["name"]
        now = _iso(self.now())
        self.assets[aid] = {
            "organization-id": org, "organization-name": self.organizations[org]["name"],
            "resource-url": f"{self.web}/{org}/assets/{type_id}-{_slug(type_name)}/records/{aid}",
            "restricted": False, "my-glue": False, "flexible-asset-type-id": type_id,
            "flexible-asset-type-name": type_name, "name": name, "traits": dict(traits), "archived": archived,
            "created-at": now, "updated-at": now,
        }
        return aid

    def edit_asset(self, aid: int, *, name: str | None = None, traits: dict[str, Any] | None = None,
                   archived: bool | None = None) -> None:
        asset = self.assets[aid]
        if name is not None:
            asset["name"] = name
        if traits is not None:
            asset["traits"] = {**asset["traits"], **traits}
        if archived is not None:
            asset["archived"] = archived
        asset["updated-at"] = _iso(self.now())

    # -- vendor behaviour -------------------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        titles = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                  422: "Unprocessable Entity", 429: "Too Many Requests"}
        return {"errors": [{"status": str(status), "title": titles.get(status, "Error"), "detail": message}]}

    def check_auth(self, request: httpx.Request) -> None:
        key = request.headers.get("x-api-key")
        if not key:
            raise HttpError(401, self.error_body(401, "API key is missing"))
        if key != self.api_key:
            raise HttpError(403, self.error_body(403, "Access denied"))

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        response = super()._json(status, body, headers)
        if body is not None:
            response.headers["content-type"] = "application/vnd.api+json; charset=utf-8"
        return response

    def _problem(self, text: str) -> None:
        if self.contract is not None:
            self.contract.problems.append(f"{text} (IT Glue public reference)")

    def _documented(self, request: httpx.Request, template: str) -> dict[str, str]:
        """The request's query, checked against what the reference declares for ``template``."""
        declared = DOCUMENTED[(request.method, template)]
        label = f"{request.method} {template}"
        if self.contract is not None:
            self.contract.checked_requests += 1
        query = dict(request.url.params)
        for name, value in query.items():
            param = declared.get(name)
            if param is None:
                self._problem(f"{label}: query parameter {name!r} is not documented")
                continue
            if param.kind == "number" and not _NUMBER.match(value):
                self._problem(f"{label}: {name}={value!r} must be a number")
            elif param.kind == "bool" and value not in ("true", "false", "1", "0"):
                self._problem(f"{label}: {name}={value!r} must be true/false/1/0")
            elif param.kind == "enum":
                bad = [v for v in value.split(",") if v.lstrip("-") not in param.values]
                if bad:
                    self._problem(f"{label}: {name}={value!r} is not one of {list(param.values)}")
            elif param.kind == "date-range" and not self._date_range_ok(value):
                self._problem(f"{label}: {name}={value!r} is not 'start,end' (RFC 3339 dates, * for open)")
        for name, param in declared.items():
            if param.required and name not in query:
                self._problem(f"{label}: required parameter {name!r} is missing")
                raise HttpError(400, self.error_body(400, f"{name} is required"))
        if "filter[psa_id]" in query and "filter[psa_integration_type]" not in query:
            self._problem(f"{label}: filter[psa_id] must be accompanied by filter[psa_integration_type]")
        if int(query.get("page[size]", DEFAULT_PAGE) or DEFAULT_PAGE) > MAX_PAGE:
            self._problem(f"{label}: page[size] above the maximum of {MAX_PAGE}")
        return query

    @staticmethod
    def _date_range_ok(value: str) -> bool:
        parts = value.split(",")
        if len(parts) != 2:
            return False
        try:
            for p in parts:
                if p.strip() != "*":
                    _parse_date(p)
        except ValueError:
            return False
        return True

    @staticmethod
    def _in_range(when: str, spec: str) -> bool:
        start, end = (p.strip() for p in spec.split(","))
        at = _parse_date(when)
        return (start == "*" or at >= _parse_date(start)) and (end == "*" or at <= _parse_date(end))

    @staticmethod
    def _sorted(rows: list[tuple[int, dict[str, Any]]], sort: str | None) -> list[tuple[int, dict[str, Any]]]:
        if not sort:
            return sorted(rows, key=lambda r: r[0])
        key = sort.split(",")[0]
        field = key.lstrip("-")

        def value(row: tuple[int, dict[str, Any]]) -> Any:
            return row[0] if field == "id" else (row[1].get(field.replace("_", "-")) or "")

        # ties keep id order, as a database would with a stable secondary key
        return sorted(sorted(rows, key=lambda r: r[0]), key=value, reverse=key.startswith("-"))

    def _page(self, request: httpx.Request, kind: str, rows: list[tuple[int, dict[str, Any]]],
              query: dict[str, str]) -> dict[str, Any]:
        size = min(int(query.get("page[size]") or DEFAULT_PAGE), MAX_PAGE)
        number = max(1, int(query.get("page[number]") or 1))
        total = len(rows)
        pages = max(1, -(-total // size))
        chunk = rows[(number - 1) * size : number * size]

        def link(n: int) -> str:
            params = {**query, "page[number]": str(n), "page[size]": str(size)}
            return str(request.url.copy_with(params=params))

        return {
            "data": [{"id": str(i), "type": kind, "attributes": dict(attrs)} for i, attrs in chunk],
            "meta": {"current-page": number, "next-page": number + 1 if number < pages else None,
                     "prev-page": number - 1 if number > 1 else None, "total-pages": pages, "total-count": total,
                     "filters": {}},
            "links": {"self": link(number), "first": link(1), "last": link(pages),
                      **({"next": link(number + 1)} if number < pages else {})},
        }

    # -- routes ---------------------------------------------------------------------------------------
    @route("GET", "/organizations")
    def organizations_index(self, request: httpx.Request) -> Any:
        q = self._documented(request, "/organizations")
        rows = list(self.organizations.items())
        if q.get("filter[id]"):
            rows = [r for r in rows if str(r[0]) == q["filter[id]"]]
        if q.get("filter[name]"):
            rows = [r for r in rows if r[1]["name"] == q["filter[name]"].replace("\\,", ",")]
        if q.get("filter[updated_at]"):
            rows = [r for r in rows if self._in_range(r[1]["updated-at"], q["filter[updated_at]"])]
        if q.get("filter[psa_id]"):
            link = (q.get("filter[psa_integration_type]", ""), q["filter[psa_id]"])
            rows = [r for r in rows if self.psa_links.get(r[0]) == link]
        return self._page(request, "organizations", self._sorted(rows, q.get("sort")), q)

    @route("GET", "/organizations/{oid}")
    def organizations_show(self, request: httpx.Request, oid: str) -> Any:
        self._documented(request, "/organizations/{id}")
        org = self.organizations.get(int(oid)) if oid.isdigit() else None
        if org is None:
            raise HttpError(404, self.error_body(404, "Record not found"))
        return {"data": {"id": oid, "type": "organizations", "attributes": dict(org)}}

    @route("GET", "/flexible_asset_types")
    def flexible_asset_types_index(self, request: httpx.Request) -> Any:
        q = self._documented(request, "/flexible_asset_types")
        rows = list(self.asset_types.items())
        if q.get("filter[name]"):
            rows = [r for r in rows if r[1]["name"] == q["filter[name]"]]
        return self._page(request, "flexible-asset-types", self._sorted(rows, q.get("sort")), q)

    @route("GET", "/flexible_asset_types/{tid}")
    def flexible_asset_types_show(self, request: httpx.Request, tid: str) -> Any:
        self._documented(request, "/flexible_asset_types/{id}")
        found = self.asset_types.get(int(tid)) if tid.isdigit() else None
        if found is None:
            raise HttpError(404, self.error_body(404, "Record not found"))
        return {"data": {"id": tid, "type": "flexible-asset-types", "attributes": dict(found)}}

    @route("GET", "/flexible_assets")
    def flexible_assets_index(self, request: httpx.Request) -> Any:
        q = self._documented(request, "/flexible_assets")
        if self.before_assets_page is not None:
            self.before_assets_page(q)
        type_id = q["filter[flexible-asset-type-id]"]
        rows = [(i, a) for i, a in self.assets.items() if str(a["flexible-asset-type-id"]) == type_id]
        if q.get("filter[organization-id]"):
            rows = [r for r in rows if str(r[1]["organization-id"]) == q["filter[organization-id]"]]
        if q.get("filter[name]"):
            rows = [r for r in rows if r[1]["name"] == q["filter[name]"]]
        return self._page(request, "flexible-assets", self._sorted(rows, q.get("sort")), q)

    @route("GET", "/flexible_assets/{aid}")
    def flexible_assets_show(self, request: httpx.Request, aid: str) -> Any:
        self._documented(request, "/flexible_assets/{id}")
        asset = self.assets.get(int(aid)) if aid.isdigit() else None
        if asset is None:
            raise HttpError(404, self.error_body(404, "Record not found"))
        return {"data": {"id": aid, "type": "flexible-assets", "attributes": dict(asset)}}
