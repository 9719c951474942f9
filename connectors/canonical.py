"""The canonical model: the one shape every connector maps to and every rule reads.

This module imports nothing else from the project, so ``rules/`` can depend on it alone.
Vendor ids are kept as :class:`Ref` values (vendor + id) so that every object can make the
round trip back to the system it came from.

Field names of :class:`AlertEvent` are exactly those of the replay format
(``switchboard replay EVENTS.jsonl``): one alert event per line.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "AlertEvent",
    "Client",
    "Company",
    "Contact",
    "Device",
    "DeviceType",
    "KBArticle",
    "Member",
    "Note",
    "NoteDraft",
    "Ref",
    "Severity",
    "Site",
    "Ticket",
    "TicketDraft",
    "TicketPatch",
    "TicketStatus",
    "TimeEntry",
    "fingerprint_of",
    "utc",
]


def utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (naive values are taken to be UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Ref(_Frozen):
    """A vendor's own id for an object, for round trips ("autotask", "12345")."""

    vendor: str
    id: str

    def __str__(self) -> str:
        return f"{self.vendor}:{self.id}"


class Severity(StrEnum):
    critical = "critical"
    high = "high"
    moderate = "moderate"
    low = "low"
    info = "info"

    @property
    def rank(self) -> int:
        """4 for critical down to 0 for info: bigger is worse."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.critical: 4,
    Severity.high: 3,
    Severity.moderate: 2,
    Severity.low: 1,
    Severity.info: 0,
}


class DeviceType(StrEnum):
    server = "server"
    workstation = "workstation"
    network = "network"
    printer = "printer"
    mobile = "mobile"
    virtual = "virtual"
    other = "other"


class Client(_Frozen):
    """An MSP's client (a company), as one system knows it.

    ``links`` holds cross-references the vendor itself records (Datto RMM keeps an Autotask
    company id on each site): explicit links a person made, usable for mapping proposals.
    """

    ref: Ref
    name: str
    links: dict[str, str] = Field(default_factory=dict)


class Site(_Frozen):
    ref: Ref
    name: str
    client: Ref | None = None


class Device(_Frozen):
    ref: Ref
    name: str
    device_type: DeviceType = DeviceType.other
    site: Ref | None = None
    client: Ref | None = None
    online: bool | None = None


def fingerprint_of(client: str, device: str, check: str) -> str:
    """The dedup identity of an alert: client + device + check."""
    return f"{client}|{device}|{check}"


class AlertEvent(_Frozen):
    """One raise or clear of an RMM alert.

    ``client``, ``site`` and ``device`` are the RMM's own identifiers (stable ids, not
    display names); names for people are in ``client_name``/``site_name``/``device_name``.
    """

    id: str
    alert_id: str
    source: str
    kind: Literal["raised", "resolved"]
    at: datetime
    client: str
    site: str = ""
    device: str = ""
    device_type: DeviceType = DeviceType.other
    check: str
    severity: Severity = Severity.moderate
    message: str = ""
    muted: bool = False
    client_name: str = ""
    site_name: str = ""
    device_name: str = ""
    refs: dict[str, str] = Field(default_factory=dict)

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return utc(value)

    @field_validator("device_type", mode="before")
    @classmethod
    def _device_type(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in DeviceType.__members__:
            return DeviceType.other
        return value

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.client, self.device, self.check)


class TicketStatus(StrEnum):
    """Switchboard's status vocabulary; each PSA maps its own statuses onto it."""

    new = "new"
    assigned = "assigned"
    in_progress = "in_progress"
    waiting_client = "waiting_client"
    resolved = "resolved"
    closed = "closed"
    other = "other"

    @property
    def is_open(self) -> bool:
        return self not in (TicketStatus.resolved, TicketStatus.closed)


class TicketDraft(_Frozen):
    """What Switchboard asks a PSA to create."""

    title: str
    description: str
    company: Ref | None = None
    priority: int = 3
    status: TicketStatus = TicketStatus.new
    marker: str
    """Correlation marker, stored in the PSA's external-reference field (and in the body)."""
    board: str | None = None
    type: str | None = None
    subtype: str | None = None
    contact: Ref | None = None
    source_alert: str | None = None


class TicketPatch(_Frozen):
    """Fields to change on an existing ticket; ``None`` leaves a field alone."""

    title: str | None = None
    status: TicketStatus | None = None
    priority: int | None = None
    type: str | None = None
    subtype: str | None = None
    board: str | None = None
    assigned_to: Ref | None = None

    def is_empty(self) -> bool:
        return all(v is None for v in self.model_dump().values())


class Ticket(_Frozen):
    ref: Ref
    number: str = ""
    title: str = ""
    description: str = ""
    status: TicketStatus = TicketStatus.new
    status_label: str = ""
    priority: int | None = None
    type: str | None = None
    subtype: str | None = None
    board: str | None = None
    company: Ref | None = None
    contact: Ref | None = None
    assigned_to: Ref | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    marker: str | None = None
    """The correlation marker found on the ticket, if Switchboard made it."""
    url: str | None = None
    first_response_at: datetime | None = None
    """The first client-facing response recorded by the PSA (e-mail or client-visible note), if it keeps one."""
    last_client_activity_at: datetime | None = None
    """The last activity the client can see (a client-visible note, an e-mail to the contact)."""
    last_activity_by: Ref | None = None
    """The PSA resource (technician) whose change is the ticket's last activity, when the PSA says so."""

    @property
    def is_open(self) -> bool:
        return self.status.is_open


class NoteDraft(_Frozen):
    body: str
    marker: str
    """A line put at the end of the body so a retried post can be found instead of repeated."""
    internal: bool = True
    title: str = "Switchboard"


class Note(_Frozen):
    ref: Ref
    ticket: Ref
    body: str
    internal: bool = True
    created_at: datetime | None = None
    author: Ref | None = None
    by_integration: bool = False
    """True when the note was written by an API integration rather than a person."""


class Company(_Frozen):
    ref: Ref
    name: str
    updated_at: datetime | None = None


class Contact(_Frozen):
    ref: Ref
    name: str
    email: str | None = None
    company: Ref | None = None
    vip: bool = False


class Member(_Frozen):
    """A technician/resource in the PSA."""

    ref: Ref
    name: str
    email: str | None = None
    active: bool = True


class TimeEntry(_Frozen):
    ref: Ref
    ticket: Ref | None
    member: Ref | None
    hours: float
    started_at: datetime | None = None
    notes: str = ""


class KBArticle(_Frozen):
    """A troubleshooting document from a documentation platform."""

    ref: Ref
    title: str
    body: str = ""
    url: str | None = None
    client: Ref | None = None
    updated_at: datetime | None = None
    folder: str | None = None
    """Where the article is filed in the documentation platform ("Printing / Drivers"), if anywhere."""

    def content_hash(self) -> str:
        return hashlib.sha1(f"{self.title}\n{self.body}".encode()).hexdigest()[:16]
