"""A stateful ConnectWise PSA (Manage REST 3.0): boards, tickets, notes, companies, time, callbacks.

Shapes follow ``shared/specs/connectwise-psa.json``. Behaviour a connector must cope with, as the
vendor does it:

- HTTP Basic ``company+public:private`` plus a ``clientId`` header, else 401;
- ``conditions`` in ConnectWise's query language (``lastUpdated >= [2026-11-02T09:00:00Z] AND
  board/id in (1,2)``, ``externalXRef = "…"``); a condition it cannot parse is a 400;
- ``pageSize`` capped at 1000; navigable paging (``page``) or forward-only paging (header
  ``pagination-type: forward-only``, ``pageId``), the next page named in a ``Link`` header;
- statuses belong to a board (a status of another board is refused with 400), a closed status
  sets ``closedFlag``/``closedDate``; the initial description becomes the ticket's first note;
- every change moves the ticket's ``_info.lastUpdated``; 400s list the refused fields;
- callbacks: ``/system/callbacks`` registrations, and signed deliveries for tests
  (:meth:`ConnectWisePsaSimulator.callback_delivery`) with the signing key served at the
  ``Metadata.key_url`` (not in the API document: listed in ``undocumented``).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.connectwise_psa import sign_callback
from connectors.simulators.base import HttpError, Simulator, route

__all__ = ["ConnectWisePsaSimulator"]

_API = "/v4_6_release/apis/3.0"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


# -- conditions ---------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r'\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<str>"(?:[^"\\]|\\.)*")|(?P<date>\[[^\]]*\])|(?P<op><=|>=|!=|=|<|>)'
    r'|(?P<comma>,)|(?P<num>-?\d+(?:\.\d+)?)(?![\w/])|(?P<word>[A-Za-z_][\w/]*))'
)
_FIELD_ALIASES = {"lastupdated": "_info/lastUpdated", "dateentered": "_info/dateEntered"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise HttpError(400, {"code": "InvalidObject", "message": f"conditions: cannot parse near {text[pos:pos + 20]!r}"})
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Conditions:
    """A parsed ``conditions`` string: ``field op value`` joined by AND/OR, with parentheses."""

    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.tree = self._or()
        if self.i != len(self.toks):
            self._fail()

    def _fail(self) -> None:
        raise HttpError(400, {"code": "InvalidObject", "message": "conditions: unexpected token"})

    def _peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def _take(self) -> tuple[str, str]:
        tok = self._peek()
        if tok is None:
            self._fail()
        assert tok is not None
        self.i += 1
        return tok

    def _or(self) -> Any:
        left = self._and()
        while (t := self._peek()) and t[0] == "word" and t[1].lower() == "or":
            self.i += 1
            left = ("or", left, self._and())
        return left

    def _and(self) -> Any:
        left = self._term()
        while (t := self._peek()) and t[0] == "word" and t[1].lower() == "and":
            self.i += 1
            left = ("and", left, self._term())
        return left

    def _value(self) -> Any:
        kind, text = self._take()
        if kind == "str":
            return json.loads(text)
        if kind == "date":
            parsed = _date(text[1:-1])
            if parsed is None:
                raise HttpError(400, {"code": "InvalidObject", "message": f"conditions: bad date {text}"})
            return parsed
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "word" and text.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text.lower()]
        self._fail()
        return None

    def _term(self) -> Any:
        kind, text = self._take()
        if kind == "lp":
            inner = self._or()
            if self._take()[0] != "rp":
                self._fail()
            return inner
        if kind != "word":
            self._fail()
        field = _FIELD_ALIASES.get(text.lower(), text)
        op_kind, op = self._take()
        if op_kind == "word" and op.lower() == "not":
            op = "not " + self._take()[1].lower()
        elif op_kind == "word":
            op = op.lower()
        elif op_kind != "op":
            self._fail()
        if op in ("in", "not in"):
            if self._take()[0] != "lp":
                self._fail()
            values = [self._value()]
            while self._peek() and self._peek()[0] == "comma":  # type: ignore[index]
                self.i += 1
                values.append(self._value())
            if self._take()[0] != "rp":
                self._fail()
            return ("cmp", field, op, values)
        if op not in ("=", "!=", "<", "<=", ">", ">=", "contains", "like"):
            self._fail()
        return ("cmp", field, op, self._value())

    def matches(self, record: dict[str, Any]) -> bool:
        return self._eval(self.tree, record)

    def _eval(self, node: Any, record: dict[str, Any]) -> bool:
        if node[0] == "and":
            return self._eval(node[1], record) and self._eval(node[2], record)
        if node[0] == "or":
            return self._eval(node[1], record) or self._eval(node[2], record)
        _, field, op, want = node
        have: Any = record
        for part in field.split("/"):
            have = have.get(part) if isinstance(have, dict) else None
        if isinstance(want, datetime) or (isinstance(want, list) and want and isinstance(want[0], datetime)):
            have = _date(have)
        if isinstance(have, str) and isinstance(want, str):
            have, want = have.lower(), want.lower()
        if op in ("in", "not in"):
            values = [w.lower() if isinstance(w, str) else w for w in want]
            return (have in values) == (op == "in")
        if op == "=":
            return bool(have == want)
        if op == "!=":
            return bool(have != want)
        if op == "contains":
            return isinstance(have, str) and str(want) in have
        if op == "like":
            pattern = "^" + re.escape(str(want)).replace(r"\*", ".*").replace("%", ".*") + "$"
            return isinstance(have, str) and re.match(pattern, have) is not None
        if have is None or want is None:
            return False
        try:
            return bool({"<": have < want, "<=": have <= want, ">": have > want, ">=": have >= want}[op])
        except TypeError:
            return False


# -- the simulator --------------------------------------------------------------------------------------


class ConnectWisePsaSimulator(Simulator):
    vendor = "connectwise-psa"
    base_url = "https://api-na.myconnectwise.net"
    base_path = _API
    setting_path = _API
    rate_limit = (600, 60.0)
    undocumented = (("GET", r"/system/callbackEntry/key/"),)

    def __init__(
        self,
        *,
        company_id: str = "msp",
        public_key: str = "simPublicKey",
        private_key: str = "sim-cw-private-key",
        client_id: str = "sim-client-id",
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.company_id = company_id
        self.public_key = public_key
        self.private_key = private_key
        self.client_id = client_id
        self._ids = itertools.count(1000)
        self.boards: dict[int, dict[str, Any]] = {}
        self.statuses: dict[int, dict[str, Any]] = {}
        self.board_types: dict[int, dict[str, Any]] = {}
        self.board_subtypes: dict[int, dict[str, Any]] = {}
        self.board_items: dict[int, dict[str, Any]] = {}
        self.priorities: dict[int, dict[str, Any]] = {}
        self.companies: dict[int, dict[str, Any]] = {}
        self.contacts: dict[int, dict[str, Any]] = {}
        self.members: dict[int, dict[str, Any]] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.notes: dict[int, dict[str, Any]] = {}
        self.time_entries: dict[int, dict[str, Any]] = {}
        self.callbacks: dict[int, dict[str, Any]] = {}
        self.signing_keys: dict[int, str] = {}
        self.initial_notes: set[int] = set()
        """ids of the notes ConnectWise made from a ticket's initial description"""
        self.api_member_id = self.add_member("switchboard", "Switchboard", "API", "api@msp.example")
        self.technician_id = self.add_member("tess", "Tess", "Technician", "tess@msp.example")
        self.board_id = self.add_board("Service Desk")
        for name, prio, level in (("Priority 1 - Emergency Response", 1, "Critical"),
                                  ("Priority 2 - Quick Response", 2, "High"),
                                  ("Priority 3 - Normal Response", 3, "Medium"),
                                  ("Priority 4 - Schedule Maintenance", 4, "Low"),
                                  ("Do Not Respond", 5, None)):
            self.add_priority(name, sort=prio, level=level, default=prio == 3)

    # -- seeding ------------------------------------------------------------------------------------
    def _new_id(self) -> int:
        return next(self._ids)

    def _info(self) -> dict[str, str]:
        now = _iso(self.now())
        return {"lastUpdated": now, "dateEntered": now, "updatedBy": "switchboard", "enteredBy": "switchboard"}

    def add_member(self, identifier: str, first: str, last: str, email: str) -> int:
        mid = self._new_id()
        self.members[mid] = {"id": mid, "identifier": identifier, "firstName": first, "lastName": last,
                             "primaryEmail": email, "inactiveFlag": False,
                             "licenseClass": "A" if identifier == "switchboard" else "F",
                             "hireDate": "2024-01-08T00:00:00Z", "defaultEmail": "Office", "defaultPhone": "Office",
                             "securityRole": {"id": 63, "name": "Admin"}, "_info": self._info()}
        return mid

    def add_board(self, name: str, *, statuses: tuple[tuple[str, bool], ...] | None = None) -> int:
        """A board with its statuses (name, closed), the first one the default; plus types/subtypes/items."""
        bid = self._new_id()
        self.boards[bid] = {"id": bid, "name": name, "location": {"id": 2, "name": "Head Office"},
                            "department": {"id": 10, "name": "Services"}, "inactiveFlag": False,
                            "projectFlag": False, "_info": self._info()}
        statuses = statuses or (("New", False), ("Assigned", False), ("In Progress", False),
                                ("Waiting Customer", False), ("Customer Updated", False), ("Scheduled", False),
                                ("Completed", True), ("Closed", True))
        for i, (status, closed) in enumerate(statuses):
            sid = self._new_id()
            self.statuses[sid] = {"id": sid, "name": status, "board": {"id": bid, "name": name}, "sortOrder": i,
                                  "displayOnBoard": True, "inactive": False, "closedStatus": closed,
                                  "defaultFlag": i == 0, "timeEntryNotAllowed": False}
        for kind, names in ((self.board_types, ("Alert", "Incident", "Service Request")),
                            (self.board_subtypes, ("Disk", "Network", "Server", "Backup")),
                            (self.board_items, ("Monitoring", "Hardware"))):
            for n in names:
                iid = self._new_id()
                kind[iid] = {"id": iid, "name": n, "inactiveFlag": False, "board": {"id": bid, "name": name}}
        return bid

    def add_priority(self, name: str, *, sort: int, level: str | None, default: bool = False) -> int:
        pid = self._new_id()
        self.priorities[pid] = {"id": pid, "name": name, "color": "Custom", "sortOrder": sort, "defaultFlag": default,
                                "level": level}
        return pid

    def add_company(self, name: str, identifier: str | None = None) -> int:
        cid = self._new_id()
        self.companies[cid] = {"id": cid, "identifier": identifier or re.sub(r"\W", "", name)[:30], "name": name,
                               "status": {"id": 1, "name": "Active"}, "deletedFlag": False, "_info": self._info()}
        return cid

    def add_contact(self, company_id: int, first: str, last: str, email: str) -> int:
        cid = self._new_id()
        company = self.companies[company_id]
        self.contacts[cid] = {
            "id": cid, "firstName": first, "lastName": last, "inactiveFlag": False,
            "company": {"id": company_id, "identifier": company["identifier"], "name": company["name"]},
            "communicationItems": [{"type": {"id": 1, "name": "Email"}, "value": email, "defaultFlag": True,
                                    "communicationType": "Email"}],
            "_info": self._info(),
        }
        return cid

    def status_named(self, name: str, board_id: int | None = None) -> int:
        board_id = board_id or self.board_id
        return next(s["id"] for s in self.statuses.values()
                    if s["board"]["id"] == board_id and s["name"].lower() == name.lower())

    def _board_ref(self, bid: int) -> dict[str, Any]:
        return {"id": bid, "name": self.boards[bid]["name"]}

    def add_ticket(self, summary: str, company_id: int, **fields: Any) -> int:
        """A ticket a person entered (not through the API)."""
        return self._create_ticket({"summary": summary, "company": {"id": company_id}, **fields},
                                   entered_by="tess")["id"]

    def _touch(self, tid: int, by: str = "switchboard") -> None:
        ticket = self.tickets.get(tid)
        if ticket is not None:
            ticket["_info"]["lastUpdated"] = _iso(self.now())
            ticket["_info"]["updatedBy"] = by

    def set_status(self, tid: int, name: str) -> None:
        """A person moves the ticket to the status named ``name`` on its board."""
        ticket = self.tickets[tid]
        self._apply_status(ticket, self.status_named(name, ticket["board"]["id"]))
        self._touch(tid, "tess")

    def add_time_entry(self, tid: int, member_id: int, hours: float, notes: str = "") -> int:
        eid = self._new_id()
        member = self.members[member_id]
        self.time_entries[eid] = {
            "id": eid, "chargeToId": tid, "chargeToType": "ServiceTicket", "timeStart": _iso(self.now()),
            "member": {"id": member_id, "identifier": member["identifier"], "name": member["firstName"]},
            "actualHours": hours, "notes": notes, "billableOption": "Billable", "_info": self._info(),
        }
        self.tickets[tid]["actualHours"] = (self.tickets[tid].get("actualHours") or 0) + hours
        self._touch(tid, member["identifier"])
        return eid

    def add_human_note(self, tid: int, text: str, member_id: int | None = None) -> int:
        return self._create_note(tid, {"text": text, "internalAnalysisFlag": True}, member_id or self.technician_id)

    def notes_of(self, tid: int) -> list[dict[str, Any]]:
        return [n for n in self.notes.values() if n["ticketId"] == tid]

    # -- protocol -----------------------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        codes = {400: "InvalidObject", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 429: "TooManyRequests"}
        return {"code": codes.get(status, "Error"), "message": message}

    def check_auth(self, request: httpx.Request) -> None:
        if request.url.path.startswith(_API + "/system/callbackEntry/key/"):
            return  # the key URL answers the callback receiver, which holds no API credentials
        expected = base64.b64encode(f"{self.company_id}+{self.public_key}:{self.private_key}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            raise HttpError(401, {"code": "Unauthorized", "message": "Authentication failed"})
        if request.headers.get("clientId") != self.client_id:
            raise HttpError(401, {"code": "Unauthorized", "message": "A valid clientId header is required"})

    def _page(self, request: httpx.Request, rows: list[dict[str, Any]], path: str) -> httpx.Response:
        params = request.url.params
        conditions = params.get("conditions")
        if conditions:
            parsed = _Conditions(conditions)
            rows = [r for r in rows if parsed.matches(r)]
        size = max(1, min(int(params.get("pageSize") or 25), 1000))
        keep = {k: v for k, v in params.items() if k not in ("page", "pageId")}
        keep["pageSize"] = str(size)
        headers: dict[str, str] = {}
        if request.headers.get("pagination-type", "").lower() == "forward-only":
            after = int(params.get("pageId") or 0)
            rest = [r for r in sorted(rows, key=lambda r: r["id"]) if r["id"] > after]
            chunk = rest[:size]
            if len(rest) > size:
                headers["Link"] = f'<{self.url_for(path, {**keep, "pageId": chunk[-1]["id"]})}>; rel="next"'
        else:
            order = (params.get("orderBy") or "id asc").split()
            key = order[0]

            def sort_key(r: dict[str, Any]) -> Any:
                return r["id"] if key == "id" else str(r.get(key) or r.get("_info", {}).get(key) or "")

            rows = sorted(rows, key=sort_key, reverse=len(order) > 1 and order[1].lower() == "desc")
            page = max(1, int(params.get("page") or 1))
            chunk = rows[(page - 1) * size : page * size]
            last = max(1, -(-len(rows) // size))
            links = []
            if page < last:
                links.append(f'<{self.url_for(path, {**keep, "page": page + 1})}>; rel="next"')
            links.append(f'<{self.url_for(path, {**keep, "page": last})}>; rel="last"')
            headers["Link"] = ", ".join(links)
        return httpx.Response(200, json=chunk, headers=headers)

    # -- tickets ------------------------------------------------------------------------------------
    @route("GET", "/service/tickets")
    def list_tickets(self, request: httpx.Request) -> Any:
        return self._page(request, list(self.tickets.values()), "/service/tickets")

    @route("GET", "/service/tickets/count")
    def count_tickets(self, request: httpx.Request) -> Any:
        rows = list(self.tickets.values())
        conditions = request.url.params.get("conditions")
        if conditions:
            parsed = _Conditions(conditions)
            rows = [r for r in rows if parsed.matches(r)]
        return {"count": len(rows)}

    @route("GET", "/service/tickets/{tid}")
    def get_ticket(self, request: httpx.Request, tid: str) -> Any:
        ticket = self.tickets.get(int(tid))
        if ticket is None:
            raise HttpError(404, {"code": "NotFound", "message": f"Ticket with id {tid} not found"})
        return ticket

    def _refuse(self, field: str, message: str, code: str = "InvalidObject") -> HttpError:
        return HttpError(400, {"code": "InvalidObject", "message": "ticket object is invalid",
                               "errors": [{"code": code, "message": message, "resource": "ticket", "field": field}]})

    def _ref_on_board(self, table: dict[int, dict[str, Any]], ref: Any, board_id: int, field: str) -> dict[str, Any]:
        rid = ref.get("id") if isinstance(ref, dict) else None
        row = table.get(int(rid)) if rid is not None else None
        if row is None or row["board"]["id"] != board_id:
            raise self._refuse(field, f"{field} {rid} is not valid on board {board_id}")
        return {"id": row["id"], "name": row["name"]}

    def _apply_status(self, ticket: dict[str, Any], sid: int) -> None:
        status = self.statuses[sid]
        ticket["status"] = {"id": sid, "name": status["name"], "sort": status["sortOrder"]}
        if status["closedStatus"]:
            if not ticket.get("closedFlag"):
                ticket["closedDate"] = _iso(self.now())
                ticket["closedBy"] = "switchboard"
            ticket["closedFlag"] = True
        else:
            ticket["closedFlag"] = False
            ticket.pop("closedDate", None)
            ticket.pop("closedBy", None)

    def _create_ticket(self, body: dict[str, Any], entered_by: str = "switchboard") -> dict[str, Any]:
        if not body.get("summary"):
            raise self._refuse("summary", "The summary field is required.", "Required")
        if len(body["summary"]) > 100:
            raise self._refuse("summary", "The summary field has a max length of 100.", "InvalidField")
        company_id = (body.get("company") or {}).get("id")
        if company_id not in self.companies:
            raise self._refuse("company", f"Company with id {company_id} was not found.", "InvalidField")
        if len(body.get("externalXRef") or "") > 100:
            raise self._refuse("externalXRef", "The externalXRef field has a max length of 100.", "InvalidField")
        board_id = (body.get("board") or {}).get("id") or self.board_id
        if board_id not in self.boards:
            raise self._refuse("board", f"Board with id {board_id} was not found.", "InvalidField")
        tid = self._new_id()
        company = self.companies[company_id]
        info = self._info()
        info["enteredBy"] = info["updatedBy"] = entered_by
        ticket: dict[str, Any] = {
            "id": tid, "summary": body["summary"], "recordType": "ServiceTicket", "board": self._board_ref(board_id),
            "company": {"id": company_id, "identifier": company["identifier"], "name": company["name"]},
            "severity": "Medium", "impact": "Medium", "closedFlag": False, "actualHours": None, "_info": info,
            "customFields": [],
        }
        for key in ("externalXRef", "contact", "source", "owner"):
            if body.get(key) is not None:
                ticket[key] = body[key]
        default_status = next(s["id"] for s in self.statuses.values() if s["board"]["id"] == board_id and s["defaultFlag"])
        sid = (body.get("status") or {}).get("id") or default_status
        if sid not in self.statuses or self.statuses[sid]["board"]["id"] != board_id:
            raise self._refuse("status", f"Status {sid} is not valid on board {board_id}", "InvalidField")
        self._apply_status(ticket, sid)
        pid = (body.get("priority") or {}).get("id") or next(p["id"] for p in self.priorities.values() if p["defaultFlag"])
        if pid not in self.priorities:
            raise self._refuse("priority", f"Priority {pid} was not found.", "InvalidField")
        p = self.priorities[pid]
        ticket["priority"] = {"id": pid, "name": p["name"], "sort": p["sortOrder"], "level": p["level"] or ""}
        for key, table in (("type", self.board_types), ("subType", self.board_subtypes), ("item", self.board_items)):
            if body.get(key):
                ticket[key] = self._ref_on_board(table, body[key], board_id, key)
        self.tickets[tid] = ticket
        if body.get("initialDescription"):
            nid = self._create_note(tid, {"text": body["initialDescription"], "detailDescriptionFlag": True},
                                    self.api_member_id if entered_by == "switchboard" else self.technician_id,
                                    touch=False)
            self.initial_notes.add(nid)
        return ticket

    @route("POST", "/service/tickets")
    def create_ticket(self, request: httpx.Request) -> Any:
        return 201, self._create_ticket(self.body_of(request) or {})

    @route("PATCH", "/service/tickets/{tid}")
    def patch_ticket(self, request: httpx.Request, tid: str) -> Any:
        ticket = self.tickets.get(int(tid))
        if ticket is None:
            raise HttpError(404, {"code": "NotFound", "message": f"Ticket with id {tid} not found"})
        ops = self.body_of(request)
        if not isinstance(ops, list):
            raise HttpError(400, {"code": "InvalidObject", "message": "body must be a list of patch operations"})
        staged = json.loads(json.dumps(ticket))
        new_status: int | None = None
        for op in ops:
            path = str(op.get("path", "")).strip("/")
            value = op.get("value")
            if op.get("op") not in ("replace", "add"):
                raise HttpError(400, {"code": "InvalidObject", "message": f"unsupported op {op.get('op')}"})
            if path == "summary":
                if not value or len(value) > 100:
                    raise self._refuse("summary", "The summary field is required (max length 100).")
                staged["summary"] = value
            elif path == "board":
                if (value or {}).get("id") not in self.boards:
                    raise self._refuse("board", f"Board {value} was not found.", "InvalidField")
                staged["board"] = self._board_ref(value["id"])
            elif path == "status":
                new_status = int((value or {}).get("id") or 0)
            elif path == "priority":
                if (value or {}).get("id") not in self.priorities:
                    raise self._refuse("priority", f"Priority {value} was not found.", "InvalidField")
                p = self.priorities[value["id"]]
                staged["priority"] = {"id": p["id"], "name": p["name"], "sort": p["sortOrder"], "level": p["level"] or ""}
            elif path in ("type", "subType", "item"):
                table = {"type": self.board_types, "subType": self.board_subtypes, "item": self.board_items}[path]
                staged[path] = self._ref_on_board(table, value, staged["board"]["id"], path)
            elif path in ("owner", "contact", "externalXRef", "company"):
                staged[path] = value
            else:
                raise HttpError(400, {"code": "InvalidObject", "message": f"cannot patch {path}"})
        if new_status is not None:
            if new_status not in self.statuses or self.statuses[new_status]["board"]["id"] != staged["board"]["id"]:
                raise self._refuse("status", f"Status {new_status} is not valid on board {staged['board']['id']}",
                                   "InvalidField")
            self._apply_status(staged, new_status)
        ticket.clear()
        ticket.update(staged)
        self._touch(ticket["id"])
        return ticket

    # -- notes --------------------------------------------------------------------------------------
    def _create_note(self, tid: int, body: dict[str, Any], member_id: int, *, touch: bool = True) -> int:
        if tid not in self.tickets:
            raise HttpError(404, {"code": "NotFound", "message": f"Ticket with id {tid} not found"})
        if not body.get("text"):
            raise HttpError(400, {"code": "InvalidObject", "message": "serviceNote object is invalid",
                                  "errors": [{"code": "Required", "message": "The text field is required.",
                                              "resource": "serviceNote", "field": "text"}]})
        nid = self._new_id()
        member = self.members[member_id]
        self.notes[nid] = {
            "id": nid, "ticketId": tid, "text": body["text"],
            "detailDescriptionFlag": bool(body.get("detailDescriptionFlag")),
            "internalAnalysisFlag": bool(body.get("internalAnalysisFlag")),
            "resolutionFlag": bool(body.get("resolutionFlag")),
            "member": {"id": member_id, "identifier": member["identifier"], "name": member["firstName"]},
            "dateCreated": _iso(self.now()), "createdBy": member["identifier"], "internalFlag": True,
            "externalFlag": False, "_info": self._info(),
        }
        if touch:
            self._touch(tid, member["identifier"])
        return nid

    @route("GET", "/service/tickets/{tid}/notes")
    def list_notes(self, request: httpx.Request, tid: str) -> Any:
        return self._page(request, self.notes_of(int(tid)), f"/service/tickets/{tid}/notes")

    @route("POST", "/service/tickets/{tid}/notes")
    def create_note(self, request: httpx.Request, tid: str) -> Any:
        nid = self._create_note(int(tid), self.body_of(request) or {}, self.api_member_id)
        return 201, self.notes[nid]

    @route("PATCH", "/service/tickets/{tid}/notes/{nid}")
    def patch_note(self, request: httpx.Request, tid: str, nid: str) -> Any:
        note = self.notes.get(int(nid))
        if note is None or note["ticketId"] != int(tid):
            raise HttpError(404, {"code": "NotFound", "message": f"Note {nid} not found on ticket {tid}"})
        for op in self.body_of(request) or []:
            path = str(op.get("path", "")).strip("/")
            if path not in ("text", "internalAnalysisFlag", "detailDescriptionFlag"):
                raise HttpError(400, {"code": "InvalidObject", "message": f"cannot patch {path}"})
            note[path] = op.get("value")
        self._touch(int(tid))
        return note

    # -- boards and reference data ------------------------------------------------------------------
    @route("GET", "/service/boards")
    def list_boards(self, request: httpx.Request) -> Any:
        return self._page(request, list(self.boards.values()), "/service/boards")

    def _board_rows(self, table: dict[int, dict[str, Any]], bid: str) -> list[dict[str, Any]]:
        if int(bid) not in self.boards:
            raise HttpError(404, {"code": "NotFound", "message": f"Board with id {bid} not found"})
        return [r for r in table.values() if r["board"]["id"] == int(bid)]

    @route("GET", "/service/boards/{bid}/statuses")
    def list_statuses(self, request: httpx.Request, bid: str) -> Any:
        return self._page(request, self._board_rows(self.statuses, bid), f"/service/boards/{bid}/statuses")

    @route("GET", "/service/boards/{bid}/types")
    def list_types(self, request: httpx.Request, bid: str) -> Any:
        return self._page(request, self._board_rows(self.board_types, bid), f"/service/boards/{bid}/types")

    @route("GET", "/service/boards/{bid}/subtypes")
    def list_subtypes(self, request: httpx.Request, bid: str) -> Any:
        return self._page(request, self._board_rows(self.board_subtypes, bid), f"/service/boards/{bid}/subtypes")

    @route("GET", "/service/boards/{bid}/items")
    def list_items(self, request: httpx.Request, bid: str) -> Any:
        return self._page(request, self._board_rows(self.board_items, bid), f"/service/boards/{bid}/items")

    @route("GET", "/service/priorities")
    def list_priorities(self, request: httpx.Request) -> Any:
        return self._page(request, list(self.priorities.values()), "/service/priorities")

    @route("GET", "/company/companies")
    def list_companies(self, request: httpx.Request) -> Any:
        return self._page(request, list(self.companies.values()), "/company/companies")

    @route("GET", "/company/contacts")
    def list_contacts(self, request: httpx.Request) -> Any:
        return self._page(request, list(self.contacts.values()), "/company/contacts")

    @route("GET", "/system/members")
    def list_members(self, request: httpx.Request) -> Any:
        return self._page(request, list(self.members.values()), "/system/members")

    @route("GET", "/time/entries")
    def list_time(self, request: httpx.Request) -> Any:
        return self._page(request, list(self.time_entries.values()), "/time/entries")

    # -- callbacks ----------------------------------------------------------------------------------
    @route("GET", "/system/callbacks")
    def list_callbacks(self, request: httpx.Request) -> Any:
        return self._page(request, list(self.callbacks.values()), "/system/callbacks")

    @route("POST", "/system/callbacks")
    def create_callback(self, request: httpx.Request) -> Any:
        body = self.body_of(request) or {}
        missing = [f for f in ("url", "objectId", "type", "level") if body.get(f) in (None, "")]
        if missing:
            raise HttpError(400, {"code": "InvalidObject", "message": "callbackEntry object is invalid",
                                  "errors": [{"code": "Required", "message": f"The {f} field is required.",
                                              "resource": "callbackEntry", "field": f} for f in missing]})
        cid = self._new_id()
        self.callbacks[cid] = {"id": cid, "description": body.get("description", ""), "url": body["url"],
                               "objectId": body["objectId"], "type": body["type"], "level": body["level"],
                               "memberId": self.api_member_id, "inactiveFlag": False, "payloadVersion": "2025.8",
                               "isSoapCallbackFlag": False, "isSelfSuppressedFlag": False}
        self.signing_keys[cid] = f"sim-signing-key-{cid}"
        return 201, self.callbacks[cid]

    @route("GET", "/system/callbackEntry/key/{cid}")
    def signing_key(self, request: httpx.Request, cid: str) -> Any:
        key = self.signing_keys.get(int(cid))
        if key is None:
            raise HttpError(404, {"code": "NotFound", "message": "no such callback"})
        return {"signing_key": key}

    def callback_delivery(self, tid: int, action: str = "updated", callback_id: int | None = None) -> tuple[dict[str, str], bytes]:
        """The headers and body ConnectWise would POST to a registered callback URL."""
        cid = callback_id or next(iter(self.callbacks))
        ticket = self.tickets[tid]
        body = json.dumps({
            "MessageId": f"msg-{cid}-{tid}-{ticket['_info']['lastUpdated']}", "FromUrl": self.base_url,
            "CompanyId": self.company_id, "MemberId": "tess", "Action": action, "Type": "ticket", "ID": tid,
            "ProductInstanceId": None, "PartnerId": None, "Entity": json.dumps(ticket),
            "Metadata": {"key_url": self.url_for(f"/system/callbackEntry/key/{cid}")}, "CallbackObjectRecId": 1,
        }).encode()
        return {"content-type": "application/json",
                "x-content-signature": sign_callback(body, self.signing_keys[cid])}, body
