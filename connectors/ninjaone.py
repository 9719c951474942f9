"""NinjaOne (Public API 2.0) — alerts, devices, organisations and locations; reset an alert;
activity webhooks.

Built against ``shared/specs/ninjaone.yaml`` (OpenAPI 3.0.1, ``2.0.9-draft``, no ``servers``).

Needs
    ``SWITCHBOARD_NINJAONE__BASE_URL``       the tenant's regional host: ``https://app.ninjarmm.com``
        (US), ``https://us2.ninjarmm.com``, ``https://ca.ninjarmm.com``, ``https://eu.ninjarmm.com``,
        ``https://oc.ninjarmm.com``
    ``SWITCHBOARD_NINJAONE__CLIENT_ID``      an API application (Administration → Apps → API) with
        the *Client Credentials* grant and the Monitoring + Management scopes
    ``SWITCHBOARD_NINJAONE__CLIENT_SECRET``  its secret
Auth
    OAuth2 client-credentials at ``POST {host}/ws/oauth/token`` (scope ``monitoring management``);
    the bearer token is fetched again once when the API answers 401. The document only says
    "http bearer": the token URL is its one undocumented call.
Limits
    NinjaOne answers 429 with ``Retry-After`` past a per-tenant budget it does not publish; the
    shared bucket defaults to 300 requests/minute. Lists page by ``pageSize`` + ``after`` (the last
    id of the previous page) at 1000; activities at ``pageSize`` 1000, the document's maximum.
Incremental alerts — the activity log is NinjaOne's change marker
    ``/v2/alerts`` lists *active* alerts only, with no change filter: a reset alert just vanishes.
    Every condition that triggers or resets records a ``CONDITION`` activity (``TRIGGERED`` /
    ``RESET``, ``seriesUid`` = the alert uid) with an ever-increasing id. A poll asks for device
    activities ``newerThan`` the cursor and keeps those (one call when nothing changed; no ``type``
    filter is relied on, the document does not define its values), and reads ``/v2/alerts``
    once only when something triggered, for the alert's details. The cursor's floor moves only
    past activities older than ``LAG`` (a late-committed activity, whose id is below ids already
    seen, is still read; the ids above the floor are kept so none is delivered twice), and it
    keeps each open alert's identity (a reset maps to the same client/device/check with no
    call). The document's descriptions of ``olderThan``/``newerThan`` read swapped
    (``shared/specs/SOURCES.md``); they are used by their names, as the API behaves:
    ``newerThan=X`` → ids above X, ``olderThan=X`` → ids below X. The first poll reads the newest
    TRIGGERED activities (their ``lastActivityId`` is the floor), then ``/v2/alerts``: every active
    alert is a raise, with its trigger's severity (older trigger pages are read only as needed).
Fingerprint fields
    client = organization id, site = location id, device = device id, check = the condition code
    (``data.message.code``, e.g. ``vmm_cond_memory_usage_ge`` → ``memory``) when it names a
    canonical check, else the alert's ``sourceType``, else what earlier alerts of the same policy
    condition (``sourceConfigUid``) mapped to, else ``condition:<sourceName>``.
Severity map
    CRITICAL→critical, MAJOR→high, MODERATE→moderate, MINOR→low, NONE→info (the activity's
    severity). The document gives alerts themselves no severity: an active alert whose trigger is
    no longer in the log is ``high`` for device_offline, else ``moderate`` (unless the record
    carries one).
Muted
    The device is in maintenance (``maintenance.status`` ``IN_MAINTENANCE``).
Webhooks
    ``configure_webhook`` (``PUT /v2/webhook``): CONDITION TRIGGERED/RESET activities, ``expand``
    device, custom header ``X-Switchboard-Token: <per-tenant secret>`` (NinjaOne does not sign
    its calls). The body is an Activity with the expanded device. When it lacks the device or its
    condition code does not name a check, the delivery carries only the alert uid and the
    receiver polls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

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
from connectors.errors import NotFound, PaginationLoop
from connectors.http import VendorHttp
from connectors.pagination import PageRequest, paginate
from connectors.protocols import Pull, Rejected
from connectors.ratelimit import Limit
from connectors.rmm import TOKEN_HEADER, TokenWebhook, first_text, from_epoch, refine, slug

VENDOR = "ninjaone"
PAGE_SIZE = 1000
ACTIVITY_PAGE_MAX = 1000
LAG = timedelta(seconds=120)
FIRST_POLL_PAGES = 10
CREDENTIALS = "SWITCHBOARD_NINJAONE__CLIENT_ID / SWITCHBOARD_NINJAONE__CLIENT_SECRET"
REGIONS = {
    "us": "https://app.ninjarmm.com",
    "us2": "https://us2.ninjarmm.com",
    "ca": "https://ca.ninjarmm.com",
    "eu": "https://eu.ninjarmm.com",
    "oc": "https://oc.ninjarmm.com",
}

SEVERITY = {
    "CRITICAL": Severity.critical,
    "MAJOR": Severity.high,
    "MODERATE": Severity.moderate,
    "MINOR": Severity.low,
    "NONE": Severity.info,
}

# sourceType -> canonical check (the alert's origin, as /v2/alerts reports it)
SOURCE_CHECKS: dict[str, str] = {
    "AGENT_OFFLINE": "device_offline",
    "CONDITION_AGENT_CPU": "cpu",
    "CONDITION_NMS_CPU": "cpu",
    "CONDITION_VM_AGGREGATE_CPU_USAGE": "cpu",
    "CONDITION_AGENT_MEMORY": "memory",
    "CONDITION_NMS_MEMORY": "memory",
    "CONDITION_AGENT_DISK_FREE_SPACE": "disk_usage",
    "CONDITION_AGENT_DISK_USAGE": "disk_usage",
    "CONDITION_LINUX_DISK_FREE_SPACE": "disk_usage",
    "CONDITION_LINUX_DISK_USAGE": "disk_usage",
    "CONDITION_VM_DISK_USAGE": "disk_usage",
    "CONDITION_AGENT_DISK_IO": "disk_io",
    "CONDITION_SMART_STATUS_DEGRATED": "disk_health",
    "CONDITION_RAID_HEALTH_STATUS": "raid_health",
    "CONDITION_WINDOWS_SERVICE_STATE_CHANGED": "service",
    "CONDITION_LINUX_Daemon": "service",
    "CONDITION_MAC_DEAMON": "service",
    "CONDITION_WINDOWS_EVENT_LOG_TRIGGERED": "eventlog",
    "CONDITION_CRITICAL_EVENT": "eventlog",
    "CONDITION_PING": "ping",
    "CONDITION_PING_LATENCY": "ping",
    "CONDITION_PING_PACKET_LOSS": "ping",
    "CONDITION_PING_RESPONSE": "ping",
    "CONDITION_AGENT_PATCH_LAST_INSTALLED": "patch",
    "CONDITION_PENDING_REBOOT": "reboot_pending",
    "CONDITION_SCRIPT_RESULT": "script",
    "CONDITION_SOFTWARE": "software",
    "CONDITION_SYSTEM_UPTIME": "uptime",
    "CONDITION_NMS_SYSTEM_UPTIME": "uptime",
    "CONDITION_HTTP": "http",
    "CONDITION_HTTP_RESPONSE": "http",
    "CONDITION_PORT": "port",
    "CONDITION_PORT_SCAN": "port",
    "CONDITION_BITLOCKER_STATUS": "encryption",
    "CONDITION_FILEVAULT_STATUS": "encryption",
    "CONDITION_WINDOWS_PROCESS_STATE": "process",
    "CONDITION_MAC_PROCESS_STATE": "process",
    "CONDITION_LINUX_PROCESS": "process",
}
_SOURCE_PREFIXES = (("AV_", "antivirus"), ("BITDEFENDER_", "antivirus"), ("SHADOWPROTECT_", "backup"),
                    ("IMAGEMANAGER_", "backup"))

# condition code (data.message.code) keywords -> canonical check; first match wins
CODE_CHECKS: tuple[tuple[str, str], ...] = (
    (r"offline|not_responding|agent_down|device_down", "device_offline"),
    (r"printer|toner", "printer"),
    (r"disk_io", "disk_io"),
    (r"smart", "disk_health"),
    (r"raid", "raid_health"),
    (r"disk|free_space|volume", "disk_usage"),
    (r"memory|\bram\b", "memory"),
    (r"cpu", "cpu"),
    (r"service|daemon", "service"),
    (r"event", "eventlog"),
    (r"ping|packet_loss|latency", "ping"),
    (r"patch", "patch"),
    (r"reboot", "reboot_pending"),
    (r"script", "script"),
    (r"antivirus|threat|(^|_)av(_|$)", "antivirus"),
    (r"backup", "backup"),
    (r"process", "process"),
    (r"software", "software"),
    (r"uptime", "uptime"),
    (r"http", "http"),
    (r"port", "port"),
    (r"bitlocker|filevault", "encryption"),
)
_DETAIL_KEYS: dict[str, tuple[str, ...]] = {
    "disk_usage": ("target", "driveLetter", "diskName", "volume", "volumeName", "mountPoint"),
    "service": ("target", "serviceName", "service", "displayName", "daemon"),
    "process": ("target", "processName", "process"),
    "ping": ("target", "host", "address"),
}

DEVICE_TYPES: dict[str, DeviceType] = {
    **dict.fromkeys(("WINDOWS_SERVER", "LINUX_SERVER", "MAC_SERVER", "NMS_SERVER", "VMWARE_VM_HOST",
                     "HYPERV_VMM_HOST", "NMS_VM_HOST"), DeviceType.server),
    **dict.fromkeys(("WINDOWS_WORKSTATION", "LINUX_WORKSTATION", "MAC", "NMS_COMPUTER"), DeviceType.workstation),
    **dict.fromkeys(("VMWARE_VM_GUEST", "HYPERV_VMM_GUEST", "NMS_VIRTUAL_MACHINE"), DeviceType.virtual),
    **dict.fromkeys(("NMS_SWITCH", "NMS_ROUTER", "NMS_FIREWALL", "NMS_PRIVATE_NETWORK_GATEWAY", "NMS_WAP",
                     "NMS_IPSLA", "NMS_APPLIANCE", "NMS_DIAL_MANAGER", "NMS_NETWORK_MANAGEMENT_AGENT"),
                    DeviceType.network),
    **dict.fromkeys(("NMS_PRINTER", "NMS_SCANNER"), DeviceType.printer),
    **dict.fromkeys(("ANDROID", "APPLE_IOS", "APPLE_IPADOS", "NMS_PHONE"), DeviceType.mobile),
}


class NinjaOneSettings(BaseModel):
    base_url: str | None = None
    """Regional host (``https://eu.ninjarmm.com``) or a region key: us, us2, ca, eu, oc."""
    client_id: str | None = None
    client_secret: SecretStr | None = None
    scope: str = "monitoring management"
    requests_per_minute: int = 300
    timeout_seconds: float = 30.0
    webhook_secret: SecretStr | None = None
    """The per-tenant token NinjaOne sends in ``X-Switchboard-Token`` (``configure_webhook``)."""


# -- vendor models ----------------------------------------------------------------------------------


class NinjaNamed(VendorModel):
    id: int | None = None
    name: str = ""


class NinjaReferences(VendorModel):
    organization: NinjaNamed | None = None
    location: NinjaNamed | None = None


class NinjaMaintenance(VendorModel):
    status: str | None = None


class NinjaDevice(VendorModel):
    id: int
    organization_id: int = Field(alias="organizationId")
    location_id: int | None = Field(None, alias="locationId")
    node_class: str | None = Field(None, alias="nodeClass")
    display_name: str | None = Field(None, alias="displayName")
    system_name: str | None = Field(None, alias="systemName")
    dns_name: str | None = Field(None, alias="dnsName")
    offline: bool | None = None
    maintenance: NinjaMaintenance | None = None
    references: NinjaReferences | None = None

    @property
    def name(self) -> str:
        return self.display_name or self.system_name or self.dns_name or str(self.id)


class NinjaAlert(VendorModel):
    uid: str
    device_id: int = Field(alias="deviceId")
    message: str | None = ""
    subject: str | None = ""
    create_time: float = Field(alias="createTime")
    source_type: str | None = Field(None, alias="sourceType")
    source_config_uid: str | None = Field(None, alias="sourceConfigUid")
    source_name: str | None = Field(None, alias="sourceName")
    data: dict[str, Any] = Field(default_factory=dict)
    device: NinjaDevice | None = None
    severity: str | None = None
    """Not in the document's Alert; read when a tenant's API sends it."""


class NinjaActivity(VendorModel):
    id: int
    activity_time: float = Field(alias="activityTime")
    device_id: int | None = Field(None, alias="deviceId")
    severity: str | None = None
    series_uid: str | None = Field(None, alias="seriesUid")
    activity_type: str | None = Field(None, alias="activityType")
    status_code: str | None = Field(None, alias="statusCode")
    source_config_uid: str | None = Field(None, alias="sourceConfigUid")
    source_name: str | None = Field(None, alias="sourceName")
    subject: str | None = ""
    message: str | None = ""
    data: dict[str, Any] = Field(default_factory=dict)
    device: NinjaDevice | None = None
    """Present in webhook bodies when the webhook expands ``device``."""

    @property
    def is_alert_change(self) -> bool:
        return self.activity_type == "CONDITION" and self.status_code in ("TRIGGERED", "RESET") and bool(
            self.series_uid
        )


class NinjaLocation(VendorModel):
    id: int
    name: str
    organization_id: int | None = Field(None, alias="organizationId")


# -- mapping (pure) -----------------------------------------------------------------------------------


def device_type_of(device: NinjaDevice | None) -> DeviceType:
    return DEVICE_TYPES.get((device.node_class if device else None) or "", DeviceType.other)


def _code(data: dict[str, Any]) -> str:
    message = data.get("message")
    return str(message.get("code") or "") if isinstance(message, dict) else ""


def _detail(base: str, data: dict[str, Any], text: str) -> str | None:
    """What tells two checks of one kind apart on one device (the volume, the service…)."""
    keys = _DETAIL_KEYS.get(base)
    if keys:
        found = first_text(data, keys, skip=lambda v: v.startswith("_"))  # "_average_", "_all_"
        if found:
            return found
        if base == "disk_usage":
            drive = re.search(r"\b([A-Z]:)", text)
            return drive.group(1) if drive else None
    if base == "eventlog":
        source = first_text(data, ("source", "eventSource", "provider"))
        code = first_text(data, ("eventId", "event_id", "id"))
        return f"{source}:{code}" if source and code else None
    return None


def check_from_code(data: dict[str, Any], text: str = "") -> str | None:
    """The canonical check named by a condition code, or None when the code names none."""
    code = _code(data).lower()
    if not code:
        return None
    for pattern, base in CODE_CHECKS:
        if re.search(pattern, code):
            return refine(base, _detail(base, data, text))
    return None


def check_from_source(source_type: str | None, data: dict[str, Any], text: str = "") -> str | None:
    if not source_type:
        return None
    base = SOURCE_CHECKS.get(source_type)
    if base is None:
        base = next((c for prefix, c in _SOURCE_PREFIXES if source_type.startswith(prefix)), None)
    if base is None:
        base = source_type.removeprefix("CONDITION_").lower()
    return refine(base, _detail(base, data, text))


def check_of(
    *, data: dict[str, Any], source_type: str | None = None, source_name: str | None = None, text: str = "",
    learned: str | None = None,
) -> str:
    """Canonical check: condition code, else sourceType, else a learned mapping, else the name."""
    return (
        check_from_code(data, text)
        or check_from_source(source_type, data, text)
        or learned
        or f"condition:{slug(source_name or 'unknown')}"
    )


@dataclass(frozen=True)
class Identity:
    """Who an alert is about: enough to map its reset without another call."""

    client: str
    site: str
    device: str
    check: str
    client_name: str = ""
    site_name: str = ""
    device_name: str = ""
    device_type: str = DeviceType.other.value
    muted: bool = False

    def dumps(self) -> list[str]:
        return [self.client, self.site, self.device, self.check]

    @classmethod
    def loads(cls, row: list[str]) -> Identity:
        return cls(row[0], row[1], row[2], row[3])


def identity_of(device: NinjaDevice, check: str) -> Identity:
    refs = device.references or NinjaReferences()
    return Identity(
        client=str(device.organization_id),
        site=str(device.location_id) if device.location_id is not None else "",
        device=str(device.id),
        check=check,
        client_name=refs.organization.name if refs.organization else "",
        site_name=refs.location.name if refs.location else "",
        device_name=device.name,
        device_type=device_type_of(device).value,
        muted=bool(device.maintenance and device.maintenance.status == "IN_MAINTENANCE"),
    )


def event_of(
    uid: str, kind: str, at: datetime, who: Identity, *, severity: Severity, message: str, refs: dict[str, str]
) -> AlertEvent:
    return AlertEvent(
        id=f"{uid}:{kind}",
        alert_id=uid,
        source=VENDOR,
        kind=kind,  # type: ignore[arg-type]
        at=at,
        client=who.client,
        site=who.site,
        device=who.device,
        device_type=who.device_type,  # type: ignore[arg-type]
        check=who.check,
        severity=severity,
        message=message.strip()[:2000],
        muted=who.muted,
        client_name=who.client_name,
        site_name=who.site_name,
        device_name=who.device_name,
        refs=refs,
    )


def _default_severity(check: str) -> Severity:
    return Severity.high if check == "device_offline" else Severity.moderate


def alert_event(alert: NinjaAlert, device: NinjaDevice, activity: NinjaActivity | None = None) -> AlertEvent:
    """The raise of an active alert (``/v2/alerts``), with its TRIGGERED activity when known."""
    text = f"{alert.subject or ''} {alert.message or ''}"
    who = identity_of(device, check_of(data=alert.data, source_type=alert.source_type,
                                       source_name=alert.source_name, text=text))
    sev = (activity.severity if activity else None) or alert.severity
    return event_of(
        alert.uid, "raised", from_epoch(activity.activity_time if activity else alert.create_time), who,
        severity=SEVERITY.get(sev or "", _default_severity(who.check)),
        message=alert.message or alert.subject or "",
        refs={"alertUid": alert.uid, "deviceId": str(alert.device_id), "sourceType": alert.source_type or ""},
    )


def activity_event(activity: NinjaActivity, who: Identity) -> AlertEvent:
    kind = "raised" if activity.status_code == "TRIGGERED" else "resolved"
    assert activity.series_uid is not None
    return event_of(
        activity.series_uid, kind, from_epoch(activity.activity_time), who,
        severity=SEVERITY.get(activity.severity or "", _default_severity(who.check)),
        message=activity.message or activity.subject or "",
        refs={"alertUid": activity.series_uid, "activityId": str(activity.id),
              "deviceId": str(activity.device_id or who.device)},
    )


def client_of(org: NinjaNamed) -> Client:
    return Client(ref=Ref(vendor=VENDOR, id=str(org.id)), name=org.name)


def site_of(location: NinjaLocation) -> Site:
    org = Ref(vendor=VENDOR, id=str(location.organization_id)) if location.organization_id is not None else None
    return Site(ref=Ref(vendor=VENDOR, id=str(location.id)), name=location.name, client=org)


def device_of(device: NinjaDevice) -> Device:
    return Device(
        ref=Ref(vendor=VENDOR, id=str(device.id)),
        name=device.name,
        device_type=device_type_of(device),
        site=Ref(vendor=VENDOR, id=str(device.location_id)) if device.location_id is not None else None,
        client=Ref(vendor=VENDOR, id=str(device.organization_id)),
        online=None if device.offline is None else not device.offline,
    )


# -- cursor ---------------------------------------------------------------------------------------------


@dataclass
class ActivityCursor:
    """Where the activity log was read up to, the open alerts, and learned conditions.

    ``floor``: every activity at or below this id has been read. ``seen``: ids above the floor
    already delivered, with their times. The floor only moves past activities older than
    ``LAG``, so one committed late (its id below ids already seen) is still read; ``seen``
    keeps it from being delivered twice.
    """

    floor: int | None = None
    seen: dict[int, float] = field(default_factory=dict)
    open: dict[str, list[str]] = field(default_factory=dict)
    conditions: dict[str, str] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    """Active alerts whose record could not be read (quarantined): read again every poll."""

    def dumps(self) -> str:
        return json.dumps({"floor": self.floor, "seen": {str(k): v for k, v in self.seen.items()},
                           "open": self.open, "conditions": self.conditions, "pending": self.pending},
                          sort_keys=True)

    @classmethod
    def loads(cls, text: str | None) -> ActivityCursor:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(data.get("floor"), {int(k): float(v) for k, v in data.get("seen", {}).items()},
                   dict(data.get("open", {})), dict(data.get("conditions", {})), list(data.get("pending", [])))

    def advance(self, found: list[NinjaActivity], now: datetime) -> None:
        self.seen.update({a.id: a.activity_time for a in found})
        horizon = (utc(now) - LAG).timestamp()
        settled = [i for i, t in self.seen.items() if t < horizon]
        if settled:
            self.floor = max(self.floor or 0, *settled)
        self.seen = {i: t for i, t in self.seen.items() if i > (self.floor or 0)}

    def learn(self, condition: str | None, check: str) -> None:
        if condition and not check.startswith("condition:"):
            self.conditions[condition] = check
            while len(self.conditions) > 5000:
                self.conditions.pop(next(iter(self.conditions)))


# -- client ---------------------------------------------------------------------------------------------


@dataclass
class _AfterIdPaginator:
    """``pageSize`` + ``after`` (the last id of the previous page); stops on a short page."""

    first: PageRequest
    page_size: int
    _seen: set[int] = field(default_factory=set)

    def next(self, body: Any) -> PageRequest | None:
        if not isinstance(body, list) or len(body) < self.page_size:
            return None
        last = body[-1].get("id") if isinstance(body[-1], dict) else None
        if not isinstance(last, int):
            return None
        if last in self._seen:
            raise PaginationLoop(f"after={last} repeated", vendor=VENDOR)
        self._seen.add(last)
        return PageRequest("GET", self.first.url, {**(self.first.params or {}), "after": last})


@dataclass
class _ActivityPaginator:
    """Newest first, ``pageSize`` at a time; the next page is ``olderThan`` the oldest id seen."""

    first: PageRequest
    _seen: set[int] = field(default_factory=set)

    def next(self, body: Any) -> PageRequest | None:
        items = body.get("activities") if isinstance(body, dict) else None
        if not isinstance(items, list) or len(items) < ACTIVITY_PAGE_MAX:
            return None
        ids = [a["id"] for a in items if isinstance(a, dict) and isinstance(a.get("id"), int)]
        if not ids:
            return None
        oldest = min(ids)
        if oldest in self._seen:
            raise PaginationLoop(f"olderThan={oldest} repeated", vendor=VENDOR)
        self._seen.add(oldest)
        return PageRequest("GET", self.first.url, {**(self.first.params or {}), "olderThan": oldest})


class NinjaOne:
    """NinjaOne as an :class:`~connectors.protocols.AlertSource`."""

    vendor = VENDOR

    def __init__(self, http: VendorHttp) -> None:
        self.http = http
        self._devices: dict[int, NinjaDevice | None] = {}

    def __repr__(self) -> str:
        return f"NinjaOne({self.http!r})"

    @classmethod
    def from_settings(
        cls,
        settings: NinjaOneSettings,
        *,
        redis: Any = None,
        prefix: str = "switchboard",
        transport: httpx.BaseTransport | None = None,
    ) -> NinjaOne:
        base = require(settings.base_url, "SWITCHBOARD_NINJAONE__BASE_URL", VENDOR)
        base = REGIONS.get(base.lower(), base).rstrip("/")
        client_id = require(settings.client_id, "SWITCHBOARD_NINJAONE__CLIENT_ID", VENDOR)
        require(settings.client_secret, "SWITCHBOARD_NINJAONE__CLIENT_SECRET", VENDOR)
        assert settings.client_secret is not None
        auth = OAuth2TokenAuth(
            f"{base}/ws/oauth/token",
            {"grant_type": "client_credentials", "client_id": client_id, "client_secret": settings.client_secret,
             "scope": settings.scope},
            vendor=VENDOR,
            credential_settings=CREDENTIALS,
        )
        limit = Limit(settings.requests_per_minute, 60.0, burst=max(1, settings.requests_per_minute // 10))
        http = build_http(
            VENDOR, base, auth=auth,
            limiter=make_limiter(VENDOR, client_id[:12], limit, redis=redis, prefix=prefix),
            secrets=secret_values(settings.client_secret), credential_settings=CREDENTIALS,
            transport=transport, timeout=settings.timeout_seconds,
        )
        return cls(http)

    # -- reads ------------------------------------------------------------------------------------------
    def _list(self, path: str, operation: str, **params: Any) -> Iterator[list[Any]]:
        first = PageRequest("GET", path, {"pageSize": PAGE_SIZE, **params})
        for body in paginate(self.http, cast(Any, _AfterIdPaginator(first, PAGE_SIZE)), operation):
            yield body if isinstance(body, list) else []

    def open_alerts(self) -> tuple[list[NinjaAlert], list[Rejected]]:
        """Every active alert (``/v2/alerts`` is not paged)."""
        body = self.http.get_json("/v2/alerts", operation="getAlerts")
        return read_records(NinjaAlert, body, f"{VENDOR}:alerts")

    def activities(self, newer_than: int) -> tuple[list[NinjaActivity], list[Rejected]]:
        """Device activities above ``newer_than``, oldest first (the caller keeps the condition changes).

        No ``type`` filter is sent: the document does not say which values it takes (the
        activity's ``activityType`` code or its ``type`` description), and a wrong guess would
        silently return nothing.
        """
        first = PageRequest("GET", "/v2/activities", {"class": "DEVICE", "newerThan": newer_than,
                                                       "pageSize": ACTIVITY_PAGE_MAX})
        found: list[NinjaActivity] = []
        rejected: list[Rejected] = []
        for body in paginate(self.http, cast(Any, _ActivityPaginator(first)), "getActivities"):
            items = body.get("activities") if isinstance(body, dict) else body
            ok, bad = read_records(NinjaActivity, items, f"{VENDOR}:activities")
            found += ok
            rejected += bad
        unique = {a.id: a for a in found if a.id > newer_than}
        return sorted(unique.values(), key=lambda a: a.id), rejected

    def last_activity_id(self) -> int:
        body = self.http.get_json("/v2/activities", params={"class": "DEVICE", "pageSize": 10},
                                  operation="getActivities")
        if isinstance(body, dict) and isinstance(body.get("lastActivityId"), int):
            return int(body["lastActivityId"])
        ids = [a.get("id") for a in (body or {}).get("activities", []) if isinstance(a, dict)]
        return max((i for i in ids if isinstance(i, int)), default=0)

    def device(self, device_id: int) -> NinjaDevice | None:
        if device_id not in self._devices:
            try:
                body = self.http.get_json(f"/v2/device/{device_id}", operation="getDevice")
                found, _ = read_records(NinjaDevice, [body], f"{VENDOR}:device")
                self._devices[device_id] = found[0] if found else None
            except NotFound:
                self._devices[device_id] = None
            if len(self._devices) > 20000:
                self._devices.pop(next(iter(self._devices)))
        return self._devices[device_id]

    def pull_alert_events(self, cursor: str | None, now: datetime) -> Pull[AlertEvent]:
        before = self.http.stats.requests
        cur = ActivityCursor.loads(cursor)
        if cur.floor is None:
            events, rejected = self._first_pull(cur)
        else:
            events, rejected = self._changes(cur, now)
        events.sort(key=lambda e: (e.at, e.kind != "raised"))
        return Pull(events, cur.dumps(), rejected, self.http.stats.requests - before)

    def _first_pull(self, cur: ActivityCursor) -> tuple[list[AlertEvent], list[Rejected]]:
        """Every active alert is a raise; its severity comes from its TRIGGERED activity.

        The newest trigger page is read *before* the alerts (its ``lastActivityId`` is the floor:
        a trigger in between is read again next poll, not lost), then older pages only while an
        active alert still lacks its trigger and the pages have not gone past the oldest alert
        (at most ``FIRST_POLL_PAGES``).
        """
        params = {"class": "DEVICE", "status": "TRIGGERED", "pageSize": ACTIVITY_PAGE_MAX}
        body = self.http.get_json("/v2/activities", params=params, operation="getActivities")
        cur.floor = int(body.get("lastActivityId") or 0) if isinstance(body, dict) else 0
        rejected: list[Rejected] = []
        alerts = list(self._read_active(cur, rejected).values())
        triggers: dict[str, NinjaActivity] = {}
        oldest = min((a.create_time for a in alerts), default=0.0)
        pages = 1
        while True:
            items, bad = read_records(NinjaActivity, body.get("activities") if isinstance(body, dict) else None,
                                      f"{VENDOR}:activities")
            rejected += bad
            for act in items:  # newest first: the first trigger met is the alert's current one
                if act.status_code == "TRIGGERED" and act.series_uid and act.series_uid not in triggers:
                    triggers[act.series_uid] = act
            missing = any(a.uid not in triggers for a in alerts)
            if not (missing and items and len(items) >= ACTIVITY_PAGE_MAX and pages < FIRST_POLL_PAGES
                    and min(a.activity_time for a in items) >= oldest):
                break
            body = self.http.get_json("/v2/activities", params={**params, "olderThan": min(a.id for a in items)},
                                      operation="getActivities")
            pages += 1
        events = []
        for alert in alerts:
            event = self._alert_event(alert, triggers.get(alert.uid), cur, rejected)
            if event is not None:
                events.append(event)
        return events, rejected

    def _read_active(self, cur: ActivityCursor, rejected: list[Rejected]) -> dict[str, NinjaAlert]:
        """The active alerts; those that cannot be read are remembered and read again next poll."""
        alerts, bad = self.open_alerts()
        rejected += bad
        cur.pending = sorted({str(r.payload["uid"]) for r in bad if isinstance(r.payload, dict) and r.payload.get("uid")})
        return {a.uid: a for a in alerts}

    def _alert_event(
        self, alert: NinjaAlert, activity: NinjaActivity | None, cur: ActivityCursor, rejected: list[Rejected]
    ) -> AlertEvent | None:
        device = alert.device or self.device(alert.device_id)
        if device is None:
            cur.pending = sorted({*cur.pending, alert.uid})
            rejected.append(Rejected(f"{VENDOR}:alerts", f"alert {alert.uid}: device {alert.device_id} not found",
                                     alert.model_dump(mode="json", by_alias=True)))
            return None
        event = alert_event(alert, device, activity)
        cur.open[alert.uid] = identity_of(device, event.check).dumps()
        cur.learn(alert.source_config_uid, event.check)
        return event

    def _changes(self, cur: ActivityCursor, now: datetime) -> tuple[list[AlertEvent], list[Rejected]]:
        assert cur.floor is not None
        found, rejected = self.activities(cur.floor)
        fresh = [a for a in found if a.id not in cur.seen]
        changes = [a for a in fresh if a.is_alert_change]
        retry = set(cur.pending)
        active: dict[str, NinjaAlert] = {}
        if retry or any(a.status_code == "TRIGGERED" and a.series_uid not in cur.open for a in changes):
            active = self._read_active(cur, rejected)
        events: list[AlertEvent] = []
        for act in changes:
            uid = act.series_uid
            assert uid is not None
            if act.status_code == "TRIGGERED":
                if uid in cur.pending:
                    continue  # its record is quarantined; tried again next poll
                if uid in cur.open and uid not in active:  # triggered again while open: a repeat
                    event: AlertEvent | None = activity_event(act, Identity.loads(cur.open[uid]))
                elif uid in active:
                    event = self._alert_event(active[uid], act, cur, rejected)
                else:  # reset again before this poll: the activity is all there is
                    event = self._activity_raise(act, cur, rejected)
                if event is not None:
                    events.append(event)
            elif uid in cur.open:
                who = Identity.loads(cur.open.pop(uid))
                events.append(activity_event(act, who))
        for uid in sorted(retry - set(cur.pending) - set(cur.open)):
            if uid in active:  # readable now
                event = self._alert_event(active[uid], None, cur, rejected)
                if event is not None:
                    events.append(event)
        cur.advance(found, now)
        return events, rejected

    def _activity_raise(
        self, act: NinjaActivity, cur: ActivityCursor, rejected: list[Rejected]
    ) -> AlertEvent | None:
        device = act.device or (self.device(act.device_id) if act.device_id is not None else None)
        if device is None:
            rejected.append(Rejected(f"{VENDOR}:activities", f"activity {act.id}: device {act.device_id} not found",
                                     act.model_dump(mode="json", by_alias=True)))
            return None
        check = check_of(data=act.data, source_name=act.source_name, text=f"{act.subject} {act.message}",
                         learned=cur.conditions.get(act.source_config_uid or ""))
        who = identity_of(device, check)
        assert act.series_uid is not None
        cur.open[act.series_uid] = who.dumps()
        return activity_event(act, who)

    def list_clients(self) -> Iterator[Client]:
        for records in self._list("/v2/organizations", "getOrganizations"):
            orgs, _ = read_records(NinjaNamed, records, f"{VENDOR}:organizations")
            yield from (client_of(o) for o in orgs if o.id is not None)

    def list_sites(self) -> Iterator[Site]:
        for records in self._list("/v2/locations", "getLocations"):
            locations, _ = read_records(NinjaLocation, records, f"{VENDOR}:locations")
            yield from (site_of(loc) for loc in locations)

    def list_devices(self) -> Iterator[Device]:
        for records in self._list("/v2/devices", "getDevices"):
            devices, _ = read_records(NinjaDevice, records, f"{VENDOR}:devices")
            for d in devices:
                self._devices[d.id] = d
                yield device_of(d)

    # -- writes -----------------------------------------------------------------------------------------
    def resolve_alert(self, alert_id: str) -> None:
        """Reset the alert (condition); resetting twice leaves it reset, so it is safe to retry."""
        self.http.request("DELETE", f"/v2/alert/{alert_id}", operation="resetAlert")

    def configure_webhook(self, url: str, token: str, *, organization_ids: list[int] | None = None) -> None:
        """Point NinjaOne's activity webhook at ``url`` for condition triggers and resets."""
        body: dict[str, Any] = {
            "url": url,
            "activities": {"CONDITION": ["TRIGGERED", "RESET"]},
            "expand": ["device"],
            "headers": [{"name": TOKEN_HEADER, "value": token}],
        }
        if organization_ids:
            body["organizationIds"] = organization_ids
        self.http.request("PUT", "/v2/webhook", json_body=body, operation="configureWebhook")

    # -- check ------------------------------------------------------------------------------------------
    def check(self) -> list[CheckResult]:
        def organizations() -> str:
            return f"{sum(1 for _ in self.list_clients())} organizations readable"

        def alerts() -> str:
            found, bad = self.open_alerts()
            return f"{len(found)} active alerts readable" + (f", {len(bad)} malformed" if bad else "")

        def activities() -> str:
            return f"activity log readable (last activity id {self.last_activity_id()})"

        return [run_check(n, f) for n, f in (("organizations", organizations), ("alerts", alerts),
                                              ("activities", activities))]


# -- vendor-native records and webhooks ---------------------------------------------------------------


def native_events(record: dict[str, Any]) -> list[AlertEvent]:
    """Canonical events of one vendor-native record.

    An alert from ``/v2/alerts`` (with its ``device``) is one raise; a CONDITION activity with an
    expanded ``device`` (a webhook body) is a raise (TRIGGERED) or a clear (RESET); any other
    activity is no event. Raises ``pydantic.ValidationError``/``ValueError`` for a record that
    does not fit (the caller quarantines it).
    """
    if "activityType" in record or "statusCode" in record:
        act = NinjaActivity.model_validate(record)
        if not act.is_alert_change:
            return []
        if act.device is None:
            raise ValueError("activity has no expanded device (configure the webhook with expand: device)")
        check = check_of(data=act.data, source_name=act.source_name, text=f"{act.subject} {act.message}")
        return [activity_event(act, identity_of(act.device, check))]
    alert = NinjaAlert.model_validate(record)
    if alert.device is None:
        raise ValueError("alert has no device")
    return [alert_event(alert, alert.device)]


class _NinjaWebhook(TokenWebhook):
    """NinjaOne activity webhooks: Activity bodies, token in a custom header (see module doc)."""

    vendor = VENDOR

    def events_of(self, data: Any) -> tuple[list[AlertEvent], list[str]]:
        if not isinstance(data, dict):
            raise ValueError("body is not an object")
        act = NinjaActivity.model_validate(data)
        if not act.is_alert_change:
            return [], []
        assert act.series_uid is not None
        named = check_from_code(act.data, f"{act.subject} {act.message}")
        if act.device is None or named is None:
            return [], [act.series_uid]  # the poll reads what the body does not say
        return [activity_event(act, identity_of(act.device, named))], []


WEBHOOK = _NinjaWebhook()
