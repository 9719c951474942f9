"""Tactical RMM — alerts, agents (devices), clients and sites; resolve and snooze an alert;
alert-template webhooks.

No API document exists in ``shared/specs`` (the server generates one at ``/api/schema/`` only
when ``SWAGGER_ENABLED`` is on). Built against Tactical RMM's public server code,
read to learn, not copied: ``amidaware/tacticalrmm`` @ ``2195c3b3`` (2026-06-16) —
``api/tacticalrmm/alerts/{urls,views,models,serializers}.py``, ``agents/{urls,views,serializers}.py``,
``clients/{urls,views,models,serializers}.py``, ``checks/{urls,views,models,serializers}.py``,
``core/{urls,views,utils,models}.py`` (URL actions: the webhooks) and
``tacticalrmm/{auth,urls,utils,constants,settings}.py``. The tests check the connector against
that reading through the simulator, which answers as those views do.

Needs
    ``SWITCHBOARD_TACTICAL_RMM__BASE_URL``  the API host, e.g. ``https://api.example.com``
    ``SWITCHBOARD_TACTICAL_RMM__API_KEY``   an API key (Settings → Global Settings → API Keys) of a
        user whose role may list alerts, clients, agents and checks, and manage alerts
Auth
    ``X-API-KEY`` header (``tacticalrmm/auth.py``). 401 ``{"detail": "Invalid token."}``; 403 when
    the key's role lacks the permission.
Limits
    Self-hosted: no API rate limit and no pagination (no DRF pagination class: each list is one
    response). A shared bucket (default 300 requests/minute) keeps Switchboard polite to the MSP's
    own server; a 429 from a proxy is honoured like any vendor's.
Incremental alerts
    ``PATCH /alerts/`` with filters is the only listing and has no changed-since filter
    (``timeFilter`` counts days back on ``alert_time``). A poll reads the unresolved alerts
    (``resolvedFilter: false``, snoozed ones included) in one call; an id the cursor does not hold
    is a raise. Alerts that left the list are looked up: ``GET /alerts/{id}/`` each for one or two,
    else one ``PATCH`` whose ``timeFilter`` reaches back to the oldest of them — at most three
    calls whatever the number of clears. A resolved alert clears at ``resolved_on``; a check failing
    again makes a new alert (a new id) in Tactical, hence a new raise. A deleted alert is dropped.
Identity
    An alert names its client and site (unique names in Tactical) and its agent (``agent_id``).
    Their ids come from ``GET /clients/`` (cached; read again when a name is unknown), check
    details from ``GET /checks/{id}/`` (cached per check; ``GET /checks/`` once when a poll meets
    several unknown checks), device types from ``GET /agents/`` (``monitoring_type``, cached). An alert whose client cannot be found is quarantined and tried
    again next poll.
Fingerprint fields
    client = client id, site = site id, device = ``agent_id``, check: availability (agent overdue)
    → ``device_offline``; check alerts by ``check_type``: diskspace → ``disk_usage:<disk>``,
    cpuload → ``cpu``, memory → ``memory``, winsvc → ``service:<svc_name>``, eventlog →
    ``eventlog:<source or log>:<event id or *>``, ping → ``ping:<ip>``, script →
    ``script:<script name>``; task alerts → ``task:<task id>``; custom → ``custom``.
Severity map
    error→high, warning→moderate, info→info. Muted = ``snoozed``.
Resolve / acknowledge
    ``PUT /alerts/{id}/ {"type": "resolve"}``. Tactical has no acknowledge; ``acknowledge_alert``
    snoozes the alert for ``ACK_SNOOZE_DAYS`` (default 1), which silences its notifications.
Webhooks
    An alert template's Failure and Resolved actions of type *REST* (a URL action): POST, the body
    template in the README (``docs``: "Tactical RMM webhook"), headers
    ``{"X-Switchboard-Token": "<per-tenant secret>"}``. Tactical fills ``{{alert.*}}``,
    ``{{agent.*}}``, ``{{client.*}}``, ``{{site.*}}`` in both and does not sign the call.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, Field, SecretStr, model_validator

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
from connectors.canonical import AlertEvent, Client, Device, DeviceType, Ref, Severity, Site, utc
from connectors.errors import NotFound
from connectors.http import VendorHttp
from connectors.protocols import Pull, Rejected
from connectors.ratelimit import Limit
from connectors.rmm import TokenWebhook, refine

VENDOR = "tactical-rmm"
CREDENTIALS = "SWITCHBOARD_TACTICAL_RMM__API_KEY"
PREFETCH_CHECKS = 3
"""From this many unknown checks in one poll, all checks are read in one call."""
LOOKUPS_ONE_BY_ONE = 2
"""Up to this many alerts that left the open list are read one by one (small answers); more are
read in one ``PATCH`` reaching back to the oldest (one call, but every alert of the window)."""

SEVERITY = {"error": Severity.high, "warning": Severity.moderate, "info": Severity.info}
CHECK_TYPES = {"diskspace": "disk_usage", "cpuload": "cpu", "memory": "memory", "winsvc": "service",
               "eventlog": "eventlog", "ping": "ping", "script": "script"}
DEVICE_TYPES = {"server": DeviceType.server, "workstation": DeviceType.workstation}


class TacticalRmmSettings(BaseModel):
    base_url: str | None = None
    api_key: SecretStr | None = None
    requests_per_minute: int = 300
    timeout_seconds: float = 30.0
    ack_snooze_days: int = Field(default=1, ge=1)
    """How long ``acknowledge_alert`` snoozes an alert (Tactical has no acknowledge)."""
    webhook_secret: SecretStr | None = None
    """The per-tenant token the URL actions send in ``X-Switchboard-Token``."""


# -- vendor models ----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Webhook bodies are text templates: Tactical writes Python's ``None``/``True``/``False``."""
    if isinstance(value, str):
        text = value.strip()
        if text in ("", "None", "null"):
            return None
        if text in ("True", "False"):
            return text == "True"
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class TrmmCheck(VendorModel):
    id: int | None = None
    check_type: str
    name: str | None = None
    disk: str | None = None
    ip: str | None = None
    svc_name: str | None = None
    log_name: str | None = None
    event_source: str | None = None
    event_id: int | None = None
    event_id_is_wildcard: bool | None = False
    script_name: str | None = None
    readable_desc: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, data: Any) -> Any:
        return _plain(data)


class TrmmAlert(VendorModel):
    """An alert as ``AlertSerializer`` returns it, or as the README's webhook template sends it
    (which adds ``client_id``, ``site_id``, ``monitoring_type``, ``check`` and ``event``)."""

    id: int
    alert_type: str
    severity: str = "info"
    message: str | None = ""
    alert_time: datetime
    resolved: bool = False
    resolved_on: datetime | None = None
    snoozed: bool = False
    hidden: bool = False
    agent_id: str
    hostname: str | None = ""
    client: str | None = None
    site: str | None = None
    assigned_check: int | None = None
    assigned_task: int | None = None
    client_id: int | None = None
    site_id: int | None = None
    monitoring_type: str | None = None
    check: TrmmCheck | None = None
    event: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, data: Any) -> Any:
        data = _plain(data)
        if isinstance(data, dict) and isinstance(data.get("check"), dict) and not data["check"].get("check_type"):
            data = {**data, "check": None}  # availability/task alerts render an empty check
        return data


class TrmmSite(VendorModel):
    id: int
    name: str
    client: int | None = None
    client_name: str | None = None


class TrmmClient(VendorModel):
    id: int
    name: str
    sites: list[TrmmSite] = Field(default_factory=list)


class TrmmAgent(VendorModel):
    agent_id: str
    hostname: str = ""
    client_name: str | None = None
    site_name: str | None = None
    monitoring_type: str | None = None
    status: str | None = None


# -- mapping (pure) ----------------------------------------------------------------------------------


_MESSAGE = re.compile(r"has an? (?P<type>\w+) check: (?P<desc>.*) that failed")


def check_from_message(message: str) -> TrmmCheck | None:
    """The check an alert message names (``… has a diskspace check: Disk Space Check: Drive C: - …``).

    Only for records that come with neither a check id to look up nor check fields (replay files).
    """
    found = _MESSAGE.search(message or "")
    if not found:
        return None
    kind, desc = found.group("type"), found.group("desc")
    detail = desc.split(": ", 1)[1] if ": " in desc else ""
    if kind == "diskspace":
        drive = re.search(r"Drive (\S+)", desc)
        return TrmmCheck(check_type=kind, disk=drive.group(1) if drive else None)
    if kind == "winsvc":
        return TrmmCheck(check_type=kind, svc_name=detail or None)
    if kind == "ping":
        return TrmmCheck(check_type=kind, ip=detail or None)
    if kind == "script":
        return TrmmCheck(check_type=kind, script_name=detail or None)
    if kind == "eventlog":
        return TrmmCheck(check_type=kind, name=detail or None)
    return TrmmCheck(check_type=kind)


def check_of(alert_type: str, check: TrmmCheck | None, task_id: int | None = None) -> str:
    if alert_type == "availability":
        return "device_offline"
    if alert_type == "task":
        return refine("task", task_id)
    if alert_type != "check" or check is None:
        return alert_type or "custom"
    base = CHECK_TYPES.get(check.check_type, check.check_type)
    if base == "disk_usage":
        return refine(base, check.disk)
    if base == "service":
        return refine(base, check.svc_name or check.name)
    if base == "eventlog":
        if check.log_name or check.event_source or check.event_id is not None:
            event = "*" if check.event_id_is_wildcard else check.event_id
            return refine(base, check.event_source or check.log_name, event)
        return refine(base, check.name)
    if base == "ping":
        return refine(base, check.ip or check.name)
    if base == "script":
        name = check.script_name or (check.readable_desc or "").partition("Script Check: ")[2]
        return refine(base, name or None)
    return base


@dataclass(frozen=True)
class Where:
    """Ids behind an alert's client and site names."""

    client: str
    site: str = ""


def event_of(
    alert: TrmmAlert, kind: str, where: Where, check: TrmmCheck | None, device_type: DeviceType
) -> AlertEvent:
    at = alert.resolved_on if kind == "resolved" and alert.resolved_on else alert.alert_time
    return AlertEvent(
        id=f"{alert.id}:{kind}",
        alert_id=str(alert.id),
        source=VENDOR,
        kind=kind,  # type: ignore[arg-type]
        at=utc(at),
        client=where.client,
        site=where.site,
        device=alert.agent_id,
        device_type=device_type,
        check=check_of(alert.alert_type, check, alert.assigned_task),
        severity=SEVERITY.get(alert.severity, Severity.moderate),
        message=(alert.message or "").strip()[:2000],
        muted=alert.snoozed,
        client_name=alert.client or "",
        site_name=alert.site or "",
        device_name=alert.hostname or "",
        refs={"alertId": str(alert.id), "agentId": alert.agent_id, "alertType": alert.alert_type},
    )


def device_type_of(monitoring_type: str | None) -> DeviceType:
    return DEVICE_TYPES.get(monitoring_type or "", DeviceType.other)


def client_of(c: TrmmClient) -> Client:
    return Client(ref=Ref(vendor=VENDOR, id=str(c.id)), name=c.name)


def site_of(s: TrmmSite, client_id: int | None = None) -> Site:
    owner = s.client if s.client is not None else client_id
    return Site(ref=Ref(vendor=VENDOR, id=str(s.id)), name=s.name,
                client=Ref(vendor=VENDOR, id=str(owner)) if owner is not None else None)


class Directory:
    """Client and site ids by name (Tactical's alerts and agents carry names)."""

    def __init__(self, clients: list[TrmmClient]) -> None:
        self.clients = {c.name: c for c in clients}
        self.sites = {(c.name, s.name): s for c in clients for s in c.sites}

    def where(self, client: str | None, site: str | None) -> Where | None:
        found = self.clients.get(client or "")
        if found is None:
            return None
        s = self.sites.get((found.name, site or ""))
        return Where(str(found.id), str(s.id) if s else "")


def where_of(alert: TrmmAlert, directory: Directory | None) -> Where | None:
    if alert.client_id is not None:
        return Where(str(alert.client_id), str(alert.site_id) if alert.site_id is not None else "")
    return directory.where(alert.client, alert.site) if directory else None


# -- client ---------------------------------------------------------------------------------------------


class TacticalRmm:
    """Tactical RMM as an :class:`~connectors.protocols.AlertSource`."""

    vendor = VENDOR

    def __init__(self, http: VendorHttp, settings: TacticalRmmSettings | None = None) -> None:
        self.http = http
        self.settings = settings or TacticalRmmSettings()
        self._directory: Directory | None = None
        self._checks: dict[int, TrmmCheck | None] = {}
        self._agents: dict[str, TrmmAgent] = {}

    def __repr__(self) -> str:
        return f"TacticalRmm({self.http!r})"

    @classmethod
    def from_settings(
        cls,
        settings: TacticalRmmSettings,
        *,
        redis: Any = None,
        prefix: str = "switchboard",
        transport: httpx.BaseTransport | None = None,
    ) -> TacticalRmm:
        base = require(settings.base_url, "SWITCHBOARD_TACTICAL_RMM__BASE_URL", VENDOR).rstrip("/")
        key = require(settings.api_key, "SWITCHBOARD_TACTICAL_RMM__API_KEY", VENDOR)
        assert settings.api_key is not None
        limit = Limit(settings.requests_per_minute, 60.0, burst=max(1, settings.requests_per_minute // 10))
        http = build_http(
            VENDOR, base, auth=HeaderAuth({"X-API-KEY": settings.api_key}),
            limiter=make_limiter(VENDOR, httpx.URL(base).host or key[:8], limit, redis=redis, prefix=prefix),
            secrets=secret_values(settings.api_key), credential_settings=CREDENTIALS,
            transport=transport, timeout=settings.timeout_seconds,
        )
        return cls(http, settings)

    # -- reads ------------------------------------------------------------------------------------------
    def _alerts(self, filters: dict[str, Any], operation: str) -> tuple[list[TrmmAlert] | None, list[Rejected]]:
        """The alerts the filters select, or None (with the reason) when the answer is not a list."""
        # a read sent as PATCH (the view's own choice): safe to retry
        response = self.http.request("PATCH", "/alerts/", json_body=filters, operation=operation, idempotent=True)
        body = self.http.json_of(response, operation)
        alerts, rejected = read_records(TrmmAlert, body, f"{VENDOR}:alerts")
        return (alerts if isinstance(body, list) else None), rejected

    def open_alerts(self) -> tuple[list[TrmmAlert], list[Rejected]]:
        """Every unresolved alert, snoozed ones included (one call: Tactical does not page)."""
        alerts, rejected = self._alerts({"resolvedFilter": False, "snoozedFilter": True}, "listOpenAlerts")
        return alerts or [], rejected

    def directory(self, *, refresh: bool = False) -> Directory:
        if self._directory is None or refresh:
            body = self.http.get_json("/clients/", operation="listClients")
            clients, _ = read_records(TrmmClient, body, f"{VENDOR}:clients")
            self._directory = Directory(clients)
        return self._directory

    def _check(self, alert: TrmmAlert) -> TrmmCheck | None:
        if alert.check is not None or alert.assigned_check is None:
            return alert.check or check_from_message(alert.message or "")
        pk = alert.assigned_check
        if pk not in self._checks:
            try:
                body = self.http.get_json(f"/checks/{pk}/", operation="getCheck")
                found, _ = read_records(TrmmCheck, [body], f"{VENDOR}:checks")
                self._checks[pk] = found[0] if found else None
            except NotFound:
                self._checks[pk] = None
        return self._checks[pk] or check_from_message(alert.message or "")

    def _prefetch_checks(self, raised: list[TrmmAlert]) -> None:
        """Several unknown checks are read in one ``GET /checks/`` rather than one call each."""
        unknown = {a.assigned_check for a in raised if a.check is None and a.assigned_check is not None
                   and a.assigned_check not in self._checks}
        if len(unknown) < PREFETCH_CHECKS:
            return
        body = self.http.get_json("/checks/", operation="listChecks")
        checks, _ = read_records(TrmmCheck, body, f"{VENDOR}:checks")
        self._checks.update((c.id, c) for c in checks if c.id is not None)

    def _device_type(self, alert: TrmmAlert, refresh: bool) -> DeviceType:
        if alert.monitoring_type:
            return device_type_of(alert.monitoring_type)
        if alert.agent_id not in self._agents and refresh:
            self._load_agents()
        agent = self._agents.get(alert.agent_id)
        return device_type_of(agent.monitoring_type if agent else None)

    def _load_agents(self) -> list[TrmmAgent]:
        body = self.http.get_json("/agents/", operation="listAgents")
        agents, _ = read_records(TrmmAgent, body, f"{VENDOR}:agents")
        self._agents = {a.agent_id: a for a in agents}
        return agents

    def _event(self, alert: TrmmAlert, kind: str, lookups: dict[str, bool]) -> AlertEvent | str:
        """The canonical event, or why it cannot be made. ``lookups`` allows one refresh per poll."""
        where = where_of(alert, self.directory())
        if where is None and lookups.pop("clients", False):
            where = where_of(alert, self.directory(refresh=True))
        if where is None:
            return f"alert {alert.id}: client {alert.client!r} / site {alert.site!r} not found in Tactical's client list"
        if kind == "raised":
            check = self._check(alert)
            device_type = self._device_type(alert, refresh=lookups.pop("agents", False))
        else:  # a clear needs no details: the rules find the alert by its id
            cached = self._checks.get(alert.assigned_check or -1)
            check = alert.check or cached or check_from_message(alert.message or "")
            device_type = self._device_type(alert, refresh=False)
        return event_of(alert, kind, where, check, device_type)

    def pull_alert_events(self, cursor: str | None, now: datetime) -> Pull[AlertEvent]:
        before = self.http.stats.requests
        known: dict[str, str] = json.loads(cursor)["open"] if cursor else {}
        listed, rejected = self._alerts({"resolvedFilter": False, "snoozedFilter": True}, "listOpenAlerts")
        if listed is None:  # not a list at all: compare nothing, so nothing is cleared by mistake
            return Pull([], cursor, rejected, self.http.stats.requests - before)
        alerts = listed
        self._prefetch_checks([a for a in alerts if str(a.id) not in known])
        lookups = {"clients": True, "agents": True}
        events: list[AlertEvent] = []
        open_now: dict[str, str] = {}
        for alert in alerts:
            key = str(alert.id)
            if key in known:
                open_now[key] = known[key]
                continue
            made = self._event(alert, "raised", lookups)
            if isinstance(made, str):
                rejected.append(Rejected(f"{VENDOR}:alerts", made, alert.model_dump(mode="json")))
                continue  # not remembered as open: tried again next poll
            open_now[key] = utc(alert.alert_time).isoformat()
            events.append(made)
        gone = {k: v for k, v in known.items() if k not in open_now}
        found, unreadable = self._look_up(gone, now, rejected)
        open_now.update({k: gone[k] for k in unreadable})  # asked again next poll rather than lose the clear
        for alert in found:
            key = str(alert.id)
            if not alert.resolved:
                open_now[key] = gone[key]
                continue
            made = self._event(alert, "resolved", lookups)
            if isinstance(made, str):
                rejected.append(Rejected(f"{VENDOR}:alerts", made, alert.model_dump(mode="json")))
                open_now[key] = gone[key]
                continue
            events.append(made)
        events.sort(key=lambda e: (e.at, e.kind != "raised"))
        return Pull(events, json.dumps({"open": open_now}), rejected, self.http.stats.requests - before)

    def _look_up(
        self, gone: dict[str, str], now: datetime, rejected: list[Rejected]
    ) -> tuple[list[TrmmAlert], set[str]]:
        """The current records of alerts that left the open list, and the ids that could not be read.

        A deleted alert is in neither (dropped: nothing is left to clear)."""
        if not gone:
            return [], set()
        if len(gone) <= LOOKUPS_ONE_BY_ONE:
            out: list[TrmmAlert] = []
            unreadable: set[str] = set()
            for key in sorted(gone):
                try:
                    body = self.http.get_json(f"/alerts/{int(key)}/", operation="getAlert")
                except NotFound:
                    continue
                found, bad = read_records(TrmmAlert, [body], f"{VENDOR}:alerts")
                rejected += bad
                out += found
                if bad:
                    unreadable.add(key)
            return out, unreadable
        oldest = min(datetime.fromisoformat(v) for v in gone.values())
        days = max(1, math.ceil((utc(now) - oldest).total_seconds() / 86400) + 1)
        recent, bad = self._alerts({"timeFilter": days, "resolvedFilter": True, "snoozedFilter": True},
                                   "listRecentAlerts")
        rejected += bad
        if recent is None:
            return [], set(gone)
        bad_ids = {str(r.payload.get("id")) for r in bad if isinstance(r.payload, dict)}
        return [a for a in recent if str(a.id) in gone], {k for k in gone if k in bad_ids}

    def list_clients(self) -> Iterator[Client]:
        directory = self.directory(refresh=True)
        yield from (client_of(c) for c in directory.clients.values())

    def list_sites(self) -> Iterator[Site]:
        for c in self.directory(refresh=True).clients.values():
            yield from (site_of(s, c.id) for s in c.sites)

    def list_devices(self) -> Iterator[Device]:
        directory = self.directory(refresh=True)
        for agent in self._load_agents():
            where = directory.where(agent.client_name, agent.site_name)
            yield Device(
                ref=Ref(vendor=VENDOR, id=agent.agent_id),
                name=agent.hostname,
                device_type=device_type_of(agent.monitoring_type),
                site=Ref(vendor=VENDOR, id=where.site) if where and where.site else None,
                client=Ref(vendor=VENDOR, id=where.client) if where else None,
                online=None if agent.status is None else agent.status == "online",
            )

    # -- writes -----------------------------------------------------------------------------------------
    def resolve_alert(self, alert_id: str) -> None:
        """Resolve the alert; resolving twice leaves it resolved, so it is safe to retry."""
        self.http.request("PUT", f"/alerts/{int(alert_id)}/", json_body={"type": "resolve"},
                          operation="resolveAlert")

    def acknowledge_alert(self, alert_id: str) -> None:
        """Snooze the alert for ``ack_snooze_days`` (Tactical's nearest thing to an acknowledge)."""
        self.http.request("PUT", f"/alerts/{int(alert_id)}/",
                          json_body={"type": "snooze", "snooze_days": self.settings.ack_snooze_days},
                          operation="snoozeAlert")

    # -- check ------------------------------------------------------------------------------------------
    def check(self) -> list[CheckResult]:
        def version() -> str:
            return f"Tactical RMM {self.http.get_json('/core/version/', operation='version')}"

        def clients() -> str:
            return f"{sum(1 for _ in self.list_clients())} clients readable"

        def alerts() -> str:
            found, bad = self.open_alerts()
            return f"{len(found)} unresolved alerts readable" + (f", {len(bad)} malformed" if bad else "")

        def agents() -> str:
            return f"{len(self._load_agents())} agents readable"

        return [run_check(n, f) for n, f in (("version", version), ("clients", clients), ("alerts", alerts),
                                              ("agents", agents))]


# -- vendor-native records and webhooks ---------------------------------------------------------------


def native_events(record: dict[str, Any], directory: Directory | None = None) -> list[AlertEvent]:
    """Canonical events of one vendor-native alert record.

    An unresolved alert is one raise; a resolved one its raise and its clear. A record from the
    README's webhook template carries its client/site ids and check fields. An API record
    (``AlertSerializer``) names its client and site: ``directory`` turns the names into ids as
    the poll does; without one (a replay file) the client is ``name:<client name>`` — consistent
    within the file, never mixed with live state — and the check is read from the message.
    Raises ``pydantic.ValidationError``/``ValueError`` for a record that does not fit.
    """
    alert = TrmmAlert.model_validate(record)
    where = where_of(alert, directory)
    if where is None:
        if directory is not None or not alert.client:
            raise ValueError(f"alert {alert.id}: client {alert.client!r} has no id")
        where = Where(f"name:{alert.client}", f"name:{alert.client}/{alert.site}" if alert.site else "")
    check = alert.check or check_from_message(alert.message or "")
    device_type = device_type_of(alert.monitoring_type)
    if alert.event == "resolved" or alert.resolved:
        if alert.resolved_on is None:
            raise ValueError(f"alert {alert.id}: resolved without resolved_on")
        if alert.event == "resolved":
            return [event_of(alert, "resolved", where, check, device_type)]
        return [event_of(alert, k, where, check, device_type) for k in ("raised", "resolved")]
    return [event_of(alert, "raised", where, check, device_type)]


class _TacticalWebhook(TokenWebhook):
    """Tactical RMM URL actions (alert template Failure/Resolved actions, REST type)."""

    vendor = VENDOR

    def events_of(self, data: Any) -> tuple[list[AlertEvent], list[str]]:
        if not isinstance(data, dict):
            raise ValueError("body is not an object")
        if _plain(data.get("client_id")) is None:  # the live ids must match the poll's
            raise ValueError("body has no client_id: use the template `switchboard rmm webhook` prints")
        return native_events(data), []


WEBHOOK = _TacticalWebhook()

WEBHOOK_BODY = {
    "event": "failure",
    "id": "{{alert.id}}",
    "alert_type": "{{alert.alert_type}}",
    "severity": "{{alert.severity}}",
    "message": "{{alert.message}}",
    "alert_time": "{{alert.alert_time}}",
    "resolved_on": "{{alert.resolved_on}}",
    "snoozed": "{{alert.snoozed}}",
    "agent_id": "{{agent.agent_id}}",
    "hostname": "{{agent.hostname}}",
    "monitoring_type": "{{agent.monitoring_type}}",
    "client_id": "{{client.id}}",
    "client": "{{client.name}}",
    "site_id": "{{site.id}}",
    "site": "{{site.name}}",
    "assigned_check": "{{alert.assigned_check.id}}",
    "assigned_task": "{{alert.assigned_task.id}}",
    "check": {
        "check_type": "{{alert.assigned_check.check_type}}",
        "name": "{{alert.assigned_check.name}}",
        "disk": "{{alert.assigned_check.disk}}",
        "ip": "{{alert.assigned_check.ip}}",
        "svc_name": "{{alert.assigned_check.svc_name}}",
        "log_name": "{{alert.assigned_check.log_name}}",
        "event_source": "{{alert.assigned_check.event_source}}",
        "event_id": "{{alert.assigned_check.event_id}}",
        "event_id_is_wildcard": "{{alert.assigned_check.event_id_is_wildcard}}",
        "script_name": "{{alert.assigned_check.script.name}}",
    },
}
"""The body template of the Failure action; the Resolved action is the same with ``"event": "resolved"``."""
