"""Pure helpers the three PSA connectors share: tenant status/priority maps and markers.

Every PSA lets the MSP rename and add statuses and priorities, so a fixed table is only a
fallback. Each connector reads the tenant's own lists (Autotask picklists, ConnectWise board
statuses and priorities, Halo statuses and priorities) and maps each entry onto Switchboard's
vocabulary with :func:`status_of_name` / :func:`priority_of_name`; an explicit map in settings
always wins. Nothing here does I/O.

Decisions where the vendors are silent:

- A status whose name says nothing we recognise maps to ``other`` (treated as open), never to a
  guess; ``switchboard connectors check`` lists such statuses so a person can map them.
- When several tenant statuses map to the same Switchboard status (two "closed" statuses), writes
  use the vendor's system/default one, else the first by the vendor's sort order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from connectors.canonical import TicketStatus

__all__ = [
    "Choice",
    "MARKER_PREFIX",
    "TicketMaps",
    "find_choice",
    "marker_line",
    "marker_of_text",
    "priority_of_name",
    "status_of_name",
]

MARKER_PREFIX = "[switchboard:"


def marker_line(marker: str) -> str:
    """The line put at the end of a ticket description or note so a retry can find it."""
    return f"{MARKER_PREFIX}{marker}]"


def marker_of_text(text: str | None) -> str | None:
    """The ``[switchboard:…]`` marker in a body, if any (the last one wins)."""
    if not text:
        return None
    start = text.rfind(MARKER_PREFIX)
    if start < 0:
        return None
    end = text.find("]", start)
    return text[start + len(MARKER_PREFIX) : end] if end > start else None


# Order matters: the first rule whose words appear in the name decides.
_STATUS_WORDS: tuple[tuple[TicketStatus, tuple[str, ...]], ...] = (
    (TicketStatus.resolved, ("resolved", "resolution", "fixed")),
    (TicketStatus.closed, ("closed", "complete", "cancel", " done ")),
    # the customer answered or the ticket came back: someone must act again
    (TicketStatus.in_progress, ("customer updated", "client updated", "customer responded", "client responded",
                                "user responded", "reopen", "re-open", "action required")),
    (TicketStatus.waiting_client, ("waiting", "awaiting", "pending", "on hold", " hold ", "with user",
                                   "with supplier", "with customer", "customer", "client", "vendor", "third party",
                                   "materials")),
    (TicketStatus.in_progress, ("progress", "working", "in work", "escalat", "responded", "scheduled")),
    (TicketStatus.assigned, ("assigned", "dispatch", "acknowledged")),
    (TicketStatus.new, (" new ", "open", "unassigned", "logged")),
)


def status_of_name(name: str | None, *, closed: bool | None = None) -> TicketStatus:
    """Switchboard's status for a tenant status name; ``closed`` is the vendor's own closed flag.

    A vendor flag that says "closed" is authoritative (a status named "Waiting Parts" that the
    board marks as closed is closed)."""
    text = f" {(name or '').strip().lower()} "
    if closed:
        return TicketStatus.resolved if "resolv" in text else TicketStatus.closed
    for status, words in _STATUS_WORDS:
        if any(w in text for w in words):
            if closed is False and not status.is_open:
                continue  # the vendor says it is open: a name like "Resolved?" does not close it
            return status
    return TicketStatus.other


_PRIORITY_WORDS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, ("critical", "emergency", "urgent", "p1")),
    (2, ("high", "quick", "p2")),
    (3, ("medium", "normal", "moderate", "standard", "p3")),
    (4, ("low", "schedule", "planned", "p4")),
)
_PRIORITY_NUMBER = re.compile(r"(?:priority|^|\b)\s*([1-4])\b")


def priority_of_name(name: str | None, level: str | None = None) -> int | None:
    """Switchboard priority (1 = P1 … 4 = P4) for a tenant priority, or None if it says nothing.

    ``level`` is a vendor's own urgency level where it has one (ConnectWise ``Critical/High/
    Medium/Low``); it wins over the name."""
    for text in (level, name):
        low = (text or "").strip().lower()
        if not low:
            continue
        for value, words in _PRIORITY_WORDS:
            if any(w in low for w in words):
                return value
        number = _PRIORITY_NUMBER.search(low)
        if number:
            return int(number.group(1))
    return None


@dataclass(frozen=True)
class Choice:
    """One entry of a tenant's list: a status, priority, queue, board, type, subtype…"""

    id: str
    name: str
    parent: str | None = None
    """The parent entry's id (a sub-issue type's issue type, a board type's board)."""
    active: bool = True
    is_default: bool = False
    is_system: bool = False
    closed: bool | None = None
    """For statuses: the vendor's own closed flag, where it has one."""
    sort: int = 0


def find_choice(choices: Iterable[Choice], wanted: str, *, parent: str | None = None) -> Choice | None:
    """The entry whose id or (case-insensitive) name is ``wanted``, under ``parent`` if given."""
    key = wanted.strip().lower()
    for c in choices:
        if parent is not None and c.parent is not None and c.parent != parent:
            continue
        if c.id == wanted or c.name.strip().lower() == key:
            return c
    return None


@dataclass(frozen=True)
class TicketMaps:
    """Status and priority maps of one tenant (or one ConnectWise board), ready for mapping.

    ``status`` maps the vendor's status id to Switchboard's status; ``labels`` keeps the vendor's
    names for people; ``priority`` maps Switchboard priority 1–4 to the vendor's priority id.
    """

    status: Mapping[str, TicketStatus]
    labels: Mapping[str, str]
    priority: Mapping[int, str]
    preferred: Mapping[TicketStatus, str]
    """the status id used when Switchboard *sets* a status"""
    unmapped: tuple[str, ...] = ()
    """tenant status names that mapped to ``other``: shown by ``connectors check``"""

    @classmethod
    def build(
        cls,
        statuses: Iterable[Choice],
        priorities: Iterable[Choice],
        *,
        status_overrides: Mapping[str, TicketStatus] | None = None,
        priority_overrides: Mapping[int, str] | None = None,
        fixed: Mapping[str, TicketStatus] | None = None,
        preferred_ids: Iterable[str] = (),
    ) -> TicketMaps:
        """Maps from the tenant's lists.

        Precedence per status: ``status_overrides`` (settings) > ``fixed`` (documented system
        values, e.g. Autotask's 5 = Complete) > the vendor's closed flag and the name.
        ``preferred_ids`` are ids to use first when Switchboard sets a status (system values).
        """
        overrides = {str(k): v for k, v in (status_overrides or {}).items()}
        fixed = {str(k): v for k, v in (fixed or {}).items()}
        status: dict[str, TicketStatus] = {}
        labels: dict[str, str] = {}
        ordered = sorted(statuses, key=lambda c: (not c.active, c.sort, c.id))
        unmapped: list[str] = []
        for c in ordered:
            labels[c.id] = c.name
            if c.id in overrides:
                status[c.id] = overrides[c.id]
            elif c.id in fixed:
                status[c.id] = fixed[c.id]
            else:
                status[c.id] = status_of_name(c.name, closed=c.closed)
                if status[c.id] is TicketStatus.other and c.active:
                    unmapped.append(c.name)
        for key, value in overrides.items():
            status.setdefault(key, value)
        preferred: dict[TicketStatus, str] = {}
        for key, value in overrides.items():  # an explicit mapping is also the one to write (first wins)
            preferred.setdefault(value, key)
        active = {c.id for c in ordered if c.active}
        first = [*[i for i in preferred_ids if i in active], *[c.id for c in ordered if c.is_default and c.active]]
        for sid in [*first, *[c.id for c in ordered if c.active], *status]:
            preferred.setdefault(status[sid], sid)
        prio: dict[int, str] = {}
        for c in sorted(priorities, key=lambda c: (not c.active, c.sort, c.id)):
            level = priority_of_name(c.name)
            if level is not None and c.active:
                prio.setdefault(level, c.id)
        for level, pid in (priority_overrides or {}).items():
            prio[int(level)] = str(pid)
        return cls(status, labels, prio, preferred, tuple(unmapped))

    def status_of(self, status_id: object, *, closed: bool | None = None, name: str | None = None) -> TicketStatus:
        key = str(status_id) if status_id is not None else ""
        if key in self.status:
            mapped = self.status[key]
            if closed and mapped.is_open:
                return TicketStatus.closed
            return mapped
        return status_of_name(name, closed=closed)

    def status_id(self, status: TicketStatus) -> str | None:
        return self.preferred.get(status)

    def priority_id(self, priority: int) -> str | None:
        return self.priority.get(priority)

    def priority_of(self, priority_id: object) -> int | None:
        key = str(priority_id) if priority_id is not None else ""
        for level, pid in self.priority.items():
            if pid == key:
                return level
        return None
