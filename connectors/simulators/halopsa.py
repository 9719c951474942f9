"""A stateful HaloPSA: tickets, actions, statuses, priorities, types, categories, clients, users, agents.

Shapes follow ``shared/specs/halopsa.json`` (requests) and the document's own schemas for answers
(``Faults``, ``Actions``, ``Area``, ``Users``, ``Uname``, ``TStatus``, ``Policy``…), in the
envelopes Halo serves: ``{"record_count": n, "tickets": […]}`` for paginated lists, a bare list
for small ones, the saved object for a ``POST`` of one record. Like Halo:

- OAuth2 client credentials at ``/auth/token`` (``?tenant=`` for hosted tenants), bearer tokens
  on ``/api``; a wrong secret is a 401 on the token call, an unknown token a 401 on the API;
- ``pageinate=true&page_size=…&page_no=…`` with ``page_size`` capped at 100;
- ``lastupdatefromdate`` filters on ``last_update``, which every change (fields, actions, time)
  moves; ``search_details`` finds text in the details;
- ``POST /Tickets`` and ``POST /Actions`` take arrays and create or (with an ``id``) update;
  a refused write is a 400 with a bare JSON string; the Closed status (9) sets ``dateclosed``.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx

from connectors.simulators.base import HttpError, Simulator, route

__all__ = ["HaloPsaSimulator"]

CLOSED = 9


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def _parse(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HttpError(400, f"'{value}' is not a valid date") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _stamp(ticket: dict[str, Any]) -> datetime | None:
    """A ticket's ``last_update`` (None when a test has broken it: such a record still matches)."""
    try:
        return _parse(str(ticket.get("last_update")))
    except HttpError:
        return None


class HaloPsaSimulator(Simulator):
    vendor = "halopsa"
    base_url = "https://msp.halopsa.com"
    base_path = ""
    setting_path = "/api"
    rate_limit = (500, 60.0)
    undocumented = (("POST", r"^/auth/token$"),)

    def __init__(
        self,
        *,
        client_id: str = "sim-halo-client",
        client_secret: str = "sim-halo-secret",
        tenant: str | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.client_id = client_id
        self.client_secret = client_secret
        self.tenant = tenant
        self.tokens: set[str] = set()
        self.token_calls = 0
        self._ids = itertools.count(100)
        self.tickets: dict[int, dict[str, Any]] = {}
        self.actions: dict[int, dict[str, Any]] = {}
        self.clients: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.agents: dict[int, dict[str, Any]] = {}
        self.statuses = {sid: {"id": sid, "name": name, "type": 0 if sid != CLOSED else 1, "sequence": i,
                               "colour": "#888888"}
                         for i, (sid, name) in enumerate(((1, "New"), (2, "In Progress"), (3, "Action Required"),
                                                          (4, "With User"), (5, "With Supplier"), (8, "Resolved"),
                                                          (CLOSED, "Closed")))}
        self.priorities = [
            {"id": f"{sla}-{pid}", "slaid": sla, "priorityid": pid, "name": name, "fixtime": hours,
             "fixunits": "h", "responsetime": hours / 4, "responseunits": "h", "ishidden": False}
            for sla in (1, 2)
            for pid, name, hours in ((1, "Critical", 4.0), (2, "High", 8.0), (3, "Medium", 24.0), (4, "Low", 72.0))
        ]
        self.ticket_types = [{"id": 1, "name": "Incident"}, {"id": 2, "name": "Service Request"},
                             {"id": 21, "name": "Alert"}]
        self.categories = [{"id": i, "value": v, "category_name": v, "type_id": 1}
                           for i, v in enumerate(("Monitoring", "Hardware", "Network"), start=1)]
        self.slas = [{"id": 1, "name": "Standard SLA"}, {"id": 2, "name": "Premium SLA"}]
        self.api_agent_id = self.add_agent("Switchboard API", "api@msp.example", api=True)
        self.technician_id = self.add_agent("Tess Technician", "tess@msp.example")

    # -- seeding ------------------------------------------------------------------------------------
    def _new_id(self) -> int:
        return next(self._ids)

    def add_agent(self, name: str, email: str, *, api: bool = False) -> int:
        aid = self._new_id()
        first, _, last = name.partition(" ")
        self.agents[aid] = {"id": aid, "name": name, "email": email, "isdisabled": False, "firstname": first,
                            "surname": last, "is_agent": True, "isapiagent": api}
        return aid

    def add_client(self, name: str) -> int:
        cid = self._new_id()
        self.clients[cid] = {"id": cid, "name": name, "inactive": False, "toplevel_id": 1, "toplevel_name": "Clients",
                             "main_site_id": cid * 10, "main_site_name": "Main"}
        return cid

    def add_user(self, client_id: int, name: str, email: str, *, vip: bool = False) -> int:
        uid = self._new_id()
        self.users[uid] = {"id": uid, "name": name, "emailaddress": email, "client_id": client_id,
                           "client_name": self.clients[client_id]["name"], "site_id": client_id * 10,
                           "site_name": "Main", "inactive": False, "isimportantcontact": vip}
        return uid

    def add_ticket(self, summary: str, client_id: int, **fields: Any) -> int:
        """A ticket a person logged (not through the API)."""
        return int(self._save_ticket({"summary": summary, "client_id": client_id, **fields},
                                     by=self.technician_id)["id"])

    def set_status(self, tid: int, status_id: int) -> None:
        """A person changes the status in Halo."""
        self._save_ticket({"id": tid, "status_id": status_id}, by=self.technician_id)

    def add_time(self, tid: int, agent_id: int, hours: float, note: str = "") -> int:
        return int(self._save_action({"ticket_id": tid, "outcome": "Remote Session", "note": note or "worked on it",
                                      "timetaken": hours, "hiddenfromuser": True}, by=agent_id)["id"])

    def add_human_note(self, tid: int, text: str, agent_id: int | None = None) -> int:
        return int(self._save_action({"ticket_id": tid, "outcome": "Private Note", "note": text,
                                      "hiddenfromuser": True}, by=agent_id or self.technician_id)["id"])

    def notes_of(self, tid: int) -> list[dict[str, Any]]:
        return [a for a in self.actions.values() if a["ticket_id"] == tid]

    def webhook_delivery(self, tid: int, password: str, *, event: str = "Ticket Updated") -> tuple[dict[str, str], bytes]:
        """The headers and body Halo would POST to a webhook set up with Basic authentication."""
        body = json.dumps({"id": str(uuid.uuid4()), "event": event, "ticket": self.tickets[tid]}).encode()
        token = base64.b64encode(f"switchboard:{password}".encode()).decode()
        return {"content-type": "application/json", "authorization": f"Basic {token}"}, body

    # -- protocol -----------------------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        return message if status == 400 else {"message": message}

    def check_auth(self, request: httpx.Request) -> None:
        if request.url.path == "/auth/token":
            return
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            raise HttpError(401, {"message": "Unauthorized: invalid or expired token"})

    @route("POST", "/auth/token")
    def token(self, request: httpx.Request) -> Any:
        self.token_calls += 1
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if self.tenant and request.url.params.get("tenant") != self.tenant:
            raise HttpError(400, {"error": "invalid_request", "error_description": "unknown tenant"})
        if form.get("grant_type") != "client_credentials":
            raise HttpError(400, {"error": "unsupported_grant_type"})
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            raise HttpError(401, {"error": "invalid_client", "error_description": "Invalid client credentials"})
        token = secrets.token_hex(16)
        self.tokens.add(token)
        return {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": form.get("scope", "all")}

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def _paged(self, request: httpx.Request, rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
        params = request.url.params
        if params.get("pageinate", "false").lower() == "true":
            size = max(1, min(int(params.get("page_size") or 50), 100))
            page = max(1, int(params.get("page_no") or 1))
            return {"page_no": page, "page_size": size, "record_count": len(rows),
                    key: rows[(page - 1) * size : page * size]}
        count = int(params.get("count") or 50)
        return {"record_count": len(rows), key: rows[:count]}

    # -- tickets ------------------------------------------------------------------------------------
    @route("GET", "/api/Tickets")
    def list_tickets(self, request: httpx.Request) -> Any:
        params = request.url.params
        rows = list(self.tickets.values())
        if params.get("lastupdatefromdate"):
            since = _parse(params["lastupdatefromdate"])
            rows = [t for t in rows if (_stamp(t) or since) >= since]
        if params.get("lastupdatetodate"):
            until = _parse(params["lastupdatetodate"])
            rows = [t for t in rows if (_stamp(t) or until) <= until]
        if params.get("search_details"):
            needle = params["search_details"].lower()
            rows = [t for t in rows if needle in (t.get("details") or "").lower()]
        if params.get("client_id"):
            rows = [t for t in rows if t["client_id"] == int(params["client_id"])]
        if params.get("open_only", "").lower() == "true":
            rows = [t for t in rows if not t.get("dateclosed")]
        order = params.get("order") or "id"
        rows.sort(key=lambda t: (t.get(order) is None, t.get(order)), reverse=params.get("orderdesc") == "true")
        return self._paged(request, rows, "tickets")

    @route("GET", "/api/Tickets/{tid}")
    def get_ticket(self, request: httpx.Request, tid: str) -> Any:
        ticket = self.tickets.get(int(tid))
        if ticket is None:
            raise HttpError(404, {"message": f"Ticket {tid} not found"})
        return ticket

    def _save_ticket(self, body: dict[str, Any], by: int) -> dict[str, Any]:
        now = _iso(self.now())
        tid = int(body.get("id") or 0)
        if tid:
            ticket = self.tickets.get(tid)
            if ticket is None:
                raise HttpError(400, f"Ticket {tid} does not exist")
        else:
            if not body.get("summary"):
                raise HttpError(400, "Please enter a summary")
            if body.get("client_id") not in self.clients:
                raise HttpError(400, f"Please select a valid client ({body.get('client_id')})")
            tid = self._new_id()
            client = self.clients[body["client_id"]]
            ticket = {
                "id": tid, "summary": "", "details": "", "status_id": 1, "tickettype_id": 1, "priority_id": 3,
                "client_id": client["id"], "client_name": client["name"], "site_id": client["main_site_id"],
                "site_name": client["main_site_name"], "user_id": None, "agent_id": None, "team": "1st Line",
                "category_1": None, "dateoccurred": now, "datecreated": now, "last_update": now, "dateclosed": None,
                "hasbeenclosed": False, "sla_id": 1, "third_party_id_string": None,
            }
            self.tickets[tid] = ticket
        if "status_id" in body and body["status_id"] not in self.statuses:
            raise HttpError(400, f"Status {body['status_id']} is not valid")
        if "priority_id" in body and body["priority_id"] not in {p["priorityid"] for p in self.priorities}:
            raise HttpError(400, f"Priority {body['priority_id']} is not valid")
        if "tickettype_id" in body and body["tickettype_id"] not in {t["id"] for t in self.ticket_types}:
            raise HttpError(400, f"Ticket type {body['tickettype_id']} is not valid")
        if body.get("agent_id") and body["agent_id"] not in self.agents:
            raise HttpError(400, f"Agent {body['agent_id']} is not valid")
        for key, value in body.items():
            if key != "id":
                ticket[key] = value
        if "status_id" in body:
            if body["status_id"] == CLOSED:
                ticket["dateclosed"] = ticket.get("dateclosed") or now
                ticket["hasbeenclosed"] = True
            else:
                ticket["dateclosed"] = None
        ticket["last_update"] = now
        return ticket

    @route("POST", "/api/Tickets")
    def post_tickets(self, request: httpx.Request) -> Any:
        body = self.body_of(request)
        if not isinstance(body, list) or not body:
            raise HttpError(400, "Expected an array of tickets")
        saved = [self._save_ticket(dict(b), by=self.api_agent_id) for b in body]
        return saved[0] if len(saved) == 1 else saved

    # -- actions ------------------------------------------------------------------------------------
    def _save_action(self, body: dict[str, Any], by: int) -> dict[str, Any]:
        now = _iso(self.now())
        aid = int(body.get("id") or 0)
        if aid:
            action = self.actions.get(aid)
            if action is None or action["ticket_id"] != body.get("ticket_id", action["ticket_id"]):
                raise HttpError(400, f"Action {aid} does not exist on this ticket")
        else:
            tid = body.get("ticket_id")
            if tid not in self.tickets:
                raise HttpError(400, f"Ticket {tid} does not exist")
            if not body.get("note") and not body.get("timetaken"):
                raise HttpError(400, "Please enter a note")
            if by not in self.agents:
                raise HttpError(400, f"Agent {by} is not valid")
            aid = self._new_id()
            action = {"id": aid, "ticket_id": tid, "outcome": "Private Note", "note": "", "hiddenfromuser": True,
                      "datetime": now, "who_agentid": by, "actionby_agent_id": by,
                      "who_type": 1, "timetaken": 0.0, "outcome_id": 7}
            self.actions[aid] = action
        for key, value in body.items():
            if key != "id":
                action[key] = value
        action["last_updated"] = now
        self.tickets[action["ticket_id"]]["last_update"] = now
        self.tickets[action["ticket_id"]]["lastactiondate"] = now
        return action

    @route("GET", "/api/Actions")
    def list_actions(self, request: httpx.Request) -> Any:
        params = request.url.params
        rows = list(self.actions.values())
        if params.get("ticket_id"):
            rows = [a for a in rows if a["ticket_id"] == int(params["ticket_id"])]
        if params.get("timeentriesonly", "").lower() == "true":
            rows = [a for a in rows if (a.get("timetaken") or 0) > 0]
        return {"record_count": len(rows), "actions": rows}

    @route("POST", "/api/Actions")
    def post_actions(self, request: httpx.Request) -> Any:
        body = self.body_of(request)
        if not isinstance(body, list) or not body:
            raise HttpError(400, "Expected an array of actions")
        saved = [self._save_action(dict(b), by=self.api_agent_id) for b in body]
        return saved[0] if len(saved) == 1 else saved

    # -- reference data -----------------------------------------------------------------------------
    @route("GET", "/api/Status")
    def list_statuses(self, request: httpx.Request) -> Any:
        return list(self.statuses.values())

    @route("GET", "/api/Priority")
    def list_priorities(self, request: httpx.Request) -> Any:
        return self.priorities

    @route("GET", "/api/TicketType")
    def list_ticket_types(self, request: httpx.Request) -> Any:
        return self.ticket_types

    @route("GET", "/api/Category")
    def list_categories(self, request: httpx.Request) -> Any:
        type_id = request.url.params.get("type_id")
        return [c for c in self.categories if not type_id or c["type_id"] == int(type_id)]

    @route("GET", "/api/SLA")
    def list_slas(self, request: httpx.Request) -> Any:
        return self.slas

    @route("GET", "/api/Agent")
    def list_agents(self, request: httpx.Request) -> Any:
        return list(self.agents.values())

    @route("GET", "/api/Client")
    def list_clients(self, request: httpx.Request) -> Any:
        return self._paged(request, list(self.clients.values()), "clients")

    @route("GET", "/api/Users")
    def list_users(self, request: httpx.Request) -> Any:
        rows = list(self.users.values())
        if request.url.params.get("client_id"):
            rows = [u for u in rows if u["client_id"] == int(request.url.params["client_id"])]
        return self._paged(request, rows, "users")

    @route("GET", "/api/Webhook")
    def list_webhooks(self, request: httpx.Request) -> Any:
        return []
