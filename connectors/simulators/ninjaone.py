"""A stateful NinjaOne: organisations, locations, devices, alerts that trigger and reset on the
simulator's clock, the activity log they write, and activity webhooks.

Responses follow ``shared/specs/ninjaone.yaml`` (``Alert``, ``ActivitiesResponse``,
``NodeWithDetailedReferences``, ``Organization``, ``LocationWithOrganizationRef``); OAuth2
client-credentials at ``/ws/oauth/token``. Activity ids only grow; ``/v2/activities`` answers
newest first, honours ``newerThan``/``olderThan`` by their names (ids above / below), ``class``,
``type``, ``status``, ``seriesUid`` and ``pageSize`` (10…1000). An activity can be *held* (written
with its id but not yet visible) to play a late commit. With a webhook configured
(``PUT /v2/webhook``), every matching activity is delivered — kept in ``deliveries`` and, when
``deliver`` is set, sent through it.
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx

from connectors.simulators.base import HttpError, Simulator, route
from connectors.simulators.deliveries import Delivery
from connectors.simulators.timeline import Timeline, alert_spans

__all__ = ["NinjaOneSimulator", "condition_for"]

NODE_CLASSES = {
    "server": "WINDOWS_SERVER",
    "workstation": "WINDOWS_WORKSTATION",
    "network": "NMS_FIREWALL",
    "printer": "NMS_PRINTER",
    "mobile": "ANDROID",
    "virtual": "VMWARE_VM_GUEST",
}
SEVERITIES = {"critical": "CRITICAL", "high": "MAJOR", "moderate": "MODERATE", "low": "MINOR", "info": "NONE"}
PRIORITIES = {"CRITICAL": "HIGH", "MAJOR": "HIGH", "MODERATE": "MEDIUM", "MINOR": "LOW", "NONE": "NONE"}


def condition_for(check: str) -> tuple[str, dict[str, Any]]:
    """A NinjaOne (sourceType, data) whose canonical check (``connectors.ninjaone``) is ``check``."""
    base, _, detail = check.partition(":")
    table = {
        "device_offline": ("AGENT_OFFLINE", "agent_offline"),
        "cpu": ("CONDITION_AGENT_CPU", "vmm_cond_cpu_usage_ge"),
        "memory": ("CONDITION_AGENT_MEMORY", "vmm_cond_memory_usage_ge"),
        "disk_usage": ("CONDITION_AGENT_DISK_FREE_SPACE", "cond_disk_free_space_le"),
        "service": ("CONDITION_WINDOWS_SERVICE_STATE_CHANGED", "cond_windows_service_state_not_running"),
        "eventlog": ("CONDITION_WINDOWS_EVENT_LOG_TRIGGERED", "cond_windows_event_log_triggered"),
        "ping": ("CONDITION_PING", "cond_ping_response_failed"),
        "patch": ("CONDITION_AGENT_PATCH_LAST_INSTALLED", "cond_patch_last_installed_gt"),
        "backup": ("SHADOWPROTECT_BACKUPJOB_EXECUTE", "backup_job_failed"),
        "antivirus": ("AV_QUARANTINE_THREAT", "antivirus_threat_detected"),
        "reboot_pending": ("CONDITION_PENDING_REBOOT", "cond_pending_reboot"),
        "printer": ("CONDITION_CUSTOM_SNMP", "cond_snmp_printer_supply_low"),
        "script": ("CONDITION_SCRIPT_RESULT", "cond_script_result"),
    }
    source, code = table.get(base, ("CONDITION_SCRIPT_RESULT", f"cond_{base}"))
    params: dict[str, Any] = {"duration": 5, "unit": "%", "value": 97.5, "threshold": 90}
    if base in ("cpu", "memory"):
        params["target"] = "_average_"
    if base in ("disk_usage", "service", "ping") and detail:
        params["target"] = detail
    if base == "eventlog" and detail:
        source_name, _, event_id = detail.partition(":")
        params.update(source=source_name, eventId=event_id)
    return source, {"message": {"code": code, "params": params}}


class NinjaOneSimulator(Simulator):
    vendor = "ninjaone"
    base_url = "https://app.ninjarmm.com"
    base_path = ""
    setting_path = ""
    rate_limit = (600, 60.0)
    undocumented = (("POST", r"/ws/oauth/token$"),)

    def __init__(self, *, client_id: str = "sim-ninja-client", client_secret: str = "sim-ninja-secret",
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens: set[str] = set()
        self.organizations: dict[int, dict[str, Any]] = {}
        self.locations: dict[int, dict[str, Any]] = {}
        self.devices: dict[int, dict[str, Any]] = {}
        self.alerts: dict[str, dict[str, Any]] = {}
        """uid -> alert record plus ``_state`` (scheduled | open | reset) and ``_activity`` (its trigger)."""
        self.activities: list[dict[str, Any]] = []
        self.held: set[int] = set()
        self._hold_budget = 0
        self.timeline = Timeline()
        self._ids = itertools.count(101)
        self._activity_ids = itertools.count(880_001)
        self.reset_by_api: list[str] = []
        self.webhook: dict[str, Any] | None = None
        self.deliveries: list[Delivery] = []
        self.deliver: Callable[[Delivery], None] | None = None

    # -- scenario building --------------------------------------------------------------------------
    def add_organization(self, name: str) -> int:
        oid = next(self._ids)
        self.organizations[oid] = {"id": oid, "name": name, "description": f"{name} (managed)",
                                   "nodeApprovalMode": "AUTOMATIC", "tags": [], "fields": {}}
        return oid

    def add_location(self, organization_id: int, name: str) -> int:
        lid = next(self._ids)
        self.locations[lid] = {"id": lid, "name": name, "address": "", "description": "", "tags": [], "fields": {},
                               "organizationId": organization_id}
        return lid

    def add_device(self, location_id: int, name: str, *, node_class: str = "WINDOWS_WORKSTATION",
                   offline: bool = False) -> int:
        loc = self.locations[location_id]
        did = next(self._ids)
        stamp = self.now().timestamp()
        self.devices[did] = {
            "id": did, "uid": str(uuid.uuid4()), "organizationId": loc["organizationId"], "locationId": location_id,
            "nodeClass": node_class, "nodeRoleId": 1, "rolePolicyId": 1, "approvalStatus": "APPROVED",
            "offline": offline, "displayName": name, "systemName": name, "dnsName": f"{name.lower()}.corp.example",
            "netbiosName": name[:15], "created": stamp - 86400 * 30, "lastContact": stamp, "lastUpdate": stamp,
            "tags": [], "fields": {},
        }
        return did

    def set_maintenance(self, device_id: int, on: bool = True) -> None:
        if on:
            start = self.now().timestamp()
            self.devices[device_id]["maintenance"] = {"status": "IN_MAINTENANCE", "start": start, "end": start + 3600}
        else:
            self.devices[device_id].pop("maintenance", None)

    def device_record(self, device_id: int) -> dict[str, Any]:
        """A device as the API returns it, with its organisation and location references."""
        device = dict(self.devices[device_id])
        org = self.organizations[device["organizationId"]]
        loc = self.locations[device["locationId"]]
        device["references"] = {"organization": {"id": org["id"], "name": org["name"]},
                                "location": {"id": loc["id"], "name": loc["name"]}}
        return device

    def schedule_alert(
        self,
        device_id: int,
        *,
        raise_at: datetime,
        resolve_at: datetime | None = None,
        check: str = "device_offline",
        severity: str = "high",
        message: str = "",
        uid: str | None = None,
        condition_uid: str | None = None,
    ) -> str:
        """An alert (triggered condition) that opens at ``raise_at`` and optionally resets later."""
        uid = uid or str(uuid.uuid4())
        source_type, data = condition_for(check)
        name = check.replace("_", " ").title()
        self.alerts[uid] = {
            "uid": uid, "deviceId": device_id, "message": message or f"{name} condition triggered",
            "createTime": raise_at.timestamp(), "updateTime": raise_at.timestamp(), "sourceType": source_type,
            "sourceConfigUid": condition_uid or str(uuid.uuid5(uuid.NAMESPACE_URL, f"ninja-policy/{check}")),
            "sourceName": name, "subject": name, "data": data,
            "_state": "scheduled", "_severity": self._severity(severity),
        }
        self.timeline.push(raise_at, "trigger", uid)
        if resolve_at is not None:
            self.timeline.push(resolve_at, "reset", uid)
        return uid

    @staticmethod
    def _severity(value: str) -> str:
        """A canonical severity (``high``) or NinjaOne's own (``MAJOR``)."""
        if value in SEVERITIES:
            return SEVERITIES[value]
        if value in SEVERITIES.values():
            return value
        raise ValueError(f"unknown severity {value!r}")

    def raise_alert(self, device_id: int, **kw: Any) -> str:
        return self.schedule_alert(device_id, raise_at=self.now() - timedelta(seconds=1), **kw)

    def resolve(self, uid: str, at: datetime | None = None) -> None:
        self.timeline.push(at or self.now() - timedelta(seconds=1), "reset", uid)

    def add_activity(self, **fields: Any) -> dict[str, Any]:
        """Any other activity (a script run, a login…): present in the log, not an alert change."""
        return self._record({"activityTime": self.now().timestamp(), "activityType": "ACTIONSET",
                             "statusCode": "COMPLETED", "status": "Completed", **fields})

    def hold_next(self, n: int = 1) -> None:
        """The next ``n`` activities get their ids but stay invisible until :meth:`release` (a late commit)."""
        self._hold_budget += n

    def release(self) -> None:
        self.held.clear()

    def load_stream(self, stream: Any) -> dict[str, int]:
        """Organisations, locations, devices and alerts for a canonical stream (muted alerts are
        left out: NinjaOne does not fire conditions on a device in maintenance). Returns canonical
        client id -> organisation id."""
        orgs: dict[str, int] = {}
        locs: dict[str, int] = {}
        devices: dict[str, int] = {}
        for d in stream.topology.devices:
            if d.client not in orgs:
                orgs[d.client] = self.add_organization(d.client_name)
            if d.site not in locs:
                locs[d.site] = self.add_location(orgs[d.client], d.site_name)
            devices[d.id] = self.add_device(locs[d.site], d.name, node_class=NODE_CLASSES.get(d.type.value,
                                                                                              "WINDOWS_WORKSTATION"))
        for e, cleared in alert_spans(stream.events):
            if not e.muted:
                self.schedule_alert(devices[e.device], raise_at=e.at, resolve_at=cleared, check=e.check,
                                    severity=e.severity.value, message=e.message, uid=e.alert_id)
        return orgs

    # -- the clock ----------------------------------------------------------------------------------
    def _advance(self) -> None:
        for at, action, uid in self.timeline.due(self.now()):
            alert = self.alerts[uid]
            if action == "trigger" and alert["_state"] == "scheduled":
                alert["_state"] = "open"
                alert["_activity"] = self._condition_activity(alert, "TRIGGERED", at)
            elif action == "reset" and alert["_state"] in ("open", "scheduled"):
                was_open = alert["_state"] == "open"
                alert["_state"] = "reset"
                if was_open:
                    self._condition_activity(alert, "RESET", at)

    def _condition_activity(self, alert: dict[str, Any], status: str, at: datetime) -> dict[str, Any]:
        sev = alert["_severity"] if status == "TRIGGERED" else "NONE"
        return self._record({
            "activityTime": at.timestamp(), "deviceId": alert["deviceId"], "severity": sev,
            "priority": PRIORITIES.get(sev, "NONE"), "seriesUid": alert["uid"], "activityType": "CONDITION",
            "statusCode": status, "status": status.title(), "activityResult": "SUCCESS",
            "sourceConfigUid": alert["sourceConfigUid"], "sourceName": alert["sourceName"],
            "subject": alert["subject"], "message": alert["message"], "type": "Condition", "data": alert["data"],
        })

    def _record(self, activity: dict[str, Any]) -> dict[str, Any]:
        activity = {"id": next(self._activity_ids), **activity}
        self.activities.append(activity)
        if self._hold_budget > 0:
            self._hold_budget -= 1
            self.held.add(activity["id"])
        self._notify(activity)
        return activity

    def _notify(self, activity: dict[str, Any]) -> None:
        hook = self.webhook
        if not hook or not hook.get("url"):
            return
        wanted = (hook.get("activities") or {}).get(activity.get("activityType"))
        if hook.get("activities") and (wanted is None or (wanted and activity.get("statusCode") not in wanted)):
            return
        device = self.devices.get(activity.get("deviceId", -1))
        if hook.get("organizationIds") and (device is None or device["organizationId"] not in hook["organizationIds"]):
            return
        body = dict(activity)
        if device is not None and "device" in (hook.get("expand") or []):
            body["device"] = self.device_record(device["id"])
        headers = {"Content-Type": "application/json", **{h["name"]: h["value"] for h in hook.get("headers") or []}}
        delivery = Delivery(hook["url"], headers, httpx.Response(200, json=body).content)
        self.deliveries.append(delivery)
        if self.deliver is not None:
            self.deliver(delivery)

    # -- protocol -------------------------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        if status == 401:
            return {"error": "invalid_token", "error_description": "Access token expired or invalid"}
        return {"resultCode": "FAILURE", "errorMessage": message, "incidentId": str(uuid.uuid4())}

    def check_auth(self, request: httpx.Request) -> None:
        if request.url.path.endswith("/ws/oauth/token"):
            return
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in self.tokens:
            raise HttpError(401)

    @route("POST", "/ws/oauth/token")
    def token(self, request: httpx.Request) -> Any:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            raise HttpError(400, {"error": "unsupported_grant_type"})
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            raise HttpError(401, {"error": "invalid_client", "error_description": "Bad client credentials"})
        token = secrets.token_hex(16)
        self.tokens.add(token)
        return {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": form.get("scope", "")}

    @staticmethod
    def _public(record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if not k.startswith("_")}

    @staticmethod
    def _page_after(request: httpx.Request, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        params = request.url.params
        size = min(int(params.get("pageSize", 1000)), 1000)
        after = int(params["after"]) if "after" in params else None
        chosen = [r for r in sorted(records, key=lambda r: r["id"]) if after is None or r["id"] > after]
        return chosen[:size]

    @route("GET", "/v2/alerts")
    def get_alerts(self, request: httpx.Request) -> Any:
        self._advance()
        source = request.url.params.get("sourceType")
        out = []
        for a in self.alerts.values():
            if a["_state"] != "open" or (source and a["sourceType"] != source):
                continue
            out.append({**self._public(a), "device": self.device_record(a["deviceId"])})
        return out

    @route("GET", "/v2/activities")
    def get_activities(self, request: httpx.Request) -> Any:
        self._advance()
        p = request.url.params
        size = int(p.get("pageSize", 200))
        if not 10 <= size <= 1000:
            raise HttpError(400, self.error_body(400, "pageSize must be between 10 and 1000"))
        klass = p.get("class", "ALL")
        statuses = set(p["status"].split(",")) if p.get("status") else None
        chosen = []
        for a in reversed(self.activities):
            if a["id"] in self.held:
                continue
            if klass == "DEVICE" and not a.get("deviceId") or klass == "SYSTEM" and a.get("deviceId"):
                continue
            if p.get("type") and a.get("activityType") != p["type"]:
                continue
            if "newerThan" in p and a["id"] <= int(p["newerThan"]):
                continue
            if "olderThan" in p and a["id"] >= int(p["olderThan"]):
                continue
            if p.get("seriesUid") and a.get("seriesUid") != p["seriesUid"]:
                continue
            if statuses and a.get("statusCode") not in statuses:
                continue
            chosen.append(a)
            if len(chosen) >= size:
                break
        last = max((a["id"] for a in self.activities if a["id"] not in self.held), default=0)
        return {"lastActivityId": last, "activities": chosen}

    def _alert(self, uid: str) -> dict[str, Any]:
        self._advance()
        alert = self.alerts.get(uid)
        if alert is None or alert["_state"] != "open":
            raise HttpError(404, self.error_body(404, f"Alert {uid} not found"))
        return alert

    def _reset_by_api(self, alert: dict[str, Any]) -> httpx.Response:
        alert["_state"] = "reset"
        self._condition_activity(alert, "RESET", self.now())
        self.reset_by_api.append(alert["uid"])
        return httpx.Response(204)

    @route("DELETE", "/v2/alert/{uid}")
    def reset_alert(self, request: httpx.Request, uid: str) -> Any:
        return self._reset_by_api(self._alert(uid))

    @route("POST", "/v2/alert/{uid}/reset")
    def reset_alert_with_data(self, request: httpx.Request, uid: str) -> Any:
        return self._reset_by_api(self._alert(uid))

    @route("GET", "/v2/devices")
    def get_devices(self, request: httpx.Request) -> Any:
        return [self.device_record(d["id"]) for d in self._page_after(request, list(self.devices.values()))]

    @route("GET", "/v2/device/{id}")
    def get_device(self, request: httpx.Request, id: str) -> Any:  # noqa: A002 - the document's name
        if not id.isdigit() or int(id) not in self.devices:
            raise HttpError(404, self.error_body(404, f"Device {id} not found"))
        return self.device_record(int(id))

    @route("GET", "/v2/organizations")
    def get_organizations(self, request: httpx.Request) -> Any:
        return self._page_after(request, list(self.organizations.values()))

    @route("GET", "/v2/organization/{id}")
    def get_organization(self, request: httpx.Request, id: str) -> Any:  # noqa: A002
        org = self.organizations.get(int(id)) if id.isdigit() else None
        if org is None:
            raise HttpError(404, self.error_body(404, f"Organization {id} not found"))
        locations = [{k: v for k, v in loc.items() if k != "organizationId"}
                     for loc in self.locations.values() if loc["organizationId"] == org["id"]]
        return {**org, "locations": locations, "policies": []}

    @route("GET", "/v2/locations")
    def get_locations(self, request: httpx.Request) -> Any:
        return self._page_after(request, list(self.locations.values()))

    @route("PUT", "/v2/webhook")
    def configure_webhook(self, request: httpx.Request) -> Any:
        body = self.body_of(request)
        if not isinstance(body, dict) or not body.get("url"):
            raise HttpError(400, self.error_body(400, "url is required"))
        self.webhook = body
        return httpx.Response(204)

    @route("DELETE", "/v2/webhook")
    def disable_webhook(self, request: httpx.Request) -> Any:
        self.webhook = None
        return httpx.Response(204)
