"""A stateful Datto RMM: sites, devices and alerts that open and resolve on the simulator's clock.

Responses follow the shapes of ``shared/specs/datto-rmm.json`` (``AlertsPage``, ``SitesPage``,
``DevicesPage`` with ``pageDetails.nextPageUrl``); OAuth2 password grant at ``/auth/oauth/token``.
Alerts can be scheduled in the future (``schedule_alert``): they appear in the open list once the
clock passes their raise time and move to the resolved list once it passes their clear time.
"""

from __future__ import annotations

import base64
import itertools
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx

from connectors.simulators.base import HttpError, Simulator, route
from connectors.simulators.timeline import Timeline, alert_spans

__all__ = ["DattoRmmSimulator"]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


DEVICE_CLASSES = {
    "network": ("rmmnetworkdevice", "Network Device"),
    "server": ("device", "Server"),
    "workstation": ("device", "Desktop"),
    "printer": ("printer", "Printer"),
    "mobile": ("device", "Mobile"),
}
PRIORITIES = {"critical": "Critical", "high": "High", "moderate": "Moderate", "low": "Low", "info": "Information"}


def context_for(check: str) -> dict[str, Any]:
    """A Datto alert context whose canonical check (``connectors.datto_rmm.check_of``) is ``check``."""
    base, _, detail = check.partition(":")
    if base == "device_offline":
        return {"@class": "online_offline_status_ctx", "status": "OFFLINE"}
    if base in ("cpu", "memory"):
        return {"@class": "perf_resource_usage_ctx", "type": base.upper(), "sample": 97.5}
    if base == "disk_usage":
        return {"@class": "perf_disk_usage_ctx", "diskName": detail or "C:", "totalVolume": 256.0, "freeSpace": 4.2,
                "unitOfMeasure": "PERCENT", "diskNameDesignation": "SINGLE_VOLUME"}
    if base == "service":
        return {"@class": "srvc_status_ctx", "processName": detail, "status": "STOPPED"}
    if base == "eventlog":
        source, _, code = detail.partition(":")
        return {"@class": "eventlog_ctx", "logName": "System", "source": source, "code": code, "type": "Error"}
    if base == "backup":
        return {"@class": "backup_management_ctx", "errorMessage": "Job failed", "timeout": 0}
    if base == "antivirus":
        return {"@class": "antivirus_ctx", "status": "RUNNINGNOTUPTODATE", "productName": "Datto AV"}
    if base == "patch":
        return {"@class": "patch_ctx", "result": "FAILED", "info": "Install failed"}
    if base == "ping":
        return {"@class": "ping_ctx", "roundtripTime": 0, "reasons": ["timeout"]}
    if base == "printer":
        return {"@class": "printer_ctx", "markerSupplyIndex": 1, "currentLevel": 2}
    return {"@class": f"{base}_ctx"}


class DattoRmmSimulator(Simulator):
    vendor = "datto-rmm"
    base_url = "https://zinfandel-api.centrastage.net"
    base_path = ""
    setting_path = ""
    rate_limit = (600, 60.0)
    undocumented = (("POST", r"/auth/oauth/token$"),)

    def __init__(self, *, api_key: str = "sim-datto-key", api_secret: str = "sim-datto-secret", **kw: Any) -> None:
        super().__init__(**kw)
        self.api_key = api_key
        self.api_secret = api_secret
        self.account_uid = "sim-account"
        self.tokens: set[str] = set()
        self.sites: dict[str, dict[str, Any]] = {}
        self.devices: dict[str, dict[str, Any]] = {}
        self.alerts: dict[str, dict[str, Any]] = {}
        self.timeline = Timeline()
        self._ids = itertools.count(1000)
        self.resolved_by_api: list[str] = []

    # -- scenario building ----------------------------------------------------------------------
    def add_site(self, name: str, *, uid: str | None = None, autotask_company_id: str | None = None) -> str:
        uid = uid or str(uuid.uuid4())
        self.sites[uid] = {
            "id": next(self._ids),
            "uid": uid,
            "accountUid": self.account_uid,
            "name": name,
            "description": f"{name} (managed)",
            "onDemand": False,
            "splashtopAutoInstall": False,
            "autotaskCompanyName": name if autotask_company_id else None,
            "autotaskCompanyId": autotask_company_id,
            "portalUrl": f"https://zinfandel.centrastage.net/csm/site/{uid}",
        }
        return uid

    def add_device(
        self,
        site_uid: str,
        hostname: str,
        *,
        category: str = "Desktop",
        device_class: str = "device",
        uid: str | None = None,
    ) -> str:
        uid = uid or str(uuid.uuid4())
        site = self.sites[site_uid]
        self.devices[uid] = {
            "id": next(self._ids),
            "uid": uid,
            "siteId": site["id"],
            "siteUid": site_uid,
            "siteName": site["name"],
            "deviceType": {"category": category, "type": category},
            "hostname": hostname,
            "intIpAddress": f"10.0.{len(self.devices) % 250}.{len(self.devices) % 200 + 10}",
            "operatingSystem": "Microsoft Windows 11 Pro" if category in ("Desktop", "Laptop") else "Other",
            "online": True,
            "suspended": False,
            "deleted": False,
            "deviceClass": device_class,
            "a64Bit": True,
            "rebootRequired": False,
            "snmpEnabled": device_class == "rmmnetworkdevice",
            "portalUrl": f"https://zinfandel.centrastage.net/csm/device/{uid}",
        }
        return uid

    def _alert_body(
        self, uid: str, device_uid: str, context: dict[str, Any], priority: str, diagnostics: str, muted: bool
    ) -> dict[str, Any]:
        device = self.devices[device_uid]
        return {
            "alertUid": uid,
            "priority": priority,
            "diagnostics": diagnostics,
            "resolved": False,
            "resolvedBy": None,
            "resolvedOn": None,
            "muted": muted,
            "ticketNumber": None,
            "timestamp": None,
            "alertMonitorInfo": {"sendsEmails": False, "createsTicket": False},
            "alertContext": context,
            "alertSourceInfo": {
                "deviceUid": device_uid,
                "deviceName": device["hostname"],
                "siteUid": device["siteUid"],
                "siteName": device["siteName"],
            },
            "responseActions": [],
            "autoresolveMins": 0,
        }

    def schedule_alert(
        self,
        device_uid: str,
        *,
        raise_at: datetime,
        resolve_at: datetime | None = None,
        context: dict[str, Any] | None = None,
        priority: str = "High",
        diagnostics: str = "",
        muted: bool = False,
        uid: str | None = None,
    ) -> str:
        """An alert that opens at ``raise_at`` and (optionally) resolves at ``resolve_at``."""
        uid = uid or str(uuid.uuid4())
        body = self._alert_body(
            uid, device_uid, context or {"@class": "online_offline_status_ctx", "status": "OFFLINE"}, priority,
            diagnostics, muted,
        )
        body["timestamp"] = _iso(raise_at)
        body["_state"] = "scheduled"
        self.alerts[uid] = body
        self.timeline.push(raise_at, "raise", uid)
        if resolve_at is not None:
            self.timeline.push(resolve_at, "resolve", uid)
        return uid

    def load_stream(self, stream: Any, *, company_ids: dict[str, str] | None = None) -> dict[str, str]:
        """Sites, devices and alerts for a canonical :class:`~connectors.simulators.streams.Stream`.

        Each alert opens at its first raise and resolves at its clear (repeats are not visible
        through Datto's open/resolved lists). Returns canonical client id -> Datto site UID.
        """
        sites: dict[str, str] = {}
        devices: dict[str, str] = {}
        for d in stream.topology.devices:
            if d.site not in sites:
                sites[d.site] = self.add_site(d.site_name, autotask_company_id=(company_ids or {}).get(d.client))
            cls, category = DEVICE_CLASSES.get(d.type.value, ("device", "Desktop"))
            devices[d.id] = self.add_device(sites[d.site], d.name, category=category, device_class=cls)
        for e, cleared in alert_spans(stream.events):
            self.schedule_alert(
                devices[e.device], raise_at=e.at, resolve_at=cleared, context=context_for(e.check),
                priority=PRIORITIES.get(e.severity.value, "Moderate"), diagnostics=e.message, muted=e.muted, uid=e.alert_id,
            )
        return {d.client: sites[d.site] for d in stream.topology.devices}

    def raise_alert(self, device_uid: str, **kw: Any) -> str:
        return self.schedule_alert(device_uid, raise_at=self.now() - timedelta(seconds=1), **kw)

    def resolve(self, uid: str, at: datetime | None = None) -> None:
        self.timeline.push(at or self.now() - timedelta(seconds=1), "resolve", uid)

    def _advance(self) -> None:
        for at, action, uid in self.timeline.due(self.now()):
            alert = self.alerts[uid]
            if action == "raise" and alert["_state"] == "scheduled":
                alert["_state"] = "open"
            elif action == "resolve" and alert["_state"] in ("open", "scheduled"):
                self._mark_resolved(alert, at, "monitor")

    def _mark_resolved(self, alert: dict[str, Any], at: datetime, by: str) -> None:
        alert["_state"] = "resolved"
        alert["resolved"] = True
        alert["resolvedBy"] = by
        alert["resolvedOn"] = _iso(at)

    def resolves_at(self, uid: str) -> datetime | None:
        """When a scheduled clear of alert ``uid`` will happen (None: not scheduled)."""
        return self.timeline.when("resolve", uid)

    def next_event_at(self) -> datetime | None:
        return self.timeline.next_at()

    def open_count(self) -> int:
        self._advance()
        return sum(1 for a in self.alerts.values() if a["_state"] == "open")

    # -- protocol ---------------------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        if status == 401:
            return {"error": "invalid_token", "error_description": "Access token expired or invalid"}
        return {"message": message, "status": status}

    def check_auth(self, request: httpx.Request) -> None:
        if request.url.path.endswith("/auth/oauth/token"):
            return
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in self.tokens:
            raise HttpError(401)

    @route("POST", "/auth/oauth/token")
    def token(self, request: httpx.Request) -> Any:
        basic = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(b"public-client:public").decode()
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if basic != expected or form.get("grant_type") != "password":
            raise HttpError(401, {"error": "invalid_client", "error_description": "Bad client credentials"})
        if form.get("username") != self.api_key or form.get("password") != self.api_secret:
            raise HttpError(400, {"error": "invalid_grant", "error_description": "Bad credentials"})
        token = secrets.token_hex(16)
        self.tokens.add(token)
        return {"access_token": token, "token_type": "bearer", "expires_in": 359999, "scope": "default"}

    def _page(self, request: httpx.Request, records: list[dict[str, Any]], key: str) -> dict[str, Any]:
        params = request.url.params
        page = int(params.get("page", 0))
        size = min(int(params.get("max", 250)), 250)
        chunk = records[page * size : (page + 1) * size]
        has_next = (page + 1) * size < len(records)
        base = str(request.url.copy_with(query=None))
        return {
            "pageDetails": {
                "count": len(chunk),
                "totalCount": len(records),
                "prevPageUrl": f"{base}?max={size}&page={page - 1}" if page > 0 else None,
                "nextPageUrl": f"{base}?max={size}&page={page + 1}" if has_next else None,
            },
            key: chunk,
        }

    @staticmethod
    def _public(alert: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in alert.items() if not k.startswith("_")}

    def _alerts(self, request: httpx.Request, state: str, site: str | None = None) -> dict[str, Any]:
        self._advance()
        muted = request.url.params.get("muted")
        chosen = [
            self._public(a)
            for a in self.alerts.values()
            if a["_state"] == state
            and (site is None or a["alertSourceInfo"]["siteUid"] == site)
            and (muted is None or a["muted"] == (muted == "true"))
        ]
        return self._page(request, chosen, "alerts")

    @route("GET", "/api/v2/account/alerts/open")
    def open_alerts(self, request: httpx.Request) -> Any:
        return self._alerts(request, "open")

    @route("GET", "/api/v2/account/alerts/resolved")
    def resolved_alerts(self, request: httpx.Request) -> Any:
        return self._alerts(request, "resolved")

    @route("GET", "/api/v2/site/{siteUid}/alerts/open")
    def site_open_alerts(self, request: httpx.Request, siteUid: str) -> Any:  # noqa: N803 - vendor's name
        return self._alerts(request, "open", siteUid)

    @route("GET", "/api/v2/alert/{alertUid}")
    def get_alert(self, request: httpx.Request, alertUid: str) -> Any:  # noqa: N803
        self._advance()
        alert = self.alerts.get(alertUid)
        if alert is None or alert["_state"] == "scheduled":
            raise HttpError(404, {"message": f"Alert {alertUid} not found"})
        return self._public(alert)

    @route("POST", "/api/v2/alert/{alertUid}/resolve")
    def resolve_alert(self, request: httpx.Request, alertUid: str) -> Any:  # noqa: N803
        self._advance()
        alert = self.alerts.get(alertUid)
        if alert is None or alert["_state"] == "scheduled":
            raise HttpError(404, {"message": f"Alert {alertUid} not found"})
        if alert["_state"] == "open":
            self._mark_resolved(alert, self.now(), "api")
            self.resolved_by_api.append(alertUid)
        return httpx.Response(200)

    @route("GET", "/api/v2/account/sites")
    def get_sites(self, request: httpx.Request) -> Any:
        return self._page(request, list(self.sites.values()), "sites")

    @route("GET", "/api/v2/account/devices")
    def get_devices(self, request: httpx.Request) -> Any:
        return self._page(request, list(self.devices.values()), "devices")

    @route("GET", "/api/v2/site/{siteUid}/devices")
    def get_site_devices(self, request: httpx.Request, siteUid: str) -> Any:  # noqa: N803
        if siteUid not in self.sites:
            raise HttpError(404, {"message": f"Site {siteUid} not found"})
        return self._page(request, [d for d in self.devices.values() if d["siteUid"] == siteUid], "devices")

    @route("GET", "/api/v2/device/{deviceUid}")
    def get_device(self, request: httpx.Request, deviceUid: str) -> Any:  # noqa: N803
        device = self.devices.get(deviceUid)
        if device is None:
            raise HttpError(404, {"message": f"Device {deviceUid} not found"})
        return device

    @route("GET", "/api/v2/account")
    def get_account(self, request: httpx.Request) -> Any:
        return {
            "id": 1,
            "uid": self.account_uid,
            "name": "Simulated MSP",
            "currency": "USD",
            "descriptor": {"billingEmail": "billing@msp.example", "deviceLimit": 5000, "timeZone": "UTC"},
            "devicesStatus": {"numberOfDevices": len(self.devices), "numberOfOnlineDevices": len(self.devices)},
        }

    @route("GET", "/api/v2/system/request_rate")
    def request_rate(self, request: httpx.Request) -> Any:
        return {
            "slidingTimeWindowSizeSeconds": 60,
            "accountUid": self.account_uid,
            "accountCount": len(self._window),
            "accountRateLimit": 600,
            "accountCutOffRatio": 0.9,
        }

    @route("GET", "/api/v2/system/pagination")
    def pagination(self, request: httpx.Request) -> Any:
        return {"max": 250}
