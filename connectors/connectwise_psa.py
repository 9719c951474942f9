"""ConnectWise PSA (Manage, REST 3.0) — service tickets, notes, boards, companies, members, time.

Built against ``shared/specs/connectwise-psa.json``: a trimmed transcription of the vendor's
OpenAPI 3.0.1 file (version 2025.8) holding the 16 ticket-related paths Switchboard uses (see
``shared/specs/SOURCES.md``). Callback signing is not in that document; it follows ConnectWise's
public developer guide (Webhooks/Callbacks) and is named as such below.

Needs
    ``SWITCHBOARD_CONNECTWISE_PSA__BASE_URL``     the API root of the site, e.g.
        ``https://api-na.myconnectwise.net/v4_6_release/apis/3.0``
    ``SWITCHBOARD_CONNECTWISE_PSA__COMPANY_ID``   the company id people log in with
    ``SWITCHBOARD_CONNECTWISE_PSA__PUBLIC_KEY``   an API member's public key
    ``SWITCHBOARD_CONNECTWISE_PSA__PRIVATE_KEY``  its private key (secret)
    ``SWITCHBOARD_CONNECTWISE_PSA__CLIENT_ID``    the integration's clientId (developer.connectwise.com)
    ``SWITCHBOARD_CONNECTWISE_PSA__BOARD_ID``     service board for new tickets
    The API member's security role needs Service Desk › Service Tickets (add/edit/inquire),
    Companies › Company Maintenance/Contacts (inquire), Time & Expense › Time Entry (inquire),
    System › Table Setup (inquire: boards, statuses, priorities) and, for callbacks, System ›
    API Reports/Callbacks.
Auth
    HTTP Basic ``{company_id}+{public_key}:{private_key}`` plus the ``clientId`` header on every
    call; ``Accept: application/vnd.connectwise.com+json; version=…`` pins the API version.
Limits
    ConnectWise throttles per site and answers 429 with ``Retry-After``; it publishes no fixed
    budget, so ``SWITCHBOARD_CONNECTWISE_PSA__REQUESTS_PER_MINUTE`` (default 600) is shared by
    every worker through one Redis bucket. Lists are read at the maximum page size (1000) with
    forward-only paging (``pagination-type: forward-only``, ``pageId`` from the ``Link`` header),
    which cannot skip or repeat a ticket that changes while we page.
Incremental tickets
    ``conditions=lastUpdated >= [ISO]`` (the vendor's change marker, ``_info.lastUpdated``),
    de-duplicated at the boundary by ticket id; optionally only some boards
    (``SWITCHBOARD_CONNECTWISE_PSA__POLL_BOARD_IDS``). ``>=`` rather than ``>``: the marker has
    one-second precision, and a change made in the same second as the last one seen must not be
    skipped. A ticket's description is its first note (ConnectWise turns ``initialDescription``
    into one), so ``Ticket.description`` stays empty.
Correlation marker
    ``externalXRef`` (string, max 100) holds Switchboard's marker and is searched with
    ``conditions=externalXRef="…"`` before a create that follows an unknown outcome; notes carry
    it as their last line.
Status / priority maps
    Statuses are per board: ``/service/boards/{id}/statuses`` gives each one's name and
    ``closedStatus`` flag, mapped onto Switchboard's statuses by :mod:`connectors.psa_maps`
    (closed flag first, then the name). Priorities come from ``/service/priorities``: the
    ``level`` (Critical/High/Medium/Low) gives P1–P4. ``SWITCHBOARD_CONNECTWISE_PSA__STATUS_MAP``
    (status name → Switchboard status) and ``__PRIORITY_MAP`` (1–4 → priority id) override.
Types
    ``TicketDraft.type``/``subtype`` (and ``item`` from settings) may be ids or names; names are
    looked up on the ticket's board (``/service/boards/{id}/types|subtypes|items``).
Callbacks
    ConnectWise signs each delivery: ``x-content-signature`` = base64(HMAC-SHA256(key =
    SHA-256(signing key), raw body)). The signing key is fetched once from the
    ``Metadata.key_url`` in a delivery, only from the configured site, and given to ``serve`` as the
    webhook secret (:meth:`ConnectWisePsa.callback_signing_key`). See :data:`WEBHOOK`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, Field, SecretStr

from connectors.auth import BasicAuth, require
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
from connectors.errors import MalformedRecord, NotConfigured, PaginationLoop, ValidationFailed
from connectors.http import VendorHttp
from connectors.protocols import Pull, Rejected
from connectors.psa_maps import Choice, TicketMaps, find_choice, marker_line, marker_of_text, priority_of_name
from connectors.ratelimit import Limit
from connectors.webhooks import WebhookDelivery, WebhookRejected, header, json_body

__all__ = [
    "WEBHOOK",
    "ConnectWisePsa",
    "ConnectWisePsaSettings",
    "classify_error",
    "conditions_since",
    "note_of",
    "patch_ops",
    "sign_callback",
    "ticket_body",
    "ticket_of",
]

VENDOR = "connectwise-psa"
PAGE_MAX = 1000
API_VERSION = "2025.8"
CREDENTIALS = (
    "SWITCHBOARD_CONNECTWISE_PSA__COMPANY_ID / SWITCHBOARD_CONNECTWISE_PSA__PUBLIC_KEY / "
    "SWITCHBOARD_CONNECTWISE_PSA__PRIVATE_KEY / SWITCHBOARD_CONNECTWISE_PSA__CLIENT_ID"
)
MAPS_TTL = 3600.0
"""How long board statuses, priorities and board types are trusted before being read again."""


class ConnectWisePsaSettings(BaseModel):
    base_url: str | None = None
    company_id: str | None = None
    public_key: str | None = None
    private_key: SecretStr | None = None
    client_id: str | None = None
    board_id: int | None = None
    """Service board new tickets go to (a ``TicketDraft.board`` wins)."""
    ticket_type: str | None = None
    """Type (id or name) on the board for alert tickets, when the draft names none."""
    ticket_subtype: str | None = None
    ticket_item: str | None = None
    source_id: int | None = None
    """Service source (e.g. "Monitoring") stamped on tickets Switchboard opens."""
    poll_board_ids: list[int] = Field(default_factory=list)
    """Only poll tickets of these boards (empty: every board)."""
    status_map: dict[str, TicketStatus] = Field(default_factory=dict)
    """Board status *name* -> Switchboard status, over the mapping read from the boards."""
    priority_map: dict[int, int] = Field(default_factory=dict)
    """Switchboard priority 1–4 -> ConnectWise priority id, over the levels read from the tenant."""
    api_member_id: int | None = None
    """The API member's id: its notes count as Switchboard's even without a marker."""
    web_url: str | None = None
    """Base of links for people, e.g. ``https://na.myconnectwise.net/v4_6_release``."""
    api_version: str = API_VERSION
    requests_per_minute: int = 600
    page_size: int = PAGE_MAX
    timeout_seconds: float = 30.0


# -- vendor models ----------------------------------------------------------------------------------


class CwRef(VendorModel):
    id: int | None = None
    name: str | None = None
    identifier: str | None = None
    level: str | None = None


class CwInfo(VendorModel):
    last_updated: datetime | None = Field(None, alias="lastUpdated")
    date_entered: datetime | None = Field(None, alias="dateEntered")
    updated_by: str | None = Field(None, alias="updatedBy")
    entered_by: str | None = Field(None, alias="enteredBy")


class CwTicket(VendorModel):
    id: int
    summary: str | None = ""
    board: CwRef | None = None
    status: CwRef | None = None
    company: CwRef | None = None
    contact: CwRef | None = None
    type: CwRef | None = None
    sub_type: CwRef | None = Field(None, alias="subType")
    item: CwRef | None = None
    owner: CwRef | None = None
    priority: CwRef | None = None
    external_xref: str | None = Field(None, alias="externalXRef")
    closed_flag: bool | None = Field(None, alias="closedFlag")
    closed_date: datetime | None = Field(None, alias="closedDate")
    info: CwInfo = Field(default_factory=lambda: CwInfo.model_validate({}), alias="_info")


class CwNote(VendorModel):
    id: int
    ticket_id: int | None = Field(None, alias="ticketId")
    text: str | None = ""
    detail_description_flag: bool | None = Field(None, alias="detailDescriptionFlag")
    internal_analysis_flag: bool | None = Field(None, alias="internalAnalysisFlag")
    resolution_flag: bool | None = Field(None, alias="resolutionFlag")
    member: CwRef | None = None
    contact: CwRef | None = None
    date_created: datetime | None = Field(None, alias="dateCreated")
    created_by: str | None = Field(None, alias="createdBy")


class CwBoardStatus(VendorModel):
    id: int
    name: str
    closed_status: bool | None = Field(None, alias="closedStatus")
    default_flag: bool | None = Field(None, alias="defaultFlag")
    inactive: bool | None = None
    sort_order: int | None = Field(None, alias="sortOrder")


class CwPriority(VendorModel):
    id: int
    name: str
    level: str | None = None
    sort_order: int | None = Field(None, alias="sortOrder")
    default_flag: bool | None = Field(None, alias="defaultFlag")


class CwNamed(VendorModel):
    """Boards, board types, subtypes and items: an id, a name, an inactive flag."""

    id: int
    name: str
    inactive_flag: bool | None = Field(None, alias="inactiveFlag")
    board: CwRef | None = None
    type_association_ids: list[int] | None = Field(None, alias="typeAssociationIds")


class CwCompany(VendorModel):
    id: int
    identifier: str | None = None
    name: str
    deleted_flag: bool | None = Field(None, alias="deletedFlag")
    info: CwInfo = Field(default_factory=lambda: CwInfo.model_validate({}), alias="_info")


class CwCommunication(VendorModel):
    communication_type: str | None = Field(None, alias="communicationType")
    value: str | None = None
    default_flag: bool | None = Field(None, alias="defaultFlag")


class CwContact(VendorModel):
    id: int
    first_name: str | None = Field("", alias="firstName")
    last_name: str | None = Field("", alias="lastName")
    company: CwRef | None = None
    inactive_flag: bool | None = Field(None, alias="inactiveFlag")
    communication_items: list[CwCommunication] = Field(default_factory=list, alias="communicationItems")


class CwMember(VendorModel):
    id: int
    identifier: str | None = None
    first_name: str | None = Field("", alias="firstName")
    last_name: str | None = Field("", alias="lastName")
    primary_email: str | None = Field(None, alias="primaryEmail")
    inactive_flag: bool | None = Field(None, alias="inactiveFlag")


class CwTimeEntry(VendorModel):
    id: int
    charge_to_id: int | None = Field(None, alias="chargeToId")
    charge_to_type: str | None = Field(None, alias="chargeToType")
    member: CwRef | None = None
    actual_hours: float | None = Field(None, alias="actualHours")
    time_start: datetime | None = Field(None, alias="timeStart")
    notes: str | None = ""


class CwCallback(VendorModel):
    id: int
    url: str
    type: str
    level: str
    object_id: int | None = Field(None, alias="objectId")
    description: str | None = None
    inactive_flag: bool | None = Field(None, alias="inactiveFlag")


# -- mapping (pure) ----------------------------------------------------------------------------------


def _ref(value: int | None) -> Ref | None:
    return Ref(vendor=VENDOR, id=str(value)) if value is not None else None


def _id(ref: CwRef | None) -> int | None:
    return ref.id if ref is not None else None


def ticket_of(t: CwTicket, maps: TicketMaps | None = None, *, web_url: str | None = None) -> Ticket:
    """A ConnectWise ticket as Switchboard sees it; ``maps`` are its board's statuses."""
    name = t.status.name if t.status else None
    sid = _id(t.status)
    if maps is not None:
        status = maps.status_of(sid, closed=t.closed_flag, name=name)
    else:
        from connectors.psa_maps import status_of_name

        status = status_of_name(name, closed=t.closed_flag)
    priority = priority_of_name(t.priority.name, t.priority.level) if t.priority else None
    if priority is None and maps is not None and t.priority is not None:
        priority = maps.priority_of(t.priority.id)
    web = (web_url or "").rstrip("/")
    return Ticket(
        ref=Ref(vendor=VENDOR, id=str(t.id)),
        number=str(t.id),
        title=t.summary or "",
        status=status,
        status_label=name or "",
        priority=priority,
        type=str(t.type.id) if t.type and t.type.id is not None else None,
        subtype=str(t.sub_type.id) if t.sub_type and t.sub_type.id is not None else None,
        board=str(t.board.id) if t.board and t.board.id is not None else None,
        company=_ref(_id(t.company)),
        contact=_ref(_id(t.contact)),
        assigned_to=_ref(_id(t.owner)),
        created_at=utc(t.info.date_entered) if t.info.date_entered else None,
        updated_at=utc(t.info.last_updated) if t.info.last_updated else None,
        closed_at=utc(t.closed_date) if t.closed_date else None,
        marker=t.external_xref or None,
        url=f"{web}/services/system_io/Service/fv_sr100_request.rails?service_recid={t.id}" if web else None,
    )


def ticket_body(
    draft: TicketDraft,
    *,
    board_id: int,
    maps: TicketMaps | None,
    type_id: int | None = None,
    subtype_id: int | None = None,
    item_id: int | None = None,
    source_id: int | None = None,
) -> dict[str, Any]:
    """The ``POST /service/tickets`` body for a draft (ids already resolved on the board)."""
    if draft.company is None:
        raise ValueError("a ConnectWise ticket needs a company")
    body: dict[str, Any] = {
        "summary": draft.title[:100],
        "board": {"id": board_id},
        "company": {"id": int(draft.company.id)},
        "externalXRef": draft.marker[:100],
        "initialDescription": f"{draft.description}\n\n{marker_line(draft.marker)}",
    }
    if maps is not None:
        pid = maps.priority_id(draft.priority)
        if pid is not None:
            body["priority"] = {"id": int(pid)}
        if draft.status is not TicketStatus.new:  # new tickets take the board's default status
            sid = maps.status_id(draft.status)
            if sid is not None:
                body["status"] = {"id": int(sid)}
    if type_id is not None:
        body["type"] = {"id": type_id}
    if subtype_id is not None:
        body["subType"] = {"id": subtype_id}
    if item_id is not None:
        body["item"] = {"id": item_id}
    if source_id is not None:
        body["source"] = {"id": source_id}
    if draft.contact is not None:
        body["contact"] = {"id": int(draft.contact.id)}
    return body


def patch_ops(
    patch: TicketPatch,
    *,
    maps: TicketMaps | None,
    board_id: int | None = None,
    type_id: int | None = None,
    subtype_id: int | None = None,
) -> list[dict[str, Any]]:
    """JSON Patch operations (``PATCH /service/tickets/{id}``) for a canonical patch."""
    ops: list[dict[str, Any]] = []

    def replace(path: str, value: Any) -> None:
        ops.append({"op": "replace", "path": path, "value": value})

    if patch.title is not None:
        replace("summary", patch.title[:100])
    if board_id is not None and patch.board is not None:
        replace("board", {"id": board_id})
    if patch.status is not None:
        sid = maps.status_id(patch.status) if maps else None
        if sid is None:
            raise ValidationFailed(
                f"the ticket's board has no status mapped to {patch.status.value}; "
                "set SWITCHBOARD_CONNECTWISE_PSA__STATUS_MAP",
                vendor=VENDOR,
            )
        replace("status", {"id": int(sid)})
    if patch.priority is not None:
        pid = maps.priority_id(patch.priority) if maps else None
        if pid is None:
            raise ValidationFailed(
                f"no ConnectWise priority is mapped to P{patch.priority}; set SWITCHBOARD_CONNECTWISE_PSA__PRIORITY_MAP",
                vendor=VENDOR,
            )
        replace("priority", {"id": int(pid)})
    if type_id is not None:
        replace("type", {"id": type_id})
    if subtype_id is not None:
        replace("subType", {"id": subtype_id})
    if patch.assigned_to is not None:
        replace("owner", {"id": int(patch.assigned_to.id)})
    return ops


def note_of(n: CwNote, ticket_id: str, api_member_id: int | None = None) -> Note:
    body = n.text or ""
    return Note(
        ref=Ref(vendor=VENDOR, id=str(n.id)),
        ticket=Ref(vendor=VENDOR, id=str(n.ticket_id or ticket_id)),
        body=body,
        internal=bool(n.internal_analysis_flag) and not n.detail_description_flag,
        created_at=utc(n.date_created) if n.date_created else None,
        author=_ref(_id(n.member)),
        by_integration=marker_of_text(body) is not None
        or (api_member_id is not None and _id(n.member) == api_member_id),
    )


def note_body(note: NoteDraft) -> dict[str, Any]:
    return {
        "text": f"{note.body}\n\n{marker_line(note.marker)}",
        "internalAnalysisFlag": note.internal,
        "detailDescriptionFlag": not note.internal,
    }


def maps_of(
    statuses: list[CwBoardStatus], priorities: list[CwPriority], settings: ConnectWisePsaSettings
) -> TicketMaps:
    by_name = {s.name.strip().lower(): s.id for s in statuses}
    overrides = {str(by_name[name.strip().lower()]): status for name, status in settings.status_map.items()
                 if name.strip().lower() in by_name}
    return TicketMaps.build(
        [Choice(str(s.id), s.name, active=not s.inactive, is_default=bool(s.default_flag), closed=s.closed_status,
                sort=s.sort_order or 0) for s in statuses],
        [Choice(str(p.id), p.level or p.name, is_default=bool(p.default_flag), sort=p.sort_order or 0)
         for p in priorities],
        status_overrides=overrides,
        priority_overrides={k: str(v) for k, v in settings.priority_map.items()},
    )


def conditions_since(since: datetime | None, boards: list[int]) -> str | None:
    """The ``conditions`` of an incremental ticket poll."""
    parts = []
    if since is not None:
        parts.append(f"lastUpdated >= [{utc(since).strftime('%Y-%m-%dT%H:%M:%SZ')}]")
    if boards:
        parts.append(f"board/id in ({','.join(str(b) for b in boards)})")
    return " AND ".join(parts) or None


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?([a-z]+)"?', re.I)


def next_link(value: str | None) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, if any."""
    for url, rel in _LINK.findall(value or ""):
        if rel.lower() == "next":
            return url
    return None


# -- client -------------------------------------------------------------------------------------------


class ConnectWisePsa:
    """ConnectWise PSA as a :class:`~connectors.protocols.TicketSystem`."""

    vendor = VENDOR

    def __init__(self, http: VendorHttp, settings: ConnectWisePsaSettings) -> None:
        self.http = http
        self.settings = settings
        self._maps: dict[int, tuple[float, TicketMaps]] = {}
        self._priorities: tuple[float, list[CwPriority]] | None = None
        self._named: dict[tuple[int, str], tuple[float, list[CwNamed]]] = {}
        self._board_of: dict[str, tuple[float, int]] = {}

    def __repr__(self) -> str:
        return f"ConnectWisePsa({self.http!r})"

    @classmethod
    def from_settings(
        cls,
        settings: ConnectWisePsaSettings,
        *,
        redis: Any = None,
        prefix: str = "switchboard",
        transport: httpx.BaseTransport | None = None,
    ) -> ConnectWisePsa:
        base = require(settings.base_url, "SWITCHBOARD_CONNECTWISE_PSA__BASE_URL", VENDOR).rstrip("/")
        company = require(settings.company_id, "SWITCHBOARD_CONNECTWISE_PSA__COMPANY_ID", VENDOR)
        public = require(settings.public_key, "SWITCHBOARD_CONNECTWISE_PSA__PUBLIC_KEY", VENDOR)
        require(settings.private_key, "SWITCHBOARD_CONNECTWISE_PSA__PRIVATE_KEY", VENDOR)
        client_id = require(settings.client_id, "SWITCHBOARD_CONNECTWISE_PSA__CLIENT_ID", VENDOR)
        assert settings.private_key is not None
        limit = Limit(settings.requests_per_minute, 60.0, burst=max(1, settings.requests_per_minute // 10))
        http = build_http(
            VENDOR,
            base,
            auth=BasicAuth(f"{company}+{public}", settings.private_key, {"clientId": client_id}),
            limiter=make_limiter(VENDOR, company.lower(), limit, redis=redis, prefix=prefix),
            secrets=secret_values(settings.private_key),
            credential_settings=CREDENTIALS,
            transport=transport,
            timeout=settings.timeout_seconds,
            headers={"Accept": f"application/vnd.connectwise.com+json; version={settings.api_version}"},
            classify=classify_error,
        )
        return cls(http, settings)

    # -- paging ------------------------------------------------------------------------------------
    def _pages(self, path: str, operation: str, **params: Any) -> Iterator[list[Any]]:
        """Every page of a list, forward-only at the maximum page size, following ``Link``."""
        query: dict[str, Any] | None = {"pageSize": min(self.settings.page_size, PAGE_MAX),
                                        **{k: v for k, v in params.items() if v is not None}}
        url = path
        seen: set[str] = set()
        while True:
            response = self.http.request("GET", url, params=query, headers={"pagination-type": "forward-only"},
                                         operation=operation)
            body = self.http.json_of(response, operation)
            if not isinstance(body, list):
                raise MalformedRecord(f"{operation}: expected a list, got {type(body).__name__}", vendor=VENDOR,
                                      payload=body, stream=f"{VENDOR}:{operation}")
            yield body
            nxt = next_link(response.headers.get("Link"))
            if not nxt or not body:
                return
            if nxt in seen:
                raise PaginationLoop(f"{operation}: next page link repeated: {nxt}", vendor=VENDOR)
            seen.add(nxt)
            url, query = nxt, None

    def _all(self, model: type[Any], path: str, operation: str, **params: Any) -> Iterator[Any]:
        for records in self._pages(path, operation, **params):
            items, _ = read_records(model, records, f"{VENDOR}:{operation}")
            yield from items

    # -- tenant maps ---------------------------------------------------------------------------------
    def priorities(self) -> list[CwPriority]:
        now = time.monotonic()
        if self._priorities is None or self._priorities[0] < now:
            found = list(self._all(CwPriority, "/service/priorities", "getServicePriorities"))
            self._priorities = (now + MAPS_TTL, found)
        return self._priorities[1]

    def board_statuses(self, board_id: int) -> list[CwBoardStatus]:
        return list(self._all(CwBoardStatus, f"/service/boards/{board_id}/statuses",
                              "getServiceBoardsByParentIdStatuses"))

    def maps_for(self, board_id: int) -> TicketMaps:
        """The board's status map and the tenant's priority map (cached for an hour)."""
        now = time.monotonic()
        cached = self._maps.get(board_id)
        if cached is None or cached[0] < now:
            maps = maps_of(self.board_statuses(board_id), self.priorities(), self.settings)
            cached = self._maps[board_id] = (now + MAPS_TTL, maps)
        return cached[1]

    def _board_list(self, board_id: int, kind: str) -> list[CwNamed]:
        now = time.monotonic()
        cached = self._named.get((board_id, kind))
        if cached is None or cached[0] < now:
            op = {"types": "getServiceBoardsByParentIdTypes", "subtypes": "getServiceBoardsByParentIdSubtypes",
                  "items": "getServiceBoardsByParentIdItems"}[kind]
            found = list(self._all(CwNamed, f"/service/boards/{board_id}/{kind}", op))
            cached = self._named[(board_id, kind)] = (now + MAPS_TTL, found)
        return cached[1]

    def _resolve(self, board_id: int, kind: str, wanted: str | None) -> int | None:
        """A board type/subtype/item id from an id or a name; a clear error if the board lacks it."""
        if not wanted:
            return None
        choices = [Choice(str(n.id), n.name, active=not n.inactive_flag) for n in self._board_list(board_id, kind)]
        found = find_choice(choices, wanted)
        if found is None:
            known = ", ".join(sorted(c.name for c in choices if c.active)) or "none"
            raise ValidationFailed(f"board {board_id} has no {kind[:-1]} {wanted!r} (known: {known})", vendor=VENDOR)
        return int(found.id)

    def _ticket_of(self, t: CwTicket) -> Ticket:
        board = _id(t.board)
        if board is not None:
            self._board_of[str(t.id)] = (time.monotonic() + 60.0, board)
        return ticket_of(t, self.maps_for(board) if board is not None else None, web_url=self.settings.web_url)

    # -- reads ---------------------------------------------------------------------------------------
    def find_ticket_by_marker(self, marker: str) -> Ticket | None:
        for t in self._all(CwTicket, "/service/tickets", "getServiceTickets",
                           conditions=f"externalXRef = {_quoted(marker[:100])}"):
            return self._ticket_of(t)
        return None

    def _get(self, ticket_id: str) -> CwTicket:
        body = self.http.get_json(f"/service/tickets/{int(ticket_id)}", operation="getServiceTicketsById")
        found, bad = read_records(CwTicket, [body], f"{VENDOR}:tickets")
        if bad:
            raise MalformedRecord(bad[0].reason, vendor=VENDOR, payload=body, stream=f"{VENDOR}:tickets")
        return found[0]

    def get_ticket(self, ticket_id: str) -> Ticket:
        return self._ticket_of(self._get(ticket_id))

    def pull_tickets(self, cursor: str | None, now: datetime) -> Pull[Ticket]:
        before = self.http.stats.requests
        cur = TimeCursor.loads(cursor)
        conditions = conditions_since(cur.query_from(), self.settings.poll_board_ids)
        tickets: list[Ticket] = []
        seen: list[tuple[str, datetime]] = []
        rejected: list[Rejected] = []
        for records in self._pages("/service/tickets", "getServiceTickets", conditions=conditions):
            items, bad = read_records(CwTicket, records, f"{VENDOR}:tickets")
            rejected += bad
            for t in items:
                changed = t.info.last_updated
                if changed is None or cur.is_new(str(t.id), changed):
                    tickets.append(self._ticket_of(t))
                if changed is not None:
                    seen.append((str(t.id), changed))
        return Pull(tickets, cur.advanced(seen, now).dumps(), rejected, self.http.stats.requests - before)

    def list_notes(self, ticket_id: str) -> list[Note]:
        return [note_of(n, ticket_id, self.settings.api_member_id)
                for n in self._all(CwNote, f"/service/tickets/{int(ticket_id)}/notes",
                                   "getServiceTicketsByParentIdNotes")]

    def list_time_entries(self, ticket_id: str) -> list[TimeEntry]:
        cond = f'chargeToType = "ServiceTicket" AND chargeToId = {int(ticket_id)}'
        return [
            TimeEntry(
                ref=Ref(vendor=VENDOR, id=str(e.id)),
                ticket=_ref(e.charge_to_id),
                member=_ref(_id(e.member)),
                hours=e.actual_hours or 0.0,
                started_at=utc(e.time_start) if e.time_start else None,
                notes=e.notes or "",
            )
            for e in self._all(CwTimeEntry, "/time/entries", "getTimeEntries", conditions=cond)
        ]

    # -- writes --------------------------------------------------------------------------------------
    def _board_for(self, draft_board: str | None) -> int:
        if draft_board:
            if draft_board.isdigit():
                return int(draft_board)
            boards = [Choice(str(b.id), b.name) for b in self.list_boards()]
            found = find_choice(boards, draft_board)
            if found is None:
                raise ValidationFailed(f"no service board named {draft_board!r}", vendor=VENDOR)
            return int(found.id)
        if self.settings.board_id is None:
            raise NotConfigured("setting SWITCHBOARD_CONNECTWISE_PSA__BOARD_ID is not set: new tickets need a board",
                                vendor=VENDOR)
        return self.settings.board_id

    def create_ticket(self, draft: TicketDraft) -> Ticket:
        board = self._board_for(draft.board)
        body = ticket_body(
            draft,
            board_id=board,
            maps=self.maps_for(board),
            type_id=self._resolve(board, "types", draft.type or self.settings.ticket_type),
            subtype_id=self._resolve(board, "subtypes", draft.subtype or self.settings.ticket_subtype),
            item_id=self._resolve(board, "items", self.settings.ticket_item),
            source_id=self.settings.source_id,
        )
        response = self.http.request("POST", "/service/tickets", json_body=body, operation="postServiceTickets")
        created = self.http.json_of(response, "postServiceTickets")
        found, bad = read_records(CwTicket, [created], f"{VENDOR}:tickets")
        if bad:  # created, but the answer is unreadable: the id is what matters
            return Ticket(ref=Ref(vendor=VENDOR, id=str(created["id"])), title=body["summary"], marker=draft.marker,
                          company=draft.company)
        return self._ticket_of(found[0])

    def _board_of_ticket(self, ticket_id: str) -> int | None:
        cached = self._board_of.get(ticket_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        return _id(self._get(ticket_id).board)

    def update_ticket(self, ticket_id: str, patch: TicketPatch) -> Ticket:
        if patch.is_empty():
            return self.get_ticket(ticket_id)
        board = self._board_for(patch.board) if patch.board else self._board_of_ticket(ticket_id)
        maps = self.maps_for(board) if board is not None else None
        ops = patch_ops(
            patch, maps=maps, board_id=board if patch.board else None,
            type_id=self._resolve(board, "types", patch.type) if board is not None else None,
            subtype_id=self._resolve(board, "subtypes", patch.subtype) if board is not None else None,
        )
        response = self.http.request("PATCH", f"/service/tickets/{int(ticket_id)}", json_body=ops,
                                     operation="patchServiceTicketsById", idempotent=True)  # same values twice: harmless
        found, _ = read_records(CwTicket, [self.http.json_of(response, "patchServiceTicketsById")], f"{VENDOR}:tickets")
        return self._ticket_of(found[0]) if found else self.get_ticket(ticket_id)

    def add_note(self, ticket_id: str, note: NoteDraft) -> Note:
        body = note_body(note)
        response = self.http.request("POST", f"/service/tickets/{int(ticket_id)}/notes", json_body=body,
                                     operation="postServiceTicketsByParentIdNotes")
        created = self.http.json_of(response, "postServiceTicketsByParentIdNotes")
        return Note(ref=Ref(vendor=VENDOR, id=str(created["id"])), ticket=Ref(vendor=VENDOR, id=str(ticket_id)),
                    body=body["text"], internal=note.internal, by_integration=True)

    def update_note(self, ticket_id: str, note_id: str, note: NoteDraft) -> Note:
        text = note_body(note)["text"]
        self.http.request("PATCH", f"/service/tickets/{int(ticket_id)}/notes/{int(note_id)}",
                          json_body=[{"op": "replace", "path": "text", "value": text}],
                          operation="patchServiceTicketsByParentIdNotesById", idempotent=True)
        return Note(ref=Ref(vendor=VENDOR, id=str(note_id)), ticket=Ref(vendor=VENDOR, id=str(ticket_id)), body=text,
                    internal=note.internal, by_integration=True)

    # -- reference data ------------------------------------------------------------------------------
    def list_companies(self) -> Iterator[Company]:
        for c in self._all(CwCompany, "/company/companies", "getCompanyCompanies", conditions="deletedFlag = false"):
            yield Company(ref=Ref(vendor=VENDOR, id=str(c.id)), name=c.name,
                          updated_at=utc(c.info.last_updated) if c.info.last_updated else None)

    def list_contacts(self, company_id: str | None = None) -> Iterator[Contact]:
        cond = f"company/id = {int(company_id)}" if company_id else None
        for c in self._all(CwContact, "/company/contacts", "getCompanyContacts", conditions=cond):
            email = next((i.value for i in sorted(c.communication_items, key=lambda i: not i.default_flag)
                          if (i.communication_type or "").lower() == "email"), None)
            yield Contact(ref=Ref(vendor=VENDOR, id=str(c.id)),
                          name=f"{c.first_name or ''} {c.last_name or ''}".strip(), email=email,
                          company=_ref(_id(c.company)))

    def list_members(self) -> Iterator[Member]:
        for m in self._all(CwMember, "/system/members", "getSystemMembers"):
            yield Member(ref=Ref(vendor=VENDOR, id=str(m.id)),
                         name=f"{m.first_name or ''} {m.last_name or ''}".strip() or (m.identifier or ""),
                         email=m.primary_email, active=not m.inactive_flag)

    def list_boards(self) -> list[CwNamed]:
        return list(self._all(CwNamed, "/service/boards", "getServiceBoards"))

    def list_statuses(self, board_id: int) -> list[Choice]:
        return [Choice(str(s.id), s.name, parent=str(board_id), active=not s.inactive,
                       is_default=bool(s.default_flag), closed=s.closed_status, sort=s.sort_order or 0)
                for s in self.board_statuses(board_id)]

    def list_types(self, board_id: int, kind: str = "types") -> list[Choice]:
        """A board's ``types``, ``subtypes`` or ``items``."""
        return [Choice(str(n.id), n.name, parent=str(board_id), active=not n.inactive_flag)
                for n in self._board_list(board_id, kind)]

    def list_priorities(self) -> list[Choice]:
        return [Choice(str(p.id), p.name, is_default=bool(p.default_flag), sort=p.sort_order or 0)
                for p in self.priorities()]

    # -- callbacks -----------------------------------------------------------------------------------
    def list_callbacks(self) -> list[CwCallback]:
        return list(self._all(CwCallback, "/system/callbacks", "getSystemCallbacks"))

    def register_callback(self, url: str, *, description: str = "Switchboard", level: str = "owner",
                          object_id: int = 1) -> CwCallback:
        """Subscribe ``url`` to ticket changes (a setup step a person runs once, not a sync write).

        An existing callback for the same URL is returned instead of registering a second one."""
        for cb in self.list_callbacks():
            if cb.url == url and cb.type.lower() == "ticket":
                return cb
        body = {"url": url, "objectId": object_id, "type": "ticket", "level": level, "description": description[:100]}
        response = self.http.request("POST", "/system/callbacks", json_body=body, operation="postSystemCallbacks")
        return CwCallback.model_validate(self.http.json_of(response, "postSystemCallbacks"))

    def callback_signing_key(self, key_url: str) -> SecretStr:
        """The signing key named by a delivery's ``Metadata.key_url`` — fetched only from our own site.

        A key URL on any other host is refused: a forged delivery must not choose the key that
        will be used to check it."""
        base = urlsplit(str(self.http.client.base_url))
        wanted = urlsplit(key_url)
        if (wanted.scheme, wanted.netloc) != (base.scheme, base.netloc):
            raise ValidationFailed(f"callback key URL {key_url!r} is not on the configured site {base.netloc}",
                                   vendor=VENDOR)
        body = self.http.get_json(key_url, operation="callbackSigningKey")
        key = body.get("signing_key") if isinstance(body, dict) else None
        if not key:
            raise MalformedRecord("signing key response has no signing_key", vendor=VENDOR, payload=None)
        return SecretStr(str(key))

    # -- check ---------------------------------------------------------------------------------------
    def check(self) -> list[CheckResult]:
        def tickets() -> str:
            body = self.http.get_json("/service/tickets/count", operation="getServiceTicketsCount")
            return f"{body.get('count', '?')} tickets readable"

        def board() -> str:
            if self.settings.board_id is None:
                raise NotConfigured("SWITCHBOARD_CONNECTWISE_PSA__BOARD_ID is not set: new tickets need a board",
                                    vendor=VENDOR)
            maps = self.maps_for(self.settings.board_id)
            closed = maps.status_id(TicketStatus.closed)
            if closed is None:
                raise ValidationFailed(f"board {self.settings.board_id} has no closed status; "
                                       "set SWITCHBOARD_CONNECTWISE_PSA__STATUS_MAP", vendor=VENDOR)
            text = (f"board {self.settings.board_id}: {len(maps.status)} statuses, closes with "
                    f"{maps.labels.get(closed, closed)!r}")
            return text + (f"; not mapped (treated as open): {', '.join(maps.unmapped)}" if maps.unmapped else "")

        def priorities() -> str:
            maps = self.maps_for(self.settings.board_id) if self.settings.board_id else maps_of(
                [], self.priorities(), self.settings)
            names = {str(p.id): p.name for p in self.priorities()}
            mapped = ", ".join(f"P{k} -> {names.get(v, v)!r}" for k, v in sorted(maps.priority.items()))
            missing = [f"P{k}" for k in range(1, 5) if k not in maps.priority]
            return mapped + (f"; {', '.join(missing)} use the board default" if missing else "")

        def companies() -> str:
            return f"{sum(1 for _ in self.list_companies())} companies readable"

        def callbacks() -> str:
            found = [c for c in self.list_callbacks() if c.type.lower() == "ticket" and not c.inactive_flag]
            return f"{len(found)} ticket callback(s): " + (", ".join(c.url for c in found) or "none (polling only)")

        return [run_check(n, f) for n, f in (("tickets", tickets), ("board", board), ("priorities", priorities),
                                             ("companies", companies), ("callbacks", callbacks))]


def classify_error(response: httpx.Response) -> ValidationFailed | None:
    """ConnectWise's 400 carries a summary and one message per refused field: show both."""
    if response.status_code not in (400, 409, 422):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    parts = [str(body.get("message") or body.get("code") or "invalid request")]
    for e in body.get("errors") or []:
        if isinstance(e, dict):
            parts.append(f"{e.get('field') or e.get('resource') or '?'}: {e.get('message') or e.get('code')}")
    return ValidationFailed(f"HTTP {response.status_code}: the vendor refused the request: {'; '.join(parts)[:400]}",
                            vendor=VENDOR, status=response.status_code)


# -- callbacks (webhooks) -------------------------------------------------------------------------------


def sign_callback(body: bytes, signing_key: str) -> str:
    """ConnectWise's ``x-content-signature``: base64 HMAC-SHA256 keyed by SHA-256 of the signing key."""
    key = hashlib.sha256(signing_key.encode()).digest()
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


class _ConnectWiseCallbacks:
    """ConnectWise callbacks (``/system/callbacks``): signed deliveries naming what changed.

    The body is ``{"MessageId", "Action", "Type", "ID", "CompanyId", "Entity": "<JSON text>",
    "Metadata": {"key_url": …}, …}``. ``secret`` is the signing key (see
    :meth:`ConnectWisePsa.callback_signing_key`). ConnectWise sends no timestamp header, so the
    replay guard is the delivery id (``MessageId``, else type/id/action/lastUpdated).
    """

    vendor = VENDOR
    signature_header = "x-content-signature"

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, now: float) -> None:
        presented = header(headers, self.signature_header)
        if not presented:
            raise WebhookRejected("unsigned", "no x-content-signature on the callback")
        if not hmac.compare_digest(presented.strip().encode(), sign_callback(body, secret).encode()):
            raise WebhookRejected("bad_signature", "x-content-signature does not match")

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        data = json_body(body)
        if not isinstance(data, dict) or "ID" not in data:
            raise WebhookRejected("malformed", "not a ConnectWise callback (no ID)")
        kind = str(data.get("Type", "")).lower()
        entity: Any = data.get("Entity")
        if isinstance(entity, str):
            try:
                entity = json.loads(entity)
            except ValueError:
                entity = None
        updated = (entity or {}).get("_info", {}).get("lastUpdated", "") if isinstance(entity, dict) else ""
        delivery = str(data.get("MessageId") or f"{kind}:{data['ID']}:{data.get('Action', '')}:{updated}")
        if kind == "ticket":
            return WebhookDelivery(VENDOR, "tickets", ids=[str(data["ID"])], delivery_id=delivery)
        return WebhookDelivery(VENDOR, "other", ids=[str(data["ID"])], delivery_id=delivery)


WEBHOOK = _ConnectWiseCallbacks()
