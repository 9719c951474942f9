"""What the pipelines need from a connector: three small protocols.

A vendor module's client class satisfies one of them (structurally; no inheritance needed).
Pull methods return a :class:`Pull`: the canonical items, the cursor to save once those items
have been processed, and the records that could not be read (to quarantine, never to drop).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from connectors.canonical import (
    AlertEvent,
    Client,
    Company,
    Contact,
    Device,
    KBArticle,
    Member,
    Note,
    NoteDraft,
    Ticket,
    TicketDraft,
    TicketPatch,
    TimeEntry,
)

__all__ = ["AlertSource", "DocumentSource", "Pull", "Rejected", "TicketSystem"]

T = TypeVar("T")


@dataclass(frozen=True)
class Rejected:
    """A vendor record (or page) that could not be mapped, kept for quarantine."""

    stream: str
    reason: str
    payload: Any


@dataclass
class Pull(Generic[T]):
    items: list[T]
    cursor: str | None
    rejected: list[Rejected] = field(default_factory=list)
    calls: int = 0
    withdrawn: list[str] = field(default_factory=list)
    """Vendor ids of items taken back since the cursor (an article archived or made a draft):
    an index built from earlier pulls should drop them."""


@runtime_checkable
class AlertSource(Protocol):
    vendor: str

    def pull_alert_events(self, cursor: str | None, now: datetime) -> Pull[AlertEvent]: ...

    def resolve_alert(self, alert_id: str) -> None: ...

    def list_clients(self) -> Iterator[Client]: ...

    def list_devices(self) -> Iterator[Device]: ...


@runtime_checkable
class TicketSystem(Protocol):
    vendor: str

    def find_ticket_by_marker(self, marker: str) -> Ticket | None: ...

    def create_ticket(self, draft: TicketDraft) -> Ticket: ...

    def get_ticket(self, ticket_id: str) -> Ticket: ...

    def update_ticket(self, ticket_id: str, patch: TicketPatch) -> Ticket: ...

    def add_note(self, ticket_id: str, note: NoteDraft) -> Note: ...

    def update_note(self, ticket_id: str, note_id: str, note: NoteDraft) -> Note: ...

    def list_notes(self, ticket_id: str) -> list[Note]: ...

    def pull_tickets(self, cursor: str | None, now: datetime) -> Pull[Ticket]: ...

    def list_time_entries(self, ticket_id: str) -> list[TimeEntry]: ...

    def list_companies(self) -> Iterator[Company]: ...

    def list_contacts(self, company_id: str | None = None) -> Iterator[Contact]: ...

    def list_members(self) -> Iterator[Member]: ...


@runtime_checkable
class DocumentSource(Protocol):
    vendor: str

    def pull_articles(self, cursor: str | None, now: datetime) -> Pull[KBArticle]: ...

    def list_clients(self) -> Iterator[Client]: ...
