"""A stateful Tactical RMM: clients, sites, agents, checks and alerts that fail and resolve on
the simulator's clock, and alert-template URL actions (webhooks).

No API document exists for Tactical RMM; this answers as the server's views do, as read in
``amidaware/tacticalrmm`` (see ``connectors/tactical_rmm.py``): ``PATCH /alerts/`` with the
``GetAddAlerts`` filters (``top``, ``timeFilter``, ``clientFilter``, ``severityFilter``,
``resolvedFilter``, ``snoozedFilter`` — a filter applies only when its value is false, as in the
view), ``PUT /alerts/{id}/`` with ``type`` resolve/snooze/unsnooze, ``AlertSerializer``/
``ClientSerializer``/``AgentTableSerializer``/``CheckSerializer`` shapes, ``X-API-KEY`` auth with
DRF's ``{"detail": …}`` errors, no pagination, no rate limit.

Reference checks: every request is checked against the routes and request bodies read from the
server code; anything else is recorded as a contract problem (the ``sim`` fixture fails on it),
so the connector is held to the reference even without a published document.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors.simulators.base import HttpError, Simulator, route
from connectors.simulators.deliveries import Delivery
from connectors.simulators.timeline import Timeline, alert_spans

__all__ = ["REFERENCE_ROUTES", "TacticalRmmSimulator", "check_for"]

REFERENCE_ROUTES: tuple[tuple[str, str], ...] = (
    ("PATCH", r"/alerts/"), ("POST", r"/alerts/"), ("GET", r"/alerts/\d+/"), ("PUT", r"/alerts/\d+/"),
    ("DELETE", r"/alerts/\d+/"), ("POST", r"/alerts/bulk/"), ("GET", r"/alerts/templates/"),
    ("GET", r"/clients/"), ("GET", r"/clients/\d+/"), ("GET", r"/clients/sites/"), ("GET", r"/clients/sites/\d+/"),
    ("GET", r"/agents/"), ("GET", r"/agents/[^/]{20}[^/]+/"), ("GET", r"/agents/[^/]{20}[^/]+/checks/"),
    ("GET", r"/checks/"), ("GET", r"/checks/\d+/"), ("GET", r"/core/version/"),
)
"""(method, path) pairs of the views read in the server's ``urls.py`` files that Switchboard may use."""
ALERT_FILTERS = {"top", "timeFilter", "clientFilter", "severityFilter", "resolvedFilter", "snoozedFilter"}
DEVICE_KINDS = {"server": "server", "workstation": "workstation"}
DISPLAY = {"diskspace": "Disk Space Check", "ping": "Ping Check", "cpuload": "CPU Load Check",
           "memory": "Memory Check", "winsvc": "Service Check", "script": "Script Check",
           "eventlog": "Event Log Check"}
_VAR = re.compile(r"\{\{\s*((?:client|site|agent|global|alert)(?:\.[\w\-]+)+)\s*\}\}")


def _drf(value: datetime | None) -> str | None:
    """DRF's rendering of an aware UTC datetime."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def check_for(check: str) -> tuple[str, dict[str, Any]]:
    """A Tactical (alert_type, check fields) whose canonical check (``connectors.tactical_rmm``) is ``check``.

    Tactical has no native backup/antivirus/patch/printer checks: MSPs run those as script checks.
    """
    base, _, detail = check.partition(":")
    if base == "device_offline":
        return "availability", {}
    if base == "cpu":
        return "check", {"check_type": "cpuload", "error_threshold": 90}
    if base == "memory":
        return "check", {"check_type": "memory", "error_threshold": 90}
    if base == "disk_usage":
        return "check", {"check_type": "diskspace", "disk": detail or "C:", "error_threshold": 10}
    if base == "service":
        return "check", {"check_type": "winsvc", "svc_name": detail or "Spooler",
                         "svc_display_name": detail or "Print Spooler"}
    if base == "eventlog":
        source, _, code = detail.partition(":")
        return "check", {"check_type": "eventlog", "name": f"{source} {code}".strip() or "Event log",
                         "log_name": "System", "event_source": source or None,
                         "event_id": int(code) if code.isdigit() else 0, "event_id_is_wildcard": not code.isdigit()}
    if base == "ping":
        return "check", {"check_type": "ping", "name": detail or "Gateway", "ip": detail or "10.0.0.1"}
    return "check", {"check_type": "script", "script_name": detail or base}


class TacticalRmmSimulator(Simulator):
    vendor = "tactical-rmm"
    base_url = "https://api.tactical.example"
    base_path = ""
    setting_path = ""
    rate_limit = None  # self-hosted: no API rate limit

    def __init__(self, *, api_key: str = "sim-tactical-key", **kw: Any) -> None:
        super().__init__(**kw)
        self.api_keys: dict[str, set[str]] = {api_key: {"view", "manage"}}
        """key -> permissions of its user's role ("view", "manage")."""
        self.clients: dict[int, dict[str, Any]] = {}
        self.sites: dict[int, dict[str, Any]] = {}
        self.agents: dict[str, dict[str, Any]] = {}
        self.checks: dict[int, dict[str, Any]] = {}
        self.scripts: dict[str, int] = {}
        self._check_ids: dict[tuple[str, str], int] = {}
        self.alerts: dict[int, dict[str, Any]] = {}
        self.timeline = Timeline()
        self._ids = itertools.count(1)
        self._alert_ids = itertools.count(5001)
        self.resolved_by_api: list[int] = []
        self.failure_action: dict[str, str] | None = None
        self.resolved_action: dict[str, str] | None = None
        self.global_store: dict[str, str] = {}
        self.deliveries: list[Delivery] = []
        self.deliver: Callable[[Delivery], None] | None = None
        self.version = "v1.3.1"
        self.filters_seen: list[dict[str, Any]] = []

    # -- scenario building --------------------------------------------------------------------------
    def add_client(self, name: str) -> int:
        cid = next(self._ids)
        self.clients[cid] = {"id": cid, "name": name}
        return cid

    def add_site(self, client_id: int, name: str) -> int:
        sid = next(self._ids)
        self.sites[sid] = {"id": sid, "name": name, "client": client_id}
        return sid

    def add_agent(self, site_id: int, hostname: str, *, monitoring_type: str = "workstation",
                  agent_id: str | None = None) -> str:
        agent_id = agent_id or secrets.token_hex(20)
        self.agents[agent_id] = {"pk": next(self._ids), "agent_id": agent_id, "hostname": hostname, "site": site_id,
                                 "monitoring_type": monitoring_type, "plat": "windows", "status": "online"}
        return agent_id

    def add_check(self, agent_id: str, check_type: str, **fields: Any) -> int:
        pk = next(self._ids)
        script_name = fields.pop("script_name", None)
        if script_name:
            fields["script"] = self.scripts.setdefault(script_name, next(self._ids))
        self.checks[pk] = {"id": pk, "agent": self.agents[agent_id]["pk"], "policy": None, "check_type": check_type,
                           "alert_severity": "warning", **fields}
        return pk

    def readable_desc(self, check: dict[str, Any]) -> str:
        """As ``Check.readable_desc`` renders it."""
        kind = check["check_type"]
        display = DISPLAY.get(kind, kind)
        thresholds = f" Error Threshold: {check['error_threshold']}%" if check.get("error_threshold") else ""
        if kind == "diskspace":
            return f"{display}: Drive {check.get('disk')} - {thresholds}"
        if kind in ("cpuload", "memory"):
            return f"{display} - {thresholds}"
        if kind == "ping":
            return f"{display}: {check.get('name')}"
        if kind == "winsvc":
            return f"{display}: {check.get('svc_display_name')}"
        if kind == "eventlog":
            return f"{display}: {check.get('name')}"
        if kind == "script":
            name = next((n for n, pk in self.scripts.items() if pk == check.get("script")), "")
            return f"{display}: {name}"
        return "n/a"

    def schedule_alert(
        self,
        agent_id: str,
        *,
        raise_at: datetime,
        resolve_at: datetime | None = None,
        alert_type: str = "availability",
        check_id: int | None = None,
        task_id: int | None = None,
        severity: str = "error",
        message: str | None = None,
        snoozed: bool = False,
    ) -> int:
        """An alert that fails at ``raise_at`` and (optionally) resolves at ``resolve_at``."""
        agent = self.agents[agent_id]
        site = self.sites[agent["site"]]
        if message is None:
            if alert_type == "check" and check_id is not None:
                check = self.checks[check_id]
                message = f"{agent['hostname']} has a {check['check_type']} check: {self.readable_desc(check)} that failed."
            elif alert_type == "task":
                message = f"{agent['hostname']} has task: task {task_id} that failed."
            else:
                message = f"{agent['hostname']} in {self.clients[site['client']]['name']}, {site['name']} is overdue."
        pk = next(self._alert_ids)
        self.alerts[pk] = {
            "id": pk, "agent_id": agent_id, "alert_type": alert_type, "assigned_check": check_id,
            "assigned_task": task_id, "message": message, "alert_time": raise_at, "snoozed": snoozed,
            "snooze_until": None, "resolved": False, "resolved_on": None, "severity": severity, "hidden": False,
            "_state": "scheduled",
        }
        self.timeline.push(raise_at, "fail", str(pk))
        if resolve_at is not None:
            self.timeline.push(resolve_at, "resolve", str(pk))
        return pk

    def raise_alert(self, agent_id: str, check: str = "device_offline", **kw: Any) -> int:
        """An alert for a canonical ``check`` (its Tactical check made on the fly), raised a second ago."""
        alert_type, fields = check_for(check)
        check_id = None
        if alert_type == "check":
            check_id = self._check_ids.get((agent_id, check))
            if check_id is None:
                check_id = self._check_ids[(agent_id, check)] = self.add_check(agent_id, **fields)
        return self.schedule_alert(agent_id, raise_at=kw.pop("raise_at", self.now() - timedelta(seconds=1)),
                                   alert_type=alert_type, check_id=check_id, **kw)

    def resolve(self, alert_id: int, at: datetime | None = None) -> None:
        self.timeline.push(at or self.now() - timedelta(seconds=1), "resolve", str(alert_id))

    def load_stream(self, stream: Any) -> dict[str, int]:
        """Clients, sites, agents, checks and alerts for a canonical stream (muted = snoozed).
        Returns canonical client id -> Tactical client id."""
        clients: dict[str, int] = {}
        sites: dict[str, int] = {}
        agents: dict[str, str] = {}
        for d in stream.topology.devices:
            if d.client not in clients:
                clients[d.client] = self.add_client(d.client_name)
            if d.site not in sites:
                sites[d.site] = self.add_site(clients[d.client], d.site_name)
            agents[d.id] = self.add_agent(sites[d.site], d.name,
                                          monitoring_type="server" if d.type.value == "server" else "workstation")
        severity = {"critical": "error", "high": "error", "moderate": "warning", "low": "warning", "info": "info"}
        for e, cleared in alert_spans(stream.events):
            self.raise_alert(agents[e.device], e.check, raise_at=e.at, resolve_at=cleared,
                             severity=severity[e.severity.value], snoozed=e.muted)
        return clients

    def set_actions(self, url: str, *, body: dict[str, Any], headers: dict[str, str]) -> None:
        """Failure and Resolved REST actions on the alert template every agent uses."""
        text = json.dumps(body)
        resolved = json.dumps({**body, "event": "resolved"})
        self.failure_action = {"pattern": url, "rest_method": "post", "rest_body": text,
                               "rest_headers": json.dumps(headers)}
        self.resolved_action = {**self.failure_action, "rest_body": resolved}

    # -- the clock ----------------------------------------------------------------------------------
    def _advance(self) -> None:
        for at, action, key in self.timeline.due(self.now()):
            alert = self.alerts[int(key)]
            if action == "fail" and alert["_state"] == "scheduled":
                alert["_state"] = "open"
                self._run_action(self.failure_action, alert)
            elif action == "resolve" and alert["_state"] in ("open", "scheduled"):
                was_open = alert["_state"] == "open"
                self._resolve(alert, at)
                if was_open:
                    self._run_action(self.resolved_action, alert)

    @staticmethod
    def _resolve(alert: dict[str, Any], at: datetime) -> None:
        alert.update(_state="resolved", resolved=True, resolved_on=at, snoozed=False, snooze_until=None)

    # -- URL actions (webhooks) -----------------------------------------------------------------------
    def _context(self, alert: dict[str, Any]) -> dict[str, Any]:
        agent = self.agents[alert["agent_id"]]
        site = self.sites[agent["site"]]
        check = self.checks.get(alert["assigned_check"] or -1)
        if check is not None:
            name = next((n for n, pk in self.scripts.items() if pk == check.get("script")), None)
            check = {**check, "script": {"id": check.get("script"), "name": name} if name else None}
        alert_ctx = {**alert, "assigned_check": check,
                     "assigned_task": {"id": alert["assigned_task"]} if alert["assigned_task"] else None}
        return {"alert": alert_ctx, "agent": agent, "site": site, "client": self.clients[site["client"]],
                "global": self.global_store}

    def render(self, text: str, alert: dict[str, Any]) -> str:
        """``{{model.prop.prop}}`` replaced as Tactical's ``get_db_value`` does (``str()`` of the value)."""
        ctx = self._context(alert)

        def value(match: re.Match[str]) -> str:
            node: Any = ctx
            for part in match.group(1).split("."):
                node = node.get(part) if isinstance(node, dict) else None
            return str(node)

        return _VAR.sub(value, text)

    def _run_action(self, action: dict[str, str] | None, alert: dict[str, Any]) -> None:
        if not action:
            return
        body_text = self.render(action["rest_body"], alert)
        try:
            body: Any = json.loads(body_text, strict=False)
        except ValueError:
            body = body_text  # Tactical logs the error and sends the text as a JSON string
        headers = json.loads(self.render(action["rest_headers"], alert) or "{}")
        delivery = Delivery(self.render(action["pattern"], alert), {"Content-Type": "application/json", **headers},
                            json.dumps(body).encode())
        self.deliveries.append(delivery)
        if self.deliver is not None:
            self.deliver(delivery)

    # -- reference checks -------------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        response = super().handle(request)
        if self.contract is not None:
            self.contract.problems += self.reference_problems(request)
        return response

    def reference_problems(self, request: httpx.Request) -> list[str]:
        method, path = request.method, request.url.path
        label = f"{method} {path}"
        if not any(m == method and re.fullmatch(p, path) for m, p in REFERENCE_ROUTES):
            return [f"{label}: not a route of the Tactical RMM server read for this connector"]
        problems = []
        if "x-api-key" not in {h.lower() for h in request.headers}:
            problems.append(f"{label}: no X-API-KEY header")
        if method in ("PATCH", "PUT", "POST"):
            try:
                body = json.loads(request.content or b"null")
            except ValueError:
                return [*problems, f"{label}: body is not JSON"]
            if not isinstance(body, dict):
                problems.append(f"{label}: body is not an object")
            elif method == "PATCH" and path == "/alerts/":
                problems += [f"{label}: {k!r} is not a filter GetAddAlerts reads" for k in set(body) - ALERT_FILTERS]
            elif method == "PUT" and path.startswith("/alerts/"):
                if body.get("type") not in ("resolve", "snooze", "unsnooze"):
                    problems.append(f"{label}: type must be resolve, snooze or unsnooze")
                if body.get("type") == "snooze" and not isinstance(body.get("snooze_days"), int):
                    problems.append(f"{label}: snooze needs an integer snooze_days")
        return problems

    # -- protocol ---------------------------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        return {"detail": {401: "Invalid token.", 403: "You do not have permission to perform this action.",
                           404: "Not found."}.get(status, message)}

    def _permissions(self, request: httpx.Request) -> set[str]:
        key = request.headers.get("x-api-key")
        if not key:
            raise HttpError(401, {"detail": "Authentication credentials were not provided."})
        if key not in self.api_keys:
            raise HttpError(401)
        return self.api_keys[key]

    def check_auth(self, request: httpx.Request) -> None:
        perms = self._permissions(request)
        if "view" not in perms or (request.method in ("PUT", "DELETE", "POST") and "manage" not in perms):
            raise HttpError(403)

    def serialize_alert(self, alert: dict[str, Any]) -> dict[str, Any]:
        """As ``AlertSerializer`` (``fields = "__all__"`` plus hostname, agent_id, client, site)."""
        agent = self.agents[alert["agent_id"]]
        site = self.sites[agent["site"]]
        return {
            "id": alert["id"], "hostname": agent["hostname"], "agent_id": agent["agent_id"],
            "client": self.clients[site["client"]]["name"], "site": site["name"],
            "alert_time": _drf(alert["alert_time"]), "alert_type": alert["alert_type"], "message": alert["message"],
            "snoozed": alert["snoozed"], "snooze_until": _drf(alert["snooze_until"]), "resolved": alert["resolved"],
            "resolved_on": _drf(alert["resolved_on"]), "severity": alert["severity"], "email_sent": None,
            "resolved_email_sent": None, "sms_sent": None, "resolved_sms_sent": None, "hidden": alert["hidden"],
            "action_run": None, "action_stdout": None, "action_stderr": None, "action_retcode": None,
            "action_execution_time": None, "resolved_action_run": None, "resolved_action_stdout": None,
            "resolved_action_stderr": None, "resolved_action_retcode": None,
            "resolved_action_execution_time": None, "agent": agent["pk"], "assigned_check": alert["assigned_check"],
            "assigned_task": alert["assigned_task"],
        }

    def _visible(self) -> list[dict[str, Any]]:
        self._advance()
        return [a for a in self.alerts.values() if a["_state"] != "scheduled"]

    @route("PATCH", "/alerts/")
    def list_alerts(self, request: httpx.Request) -> Any:
        data = self.body_of(request)
        if not isinstance(data, dict):
            raise HttpError(400, "There was an error in the request data")
        self.filters_seen.append(data)
        alerts = self._visible()
        if "top" in data:
            live = [a for a in alerts if not a["resolved"] and not a["snoozed"] and not a["hidden"]]
            live.sort(key=lambda a: a["alert_time"])
            return {"alerts_count": len(live), "alerts": [self.serialize_alert(a) for a in live[: int(data["top"])]]}
        if any(k in data for k in ALERT_FILTERS):
            if "snoozedFilter" in data and not data["snoozedFilter"]:
                alerts = [a for a in alerts if a["snoozed"] == data["snoozedFilter"]]
            if "resolvedFilter" in data and not data["resolvedFilter"]:
                alerts = [a for a in alerts if a["resolved"] == data["resolvedFilter"]]
            if "clientFilter" in data:
                wanted = set(data["clientFilter"])
                alerts = [a for a in alerts if self.sites[self.agents[a["agent_id"]]["site"]]["client"] in wanted]
            if "severityFilter" in data:
                alerts = [a for a in alerts if a["severity"] in data["severityFilter"]]
            if "timeFilter" in data:
                now = self.now()
                since = now - timedelta(days=int(data["timeFilter"]))
                alerts = [a for a in alerts if since < a["alert_time"] <= now]
        return [self.serialize_alert(a) for a in alerts]

    def _get(self, pk: str) -> dict[str, Any]:
        self._advance()
        alert = self.alerts.get(int(pk)) if pk.isdigit() else None
        if alert is None or alert["_state"] == "scheduled":
            raise HttpError(404)
        return alert

    @route("GET", "/alerts/{pk}/")
    def get_alert(self, request: httpx.Request, pk: str) -> Any:
        return self.serialize_alert(self._get(pk))

    @route("PUT", "/alerts/{pk}/")
    def update_alert(self, request: httpx.Request, pk: str) -> Any:
        alert = self._get(pk)
        data = self.body_of(request)
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "resolve":
            if not alert["resolved"]:
                self._resolve(alert, self.now())
                self.resolved_by_api.append(alert["id"])
        elif kind == "snooze":
            if "snooze_days" not in data:
                raise HttpError(400, "Missing 'snoozed_days' when trying to snooze alert")
            alert.update(snoozed=True, snooze_until=self.now() + timedelta(days=int(data["snooze_days"])))
        elif kind == "unsnooze":
            alert.update(snoozed=False, snooze_until=None)
        else:
            raise HttpError(400, "There was an error in the request data")
        return "ok"

    @route("DELETE", "/alerts/{pk}/")
    def delete_alert(self, request: httpx.Request, pk: str) -> Any:
        self.alerts.pop(self._get(pk)["id"])
        return "ok"

    @route("GET", "/clients/")
    def list_clients(self, request: httpx.Request) -> Any:
        out = []
        for c in sorted(self.clients.values(), key=lambda c: c["name"]):
            sites = [self._site(s) for s in sorted(self.sites.values(), key=lambda s: s["name"])
                     if s["client"] == c["id"]]
            out.append({"id": c["id"], "name": c["name"], "server_policy": None, "workstation_policy": None,
                        "alert_template": None, "block_policy_inheritance": False, "sites": sites,
                        "custom_fields": [], "agent_count": sum(s["agent_count"] for s in sites),
                        "maintenance_mode": False, "failing_checks": {"error": False, "warning": False}})
        return out

    def _site(self, s: dict[str, Any]) -> dict[str, Any]:
        return {"id": s["id"], "name": s["name"], "server_policy": None, "workstation_policy": None,
                "alert_template": None, "client_name": self.clients[s["client"]]["name"], "client": s["client"],
                "custom_fields": [], "agent_count": sum(1 for a in self.agents.values() if a["site"] == s["id"]),
                "block_policy_inheritance": False, "maintenance_mode": False,
                "failing_checks": {"error": False, "warning": False}}

    @route("GET", "/clients/sites/")
    def list_sites(self, request: httpx.Request) -> Any:
        return [self._site(s) for s in self.sites.values()]

    @route("GET", "/agents/")
    def list_agents(self, request: httpx.Request) -> Any:
        out = []
        for a in self.agents.values():
            site = self.sites[a["site"]]
            out.append({"agent_id": a["agent_id"], "alert_template": None, "hostname": a["hostname"],
                        "site_name": site["name"], "client_name": self.clients[site["client"]]["name"],
                        "monitoring_type": a["monitoring_type"], "description": "", "needs_reboot": False,
                        "pending_actions_count": 0, "status": a["status"], "overdue_text_alert": False,
                        "overdue_email_alert": False, "overdue_dashboard_alert": True,
                        "last_seen": _drf(self.now()), "boot_time": 0.0, "maintenance_mode": False,
                        "plat": a["plat"], "goarch": "amd64", "version": "2.9.0", "custom_fields": []})
        return out

    def _check(self, check: dict[str, Any]) -> dict[str, Any]:
        """As ``CheckSerializer`` (all fields, ``readable_desc``, tasks, template, result)."""
        return {**check, "readable_desc": self.readable_desc(check), "assignedtasks": [], "alert_template": None,
                "check_result": {}}

    @route("GET", "/checks/")
    def list_checks(self, request: httpx.Request) -> Any:
        return [self._check(c) for c in self.checks.values()]

    @route("GET", "/checks/{pk}/")
    def get_check(self, request: httpx.Request, pk: str) -> Any:
        check = self.checks.get(int(pk)) if pk.isdigit() else None
        if check is None:
            raise HttpError(404)
        return self._check(check)

    @route("GET", "/core/version/")
    def get_version(self, request: httpx.Request) -> Any:
        return self.version
