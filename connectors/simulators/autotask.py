"""A stateful Autotask PSA: tickets, notes, companies, contacts, resources and time entries.

Shapes follow ``shared/specs/autotask.json``: queries are ``POST /V1.0/{Entity}/query`` with a
``QueryModel`` (``maxRecords``, ``filter``), answered with ``items`` and ``pageDetails`` whose
``nextPageUrl`` is a ``GET …/query?search=…`` continuing after the last id. Creates answer
``{"itemId": …}``. Like the real API, business-rule failures come back as HTTP 500 with an
``errors`` list, and ``lastActivityDate`` moves whenever a ticket, its notes or its time change.

The tenant's ticket picklists (statuses, priorities, queues, issue and sub-issue types, ticket
types, sources) are served by ``/V1.0/Tickets/entityInformation/fields`` and enforced on writes;
:meth:`AutotaskSimulator.webhook_delivery` builds a signed webhook callout for tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.simulators.base import HttpError, Simulator, route

__all__ = ["AutotaskSimulator", "DEFAULT_PICKLISTS"]


def _choices(*values: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Picklist values: (value, label[, parent[, is_system[, is_active]]])."""
    out = []
    for i, v in enumerate(values):
        value, label = v[0], v[1]
        parent = v[2] if len(v) > 2 else None
        out.append({"value": str(value), "label": label, "isDefaultValue": i == 0, "sortOrder": i,
                    "parentValue": str(parent) if parent is not None else "",
                    "isActive": v[4] if len(v) > 4 else True, "isSystem": v[3] if len(v) > 3 else False})
    return out


DEFAULT_PICKLISTS: dict[str, list[dict[str, Any]]] = {
    "status": _choices((1, "New", None, True), (5, "Complete", None, True), (7, "Waiting Customer", None, True),
                       (8, "In Progress", None, True), (9, "Waiting Materials"), (10, "Dispatched"),
                       (12, "Waiting Vendor"), (13, "Assigned"), (14, "Resolved"), (21, "Change Order")),
    "priority": _choices((2, "Medium", None, True), (1, "High", None, True), (3, "Low", None, True),
                         (4, "Critical", None, True), (5, "Planning")),
    "queueID": _choices((29683354, "Monitoring Alert"), (29682833, "Client Portal"), (8, "Level I Support")),
    "issueType": _choices((12, "Monitoring"), (11, "Hardware"), (13, "Network")),
    "subIssueType": _choices((201, "Disk", 12), (202, "Backup", 12), (203, "Offline", 12), (204, "Printer", 11),
                             (205, "Switch", 13)),
    "ticketType": _choices((1, "Service Request", None, True), (2, "Incident", None, True),
                           (3, "Problem", None, True), (4, "Change Request", None, True), (5, "Alert", None, True)),
    "source": _choices((2, "Monitoring Alert"), (4, "Phone"), (-1, "Insourced")),
    "serviceLevelAgreementID": _choices((1, "Standard SLA")),
}
"""A tenant's ticket picklists, shaped like ``FieldInformationModel.picklistValues``."""

def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            return value
    return value


def _matches(record: dict[str, Any], flt: dict[str, Any]) -> bool:
    op = str(flt.get("op", "")).lower()
    if op in ("and", "or"):
        results = [_matches(record, f) for f in flt.get("items", [])]
        return all(results) if op == "and" else any(results)
    field = next((k for k in record if k.lower() == str(flt.get("field", "")).lower()), flt.get("field"))
    have = _parse(record.get(field))
    want = _parse(flt.get("value"))
    if op == "exist":
        return have is not None
    if op == "notexist":
        return have is None
    if have is None:
        return False
    try:
        if op == "eq":
            return have == want or str(have).lower() == str(want).lower()
        if op == "noteq":
            return have != want
        if op == "gt":
            return have > want
        if op == "gte":
            return have >= want
        if op == "lt":
            return have < want
        if op == "lte":
            return have <= want
        if op == "beginswith":
            return str(have).lower().startswith(str(want).lower())
        if op == "endswith":
            return str(have).lower().endswith(str(want).lower())
        if op == "contains":
            return str(want).lower() in str(have).lower()
        if op == "in":
            return have in want
        if op == "notin":
            return have not in want
    except TypeError:
        return False
    raise HttpError(500, {"errors": [f"Unsupported filter operation: {op}"]})


class AutotaskSimulator(Simulator):
    vendor = "autotask"
    base_url = "https://webservices14.autotask.net"
    base_path = "/ATServicesRest"
    setting_path = "/ATServicesRest"
    rate_limit = (10000, 3600.0)

    ENTITIES = ("Tickets", "TicketNotes", "Companies", "Contacts", "Resources", "TimeEntries")

    def __init__(
        self,
        *,
        username: str = "api@msp.example",
        secret: str = "sim-autotask-secret",
        integration_code: str = "SIMINTEGRATION",
        api_resource_id: int = 29682885,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.username = username
        self.secret = secret
        self.integration_code = integration_code
        self.api_resource_id = api_resource_id
        self.picklists = json.loads(json.dumps(DEFAULT_PICKLISTS))
        self.db: dict[str, dict[int, dict[str, Any]]] = {e: {} for e in self.ENTITIES}
        self._ids = itertools.count(7000)
        self.add_resource("Switchboard", "API", "api@msp.example", rid=api_resource_id)

    # -- seeding --------------------------------------------------------------------------------
    def _new_id(self) -> int:
        return next(self._ids)

    def add_company(self, name: str, *, cid: int | None = None) -> int:
        cid = cid or self._new_id()
        now = _iso(self.now())
        self.db["Companies"][cid] = {
            "id": cid, "companyName": name, "companyType": 1, "isActive": True, "phone": "555-0100",
            "createDate": now, "lastActivityDate": now, "ownerResourceID": self.api_resource_id,
        }
        return cid

    def add_contact(self, company_id: int, first: str, last: str, email: str) -> int:
        cid = self._new_id()
        self.db["Contacts"][cid] = {
            "id": cid, "companyID": company_id, "firstName": first, "lastName": last, "emailAddress": email,
            "isActive": 1, "lastActivityDate": _iso(self.now()),
        }
        return cid

    def add_resource(self, first: str, last: str, email: str, *, rid: int | None = None) -> int:
        rid = rid or self._new_id()
        self.db["Resources"][rid] = {
            "id": rid, "firstName": first, "lastName": last, "email": email, "isActive": True,
            "userName": email.split("@")[0], "resourceType": "Employee",
        }
        return rid

    def add_ticket(self, **fields: Any) -> int:
        """A ticket made by a person (not through the API)."""
        tid = self._new_id()
        now = _iso(self.now())
        ticket = {
            "id": tid, "ticketNumber": f"T{self.now():%Y%m%d}.{tid % 10000:04d}", "title": "", "description": "",
            "status": 1, "priority": 2, "queueID": 29683354, "ticketType": 1, "createDate": now,
            "lastActivityDate": now, "creatorResourceID": None, "externalID": None, "issueType": None,
            "subIssueType": None, "companyID": None, "contactID": None, "assignedResourceID": None,
            "completedDate": None,
        }
        ticket.update(fields)
        self.db["Tickets"][tid] = ticket
        return tid

    def add_issue_types(self, types: dict[str, list[str]]) -> dict[str, int]:
        """The tenant's own issue types and their sub-issue types (type name -> sub-issue names),
        e.g. an MSP's taxonomy; returns name -> picklist value (sub-issues as "type|sub-issue")."""
        issues, subs = self.picklists["issueType"], self.picklists["subIssueType"]
        out: dict[str, int] = {}
        next_value = max(int(c["value"]) for c in issues + subs) + 1
        for type_name, sub_names in types.items():
            found = next((c for c in issues if c["label"] == type_name), None)
            if found is None:
                found = {**issues[-1], "value": str(next_value), "label": type_name, "isDefaultValue": False,
                         "sortOrder": len(issues)}
                issues.append(found)
                next_value += 1
            out[type_name] = int(found["value"])
            for sub in sub_names:
                if not any(c["label"] == sub and c["parentValue"] == found["value"] for c in subs):
                    subs.append({**subs[-1], "value": str(next_value), "label": sub, "isDefaultValue": False,
                                 "sortOrder": len(subs), "parentValue": found["value"]})
                    out[f"{type_name}|{sub}"] = next_value
                    next_value += 1
        return out

    def add_time_entry(self, ticket_id: int, resource_id: int, hours: float, notes: str = "") -> int:
        eid = self._new_id()
        self.db["TimeEntries"][eid] = {
            "id": eid, "ticketID": ticket_id, "resourceID": resource_id, "hoursWorked": hours,
            "startDateTime": _iso(self.now()), "summaryNotes": notes,
        }
        self._touch(ticket_id, by=resource_id)
        return eid

    def add_human_note(self, ticket_id: int, text: str, resource_id: int | None = None) -> int:
        return self._create_note(ticket_id, {"title": "Note", "description": text, "noteType": 1, "publish": 1},
                                 creator=resource_id or 29682001)

    def set_status(self, ticket_id: int, status: int, *, by: int | None = None) -> None:
        """A person (resource ``by``, if given) changes the status in the PSA."""
        self.db["Tickets"][ticket_id]["status"] = status
        if status == 5:
            self.db["Tickets"][ticket_id]["completedDate"] = _iso(self.now())
        self._touch(ticket_id, by=by)

    def assign(self, ticket_id: int, resource_id: int | None, *, by: int | None = None) -> None:
        """A person (a dispatcher, or the technician themself) assigns the ticket to a resource."""
        self.db["Tickets"][ticket_id]["assignedResourceID"] = resource_id
        self._touch(ticket_id, by=by)

    def _touch(self, ticket_id: int, *, by: int | None = None) -> None:
        """Move ``lastActivityDate`` (and, like Autotask, record which resource made the change)."""
        if ticket_id in self.db["Tickets"]:
            ticket = self.db["Tickets"][ticket_id]
            ticket["lastActivityDate"] = _iso(self.now())
            if by is not None:
                ticket["lastActivityResourceID"], ticket["lastActivityPersonType"] = by, 1

    def tickets(self) -> list[dict[str, Any]]:
        return list(self.db["Tickets"].values())

    def notes_of(self, ticket_id: int) -> list[dict[str, Any]]:
        return [n for n in self.db["TicketNotes"].values() if n["ticketID"] == ticket_id]

    # -- protocol ---------------------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        return {"errors": [message]}

    def check_auth(self, request: httpx.Request) -> None:
        if request.url.path.endswith("/ZoneInformation"):
            return
        h = request.headers
        if h.get("ApiIntegrationCode") != self.integration_code:
            raise HttpError(401, {"errors": ["Unauthorized: invalid integration code"]})
        if h.get("UserName") != self.username or h.get("Secret") != self.secret:
            raise HttpError(401, {"errors": ["Unauthorized"]})

    @route("GET", "/V1.0/ZoneInformation")
    def zone(self, request: httpx.Request) -> Any:
        if request.url.params.get("user") != self.username:
            raise HttpError(404, {"errors": ["Zone information could not be determined"]})
        return {
            "zoneName": "Sim Zone", "url": self.base_url + self.base_path + "/",
            "webUrl": "https://ww14.autotask.net/", "ci": 99,
        }

    @route("GET", "/V1.0/ThresholdInformation")
    def threshold(self, request: httpx.Request) -> Any:
        return {
            "externalRequestThreshold": 10000, "requestThresholdTimeframe": 60,
            "currentTimeframeRequestCount": len(self._window),
        }

    def _query(self, entity: str, model: dict[str, Any]) -> dict[str, Any]:
        if entity not in self.db:
            raise HttpError(404, {"errors": [f"Unknown entity {entity}"]})
        filters = model.get("filter") or model.get("Filter") or []
        if not filters:
            raise HttpError(500, {"errors": ["A query requires at least one filter"]})
        size = min(int(model.get("maxRecords") or model.get("MaxRecords") or 500), 500)
        rows = [r for _, r in sorted(self.db[entity].items()) if all(_matches(r, f) for f in filters)]
        chunk = rows[:size]
        next_url = None
        if len(rows) > size:
            cont = {"maxRecords": size, "filter": [*filters, {"op": "gt", "field": "id", "value": chunk[-1]["id"]}]}
            next_url = self.url_for(f"/V1.0/{entity}/query", {"search": json.dumps(cont, separators=(",", ":"))})
        return {
            "items": chunk,
            "pageDetails": {"count": len(chunk), "requestCount": size, "prevPageUrl": None, "nextPageUrl": next_url},
        }

    @route("POST", "/V1.0/{entity}/query")
    def query_post(self, request: httpx.Request, entity: str) -> Any:
        return self._query(entity, self.body_of(request) or {})

    @route("GET", "/V1.0/{entity}/query")
    def query_get(self, request: httpx.Request, entity: str) -> Any:
        try:
            model = json.loads(request.url.params.get("search", "{}"))
        except ValueError:
            raise HttpError(500, {"errors": ["search is not valid JSON"]}) from None
        return self._query(entity, model)

    @route("GET", "/V1.0/Tickets/{tid}")
    def get_ticket(self, request: httpx.Request, tid: str) -> Any:
        ticket = self.db["Tickets"].get(int(tid))
        if ticket is None:
            raise HttpError(404, {"errors": [f"Ticket {tid} not found"]})
        return {"item": ticket}

    @route("POST", "/V1.0/Tickets")
    def create_ticket(self, request: httpx.Request) -> Any:
        body = self.body_of(request) or {}
        missing = [f for f in ("companyID", "title", "status", "priority") if body.get(f) in (None, "")]
        if missing:
            raise HttpError(500, {"errors": [f"Missing required field(s): {', '.join(missing)}"]})
        self._check_picklists(body, body)
        if body["companyID"] not in self.db["Companies"]:
            raise HttpError(500, {"errors": [f"Reference value on field: companyID of type: Account does not exist: {body['companyID']}"]})
        if body.get("queueID") is None and body.get("assignedResourceID") is None:
            raise HttpError(500, {"errors": ["A ticket requires a queueID or an assignedResourceID"]})
        tid = self.add_ticket(**{k: v for k, v in body.items() if k != "id"})
        self.db["Tickets"][tid]["creatorResourceID"] = self.api_resource_id
        self.db["Tickets"][tid]["creatorType"] = 1
        return {"itemId": tid}

    def _apply_patch(self, body: dict[str, Any]) -> int:
        tid = body.get("id")
        ticket = self.db["Tickets"].get(int(tid or 0))
        if ticket is None:
            raise HttpError(500, {"errors": [f"Ticket {tid} does not exist"]})
        self._check_picklists(body, {**ticket, **body})
        for key, value in body.items():
            if key != "id":
                ticket[key] = value
        if body.get("status") == 5:
            ticket["completedDate"] = _iso(self.now())
        elif "status" in body:
            ticket["completedDate"] = None
        self._touch(ticket["id"], by=self.api_resource_id)
        return int(ticket["id"])

    def _check_picklists(self, body: dict[str, Any], merged: dict[str, Any]) -> None:
        """Autotask refuses a value its picklist does not hold (and a sub-issue type of another issue type)."""
        for field, values in self.picklists.items():
            if field not in body or body[field] is None:
                continue
            match = next((v for v in values if v["value"] == str(body[field]) and v["isActive"]), None)
            if match is None:
                raise HttpError(500, {"errors": [f"Invalid value {body[field]} for picklist field {field}"]})
            if field == "subIssueType" and match["parentValue"] != str(merged.get("issueType")):
                raise HttpError(500, {"errors": [f"subIssueType {body[field]} does not belong to issueType "
                                                 f"{merged.get('issueType')}"]})

    @route("GET", "/V1.0/Tickets/entityInformation/fields")
    def ticket_fields(self, request: httpx.Request) -> Any:
        fields: list[dict[str, Any]] = [
            {"name": name, "dataType": "string", "length": 255, "isRequired": name == "title", "isReadOnly": False,
             "isQueryable": True, "isReference": False, "referenceEntityType": "", "isPickList": False,
             "picklistValues": None, "picklistParentValueField": "", "isSupportedWebhookField": True}
            for name in ("title", "description", "externalID")
        ]
        for name, values in self.picklists.items():
            fields.append({
                "name": name, "dataType": "integer", "length": 0, "isRequired": name in ("status", "priority"),
                "isReadOnly": False, "isQueryable": True, "isReference": name == "queueID",
                "referenceEntityType": "", "isPickList": True, "picklistValues": values,
                "picklistParentValueField": "issueType" if name == "subIssueType" else "",
                "isSupportedWebhookField": True,
            })
        return {"fields": fields}

    def webhook_delivery(self, entity_id: int, secret: str, *, action: str = "Update", entity: str = "Ticket",
                         sequence: int = 1, fields: dict[str, Any] | None = None,
                         guid: str | None = None) -> tuple[dict[str, str], bytes]:
        """The headers and body of a webhook callout Autotask would send, signed with ``secret``."""
        body = json.dumps({
            "Action": action, "Guid": guid or str(uuid.uuid5(uuid.NAMESPACE_URL, self.base_url + entity)),
            "EntityType": entity, "Id": entity_id, "Fields": fields or {}, "EventTime": _iso(self.now()),
            "SequenceNumber": sequence, "PersonID": self.api_resource_id,
        }).encode()
        digest = hmac.new(secret.encode(), body, hashlib.sha1).digest()
        return {"Content-Type": "application/json",
                "X-Hook-Signature": "sha1=" + base64.b64encode(digest).decode()}, body

    @route("PATCH", "/V1.0/Tickets")
    def patch_ticket(self, request: httpx.Request) -> Any:
        return {"itemId": self._apply_patch(self.body_of(request) or {})}

    @route("PUT", "/V1.0/Tickets")
    def put_ticket(self, request: httpx.Request) -> Any:
        return {"itemId": self._apply_patch(self.body_of(request) or {})}

    def _create_note(self, ticket_id: int, body: dict[str, Any], creator: int) -> int:
        if ticket_id not in self.db["Tickets"]:
            raise HttpError(500, {"errors": [f"Ticket {ticket_id} does not exist"]})
        if not body.get("description"):
            raise HttpError(500, {"errors": ["Missing required field(s): description"]})
        nid = self._new_id()
        now = _iso(self.now())
        self.db["TicketNotes"][nid] = {
            "id": nid, "ticketID": ticket_id, "title": body.get("title", ""), "description": body["description"],
            "noteType": body.get("noteType", 1), "publish": body.get("publish", 1), "createDateTime": now,
            "lastActivityDate": now, "creatorResourceID": creator, "createdByContactID": None,
        }
        self._touch(ticket_id, by=creator)
        if body.get("publish", 1) == 1:  # visible to the client: the PSA's first-response and activity stamps
            ticket = self.db["Tickets"][ticket_id]
            ticket["lastCustomerVisibleActivityDateTime"] = now
            if not ticket.get("firstResponseDateTime"):
                ticket["firstResponseDateTime"], ticket["firstResponseInitiatingResourceID"] = now, creator
        return nid

    @route("POST", "/V1.0/Tickets/{tid}/Notes")
    def create_note(self, request: httpx.Request, tid: str) -> Any:
        return {"itemId": self._create_note(int(tid), self.body_of(request) or {}, self.api_resource_id)}

    @route("PATCH", "/V1.0/Tickets/{tid}/Notes")
    def patch_note(self, request: httpx.Request, tid: str) -> Any:
        body = self.body_of(request) or {}
        note = self.db["TicketNotes"].get(int(body.get("id") or 0))
        if note is None or note["ticketID"] != int(tid):
            raise HttpError(500, {"errors": [f"Note {body.get('id')} does not exist on ticket {tid}"]})
        for key in ("title", "description", "publish", "noteType"):
            if key in body:
                note[key] = body[key]
        note["lastActivityDate"] = _iso(self.now())
        self._touch(int(tid))
        return {"itemId": note["id"]}

    @route("GET", "/V1.0/Tickets/{tid}/Notes")
    def list_notes(self, request: httpx.Request, tid: str) -> Any:
        notes = self.notes_of(int(tid))
        return {"items": notes, "pageDetails": {"count": len(notes), "requestCount": 500, "nextPageUrl": None}}
