"""HaloPSA (Halo API v2) — tickets, actions (notes), statuses, types, categories, priorities, clients.

Built against ``shared/specs/halopsa.json`` (OpenAPI 3.0.1, relative server ``/api``). The document
declares requests fully but no response bodies; the contract checker fills them in from the
document's own schemas (see ``connectors/contract.py``, quirk "Halo responses").

Needs
    ``SWITCHBOARD_HALOPSA__BASE_URL``        the resource server, e.g. ``https://msp.halopsa.com/api``
    ``SWITCHBOARD_HALOPSA__AUTH_URL``        the authorisation server (default: the same host ``/auth``)
    ``SWITCHBOARD_HALOPSA__TENANT``          hosted tenants only (sent as ``?tenant=`` on the token call)
    ``SWITCHBOARD_HALOPSA__CLIENT_ID``       an API application (Configuration › Integrations › Halo API)
    ``SWITCHBOARD_HALOPSA__CLIENT_SECRET``   its secret; the application's agent needs ticket,
        action, client, user and agent permissions (scope ``all`` or the read/edit scopes)
    ``SWITCHBOARD_HALOPSA__TICKET_TYPE_ID``  ticket type of alert tickets (optional: Halo's default)
Auth
    OAuth2 client credentials at ``POST {auth_url}/token`` (grant ``client_credentials``, scope
    ``all``); the bearer token is cached until shortly before ``expires_in`` and fetched again once
    on a 401. The token URL is not in the API document (the only undocumented call).
Limits
    Halo throttles hosted tenants with 429 + ``Retry-After`` and publishes no fixed figure in the
    document; ``SWITCHBOARD_HALOPSA__REQUESTS_PER_MINUTE`` (default 500) is shared through Redis.
    Lists are paged with ``pageinate=true&page_size=100`` (the document's stated maximum) and
    ``page_no``, in id order, and stop at ``record_count``.
Incremental tickets
    ``lastupdatefromdate=<UTC ISO>`` against the ticket's ``last_update`` (Halo's change marker),
    de-duplicated at the boundary by ticket id. The document types that parameter ``bool``; Halo
    and its public clients use it with a date (quirk named in ``connectors/contract.py``).
Correlation marker
    ``third_party_id_string`` carries the marker; the description ends with the marker line, so
    ``search_details`` finds it after an unknown outcome and the exact field confirms it.
    Actions (notes) carry the marker as their last line.
Status / priority maps
    From the tenant: ``/Status`` names (Closed, In Progress, With User…) and ``/Priority`` names,
    mapped by :mod:`connectors.psa_maps`; ``SWITCHBOARD_HALOPSA__STATUS_MAP`` (status id →
    Switchboard status) and ``__PRIORITY_MAP`` (1–4 → priority id) override.
Notes and time
    A note is an action (``outcome`` "Private Note" for internal notes, hidden from the end user);
    time is read from a ticket's actions (``timeentriesonly=true``, hours in ``timetaken``).
Webhooks
    Halo does not sign webhook calls; the webhook is set up with Basic authentication and the
    password is the per-tenant secret Switchboard checks (constant time). See :data:`WEBHOOK`.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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
from connectors.errors import MalformedRecord, NotFound, PaginationLoop, ValidationFailed
from connectors.http import VendorHttp
from connectors.protocols import Pull, Rejected
from connectors.psa_maps import Choice, TicketMaps, find_choice, marker_line, marker_of_text
from connectors.ratelimit import Limit
from connectors.webhooks import WebhookDelivery, WebhookRejected, header, json_body

__all__ = [
    "WEBHOOK",
    "HaloPsa",
    "HaloPsaSettings",
    "action_of",
    "classify_error",
    "patch_body",
    "ticket_body",
    "ticket_of",
]

VENDOR = "halopsa"
PAGE_MAX = 100
CREDENTIALS = "SWITCHBOARD_HALOPSA__CLIENT_ID / SWITCHBOARD_HALOPSA__CLIENT_SECRET"
MAPS_TTL = 3600.0


class HaloPsaSettings(BaseModel):
    base_url: str | None = None
    auth_url: str | None = None
    tenant: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    scope: str = "all"
    ticket_type_id: int | None = None
    """Ticket type (``tickettype_id``) of tickets Switchboard opens; Halo's default when unset."""
    team: str | None = None
    """Team new tickets go to (Halo's default routing when unset)."""
    category: str | None = None
    """``category_1`` of alert tickets, e.g. ``Monitoring``."""
    status_map: dict[int, TicketStatus] = Field(default_factory=dict)
    """Halo status id -> Switchboard status, over the mapping read from the tenant."""
    priority_map: dict[int, int] = Field(default_factory=dict)
    """Switchboard priority 1–4 -> Halo priority id, over the names read from the tenant."""
    note_outcome: str = "Private Note"
    """Action outcome of internal notes."""
    public_note_outcome: str = "Note"
    """Action outcome of notes the end user may see."""
    api_agent_id: int | None = None
    """The API application's agent: its actions count as Switchboard's even without a marker."""
    web_url: str | None = None
    """Base of links for people, e.g. ``https://msp.halopsa.com``."""
    requests_per_minute: int = 500
    page_size: int = PAGE_MAX
    timeout_seconds: float = 30.0


# -- vendor models ---------------------------------------------------------------------------------


class HaloTicket(VendorModel):
    id: int
    summary: str | None = ""
    details: str | None = ""
    status_id: int | None = None
    tickettype_id: int | None = None
    priority_id: int | None = None
    client_id: int | None = None
    user_id: int | None = None
    agent_id: int | None = None
    team: str | None = None
    categoryid_1: int | None = None
    dateoccurred: datetime | None = None
    datecreated: datetime | None = None
    last_update: datetime | None = None
    dateclosed: datetime | None = None
    third_party_id_string: str | None = None


class HaloAction(VendorModel):
    id: int
    ticket_id: int
    outcome: str | None = None
    note: str | None = ""
    hiddenfromuser: bool | None = None
    datetime_: datetime | None = Field(None, alias="datetime")
    who_agentid: int | None = None
    actionby_agent_id: int | None = None
    timetaken: float | None = None


class HaloStatus(VendorModel):
    id: int
    name: str
    type: int | None = None
    sequence: int | None = None


class HaloPriority(VendorModel):
    priorityid: int
    name: str
    slaid: int | None = None
    ishidden: bool | None = None


class HaloNamed(VendorModel):
    """Ticket types, SLAs: an id and a name."""

    id: int
    name: str
    inactive: bool | None = None


class HaloCategory(VendorModel):
    id: int
    value: str | None = None
    category_name: str | None = None
    type_id: int | None = None


class HaloClient(VendorModel):
    id: int
    name: str
    inactive: bool | None = None


class HaloUser(VendorModel):
    id: int
    name: str | None = ""
    emailaddress: str | None = None
    client_id: int | None = None
    inactive: bool | None = None
    isimportantcontact: bool | None = None


class HaloAgent(VendorModel):
    id: int
    name: str | None = ""
    email: str | None = None
    isdisabled: bool | None = None


# -- mapping (pure) --------------------------------------------------------------------------------


def _ref(value: int | None) -> Ref | None:
    return Ref(vendor=VENDOR, id=str(value)) if value else None


def ticket_of(t: HaloTicket, maps: TicketMaps | None = None, *, web_url: str | None = None) -> Ticket:
    if maps is not None:
        status = maps.status_of(t.status_id, closed=True if t.dateclosed else None)
        label = maps.labels.get(str(t.status_id), str(t.status_id or ""))
        priority = maps.priority_of(t.priority_id)
    else:
        status = TicketStatus.closed if t.dateclosed else TicketStatus.other
        label, priority = str(t.status_id or ""), None
    web = (web_url or "").rstrip("/")
    opened = t.dateoccurred or t.datecreated
    return Ticket(
        ref=Ref(vendor=VENDOR, id=str(t.id)),
        number=str(t.id),
        title=t.summary or "",
        description=t.details or "",
        status=status,
        status_label=label,
        priority=priority,
        type=str(t.tickettype_id) if t.tickettype_id is not None else None,
        subtype=str(t.categoryid_1) if t.categoryid_1 else None,
        board=t.team or None,
        company=_ref(t.client_id),
        contact=_ref(t.user_id),
        assigned_to=_ref(t.agent_id),
        created_at=utc(opened) if opened else None,
        updated_at=utc(t.last_update) if t.last_update else None,
        closed_at=utc(t.dateclosed) if t.dateclosed else None,
        marker=t.third_party_id_string or marker_of_text(t.details),
        url=f"{web}/ticket?id={t.id}" if web else None,
    )


def ticket_body(draft: TicketDraft, settings: HaloPsaSettings, maps: TicketMaps | None) -> dict[str, Any]:
    """One element of the ``POST /Tickets`` array for a draft."""
    if draft.company is None:
        raise ValueError("a Halo ticket needs a client")
    body: dict[str, Any] = {
        "summary": draft.title[:250],
        "details": f"{draft.description}\n\n{marker_line(draft.marker)}",
        "client_id": int(draft.company.id),
        "third_party_id_string": draft.marker,
    }
    ticket_type = draft.type if draft.type and draft.type.isdigit() else None
    if ticket_type or settings.ticket_type_id is not None:
        body["tickettype_id"] = int(ticket_type or settings.ticket_type_id or 0)
    if maps is not None:
        pid = maps.priority_id(draft.priority)
        if pid is not None:
            body["priority_id"] = int(pid)
        if draft.status is not TicketStatus.new:
            sid = maps.status_id(draft.status)
            if sid is not None:
                body["status_id"] = int(sid)
    if draft.board or settings.team:
        body["team"] = draft.board or settings.team
    if draft.subtype and not draft.subtype.isdigit():
        body["category_1"] = draft.subtype
    elif settings.category:
        body["category_1"] = settings.category
    if draft.contact is not None:
        body["user_id"] = int(draft.contact.id)
    return body


def patch_body(ticket_id: str, patch: TicketPatch, maps: TicketMaps | None) -> dict[str, Any]:
    """One element of the ``POST /Tickets`` array that updates an existing ticket."""
    body: dict[str, Any] = {"id": int(ticket_id)}
    if patch.title is not None:
        body["summary"] = patch.title[:250]
    if patch.status is not None:
        sid = maps.status_id(patch.status) if maps else None
        if sid is None:
            raise ValidationFailed(f"no Halo status is mapped to {patch.status.value}; set SWITCHBOARD_HALOPSA__STATUS_MAP",
                                   vendor=VENDOR)
        body["status_id"] = int(sid)
    if patch.priority is not None:
        pid = maps.priority_id(patch.priority) if maps else None
        if pid is None:
            raise ValidationFailed(f"no Halo priority is mapped to P{patch.priority}; set SWITCHBOARD_HALOPSA__PRIORITY_MAP",
                                   vendor=VENDOR)
        body["priority_id"] = int(pid)
    if patch.type is not None and patch.type.isdigit():
        body["tickettype_id"] = int(patch.type)
    if patch.subtype is not None and not patch.subtype.isdigit():
        body["category_1"] = patch.subtype
    if patch.board is not None:
        body["team"] = patch.board
    if patch.assigned_to is not None:
        body["agent_id"] = int(patch.assigned_to.id)
    return body


def action_of(a: HaloAction, api_agent_id: int | None = None) -> Note:
    body = a.note or ""
    author = a.actionby_agent_id or a.who_agentid
    return Note(
        ref=Ref(vendor=VENDOR, id=str(a.id)),
        ticket=Ref(vendor=VENDOR, id=str(a.ticket_id)),
        body=body,
        internal=bool(a.hiddenfromuser),
        created_at=utc(a.datetime_) if a.datetime_ else None,
        author=_ref(author),
        by_integration=marker_of_text(body) is not None or (api_agent_id is not None and author == api_agent_id),
    )


def maps_of(statuses: list[HaloStatus], priorities: list[HaloPriority], settings: HaloPsaSettings) -> TicketMaps:
    seen: dict[int, HaloPriority] = {}
    for p in priorities:  # priorities repeat once per SLA with the same priorityid
        seen.setdefault(p.priorityid, p)
    return TicketMaps.build(
        [Choice(str(s.id), s.name, sort=s.sequence or 0) for s in statuses],
        [Choice(str(p.priorityid), p.name, active=not p.ishidden, sort=p.priorityid) for p in seen.values()],
        status_overrides={str(k): v for k, v in settings.status_map.items()},
        priority_overrides={k: str(v) for k, v in settings.priority_map.items()},
    )


def _halo_time(value: datetime) -> str:
    """Halo takes UTC date-times without an offset."""
    return utc(value).strftime("%Y-%m-%dT%H:%M:%S")


def default_auth_url(base_url: str) -> str:
    parts = urlsplit(base_url.rstrip("/"))
    path = parts.path[: -len("/api")] if parts.path.endswith("/api") else parts.path
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/auth", "", ""))


# -- client ------------------------------------------------------------------------------------------


class HaloPsa:
    """HaloPSA as a :class:`~connectors.protocols.TicketSystem`."""

    vendor = VENDOR

    def __init__(self, http: VendorHttp, settings: HaloPsaSettings) -> None:
        self.http = http
        self.settings = settings
        self._maps: tuple[float, TicketMaps] | None = None

    def __repr__(self) -> str:
        return f"HaloPsa({self.http!r})"

    @classmethod
    def from_settings(
        cls,
        settings: HaloPsaSettings,
        *,
        redis: Any = None,
        prefix: str = "switchboard",
        transport: httpx.BaseTransport | None = None,
    ) -> HaloPsa:
        base = require(settings.base_url, "SWITCHBOARD_HALOPSA__BASE_URL", VENDOR).rstrip("/")
        client_id = require(settings.client_id, "SWITCHBOARD_HALOPSA__CLIENT_ID", VENDOR)
        require(settings.client_secret, "SWITCHBOARD_HALOPSA__CLIENT_SECRET", VENDOR)
        assert settings.client_secret is not None
        token_url = (settings.auth_url or default_auth_url(base)).rstrip("/") + "/token"
        if settings.tenant:
            token_url += f"?tenant={settings.tenant}"
        auth = OAuth2TokenAuth(
            token_url,
            {"grant_type": "client_credentials", "client_id": client_id, "client_secret": settings.client_secret,
             "scope": settings.scope},
            vendor=VENDOR,
            credential_settings=CREDENTIALS,
        )
        limit = Limit(settings.requests_per_minute, 60.0, burst=max(1, settings.requests_per_minute // 10))
        tenant = settings.tenant or urlsplit(base).netloc
        http = build_http(
            VENDOR,
            base,
            auth=auth,
            limiter=make_limiter(VENDOR, tenant, limit, redis=redis, prefix=prefix),
            secrets=secret_values(settings.client_secret),
            credential_settings=CREDENTIALS,
            transport=transport,
            timeout=settings.timeout_seconds,
            classify=classify_error,
        )
        return cls(http, settings)

    # -- paging ------------------------------------------------------------------------------------
    def _pages(self, path: str, key: str, operation: str, **params: Any) -> Iterator[list[Any]]:
        """Every page of a paginated list (``pageinate=true``), stopping at ``record_count``."""
        size = min(self.settings.page_size, PAGE_MAX)
        page = 1
        last_ids: tuple[Any, ...] | None = None
        while True:
            query = {"pageinate": True, "page_size": size, "page_no": page, **{k: v for k, v in params.items()
                                                                               if v is not None}}
            body = self.http.get_json(path, params=query, operation=operation)
            records = body.get(key) if isinstance(body, dict) else None
            if not isinstance(records, list):
                raise MalformedRecord(f"{operation}: page has no {key!r} list", vendor=VENDOR, payload=body,
                                      stream=f"{VENDOR}:{key}")
            yield records
            total = body.get("record_count") if isinstance(body.get("record_count"), int) else None
            if not records or len(records) < size or (total is not None and page * size >= total):
                return
            ids = tuple(r.get("id") if isinstance(r, dict) else r for r in records)
            if ids == last_ids:
                raise PaginationLoop(f"{operation}: page {page} repeated page {page - 1}", vendor=VENDOR)
            last_ids = ids
            page += 1

    def _list(self, model: type[Any], path: str, operation: str, **params: Any) -> list[Any]:
        """A list Halo returns whole (statuses, types, priorities, agents…)."""
        body = self.http.get_json(path, params=params or None, operation=operation)
        if not isinstance(body, list):
            raise MalformedRecord(f"{operation}: expected a list", vendor=VENDOR, payload=body, stream=f"{VENDOR}:{path}")
        items, _ = read_records(model, body, f"{VENDOR}:{path.strip('/').lower()}")
        return items

    # -- tenant maps ---------------------------------------------------------------------------------
    def statuses(self) -> list[HaloStatus]:
        return self._list(HaloStatus, "/Status", "getStatus")

    def priorities(self) -> list[HaloPriority]:
        return self._list(HaloPriority, "/Priority", "getPriority")

    def maps(self) -> TicketMaps:
        """The tenant's status and priority maps (read once an hour)."""
        now = time.monotonic()
        if self._maps is None or self._maps[0] < now:
            self._maps = (now + MAPS_TTL, maps_of(self.statuses(), self.priorities(), self.settings))
        return self._maps[1]

    def _ticket_of(self, t: HaloTicket) -> Ticket:
        return ticket_of(t, self.maps(), web_url=self.settings.web_url)

    # -- reads ---------------------------------------------------------------------------------------
    def find_ticket_by_marker(self, marker: str) -> Ticket | None:
        for records in self._pages("/Tickets", "tickets", "getTickets", search_details=marker_line(marker)):
            items, _ = read_records(HaloTicket, records, f"{VENDOR}:tickets")
            for t in items:
                if t.third_party_id_string == marker or marker_of_text(t.details) == marker:
                    return self._ticket_of(t)
        return None

    def get_ticket(self, ticket_id: str) -> Ticket:
        body = self.http.get_json(f"/Tickets/{int(ticket_id)}", operation="getTicket")
        if not isinstance(body, dict) or not body.get("id"):
            raise NotFound(f"ticket {ticket_id} not found", vendor=VENDOR, status=404)
        found, bad = read_records(HaloTicket, [body], f"{VENDOR}:tickets")
        if bad:
            raise MalformedRecord(bad[0].reason, vendor=VENDOR, payload=body, stream=f"{VENDOR}:tickets")
        return self._ticket_of(found[0])

    def pull_tickets(self, cursor: str | None, now: datetime) -> Pull[Ticket]:
        before = self.http.stats.requests
        cur = TimeCursor.loads(cursor)
        start = cur.query_from()
        tickets: list[Ticket] = []
        seen: list[tuple[str, datetime]] = []
        rejected: list[Rejected] = []
        for records in self._pages("/Tickets", "tickets", "getTickets", order="id", orderdesc=False,
                                   lastupdatefromdate=_halo_time(start) if start else None):
            items, bad = read_records(HaloTicket, records, f"{VENDOR}:tickets")
            rejected += bad
            for t in items:
                if t.last_update is None or cur.is_new(str(t.id), t.last_update):
                    tickets.append(self._ticket_of(t))
                if t.last_update is not None:
                    seen.append((str(t.id), t.last_update))
        return Pull(tickets, cur.advanced(seen, now).dumps(), rejected, self.http.stats.requests - before)

    def _actions(self, ticket_id: str, **params: Any) -> list[HaloAction]:
        body = self.http.get_json("/Actions", params={"ticket_id": int(ticket_id), **params}, operation="getActions")
        records = body.get("actions") if isinstance(body, dict) else None
        if not isinstance(records, list):
            raise MalformedRecord("getActions: no 'actions' list", vendor=VENDOR, payload=body, stream=f"{VENDOR}:actions")
        items, _ = read_records(HaloAction, records, f"{VENDOR}:actions")
        return items

    def list_notes(self, ticket_id: str) -> list[Note]:
        return [action_of(a, self.settings.api_agent_id) for a in self._actions(ticket_id, excludesys=True)]

    def list_time_entries(self, ticket_id: str) -> list[TimeEntry]:
        return [
            TimeEntry(
                ref=Ref(vendor=VENDOR, id=str(a.id)),
                ticket=Ref(vendor=VENDOR, id=str(a.ticket_id)),
                member=_ref(a.actionby_agent_id or a.who_agentid),
                hours=a.timetaken or 0.0,
                started_at=utc(a.datetime_) if a.datetime_ else None,
                notes=a.note or "",
            )
            for a in self._actions(ticket_id, timeentriesonly=True)
            if (a.timetaken or 0) > 0
        ]

    # -- writes --------------------------------------------------------------------------------------
    def _saved(self, response: httpx.Response, operation: str) -> dict[str, Any]:
        body = self.http.json_of(response, operation)
        if isinstance(body, list) and body:
            body = body[0]
        if not isinstance(body, dict) or not body.get("id"):
            raise MalformedRecord(f"{operation}: the answer carries no id", vendor=VENDOR, payload=body)
        return body

    def create_ticket(self, draft: TicketDraft) -> Ticket:
        body = ticket_body(draft, self.settings, self.maps())
        response = self.http.request("POST", "/Tickets", json_body=[body], operation="postTickets")
        saved = self._saved(response, "postTickets")
        found, _ = read_records(HaloTicket, [saved], f"{VENDOR}:tickets")
        if found:
            return self._ticket_of(found[0])
        return Ticket(ref=Ref(vendor=VENDOR, id=str(saved["id"])), title=body["summary"], marker=draft.marker,
                      company=draft.company)

    def update_ticket(self, ticket_id: str, patch: TicketPatch) -> Ticket:
        if patch.is_empty():
            return self.get_ticket(ticket_id)
        response = self.http.request("POST", "/Tickets", json_body=[patch_body(ticket_id, patch, self.maps())],
                                     operation="postTickets", idempotent=True)  # an update with an id: harmless twice
        saved = self._saved(response, "postTickets")
        found, _ = read_records(HaloTicket, [saved], f"{VENDOR}:tickets")
        return self._ticket_of(found[0]) if found else self.get_ticket(ticket_id)

    def _action_body(self, ticket_id: str, note: NoteDraft) -> dict[str, Any]:
        return {
            "ticket_id": int(ticket_id),
            "outcome": self.settings.note_outcome if note.internal else self.settings.public_note_outcome,
            "note": f"{note.body}\n\n{marker_line(note.marker)}",
            "hiddenfromuser": note.internal,
        }

    def add_note(self, ticket_id: str, note: NoteDraft) -> Note:
        body = self._action_body(ticket_id, note)
        response = self.http.request("POST", "/Actions", json_body=[body], operation="postActions")
        saved = self._saved(response, "postActions")
        return Note(ref=Ref(vendor=VENDOR, id=str(saved["id"])), ticket=Ref(vendor=VENDOR, id=str(ticket_id)),
                    body=body["note"], internal=note.internal, by_integration=True)

    def update_note(self, ticket_id: str, note_id: str, note: NoteDraft) -> Note:
        body = {"id": int(note_id), **self._action_body(ticket_id, note)}
        self.http.request("POST", "/Actions", json_body=[body], operation="postActions", idempotent=True)
        return Note(ref=Ref(vendor=VENDOR, id=str(note_id)), ticket=Ref(vendor=VENDOR, id=str(ticket_id)),
                    body=body["note"], internal=note.internal, by_integration=True)

    # -- reference data ------------------------------------------------------------------------------
    def list_companies(self) -> Iterator[Company]:
        for records in self._pages("/Client", "clients", "getClient", includeactive=True):
            clients, _ = read_records(HaloClient, records, f"{VENDOR}:clients")
            for c in clients:
                yield Company(ref=Ref(vendor=VENDOR, id=str(c.id)), name=c.name)

    def list_contacts(self, company_id: str | None = None) -> Iterator[Contact]:
        for records in self._pages("/Users", "users", "getUsers",
                                   client_id=int(company_id) if company_id else None):
            users, _ = read_records(HaloUser, records, f"{VENDOR}:users")
            for u in users:
                yield Contact(ref=Ref(vendor=VENDOR, id=str(u.id)), name=u.name or "", email=u.emailaddress,
                              company=_ref(u.client_id), vip=bool(u.isimportantcontact))

    def list_members(self) -> Iterator[Member]:
        for a in self._list(HaloAgent, "/Agent", "getAgent"):
            yield Member(ref=Ref(vendor=VENDOR, id=str(a.id)), name=a.name or "", email=a.email,
                         active=not a.isdisabled)

    def list_statuses(self) -> list[Choice]:
        return [Choice(str(s.id), s.name, sort=s.sequence or 0) for s in self.statuses()]

    def list_priorities(self) -> list[Choice]:
        seen: dict[int, Choice] = {}
        for p in self.priorities():
            seen.setdefault(p.priorityid, Choice(str(p.priorityid), p.name, active=not p.ishidden))
        return list(seen.values())

    def list_ticket_types(self) -> list[Choice]:
        return [Choice(str(t.id), t.name, active=not t.inactive) for t in self._list(HaloNamed, "/TicketType",
                                                                                     "getTicketType")]

    def list_categories(self, type_id: int = 1) -> list[Choice]:
        """Categories of one kind (``type_id`` 1 = category 1, the usual issue taxonomy)."""
        return [Choice(str(c.id), c.value or c.category_name or "", parent=str(c.type_id or type_id))
                for c in self._list(HaloCategory, "/Category", "getCategory", type_id=type_id)]

    def list_slas(self) -> list[Choice]:
        return [Choice(str(s.id), s.name) for s in self._list(HaloNamed, "/SLA", "getSLA")]

    def ticket_type_named(self, name: str) -> int | None:
        found = find_choice(self.list_ticket_types(), name)
        return int(found.id) if found else None

    # -- check ---------------------------------------------------------------------------------------
    def check(self) -> list[CheckResult]:
        def token() -> str:
            body = self.http.get_json("/Tickets", params={"pageinate": True, "page_size": 1, "page_no": 1},
                                      operation="getTickets")
            return f"token accepted; {body.get('record_count', '?')} tickets readable"

        def statuses() -> str:
            maps = self.maps()
            closed = maps.status_id(TicketStatus.closed)
            if closed is None:
                raise ValidationFailed("no Halo status maps to closed; set SWITCHBOARD_HALOPSA__STATUS_MAP", vendor=VENDOR)
            text = f"{len(maps.status)} statuses, closes with {maps.labels.get(closed, closed)!r}"
            return text + (f"; not mapped (treated as open): {', '.join(maps.unmapped)}" if maps.unmapped else "")

        def priorities() -> str:
            maps = self.maps()
            names = {c.id: c.name for c in self.list_priorities()}
            missing = [f"P{k}" for k in range(1, 5) if k not in maps.priority]
            return ", ".join(f"P{k} -> {names.get(v, v)!r}" for k, v in sorted(maps.priority.items())) + (
                f"; {', '.join(missing)} use Halo's default" if missing else "")

        def ticket_type() -> str:
            if self.settings.ticket_type_id is None:
                return "SWITCHBOARD_HALOPSA__TICKET_TYPE_ID not set: new tickets take Halo's default type"
            names = {c.id: c.name for c in self.list_ticket_types()}
            if str(self.settings.ticket_type_id) not in names:
                raise NotFound(f"ticket type {self.settings.ticket_type_id} does not exist", vendor=VENDOR)
            return f"new tickets are {names[str(self.settings.ticket_type_id)]!r}"

        def clients() -> str:
            return f"{sum(1 for _ in self.list_companies())} clients readable"

        return [run_check(n, f) for n, f in (("tickets", token), ("statuses", statuses), ("priorities", priorities),
                                             ("ticket type", ticket_type), ("clients", clients))]


def classify_error(response: httpx.Response) -> ValidationFailed | None:
    """Halo answers a refused write with 400 and a bare JSON string (or an object with a message)."""
    if response.status_code not in (400, 409, 422):
        return None
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        body = body.get("message") or body.get("Message") or body.get("error_description") or json.dumps(body)
    return ValidationFailed(f"HTTP {response.status_code}: the vendor refused the request: {str(body)[:400]}",
                            vendor=VENDOR, status=response.status_code)


# -- webhooks -----------------------------------------------------------------------------------------


class _HaloWebhook:
    """Halo outbound webhooks (Configuration › Integrations › Webhooks).

    Halo does not sign its calls. The webhook is created with *Basic authentication*; its password
    is the per-tenant secret checked here in constant time (the user name is free). The body holds
    the ``ticket`` (and ``action``, where there is one) objects; a targeted pull of that ticket and
    the incremental poll do the rest.
    """

    vendor = VENDOR

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, now: float) -> None:
        presented = header(headers, "Authorization") or ""
        if not presented.lower().startswith("basic "):
            raise WebhookRejected("unsigned", "no Basic credentials on the call")
        try:
            _, _, password = base64.b64decode(presented[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise WebhookRejected("malformed", "Basic credentials are not base64") from None
        if not hmac.compare_digest(password.encode(), secret.encode()):
            raise WebhookRejected("bad_signature", "Basic password does not match")

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        data = json_body(body)
        ticket = data.get("ticket") if isinstance(data, dict) else None
        if not isinstance(ticket, dict) or not ticket.get("id"):
            raise WebhookRejected("malformed", "not a Halo ticket webhook (no ticket.id)")
        delivery = data.get("id") or f"{ticket['id']}:{ticket.get('last_update', '')}"
        return WebhookDelivery(VENDOR, "tickets", ids=[str(ticket["id"])], delivery_id=str(delivery))


WEBHOOK = _HaloWebhook()
