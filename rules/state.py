"""What the rules engine remembers about one client, and the decisions it makes.

Records are slotted dataclasses (the replay keeps hundreds of thousands of them in flight) and
serialise to plain JSON for ``rules_state`` (one row per client). Timers live in a heap inside
the state (rebuilt on load from the records' due times); a timer whose record moved on is
stale and skipped, so nothing needs to be cancelled.
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.canonical import utc
from rules.config import NoiseConfig

__all__ = [
    "CLEARED", "CLOSED", "HELD", "MAINTENANCE", "PENDING", "SUPPRESSED", "TICKETED", "WAITING",
    "AlertRec", "ClientState", "Decision", "StormGroup", "TicketRec", "ticket_key",
]

# alert statuses
SUPPRESSED = "suppressed"  # info / muted: never a ticket; kept until it clears so repeats stay quiet
MAINTENANCE = "maintenance"  # raised in a maintenance window; due = the window's end
HELD = "held"  # inside its hold; due = end of the hold
WAITING = "waiting"  # confirmed, waiting for a topology parent or a storm to form; due set
TICKETED = "ticketed"  # belongs to a ticket
CLOSED = "closed"  # its ticket was closed in the PSA while the alert was still open
CLEARED = "cleared"  # cleared without a ticket, kept while it can still count as a flap
PENDING = (HELD, WAITING, MAINTENANCE)

_RANK = {"alert": 0, "ticket": 1, "flap": 2, "closed": 3}


def ticket_key(client: str, fingerprint: str, seq: int) -> str:
    """A stable, short ticket key: also the correlation marker stored in the PSA.

    ``seq`` counts the client's tickets, so a key is never reused even after the ticket it
    belonged to is long gone from the engine's state.
    """
    digest = hashlib.sha1(f"{client}\x1f{fingerprint}".encode()).hexdigest()[:12]
    return f"sb-{digest}-n{seq}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return utc(datetime.fromisoformat(value)) if value else None


@dataclass(slots=True)
class Decision:
    """One decision of one rule (treated as immutable; not frozen only because frozen dataclasses
    are four times slower to create, and the replay makes millions)."""

    kind: str
    rule: str
    reason: str
    at: datetime
    client: str
    alert_id: str | None = None
    fingerprint: str | None = None
    ticket: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class AlertRec:
    alert_id: str
    source: str
    fingerprint: str
    check: str
    device: str
    device_name: str
    device_type: str
    site: str
    severity: str
    message: str
    raised_at: datetime
    site_name: str = ""
    client_name: str = ""
    status: str = HELD
    due: datetime | None = None
    resolved_at: datetime | None = None
    ticket: str | None = None
    rule: str = ""
    reason: str = ""
    repeats: int = 0
    resume: int = 0
    """Precedence step to resume placement from when ``due`` comes (topology/storm waits)."""
    waiting_on: str | None = None
    last_event_ids: list[str] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id, "source": self.source, "fingerprint": self.fingerprint, "check": self.check,
            "device": self.device, "device_name": self.device_name, "device_type": self.device_type,
            "site": self.site, "severity": self.severity, "message": self.message,
            "raised_at": self.raised_at.isoformat(), "site_name": self.site_name, "client_name": self.client_name,
            "status": self.status, "due": _iso(self.due), "resolved_at": _iso(self.resolved_at),
            "ticket": self.ticket, "rule": self.rule, "reason": self.reason, "repeats": self.repeats,
            "resume": self.resume, "waiting_on": self.waiting_on, "last_event_ids": self.last_event_ids,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AlertRec:
        d = dict(d)
        for k in ("raised_at", "due", "resolved_at"):
            d[k] = _dt(d.get(k))
        if "status" not in d:  # state written before the rule set existed
            d["status"] = TICKETED if d.get("ticket") else HELD
        d.pop("last_seen", None)
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass(slots=True)
class TicketRec:
    key: str
    fingerprint: str
    opened_at: datetime
    rule: str
    reason: str = ""
    kind: str = "alert"
    """alert | flapping | storm | outage"""
    check: str = ""
    site: str = ""
    status: str = "open"
    alerts: list[str] = field(default_factory=list)
    repeats: int = 0
    last_seen: datetime | None = None
    cleared_at: datetime | None = None
    resolve_due: datetime | None = None
    closed_at: datetime | None = None
    occurrence: int = 1
    revision: int = 0
    resolve_rule: str | None = None
    quiet_minutes: float = 0.0
    """At least this long clear before resolving (flapping tickets)."""
    fingerprints: list[str] = field(default_factory=list)
    """Every fingerprint whose alerts joined the ticket (a storm has one per device)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "fingerprint": self.fingerprint, "opened_at": self.opened_at.isoformat(),
            "rule": self.rule, "reason": self.reason, "kind": self.kind, "check": self.check, "site": self.site,
            "status": self.status, "alerts": self.alerts, "repeats": self.repeats, "last_seen": _iso(self.last_seen),
            "cleared_at": _iso(self.cleared_at), "resolve_due": _iso(self.resolve_due),
            "closed_at": _iso(self.closed_at), "occurrence": self.occurrence, "revision": self.revision,
            "resolve_rule": self.resolve_rule, "quiet_minutes": self.quiet_minutes, "fingerprints": self.fingerprints,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TicketRec:
        d = dict(d)
        for k in ("opened_at", "last_seen", "cleared_at", "resolve_due", "closed_at"):
            d[k] = _dt(d.get(k))
        t = cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})
        if not t.fingerprints:
            t.fingerprints = [t.fingerprint]
        return t


@dataclass(slots=True)
class StormGroup:
    """Devices whose same check failed close together: waiting to see whether it is a storm."""

    key: str
    rule: str
    check: str
    first_at: datetime
    deadline: datetime
    members: list[str] = field(default_factory=list)
    anchor: str | None = None
    """A ticket one of the devices opened on its own before the group formed: the storm takes it over."""

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "rule": self.rule, "check": self.check, "first_at": self.first_at.isoformat(),
                "deadline": self.deadline.isoformat(), "members": self.members, "anchor": self.anchor}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StormGroup:
        return cls(d["key"], d["rule"], d["check"], utc(datetime.fromisoformat(d["first_at"])),
                   utc(datetime.fromisoformat(d["deadline"])), list(d.get("members", [])), d.get("anchor"))


@dataclass
class ClientState:
    """Everything the rules know about one client. Serialisable (``to_dict``/``from_dict``)."""

    client: str
    alerts: dict[str, AlertRec] = field(default_factory=dict)
    tickets: dict[str, TicketRec] = field(default_factory=dict)
    """Open tickets."""
    open_by_fingerprint: dict[str, str] = field(default_factory=dict)
    closed: dict[str, TicketRec] = field(default_factory=dict)
    """Tickets closed within the reopen window."""
    closed_by_fingerprint: dict[str, str] = field(default_factory=dict)
    flaps: dict[str, tuple[float, list[tuple[str, datetime]]]] = field(default_factory=dict)
    """fingerprint -> (window minutes, recent raises (alert id, raised at))"""
    groups: dict[str, StormGroup] = field(default_factory=dict)
    storm_tickets: dict[str, str] = field(default_factory=dict)
    """storm group key (rule|check) -> its open ticket"""
    seq: int = 0
    finished: list[tuple[str, str | None, str, str]] = field(default_factory=list)
    """(alert id, ticket, rule, reason) of alerts that left the state: their final outcome.
    Drained by the replay; not saved."""
    _heap: list[tuple[datetime, int, str, str]] = field(default_factory=list)
    """(due, rank of kind, kind, ref): timers due at the same moment run in a fixed order (alerts
    before tickets, then by id) however the state was saved and loaded, so a replay and the live
    service decide in the same order."""
    """Timers that can decide something (hold ends, waits, ticket resolves)."""
    _chores: list[tuple[datetime, int, str, str]] = field(default_factory=list)
    """Housekeeping timers (flap and reopen windows passing): run whenever the client is next
    handled, never a reason on their own to wake the client up (see :meth:`next_due`)."""

    # -- timers -----------------------------------------------------------------------------------
    def push(self, at: datetime, kind: str, ref: str) -> None:
        heapq.heappush(self._chores if kind in ("flap", "closed") else self._heap, (at, _RANK[kind], kind, ref))

    def pop_due(self, now: datetime) -> tuple[datetime, int, str, str] | None:
        """The earliest timer at or before ``now`` (of either kind), or None."""
        heap, chores = self._heap, self._chores
        if heap and heap[0][0] <= now and (not chores or heap[0] <= chores[0]):
            return heapq.heappop(heap)
        if chores and chores[0][0] <= now:
            return heapq.heappop(chores)
        return None

    def _valid(self, at: datetime, kind: str, ref: str) -> bool:
        if kind == "alert":
            rec = self.alerts.get(ref)
            return rec is not None and rec.status in PENDING and rec.is_open and rec.due == at
        if kind == "ticket":
            t = self.tickets.get(ref)
            return t is not None and t.resolve_due == at
        if kind == "flap":
            entry = self.flaps.get(ref)
            return entry is not None and bool(entry[1]) and entry[1][0][1] + timedelta(minutes=entry[0]) == at
        if kind == "closed":
            return ref in self.closed
        return False

    def next_due(self, noise: NoiseConfig | None = None) -> datetime | None:
        """When :meth:`Engine.on_tick` next has work for this client (None: nothing pending)."""
        heap = self._heap
        while heap:
            at, _rank, kind, ref = heap[0]
            if self._valid(at, kind, ref):
                return at
            heapq.heappop(heap)
        return None

    def drain_finished(self) -> list[tuple[str, str | None, str, str]]:
        out, self.finished = self.finished, []
        return out

    # -- (de)serialisation --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 2,
            "client": self.client,
            "alerts": [a.to_dict() for a in self.alerts.values()],
            "tickets": [t.to_dict() for t in self.tickets.values()],
            "open_by_fingerprint": self.open_by_fingerprint,
            "closed": [t.to_dict() for t in self.closed.values()],
            "closed_by_fingerprint": self.closed_by_fingerprint,
            "flaps": {fp: [w, [[a, at.isoformat()] for a, at in items]] for fp, (w, items) in self.flaps.items()},
            "groups": [g.to_dict() for g in self.groups.values()],
            "storm_tickets": self.storm_tickets,
            "seq": self.seq,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None, client: str) -> ClientState:
        state = cls(client)
        if not d:
            return state
        state.alerts = {a["alert_id"]: AlertRec.from_dict(a) for a in d.get("alerts", [])}
        state.tickets = {t["key"]: TicketRec.from_dict(t) for t in d.get("tickets", [])}
        state.open_by_fingerprint = dict(d.get("open_by_fingerprint", {}))
        state.closed = {t["key"]: TicketRec.from_dict(t) for t in d.get("closed", [])}
        state.closed_by_fingerprint = dict(d.get("closed_by_fingerprint", {}))
        state.flaps = {fp: (float(w), [(a, utc(datetime.fromisoformat(at))) for a, at in items])
                       for fp, (w, items) in d.get("flaps", {}).items()}
        state.groups = {g["key"]: StormGroup.from_dict(g) for g in d.get("groups", [])}
        state.storm_tickets = dict(d.get("storm_tickets", {}))
        state.seq = int(d.get("seq", len(d.get("episodes", {}))))
        for rec in state.alerts.values():
            if rec.status in PENDING and rec.is_open and rec.due is not None:
                state.push(rec.due, "alert", rec.alert_id)
        for t in state.tickets.values():
            if t.resolve_due is not None:
                state.push(t.resolve_due, "ticket", t.key)
        for fp, (w, items) in state.flaps.items():
            if items:
                state.push(items[0][1] + timedelta(minutes=w), "flap", fp)
        for key in state.closed:
            state.push(state.closed[key].closed_at or datetime.min.replace(tzinfo=UTC), "closed", key)
        return state


