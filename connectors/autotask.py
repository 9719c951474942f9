"""Autotask PSA (REST v1.0) — tickets, notes, companies, contacts, resources, time entries.

Built against ``shared/specs/autotask.json`` (Swagger 2.0, basePath ``/ATServicesRest``).

Needs
    ``SWITCHBOARD_AUTOTASK__BASE_URL``          the zone URL, e.g.
        ``https://webservices14.autotask.net/ATServicesRest`` (``switchboard connectors check autotask``
        finds it from ``ZoneInformation`` when only the user name is set)
    ``SWITCHBOARD_AUTOTASK__USERNAME``          the API user's user name
    ``SWITCHBOARD_AUTOTASK__SECRET``            its secret
    ``SWITCHBOARD_AUTOTASK__INTEGRATION_CODE``  the tracking identifier of the integration
    ``SWITCHBOARD_AUTOTASK__QUEUE_ID``          queue for new tickets (or a default resource)
Auth
    Three headers on every call: ``ApiIntegrationCode``, ``UserName``, ``Secret`` (optionally
    ``ImpersonationResourceId``), as the document declares them.
Limits
    10,000 requests per hour per database, shared by every integration of the tenant (one Redis
    bucket); queries return at most 500 records (``maxRecords``), further pages through
    ``pageDetails.nextPageUrl``.
Incremental tickets
    ``lastActivityDate`` (the vendor's change marker) ``gte`` the cursor, de-duplicated at the
    boundary by ticket id.
Correlation marker
    ``externalID`` (a plain string field on Ticket) carries Switchboard's marker and is searched
    with ``eq`` before any create that follows an unknown outcome. Notes carry it as their last line.
Status / priority maps
    Autotask's picklist values are per tenant; the defaults below are Autotask's shipped values
    (1 New, 5 Complete, 7 Waiting Customer, 8 In Progress; priorities 4 Critical, 1 High,
    2 Medium, 3 Low) and can be overridden in settings (``SWITCHBOARD_AUTOTASK__STATUS_MAP`` as JSON).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, Field, SecretStr

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
from connectors.canonical import (
    Company,
    Contact,
    Member,
    Note,
    NoteDraft,
    Ref,
    Ticket,
    TicketDraft,
    TicketPatch,
    TicketStatus,
    TimeEntry,
    utc,
)
from connectors.cursor import TimeCursor
from connectors.errors import NotFound, ValidationFailed
from connectors.http import VendorHttp
from connectors.pagination import NextUrlPaginator, PageRequest, paginate
from connectors.protocols import Pull
from connectors.ratelimit import Limit

VENDOR = "autotask"
MAX_RECORDS = 500
CREDENTIALS = (
    "SWITCHBOARD_AUTOTASK__USERNAME / SWITCHBOARD_AUTOTASK__SECRET / SWITCHBOARD_AUTOTASK__INTEGRATION_CODE"
)
ZONE_LOOKUP_URL = "https://webservices.autotask.net/ATServicesRest"

DEFAULT_STATUS_MAP: dict[int, TicketStatus] = {
    1: TicketStatus.new,
    5: TicketStatus.closed,
    7: TicketStatus.waiting_client,
    8: TicketStatus.in_progress,
    9: TicketStatus.waiting_client,  # Waiting Materials
    10: TicketStatus.in_progress,  # Dispatched
    12: TicketStatus.waiting_client,  # Waiting Vendor
    13: TicketStatus.assigned,
    14: TicketStatus.resolved,
}
DEFAULT_PRIORITY_MAP: dict[int, int] = {1: 4, 2: 1, 3: 2, 4: 3}
"""Switchboard priority (1 = P1 … 4 = P4) -> Autotask priority picklist value."""


class AutotaskSettings(BaseModel):
    base_url: str | None = None
    username: str | None = None
    secret: SecretStr | None = None
    integration_code: SecretStr | None = None
    impersonation_resource_id: int | None = None
    queue_id: int | None = None
    ticket_type: int = 5
    """Autotask ticketType for alert tickets (5 = Alert; 1 = Service Request)."""
    ticket_source: int | None = None
    note_type: int = 1
    note_publish: int = 1
    status_map: dict[int, TicketStatus] = Field(default_factory=lambda: dict(DEFAULT_STATUS_MAP))
    priority_map: dict[int, int] = Field(default_factory=lambda: dict(DEFAULT_PRIORITY_MAP))
    web_url: str | None = None
    """Base of links for people, e.g. ``https://ww14.autotask.net/`` (from ZoneInformation)."""
    requests_per_hour: int = 10000
    timeout_seconds: float = 30.0


# -- vendor models ---------------------------------------------------------------------------------


class AtTicket(VendorModel):
    id: int
    ticket_number: str | None = Field(None, alias="ticketNumber")
    title: str | None = ""
    description: str | None = ""
    status: int | None = None
    priority: int | None = None
    company_id: int | None = Field(None, alias="companyID")
    contact_id: int | None = Field(None, alias="contactID")
    assigned_resource_id: int | None = Field(None, alias="assignedResourceID")
    queue_id: int | None = Field(None, alias="queueID")
    issue_type: int | None = Field(None, alias="issueType")
    sub_issue_type: int | None = Field(None, alias="subIssueType")
    create_date: datetime | None = Field(None, alias="createDate")
    last_activity_date: datetime | None = Field(None, alias="lastActivityDate")
    completed_date: datetime | None = Field(None, alias="completedDate")
    external_id: str | None = Field(None, alias="externalID")
    first_response_date_time: datetime | None = Field(None, alias="firstResponseDateTime")
    last_customer_visible_activity: datetime | None = Field(None, alias="lastCustomerVisibleActivityDateTime")
    last_activity_resource_id: int | None = Field(None, alias="lastActivityResourceID")
    last_activity_person_type: int | None = Field(None, alias="lastActivityPersonType")
    """1 = a resource (technician) made the last change, 2 = a contact."""


class AtNote(VendorModel):
    id: int
    ticket_id: int = Field(alias="ticketID")
    title: str | None = ""
    description: str | None = ""
    create_date_time: datetime | None = Field(None, alias="createDateTime")
    creator_resource_id: int | None = Field(None, alias="creatorResourceID")
    created_by_contact_id: int | None = Field(None, alias="createdByContactID")
    publish: int | None = None


class AtCompany(VendorModel):
    id: int
    company_name: str = Field(alias="companyName")
    last_activity_date: datetime | None = Field(None, alias="lastActivityDate")


class AtContact(VendorModel):
    id: int
    first_name: str | None = Field("", alias="firstName")
    last_name: str | None = Field("", alias="lastName")
    email: str | None = Field(None, alias="emailAddress")
    company_id: int | None = Field(None, alias="companyID")


class AtResource(VendorModel):
    id: int
    first_name: str | None = Field("", alias="firstName")
    last_name: str | None = Field("", alias="lastName")
    email: str | None = None
    is_active: bool = Field(True, alias="isActive")


class AtTimeEntry(VendorModel):
    id: int
    ticket_id: int | None = Field(None, alias="ticketID")
    resource_id: int | None = Field(None, alias="resourceID")
    hours_worked: float | None = Field(0.0, alias="hoursWorked")
    start_date_time: datetime | None = Field(None, alias="startDateTime")
    summary_notes: str | None = Field("", alias="summaryNotes")


# -- mapping (pure) --------------------------------------------------------------------------------


def marker_of_text(text: str | None) -> str | None:
    """The ``[switchboard:…]`` marker line in a body, if any."""
    if not text:
        return None
    start = text.rfind("[switchboard:")
    if start < 0:
        return None
    end = text.find("]", start)
    return text[start + len("[switchboard:") : end] if end > start else None


def ticket_of(t: AtTicket, settings: AutotaskSettings) -> Ticket:
    status = settings.status_map.get(t.status or 0, TicketStatus.other)
    inverse_priority = {v: k for k, v in settings.priority_map.items()}
    web = (settings.web_url or "").rstrip("/")
    return Ticket(
        ref=Ref(vendor=VENDOR, id=str(t.id)),
        number=t.ticket_number or "",
        title=t.title or "",
        description=t.description or "",
        status=status,
        status_label=str(t.status) if t.status is not None else "",
        priority=inverse_priority.get(t.priority or 0),
        type=str(t.issue_type) if t.issue_type is not None else None,
        subtype=str(t.sub_issue_type) if t.sub_issue_type is not None else None,
        board=str(t.queue_id) if t.queue_id is not None else None,
        company=Ref(vendor=VENDOR, id=str(t.company_id)) if t.company_id is not None else None,
        contact=Ref(vendor=VENDOR, id=str(t.contact_id)) if t.contact_id is not None else None,
        assigned_to=Ref(vendor=VENDOR, id=str(t.assigned_resource_id)) if t.assigned_resource_id else None,
        created_at=utc(t.create_date) if t.create_date else None,
        updated_at=utc(t.last_activity_date) if t.last_activity_date else None,
        closed_at=utc(t.completed_date) if t.completed_date else None,
        marker=t.external_id or marker_of_text(t.description),
        url=f"{web}/Mvc/ServiceDesk/TicketDetail.mvc?ticketId={t.id}" if web else None,
        first_response_at=utc(t.first_response_date_time) if t.first_response_date_time else None,
        last_client_activity_at=utc(t.last_customer_visible_activity) if t.last_customer_visible_activity else None,
        last_activity_by=Ref(vendor=VENDOR, id=str(t.last_activity_resource_id))
        if t.last_activity_resource_id and t.last_activity_person_type in (None, 1) else None,
    )


def status_value(status: TicketStatus, settings: AutotaskSettings) -> int:
    for value, mapped in settings.status_map.items():
        if mapped == status:
            return value
    raise ValueError(f"no Autotask status is mapped to {status.value}; set SWITCHBOARD_AUTOTASK__STATUS_MAP")


def ticket_body(draft: TicketDraft, settings: AutotaskSettings) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": draft.title[:255],
        "description": (draft.description + f"\n\n[switchboard:{draft.marker}]")[:8000],
        "status": status_value(draft.status, settings),
        "priority": settings.priority_map.get(draft.priority, settings.priority_map.get(3, 2)),
        "externalID": draft.marker,
        "ticketType": settings.ticket_type,
    }
    if draft.company is not None:
        body["companyID"] = int(draft.company.id)
    if settings.queue_id is not None:
        body["queueID"] = settings.queue_id
    if settings.ticket_source is not None:
        body["source"] = settings.ticket_source
    if draft.type and draft.type.isdigit():
        body["issueType"] = int(draft.type)
    if draft.subtype and draft.subtype.isdigit():
        body["subIssueType"] = int(draft.subtype)
    if draft.contact is not None:
        body["contactID"] = int(draft.contact.id)
    return body


def patch_body(ticket_id: str, patch: TicketPatch, settings: AutotaskSettings) -> dict[str, Any]:
    body: dict[str, Any] = {"id": int(ticket_id)}
    if patch.title is not None:
        body["title"] = patch.title[:255]
    if patch.status is not None:
        body["status"] = status_value(patch.status, settings)
    if patch.priority is not None:
        body["priority"] = settings.priority_map[patch.priority]
    if patch.type is not None and patch.type.isdigit():
        body["issueType"] = int(patch.type)
    if patch.subtype is not None and patch.subtype.isdigit():
        body["subIssueType"] = int(patch.subtype)
    if patch.board is not None and patch.board.isdigit():
        body["queueID"] = int(patch.board)
    if patch.assigned_to is not None:
        body["assignedResourceID"] = int(patch.assigned_to.id)
    return body


def note_of(n: AtNote, api_resource_id: int | None = None) -> Note:
    body = n.description or ""
    return Note(
        ref=Ref(vendor=VENDOR, id=str(n.id)),
        ticket=Ref(vendor=VENDOR, id=str(n.ticket_id)),
        body=body,
        internal=(n.publish or 1) != 1,
        created_at=utc(n.create_date_time) if n.create_date_time else None,
        author=Ref(vendor=VENDOR, id=str(n.creator_resource_id)) if n.creator_resource_id else None,
        by_integration=marker_of_text(body) is not None
        or (api_resource_id is not None and n.creator_resource_id == api_resource_id),
    )


def _filter(op: str, field: str, value: Any) -> dict[str, Any]:
    return {"op": op, "field": field, "value": value}


# -- client ------------------------------------------------------------------------------------------


class Autotask:
    """Autotask as a :class:`~connectors.protocols.TicketSystem`."""

    vendor = VENDOR

    def __init__(self, http: VendorHttp, settings: AutotaskSettings) -> None:
        self.http = http
        self.settings = settings

    def __repr__(self) -> str:
        return f"Autotask({self.http!r})"

    @classmethod
    def from_settings(
        cls,
        settings: AutotaskSettings,
        *,
        redis: Any = None,
        prefix: str = "switchboard",
        transport: httpx.BaseTransport | None = None,
    ) -> Autotask:
        username = require(settings.username, "SWITCHBOARD_AUTOTASK__USERNAME", VENDOR)
        require(settings.secret, "SWITCHBOARD_AUTOTASK__SECRET", VENDOR)
        require(settings.integration_code, "SWITCHBOARD_AUTOTASK__INTEGRATION_CODE", VENDOR)
        assert settings.secret is not None and settings.integration_code is not None
        headers: dict[str, SecretStr | str] = {
            "ApiIntegrationCode": settings.integration_code,
            "UserName": username,
            "Secret": settings.secret,
        }
        if settings.impersonation_resource_id:
            headers["ImpersonationResourceId"] = str(settings.impersonation_resource_id)
        base = settings.base_url or discover_zone(username, headers=headers, transport=transport)
        limit = Limit(settings.requests_per_hour, 3600.0, burst=max(1, settings.requests_per_hour // 10))
        http = build_http(
            VENDOR,
            base.rstrip("/"),
            auth=HeaderAuth(headers),
            limiter=make_limiter(VENDOR, username.split("@")[-1], limit, redis=redis, prefix=prefix),
            secrets=secret_values(settings.secret, settings.integration_code),
            credential_settings=CREDENTIALS,
            transport=transport,
            timeout=settings.timeout_seconds,
            classify=classify_error,
        )
        return cls(http, settings)

    # -- queries ---------------------------------------------------------------------------------
    def _query(self, entity: str, filters: list[dict[str, Any]], operation: str) -> Iterator[list[Any]]:
        first = PageRequest("POST", f"/V1.0/{entity}/query", None, {"maxRecords": MAX_RECORDS, "filter": filters})
        for body in paginate(self.http, NextUrlPaginator(first), operation):
            items = body.get("items") if isinstance(body, dict) else None
            yield items if isinstance(items, list) else []

    def _all(self, model: type[Any], entity: str, filters: list[dict[str, Any]]) -> Iterator[Any]:
        for records in self._query(entity, filters, f"{entity}_Query"):
            items, _ = read_records(model, records, f"{VENDOR}:{entity}")
            yield from items

    def find_ticket_by_marker(self, marker: str) -> Ticket | None:
        for t in self._all(AtTicket, "Tickets", [_filter("eq", "externalID", marker)]):
            return ticket_of(t, self.settings)
        return None

    def get_ticket(self, ticket_id: str) -> Ticket:
        body = self.http.get_json(f"/V1.0/Tickets/{int(ticket_id)}", operation="Tickets_QueryItem")
        item = body.get("item") if isinstance(body, dict) else None
        if not item:
            raise NotFound(f"ticket {ticket_id} not found", vendor=VENDOR, status=404)
        return ticket_of(AtTicket.model_validate(item), self.settings)

    def pull_tickets(self, cursor: str | None, now: datetime) -> Pull[Ticket]:
        before = self.http.stats.requests
        cur = TimeCursor.loads(cursor)
        start = cur.query_from()
        filters = [_filter("gte", "lastActivityDate", start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))] if start else [
            _filter("gte", "id", 0)
        ]
        tickets: list[Ticket] = []
        seen: list[tuple[str, datetime]] = []
        rejected = []
        for records in self._query("Tickets", filters, "Tickets_Query"):
            items, bad = read_records(AtTicket, records, f"{VENDOR}:tickets")
            rejected += bad
            for t in items:
                if t.last_activity_date is None or cur.is_new(str(t.id), t.last_activity_date):
                    tickets.append(ticket_of(t, self.settings))
                if t.last_activity_date is not None:
                    seen.append((str(t.id), t.last_activity_date))
        return Pull(tickets, cur.advanced(seen, now).dumps(), rejected, self.http.stats.requests - before)

    # -- writes ----------------------------------------------------------------------------------
    def create_ticket(self, draft: TicketDraft) -> Ticket:
        body = ticket_body(draft, self.settings)
        response = self.http.request("POST", "/V1.0/Tickets", json_body=body, operation="Tickets_CreateEntity")
        item_id = self.http.json_of(response, "Tickets_CreateEntity")["itemId"]
        return Ticket(
            ref=Ref(vendor=VENDOR, id=str(item_id)),
            title=body["title"],
            description=body["description"],
            status=draft.status,
            status_label=str(body["status"]),
            priority=draft.priority,
            company=draft.company,
            marker=draft.marker,
        )

    def update_ticket(self, ticket_id: str, patch: TicketPatch) -> Ticket:
        if not patch.is_empty():
            self.http.request(
                "PATCH", "/V1.0/Tickets", json_body=patch_body(ticket_id, patch, self.settings),
                operation="Tickets_PatchEntity", idempotent=True,  # setting fields twice is harmless
            )
        return self.get_ticket(ticket_id)

    def _note_body(self, note: NoteDraft) -> dict[str, Any]:
        return {
            "title": note.title[:250],
            "description": (note.body + f"\n\n[switchboard:{note.marker}]")[:32000],
            "noteType": self.settings.note_type,
            "publish": 2 if note.internal else 1,
        }

    def add_note(self, ticket_id: str, note: NoteDraft) -> Note:
        body = self._note_body(note)
        response = self.http.request(
            "POST", f"/V1.0/Tickets/{int(ticket_id)}/Notes", json_body=body, operation="TicketNotesChild_CreateEntity"
        )
        item_id = self.http.json_of(response, "TicketNotesChild_CreateEntity")["itemId"]
        return Note(
            ref=Ref(vendor=VENDOR, id=str(item_id)),
            ticket=Ref(vendor=VENDOR, id=str(ticket_id)),
            body=body["description"],
            internal=note.internal,
            by_integration=True,
        )

    def update_note(self, ticket_id: str, note_id: str, note: NoteDraft) -> Note:
        body = {"id": int(note_id), **self._note_body(note)}
        self.http.request(
            "PATCH", f"/V1.0/Tickets/{int(ticket_id)}/Notes", json_body=body, operation="TicketNotesChild_PatchEntity",
            idempotent=True,
        )
        return Note(
            ref=Ref(vendor=VENDOR, id=str(note_id)),
            ticket=Ref(vendor=VENDOR, id=str(ticket_id)),
            body=body["description"],
            internal=note.internal,
            by_integration=True,
        )

    def list_notes(self, ticket_id: str) -> list[Note]:
        return [
            note_of(n)
            for n in self._all(AtNote, "TicketNotes", [_filter("eq", "ticketID", int(ticket_id))])
        ]

    def list_time_entries(self, ticket_id: str) -> list[TimeEntry]:
        out = []
        for e in self._all(AtTimeEntry, "TimeEntries", [_filter("eq", "ticketID", int(ticket_id))]):
            out.append(
                TimeEntry(
                    ref=Ref(vendor=VENDOR, id=str(e.id)),
                    ticket=Ref(vendor=VENDOR, id=str(e.ticket_id)) if e.ticket_id else None,
                    member=Ref(vendor=VENDOR, id=str(e.resource_id)) if e.resource_id else None,
                    hours=e.hours_worked or 0.0,
                    started_at=utc(e.start_date_time) if e.start_date_time else None,
                    notes=e.summary_notes or "",
                )
            )
        return out

    # -- reference data --------------------------------------------------------------------------
    def list_companies(self) -> Iterator[Company]:
        for c in self._all(AtCompany, "Companies", [_filter("gte", "id", 0)]):
            yield Company(
                ref=Ref(vendor=VENDOR, id=str(c.id)),
                name=c.company_name,
                updated_at=utc(c.last_activity_date) if c.last_activity_date else None,
            )

    def list_contacts(self, company_id: str | None = None) -> Iterator[Contact]:
        filters = [_filter("eq", "companyID", int(company_id))] if company_id else [_filter("gte", "id", 0)]
        for c in self._all(AtContact, "Contacts", filters):
            yield Contact(
                ref=Ref(vendor=VENDOR, id=str(c.id)),
                name=f"{c.first_name or ''} {c.last_name or ''}".strip(),
                email=c.email,
                company=Ref(vendor=VENDOR, id=str(c.company_id)) if c.company_id else None,
            )

    def list_members(self) -> Iterator[Member]:
        for r in self._all(AtResource, "Resources", [_filter("gte", "id", 0)]):
            yield Member(
                ref=Ref(vendor=VENDOR, id=str(r.id)),
                name=f"{r.first_name or ''} {r.last_name or ''}".strip(),
                email=r.email,
                active=r.is_active,
            )

    # -- check -----------------------------------------------------------------------------------
    def check(self) -> list[CheckResult]:
        def threshold() -> str:
            body = self.http.get_json("/V1.0/ThresholdInformation", operation="ThresholdInformation")
            return f"{body.get('currentTimeframeRequestCount', '?')}/{body.get('externalRequestThreshold', '?')} requests this hour"

        def tickets() -> str:
            first = next(self._query("Tickets", [_filter("gte", "id", 0)], "Tickets_Query"), [])
            return f"tickets readable ({len(first)} on the first page)"

        def companies() -> str:
            return f"{sum(1 for _ in self.list_companies())} companies readable"

        def queue() -> str:
            if self.settings.queue_id is None:
                raise NotFound("SWITCHBOARD_AUTOTASK__QUEUE_ID is not set: new tickets need a queue", vendor=VENDOR)
            return f"new tickets go to queue {self.settings.queue_id}"

        return [
            run_check(n, f)
            for n, f in (("threshold", threshold), ("tickets", tickets), ("companies", companies), ("queue", queue))
        ]


def classify_error(response: httpx.Response) -> ValidationFailed | None:
    """Autotask answers business-rule failures with HTTP 500 and an ``errors`` list.

    Retrying those cannot help, so a 500 that carries ``errors`` is a validation failure (shown
    to the user with the vendor's text); a 500 without them is an outage and is retried.
    """
    if response.status_code != 500:
        return None
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return None
    if isinstance(errors, list) and errors:
        return ValidationFailed(
            f"HTTP 500: the vendor refused the request: {'; '.join(str(e) for e in errors)[:400]}",
            vendor=VENDOR,
            status=500,
        )
    return None


def discover_zone(
    username: str,
    *,
    headers: dict[str, SecretStr | str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> str:
    """The tenant's zone URL from ``GET /V1.0/ZoneInformation?user=…``.

    The API answers without credentials, but its document declares the three auth headers on
    this call too, so they are sent when known.
    """
    with httpx.Client(transport=transport, timeout=20.0, auth=HeaderAuth(headers) if headers else None) as client:
        response = client.get(f"{ZONE_LOOKUP_URL}/V1.0/ZoneInformation", params={"user": username})
    if response.status_code != 200:
        raise NotFound(
            f"ZoneInformation -> HTTP {response.status_code}: no zone for user {username!r}; "
            "set SWITCHBOARD_AUTOTASK__BASE_URL",
            vendor=VENDOR,
            status=response.status_code,
        )
    return str(json.loads(response.text)["url"]).rstrip("/")
