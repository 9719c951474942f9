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
import logging
import time
from collections.abc import Iterator, Mapping
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
from connectors.errors import NotFound, PermissionDenied, ValidationFailed
from connectors.http import VendorHttp
from connectors.pagination import NextUrlPaginator, PageRequest, paginate
from connectors.protocols import Pull
from connectors.psa_maps import Choice, TicketMaps, find_choice, marker_line, marker_of_text
from connectors.ratelimit import Limit
from connectors.webhooks import WebhookDelivery, WebhookRejected, check_timestamp, header, json_body

log = logging.getLogger("switchboard.autotask")

VENDOR = "autotask"
MAX_RECORDS = 500
MAPS_TTL = 3600.0
"""How long the tenant's picklists are trusted before being read again."""
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
    tenant_picklists: bool = True
    """Read statuses, priorities, queues and issue types from the tenant's picklists
    (``/V1.0/Tickets/entityInformation/fields``, once an hour); the maps above then only
    override. ``false``: use the maps above alone."""
    api_resource_id: int | None = None
    """The API user's resource id: its notes count as Switchboard's even without a marker."""
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


class AtPicklistValue(VendorModel):
    value: str
    label: str = ""
    is_default_value: bool | None = Field(None, alias="isDefaultValue")
    sort_order: int | None = Field(None, alias="sortOrder")
    parent_value: str | None = Field(None, alias="parentValue")
    is_active: bool | None = Field(True, alias="isActive")
    is_system: bool | None = Field(None, alias="isSystem")


class AtFieldInfo(VendorModel):
    name: str
    is_pick_list: bool | None = Field(None, alias="isPickList")
    picklist_values: list[AtPicklistValue] | None = Field(None, alias="picklistValues")


PICKLISTS = ("status", "priority", "queueID", "issueType", "subIssueType", "ticketType", "source",
             "serviceLevelAgreementID")
"""Ticket picklists Switchboard reads from the tenant."""


# -- mapping (pure) --------------------------------------------------------------------------------


def choices_of(values: list[AtPicklistValue]) -> list[Choice]:
    return [Choice(v.value, v.label, parent=v.parent_value or None, active=v.is_active is not False,
                   is_default=bool(v.is_default_value), is_system=bool(v.is_system), sort=v.sort_order or 0)
            for v in values]


def maps_of(settings: AutotaskSettings, picklists: Mapping[str, list[Choice]] | None = None) -> TicketMaps:
    """Status and priority maps: the tenant's picklists (when read) under the maps in settings.

    Without picklists the settings' maps are the whole truth (Autotask's shipped values by
    default). With them, the system statuses keep their documented meaning (5 = Complete), the
    others map by label, and a map *set* in settings overrides both.
    """
    explicit = settings.model_fields_set
    if picklists is None:
        return TicketMaps.build(
            [Choice(str(v), str(v)) for v in settings.status_map], [],
            status_overrides={str(k): v for k, v in settings.status_map.items()},
            priority_overrides={k: str(v) for k, v in settings.priority_map.items()},
        )
    statuses = picklists.get("status", [])
    return TicketMaps.build(
        statuses,
        picklists.get("priority", []),
        status_overrides={str(k): v for k, v in settings.status_map.items()} if "status_map" in explicit else None,
        priority_overrides={k: str(v) for k, v in settings.priority_map.items()} if "priority_map" in explicit else None,
        fixed={str(k): v for k, v in DEFAULT_STATUS_MAP.items() if any(c.id == str(k) and c.is_system for c in statuses)},
        preferred_ids=[str(k) for k in DEFAULT_STATUS_MAP],
    )


def ticket_of(t: AtTicket, settings: AutotaskSettings, maps: TicketMaps | None = None) -> Ticket:
    maps = maps or maps_of(settings)
    status = maps.status_of(t.status)
    web = (settings.web_url or "").rstrip("/")
    return Ticket(
        ref=Ref(vendor=VENDOR, id=str(t.id)),
        number=t.ticket_number or "",
        title=t.title or "",
        description=t.description or "",
        status=status,
        status_label=maps.labels.get(str(t.status), str(t.status)) if t.status is not None else "",
        priority=maps.priority_of(t.priority),
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


def status_value(status: TicketStatus, maps: TicketMaps) -> int:
    value = maps.status_id(status)
    if value is None:
        raise ValidationFailed(f"no Autotask status is mapped to {status.value}; set SWITCHBOARD_AUTOTASK__STATUS_MAP",
                               vendor=VENDOR)
    return int(value)


def priority_value(priority: int, maps: TicketMaps) -> int:
    value = maps.priority_id(priority) or maps.priority_id(3)
    if value is None:
        raise ValidationFailed(f"no Autotask priority is mapped to P{priority}; set SWITCHBOARD_AUTOTASK__PRIORITY_MAP",
                               vendor=VENDOR)
    return int(value)


def ticket_body(
    draft: TicketDraft,
    settings: AutotaskSettings,
    maps: TicketMaps | None = None,
    *,
    issue_type: int | None = None,
    sub_issue_type: int | None = None,
) -> dict[str, Any]:
    """The create body; ``issue_type``/``sub_issue_type`` are the draft's names already resolved."""
    maps = maps or maps_of(settings)
    body: dict[str, Any] = {
        "title": draft.title[:255],
        "description": (draft.description + "\n\n" + marker_line(draft.marker))[:8000],
        "status": status_value(draft.status, maps),
        "priority": priority_value(draft.priority, maps),
        "externalID": draft.marker,
        "ticketType": settings.ticket_type,
    }
    if draft.company is not None:
        body["companyID"] = int(draft.company.id)
    if settings.queue_id is not None:
        body["queueID"] = settings.queue_id
    if settings.ticket_source is not None:
        body["source"] = settings.ticket_source
    if issue_type is not None or (draft.type and draft.type.isdigit()):
        body["issueType"] = issue_type if issue_type is not None else int(draft.type or 0)
    if sub_issue_type is not None or (draft.subtype and draft.subtype.isdigit()):
        body["subIssueType"] = sub_issue_type if sub_issue_type is not None else int(draft.subtype or 0)
    if draft.contact is not None:
        body["contactID"] = int(draft.contact.id)
    return body


def patch_body(
    ticket_id: str,
    patch: TicketPatch,
    settings: AutotaskSettings,
    maps: TicketMaps | None = None,
    *,
    issue_type: int | None = None,
    sub_issue_type: int | None = None,
) -> dict[str, Any]:
    maps = maps or maps_of(settings)
    body: dict[str, Any] = {"id": int(ticket_id)}
    if patch.title is not None:
        body["title"] = patch.title[:255]
    if patch.status is not None:
        body["status"] = status_value(patch.status, maps)
    if patch.priority is not None:
        body["priority"] = priority_value(patch.priority, maps)
    if issue_type is not None or (patch.type is not None and patch.type.isdigit()):
        body["issueType"] = issue_type if issue_type is not None else int(patch.type or 0)
    if sub_issue_type is not None or (patch.subtype is not None and patch.subtype.isdigit()):
        body["subIssueType"] = sub_issue_type if sub_issue_type is not None else int(patch.subtype or 0)
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
        self._picklists: tuple[float, dict[str, list[Choice]] | None] | None = None

    def __repr__(self) -> str:
        return f"Autotask({self.http!r})"

    # -- tenant picklists ----------------------------------------------------------------------------
    def picklists(self) -> dict[str, list[Choice]]:
        """The tenant's ticket picklists (status, priority, queueID, issueType, subIssueType, …)."""
        body = self.http.get_json("/V1.0/Tickets/entityInformation/fields", operation="Tickets_QueryFieldDefinitions")
        fields, _ = read_records(AtFieldInfo, (body or {}).get("fields", []) if isinstance(body, dict) else [],
                                 f"{VENDOR}:fields")
        return {f.name: choices_of(f.picklist_values or []) for f in fields if f.name in PICKLISTS and f.is_pick_list}

    def _tenant_lists(self) -> dict[str, list[Choice]] | None:
        """Picklists cached for an hour; None when turned off or the API user may not read them."""
        if not self.settings.tenant_picklists:
            return None
        now = time.monotonic()
        if self._picklists is None or self._picklists[0] < now:
            try:
                lists: dict[str, list[Choice]] | None = self.picklists()
            except PermissionDenied as exc:
                log.warning("autotask: cannot read ticket picklists (%s); using SWITCHBOARD_AUTOTASK__STATUS_MAP", exc)
                lists = None
            self._picklists = (now + MAPS_TTL, lists)
        return self._picklists[1]

    def maps(self) -> TicketMaps:
        return maps_of(self.settings, self._tenant_lists())

    def _picklist(self, name: str) -> list[Choice]:
        lists = self._tenant_lists()
        if lists is None:
            lists = self.picklists()
        return lists.get(name, [])

    def _value(self, field: str, wanted: str | None, *, parent: int | None = None) -> int | None:
        """A picklist value from a value or a label (``Monitoring`` -> its issue type value)."""
        if not wanted or wanted.isdigit():
            return None
        choices = self._picklist(field)
        found = find_choice(choices, wanted, parent=str(parent) if parent is not None else None)
        if found is None:
            known = ", ".join(sorted(c.name for c in choices if c.active)) or "none"
            raise ValidationFailed(f"Autotask has no {field} {wanted!r} (known: {known})", vendor=VENDOR)
        return int(found.id)

    def list_statuses(self) -> list[Choice]:
        return self._picklist("status")

    def list_priorities(self) -> list[Choice]:
        return self._picklist("priority")

    def list_queues(self) -> list[Choice]:
        return self._picklist("queueID")

    def list_issue_types(self) -> list[Choice]:
        return self._picklist("issueType")

    def list_sub_issue_types(self, issue_type: str | None = None) -> list[Choice]:
        return [c for c in self._picklist("subIssueType") if issue_type is None or c.parent == issue_type]

    def _ticket_of(self, t: AtTicket) -> Ticket:
        return ticket_of(t, self.settings, self.maps())

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
            return self._ticket_of(t)
        return None

    def get_ticket(self, ticket_id: str) -> Ticket:
        body = self.http.get_json(f"/V1.0/Tickets/{int(ticket_id)}", operation="Tickets_QueryItem")
        item = body.get("item") if isinstance(body, dict) else None
        if not item:
            raise NotFound(f"ticket {ticket_id} not found", vendor=VENDOR, status=404)
        return self._ticket_of(AtTicket.model_validate(item))

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
                    tickets.append(self._ticket_of(t))
                if t.last_activity_date is not None:
                    seen.append((str(t.id), t.last_activity_date))
        return Pull(tickets, cur.advanced(seen, now).dumps(), rejected, self.http.stats.requests - before)

    # -- writes ----------------------------------------------------------------------------------
    def _types(self, type_: str | None, subtype: str | None) -> dict[str, int | None]:
        """Issue/sub-issue type names resolved to picklist values (ids pass through unchanged)."""
        issue = self._value("issueType", type_)
        parent = issue if issue is not None else (int(type_) if type_ and type_.isdigit() else None)
        return {"issue_type": issue, "sub_issue_type": self._value("subIssueType", subtype, parent=parent)}

    def create_ticket(self, draft: TicketDraft) -> Ticket:
        maps = self.maps()
        body = ticket_body(draft, self.settings, maps, **self._types(draft.type, draft.subtype))
        response = self.http.request("POST", "/V1.0/Tickets", json_body=body, operation="Tickets_CreateEntity")
        item_id = self.http.json_of(response, "Tickets_CreateEntity")["itemId"]
        return Ticket(
            ref=Ref(vendor=VENDOR, id=str(item_id)),
            title=body["title"],
            description=body["description"],
            status=draft.status,
            status_label=maps.labels.get(str(body["status"]), str(body["status"])),
            priority=draft.priority,
            company=draft.company,
            marker=draft.marker,
        )

    def update_ticket(self, ticket_id: str, patch: TicketPatch) -> Ticket:
        if not patch.is_empty():
            self.http.request(
                "PATCH", "/V1.0/Tickets",
                json_body=patch_body(ticket_id, patch, self.settings, self.maps(), **self._types(patch.type, patch.subtype)),
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
            note_of(n, self.settings.api_resource_id)
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
            queues = {c.id: c.name for c in self.list_queues()} if self.settings.tenant_picklists else {}
            if queues and str(self.settings.queue_id) not in queues:
                raise NotFound(f"queue {self.settings.queue_id} does not exist (queues: {', '.join(queues.values())})",
                               vendor=VENDOR)
            return f"new tickets go to queue {queues.get(str(self.settings.queue_id), self.settings.queue_id)}"

        def picklists() -> str:
            if not self.settings.tenant_picklists:
                return "tenant picklists off: maps from SWITCHBOARD_AUTOTASK__STATUS_MAP / __PRIORITY_MAP"
            lists = self.picklists()
            maps = maps_of(self.settings, lists)
            closed = maps.status_id(TicketStatus.closed)
            if closed is None:
                raise ValidationFailed("no Autotask status maps to closed; set SWITCHBOARD_AUTOTASK__STATUS_MAP",
                                       vendor=VENDOR)
            text = (f"{len(lists.get('status', []))} statuses (closes with {maps.labels.get(closed, closed)!r}), "
                    f"{len(lists.get('priority', []))} priorities, {len(lists.get('issueType', []))} issue types")
            return text + (f"; not mapped (treated as open): {', '.join(maps.unmapped)}" if maps.unmapped else "")

        return [
            run_check(n, f)
            for n, f in (("threshold", threshold), ("tickets", tickets), ("companies", companies),
                         ("picklists", picklists), ("queue", queue))
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


# -- webhooks -----------------------------------------------------------------------------------------


class _AutotaskWebhook:
    """Autotask webhooks (``TicketWebhooks``/``TicketNoteWebhooks`` created with a ``SecretKey``).

    Autotask signs every callout: ``X-Hook-Signature: sha1=<base64 HMAC-SHA1(SecretKey, raw body)>``
    (Autotask developer help, "Secret key and payload verification"). The body is
    ``{"Action", "Guid", "EntityType", "Id", "Fields", "EventTime", "SequenceNumber", "PersonID"}``;
    ``EventTime`` is inside the signed body, so a call older than :attr:`window` seconds is refused
    as stale, and ``Guid`` + ``Id`` + ``SequenceNumber`` is the replay guard's delivery id.
    """

    vendor = VENDOR
    signature_header = "X-Hook-Signature"
    window = 3600.0
    """A callout whose signed ``EventTime`` is further than this from now is refused as stale (a
    replayed capture); anything refused or missed is picked up by the incremental poll."""

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, now: float) -> None:
        from connectors.webhooks import verify_hmac

        verify_hmac(body, header(headers, self.signature_header), secret, algorithm="sha1", encoding="base64",
                    prefix="sha1=")
        data = json_body(body)
        event = data.get("EventTime") if isinstance(data, dict) else None
        if event:
            try:
                when = datetime.fromisoformat(str(event).replace("Z", "+00:00"))
            except ValueError:
                raise WebhookRejected("malformed", "EventTime is not a date") from None
            check_timestamp(str(utc(when).timestamp()), now, self.window)

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        data = json_body(body)
        if not isinstance(data, dict) or "Id" not in data:
            raise WebhookRejected("malformed", "not an Autotask webhook callout (no Id)")
        entity = str(data.get("EntityType", "")).lower()
        fields = data.get("Fields") if isinstance(data.get("Fields"), dict) else {}
        delivery = f"{data.get('Guid', '')}:{entity}:{data['Id']}:{data.get('SequenceNumber', '')}"
        if entity == "ticket":
            return WebhookDelivery(VENDOR, "tickets", ids=[str(data["Id"])], delivery_id=delivery)
        ticket = next((v for k, v in (fields or {}).items() if k.lower() == "ticketid"), None)
        if entity == "ticketnote" and ticket:
            return WebhookDelivery(VENDOR, "tickets", ids=[str(ticket)], delivery_id=delivery)
        return WebhookDelivery(VENDOR, "other", ids=[str(data["Id"])], delivery_id=delivery)


WEBHOOK = _AutotaskWebhook()
