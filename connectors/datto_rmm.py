"""Datto RMM (API v2) — alerts, sites and devices; resolve an alert; alert webhooks.

Built against ``shared/specs/datto-rmm.json`` (OpenAPI 3.1, server ``…/api``).

Needs
    ``SWITCHBOARD_DATTO_RMM__BASE_URL``   the platform API host, e.g. ``https://zinfandel-api.centrastage.net``
    ``SWITCHBOARD_DATTO_RMM__API_KEY``    API key of an API user (Setup → Users → API)
    ``SWITCHBOARD_DATTO_RMM__API_SECRET`` its secret key
Auth
    OAuth2 password grant at ``POST {host}/auth/oauth/token`` with HTTP Basic
    ``public-client:public`` (Datto's published client); the token lasts 100 hours. The token URL
    is not in the API document (it lists no security schemes); it is the only undocumented call.
Limits
    600 requests per minute per account (shared Redis bucket); pages of at most 250 records
    (``max``), followed through ``pageDetails.nextPageUrl``.
Incremental alerts
    The API has no "changed since" filter on alerts. The cursor is the set of alert UIDs that were
    open at the last poll: an open alert not in it is a *raise*; a UID that left the open list is
    looked up once (``GET /v2/alert/{uid}``) and becomes a *clear* at its ``resolvedOn``. The
    cursor is bounded by the number of open alerts, not by history.
Fingerprint fields
    client = site UID (Datto has no client above the site), device = device UID, check = the
    alert context's class, refined by its discriminating field (CPU vs MEMORY, disk name,
    event-log source/code, service name). An OFFLINE online/offline context is ``device_offline``.
Severity map
    Critical→critical, High→high, Moderate→moderate, Low→low, Information→info, Unknown→moderate.
Resolve / acknowledge
    ``POST /v2/alert/{uid}/resolve``. There is no acknowledge: the document's ``/mute`` and
    ``/unmute`` are marked deprecated — "Alerts can no longer be muted, as of the 8.9.0 release" —
    so Switchboard does not call them (``muted`` is still read from each alert).
Webhooks
    A monitor's webhook response action; see ``WEBHOOK`` (token in ``X-Switchboard-Token``, the
    per-tenant secret in ``SWITCHBOARD_DATTO_RMM__WEBHOOK_SECRET``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, Field, SecretStr

from connectors.auth import OAuth2TokenAuth, require
from connectors.base import (
    CheckResult,
    VendorModel,
    build_http,
    make_limiter,
    read_records,
    run_check,
    secret_values,
)
from connectors.canonical import AlertEvent, Client, Device, DeviceType, Ref, Severity, Site, utc
from connectors.errors import NotFound
from connectors.http import VendorHttp
from connectors.pagination import NextUrlPaginator, PageRequest, paginate
from connectors.protocols import Pull, Rejected
from connectors.ratelimit import Limit

VENDOR = "datto-rmm"
PAGE_MAX = 250
SITES_FOR_ACCOUNT_LIST = 5
"""New alerts on unknown devices in this many sites: read the account's devices, not each site's."""
LIMIT = Limit(600, 60.0, burst=60)
CREDENTIALS = "SWITCHBOARD_DATTO_RMM__API_KEY / SWITCHBOARD_DATTO_RMM__API_SECRET"

SEVERITY = {
    "Critical": Severity.critical,
    "High": Severity.high,
    "Moderate": Severity.moderate,
    "Low": Severity.low,
    "Information": Severity.info,
    "Unknown": Severity.moderate,
}

# alert context class -> canonical check name (refined by _check_of)
CONTEXT_CHECKS = {
    "online_offline_status_ctx": "device_offline",
    "perf_resource_usage_ctx": "resource",
    "perf_disk_usage_ctx": "disk_usage",
    "eventlog_ctx": "eventlog",
    "srvc_status_ctx": "service",
    "comp_script_ctx": "script",
    "antivirus_ctx": "antivirus",
    "patch_ctx": "patch",
    "ping_ctx": "ping",
    "backup_management_ctx": "backup",
    "fs_object_ctx": "file_system",
    "wmi_ctx": "wmi",
    "snmp_probe_ctx": "snmp",
    "custom_snmp_ctx": "snmp",
    "network_monitor_ctx": "network_monitor",
    "printer_ctx": "printer",
    "disk_health_ctx": "disk_health",
    "ransomware_ctx": "ransomware",
    "endpoint_security_threat_ctx": "security_threat",
}


class DattoRmmSettings(BaseModel):
    base_url: str | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    requests_per_minute: int = 600
    timeout_seconds: float = 30.0
    webhook_secret: SecretStr | None = None
    """The per-tenant token Datto's webhook action sends in ``X-Switchboard-Token``."""


# -- vendor models ----------------------------------------------------------------------------


class DattoAlertSourceInfo(VendorModel):
    device_uid: str = Field(alias="deviceUid")
    device_name: str = Field("", alias="deviceName")
    site_uid: str = Field(alias="siteUid")
    site_name: str = Field("", alias="siteName")


class DattoAlert(VendorModel):
    alert_uid: str = Field(alias="alertUid")
    priority: str = "Unknown"
    diagnostics: str | None = None
    resolved: bool = False
    resolved_on: datetime | None = Field(None, alias="resolvedOn")
    muted: bool = False
    timestamp: datetime
    alert_context: dict[str, Any] = Field(default_factory=dict, alias="alertContext")
    source: DattoAlertSourceInfo = Field(alias="alertSourceInfo")


class DattoDeviceType(VendorModel):
    category: str | None = None
    type: str | None = None


class DattoDevice(VendorModel):
    uid: str
    id: int | None = None
    hostname: str = ""
    site_uid: str | None = Field(None, alias="siteUid")
    site_name: str | None = Field(None, alias="siteName")
    device_type: DattoDeviceType | None = Field(None, alias="deviceType")
    device_class: str | None = Field(None, alias="deviceClass")
    online: bool | None = None


class DattoSite(VendorModel):
    uid: str
    id: int | None = None
    name: str
    autotask_company_id: str | None = Field(None, alias="autotaskCompanyId")
    autotask_company_name: str | None = Field(None, alias="autotaskCompanyName")


# -- mapping (pure) -----------------------------------------------------------------------------


def device_type_of(device: DattoDevice | None) -> DeviceType:
    if device is None:
        return DeviceType.other
    cls = (device.device_class or "").lower()
    category = ((device.device_type.category if device.device_type else None) or "").lower()
    if cls == "printer" or "printer" in category:
        return DeviceType.printer
    if cls == "rmmnetworkdevice" or category in {"network device", "firewall", "router", "switch", "gateway"}:
        return DeviceType.network
    if cls == "esxihost" or "server" in category:
        return DeviceType.server
    if category in {"desktop", "laptop", "workstation"}:
        return DeviceType.workstation
    if category in {"mobile", "tablet", "phone"}:
        return DeviceType.mobile
    return DeviceType.other


def check_of(context: dict[str, Any]) -> str:
    cls = str(context.get("@class", "unknown"))
    base = CONTEXT_CHECKS.get(cls, cls.removesuffix("_ctx"))
    if base == "device_offline":
        return "device_offline" if str(context.get("status", "OFFLINE")).upper() == "OFFLINE" else "device_online"
    if base == "resource" and context.get("type"):
        return str(context["type"]).lower()
    if base == "disk_usage" and context.get("diskName"):
        return f"disk_usage:{context['diskName']}"
    if base == "eventlog" and (context.get("source") or context.get("code")):
        return f"eventlog:{context.get('source', '')}:{context.get('code', '')}"
    if base == "service" and (context.get("serviceName") or context.get("processName")):
        return f"service:{context.get('serviceName') or context.get('processName')}"
    if base == "ping" and context.get("instanceName"):
        return f"ping:{context['instanceName']}"
    return base


def event_of(alert: DattoAlert, kind: str, device: DattoDevice | None, at: datetime | None = None) -> AlertEvent:
    when = at or (alert.resolved_on if kind == "resolved" and alert.resolved_on else alert.timestamp)
    return AlertEvent(
        id=f"{alert.alert_uid}:{kind}",
        alert_id=alert.alert_uid,
        source=VENDOR,
        kind=kind,  # type: ignore[arg-type]
        at=utc(when),
        client=alert.source.site_uid,
        site=alert.source.site_uid,
        device=alert.source.device_uid,
        device_type=device_type_of(device),
        check=check_of(alert.alert_context),
        severity=SEVERITY.get(alert.priority, Severity.moderate),
        message=(alert.diagnostics or "").strip()[:2000],
        muted=alert.muted,
        client_name=alert.source.site_name,
        site_name=alert.source.site_name,
        device_name=alert.source.device_name or (device.hostname if device else ""),
        refs={"alertUid": alert.alert_uid, "siteUid": alert.source.site_uid, "deviceUid": alert.source.device_uid},
    )


def client_of(site: DattoSite) -> Client:
    links = {"autotask": site.autotask_company_id} if site.autotask_company_id else {}
    return Client(ref=Ref(vendor=VENDOR, id=site.uid), name=site.name, links=links)


def site_of(site: DattoSite) -> Site:
    """A Datto site is both the client and its one site (Datto has no client above the site)."""
    ref = Ref(vendor=VENDOR, id=site.uid)
    return Site(ref=ref, name=site.name, client=ref)


def device_of(device: DattoDevice) -> Device:
    site = Ref(vendor=VENDOR, id=device.site_uid) if device.site_uid else None
    return Device(
        ref=Ref(vendor=VENDOR, id=device.uid),
        name=device.hostname,
        device_type=device_type_of(device),
        site=site,
        client=site,
        online=device.online,
    )


# -- client ---------------------------------------------------------------------------------------


class DattoRmm:
    """Datto RMM as an :class:`~connectors.protocols.AlertSource`."""

    vendor = VENDOR

    def __init__(self, http: VendorHttp) -> None:
        self.http = http
        self._devices: dict[str, DattoDevice | None] = {}

    def __repr__(self) -> str:
        return f"DattoRmm({self.http!r})"

    @classmethod
    def from_settings(
        cls,
        settings: DattoRmmSettings,
        *,
        redis: Any = None,
        prefix: str = "switchboard",
        transport: httpx.BaseTransport | None = None,
    ) -> DattoRmm:
        base = require(settings.base_url, "SWITCHBOARD_DATTO_RMM__BASE_URL", VENDOR).rstrip("/")
        key = require(settings.api_key, "SWITCHBOARD_DATTO_RMM__API_KEY", VENDOR)
        require(settings.api_secret, "SWITCHBOARD_DATTO_RMM__API_SECRET", VENDOR)
        assert settings.api_secret is not None and settings.api_key is not None
        auth = OAuth2TokenAuth(
            f"{base}/auth/oauth/token",
            {"grant_type": "password", "username": settings.api_key, "password": settings.api_secret},
            vendor=VENDOR,
            credential_settings=CREDENTIALS,
            client_basic=("public-client", "public"),
        )
        limit = Limit(settings.requests_per_minute, 60.0, burst=max(1, settings.requests_per_minute // 10))
        http = build_http(
            VENDOR,
            base,
            auth=auth,
            limiter=make_limiter(VENDOR, key[:8], limit, redis=redis, prefix=prefix),
            secrets=secret_values(settings.api_key, settings.api_secret),
            credential_settings=CREDENTIALS,
            transport=transport,
            timeout=settings.timeout_seconds,
        )
        return cls(http)

    # -- reads ------------------------------------------------------------------------------------
    def _pages(self, path: str, items_key: str, operation: str, **params: Any) -> Iterator[list[Any]]:
        first = PageRequest("GET", f"/api{path}", {"max": PAGE_MAX, **params})
        for body in paginate(self.http, NextUrlPaginator(first), operation):
            records = body.get(items_key) if isinstance(body, dict) else None
            yield records if isinstance(records, list) else []

    def _device(self, uid: str) -> DattoDevice | None:
        if uid not in self._devices:
            try:
                body = self.http.get_json(f"/api/v2/device/{uid}", operation="getDevice")
                self._devices[uid] = DattoDevice.model_validate(body) if isinstance(body, dict) else None
            except NotFound:
                self._devices[uid] = None
            if len(self._devices) > 20000:
                self._devices.pop(next(iter(self._devices)))
        return self._devices.get(uid)

    def _prefetch_devices(self, raised: list[DattoAlert]) -> None:
        """Read the devices of new alerts in bulk where that saves calls.

        One ``GET /v2/device/{uid}`` per unknown device costs a call each. A site with several
        unknown devices is read whole instead (pages of 250); when unknown devices span many
        sites (a first poll), the account's device list is read once (pages of 250).
        """
        by_site: dict[str, set[str]] = {}
        for alert in raised:
            if alert.source.device_uid not in self._devices:
                by_site.setdefault(alert.source.site_uid, set()).add(alert.source.device_uid)
        busy = sorted(site for site, unknown in by_site.items() if len(unknown) >= 2)
        paths = ["/v2/account/devices"] if len(busy) >= SITES_FOR_ACCOUNT_LIST else [
            f"/v2/site/{site}/devices" for site in busy]
        for path in paths:
            operation = "getUserAccountDevices" if path.startswith("/v2/account") else "getSiteDevices"
            for records in self._pages(path, "devices", operation):
                devices, _ = read_records(DattoDevice, records, f"{VENDOR}:devices")
                self._devices.update((d.uid, d) for d in devices)

    def open_alerts(self) -> tuple[list[DattoAlert], list[Rejected]]:
        alerts: list[DattoAlert] = []
        rejected: list[Rejected] = []
        for records in self._pages("/v2/account/alerts/open", "alerts", "getUserAccountOpenAlerts"):
            ok, bad = read_records(DattoAlert, records, f"{VENDOR}:alerts")
            alerts += ok
            rejected += bad
        return alerts, rejected

    def pull_alert_events(self, cursor: str | None, now: datetime) -> Pull[AlertEvent]:
        before = self.http.stats.requests
        known: dict[str, str] = json.loads(cursor)["open"] if cursor else {}
        alerts, rejected = self.open_alerts()
        self._prefetch_devices([a for a in alerts if a.alert_uid not in known])
        events: list[AlertEvent] = []
        open_now: dict[str, str] = {}
        for alert in alerts:
            open_now[alert.alert_uid] = alert.timestamp.isoformat()
            if alert.alert_uid not in known:
                events.append(event_of(alert, "raised", self._device(alert.source.device_uid)))
        for uid in sorted(set(known) - set(open_now)):
            try:
                body = self.http.get_json(f"/api/v2/alert/{uid}", operation="getAlert")
            except NotFound:
                continue  # deleted with its device; nothing left to clear
            found, bad = read_records(DattoAlert, [body], f"{VENDOR}:alert")
            if bad:
                rejected += bad
                open_now[uid] = known[uid]  # ask again next poll rather than lose the clear
                continue
            alert = found[0]
            if alert.resolved or alert.resolved_on:  # a clear needs no device details: no lookup
                events.append(event_of(alert, "resolved", self._devices.get(alert.source.device_uid)))
            else:
                open_now[uid] = known[uid]
        events.sort(key=lambda e: (e.at, e.kind != "raised"))
        return Pull(events, json.dumps({"open": open_now}), rejected, self.http.stats.requests - before)

    def list_clients(self) -> Iterator[Client]:
        for records in self._pages("/v2/account/sites", "sites", "getSites"):
            sites, _ = read_records(DattoSite, records, f"{VENDOR}:sites")
            yield from (client_of(s) for s in sites)

    def list_sites(self) -> Iterator[Site]:
        for records in self._pages("/v2/account/sites", "sites", "getSites"):
            sites, _ = read_records(DattoSite, records, f"{VENDOR}:sites")
            yield from (site_of(s) for s in sites)

    def list_devices(self) -> Iterator[Device]:
        for records in self._pages("/v2/account/devices", "devices", "getUserAccountDevices"):
            devices, _ = read_records(DattoDevice, records, f"{VENDOR}:devices")
            for d in devices:
                self._devices[d.uid] = d
                yield device_of(d)

    # -- writes -----------------------------------------------------------------------------------
    def resolve_alert(self, alert_id: str) -> None:
        # resolving an alert twice leaves it resolved: safe to retry in-line
        self.http.request("POST", f"/api/v2/alert/{alert_id}/resolve", operation="resolveAlert", idempotent=True)

    # -- check ------------------------------------------------------------------------------------
    def check(self) -> list[CheckResult]:
        def account() -> str:
            body = self.http.get_json("/api/v2/account", operation="getUserAccount")
            return f"account {body.get('name', '?')} ({body.get('uid', '?')})"

        def sites() -> str:
            return f"{sum(1 for _ in self.list_clients())} sites readable"

        def alerts() -> str:
            found, bad = self.open_alerts()
            return f"{len(found)} open alerts readable" + (f", {len(bad)} malformed" if bad else "")

        def rate() -> str:
            body = self.http.get_json("/api/v2/system/request_rate", operation="getRequestRate")
            return f"{body.get('accountCount', '?')}/{body.get('accountRateLimit', '?')} requests used in window"

        return [run_check(n, f) for n, f in (("account", account), ("sites", sites), ("alerts", alerts), ("rate", rate))]


# -- vendor-native records and webhooks ---------------------------------------------------------------


def native_events(record: dict[str, Any], device: DattoDevice | None = None) -> list[AlertEvent]:
    """Canonical events of one vendor-native alert record (as the API returns it).

    An open alert is one raise; a resolved one is its raise and its clear. Used by
    ``switchboard replay --source datto-rmm`` and by the webhook receiver. Raises
    ``pydantic.ValidationError`` for a record that does not fit (the caller quarantines it).
    """
    alert = DattoAlert.model_validate(record)
    events = [event_of(alert, "raised", device)]
    if alert.resolved or alert.resolved_on:
        events.append(event_of(alert, "resolved", device))
    return events


class _DattoWebhook:
    """Datto RMM alert webhooks (a monitor's "webhook" response action).

    Datto does not sign webhook calls: the MSP sets a per-tenant secret in the action's custom
    header ``X-Switchboard-Token`` (compared in constant time). The body is the JSON template given
    in ``docs/webhooks.md`` — Datto substitutes its alert variables into an ``Alert``-shaped
    object (``alertUid``, ``priority``, ``timestamp``, ``alertContext``, ``alertSourceInfo``…),
    plus ``"resolved": true`` on the resolution webhook.
    """

    vendor = VENDOR
    token_header = "X-Switchboard-Token"

    def verify(self, headers: Any, body: bytes, secret: str, now: float) -> None:
        from connectors.webhooks import header, verify_token

        verify_token(header(headers, self.token_header), secret)

    def parse(self, headers: Any, body: bytes) -> Any:
        from pydantic import ValidationError

        from connectors.webhooks import WebhookDelivery, WebhookRejected, json_body

        data = json_body(body)
        try:
            events = native_events(data)
        except ValidationError as exc:
            raise WebhookRejected("malformed", f"not a Datto RMM alert: {exc.errors()[0]['msg']}") from None
        return WebhookDelivery(VENDOR, "alerts", events=events, delivery_id=f"{events[-1].id}")


WEBHOOK = _DattoWebhook()
