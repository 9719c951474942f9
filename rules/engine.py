"""The alert rules engine: canonical alert events in, decisions out.

The engine is pure: it reads and changes a :class:`ClientState` (one per client, everything
its rules need) and takes ``now`` as an argument. The live service loads a client's state from
the database, feeds it the client's new events, saves it with the resulting actions in one
transaction; ``switchboard replay`` runs the very same code on virtual time with the states kept
in memory. State is bounded by open alerts and tickets (closed tickets are kept only as long
as a rule needs them).

Decisions (``Decision.kind``)::

    open        open a ticket for an alert              (data: title fields, severity, …)
    attach      an alert joins an existing ticket
    repeat      an open alert fired again                (ticket's repeat count / last seen)
    clear       an attached alert cleared
    resolve     every alert of a ticket cleared: note + move to the resolved status
    suppress    the alert needs no ticket (rule says why)

Rules in this module (in order of precedence): ``dedup`` (an open ticket of the same
fingerprint takes the alert), ``new-ticket``; on clears, ``auto-resolve``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.canonical import AlertEvent, utc
from rules.config import NoiseConfig, TicketsConfig

__all__ = ["AlertRec", "ClientState", "Decision", "Engine", "TicketRec", "ticket_key"]


def ticket_key(client: str, fingerprint: str, episode: int) -> str:
    """A stable, short ticket key: also the correlation marker stored in the PSA."""
    digest = hashlib.sha1(f"{client}\x1f{fingerprint}".encode()).hexdigest()[:12]
    return f"sb-{digest}-{episode}"


@dataclass(frozen=True)
class Decision:
    kind: str
    rule: str
    reason: str
    at: datetime
    client: str
    alert_id: str | None = None
    fingerprint: str | None = None
    ticket: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
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
    resolved_at: datetime | None = None
    ticket: str | None = None
    repeats: int = 0
    last_event_ids: list[str] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["raised_at"] = self.raised_at.isoformat()
        d["resolved_at"] = self.resolved_at.isoformat() if self.resolved_at else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AlertRec:
        d = dict(d)
        d["raised_at"] = utc(datetime.fromisoformat(d["raised_at"]))
        d["resolved_at"] = utc(datetime.fromisoformat(d["resolved_at"])) if d.get("resolved_at") else None
        return cls(**d)


@dataclass
class TicketRec:
    key: str
    fingerprint: str
    opened_at: datetime
    rule: str
    reason: str = ""
    status: str = "open"
    alerts: list[str] = field(default_factory=list)
    repeats: int = 0
    last_seen: datetime | None = None
    cleared_at: datetime | None = None
    closed_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        for k in ("opened_at", "last_seen", "cleared_at", "closed_at"):
            d[k] = d[k].isoformat() if d[k] else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TicketRec:
        d = dict(d)
        for k in ("opened_at", "last_seen", "cleared_at", "closed_at"):
            d[k] = utc(datetime.fromisoformat(d[k])) if d.get(k) else None
        return cls(**d)


@dataclass
class ClientState:
    client: str
    alerts: dict[str, AlertRec] = field(default_factory=dict)
    tickets: dict[str, TicketRec] = field(default_factory=dict)
    open_by_fingerprint: dict[str, str] = field(default_factory=dict)
    episodes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "alerts": [a.to_dict() for a in self.alerts.values()],
            "tickets": [t.to_dict() for t in self.tickets.values()],
            "open_by_fingerprint": self.open_by_fingerprint,
            "episodes": self.episodes,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None, client: str) -> ClientState:
        if not d:
            return cls(client)
        alerts = [AlertRec.from_dict(a) for a in d.get("alerts", [])]
        tickets = [TicketRec.from_dict(t) for t in d.get("tickets", [])]
        return cls(
            client=client,
            alerts={a.alert_id: a for a in alerts},
            tickets={t.key: t for t in tickets},
            open_by_fingerprint=dict(d.get("open_by_fingerprint", {})),
            episodes=dict(d.get("episodes", {})),
        )

    def next_due(self, noise: NoiseConfig) -> datetime | None:
        """When :meth:`Engine.on_tick` next has work for this client (None: nothing pending)."""
        due: list[datetime] = []
        clear = timedelta(minutes=noise.resolve.clear_minutes)
        for t in self.tickets.values():
            if t.status == "open" and t.cleared_at is not None:
                due.append(t.cleared_at + clear)
        return min(due) if due else None


class Engine:
    def __init__(self, noise: NoiseConfig, tickets: TicketsConfig) -> None:
        self.noise = noise
        self.tickets_cfg = tickets

    # -- events -----------------------------------------------------------------------------------
    def on_event(self, state: ClientState, event: AlertEvent) -> list[Decision]:
        if event.kind == "raised":
            return self._raised(state, event)
        return self._resolved(state, event)

    def on_events(self, state: ClientState, events: Iterable[AlertEvent], now: datetime) -> list[Decision]:
        out: list[Decision] = []
        for event in events:
            out += self.on_tick(state, event.at)
            out += self.on_event(state, event)
        out += self.on_tick(state, now)
        return out

    def _seen(self, rec: AlertRec, event: AlertEvent) -> bool:
        if event.id in rec.last_event_ids:
            return True
        rec.last_event_ids = [*rec.last_event_ids[-3:], event.id]
        return False

    def _raised(self, state: ClientState, event: AlertEvent) -> list[Decision]:
        rec = state.alerts.get(event.alert_id)
        fp = event.fingerprint
        if rec is not None and rec.is_open:
            if self._seen(rec, event):
                return []
            rec.repeats += 1
            ticket = state.tickets.get(rec.ticket) if rec.ticket else None
            if ticket is None:
                return []
            ticket.repeats += 1
            ticket.last_seen = event.at
            return [
                Decision("repeat", "dedup", f"alert fired again ({rec.repeats + 1} times)", event.at, state.client,
                         event.alert_id, fp, ticket.key, {"repeats": ticket.repeats, "last_seen": event.at.isoformat()})
            ]
        rec = AlertRec(
            alert_id=event.alert_id, source=event.source, fingerprint=fp, check=event.check, device=event.device,
            device_name=event.device_name or event.device, device_type=event.device_type.value, site=event.site,
            severity=event.severity.value, message=event.message, raised_at=event.at, last_event_ids=[event.id],
        )
        state.alerts[event.alert_id] = rec
        open_key = state.open_by_fingerprint.get(fp)
        if open_key is not None and open_key in state.tickets:
            ticket = state.tickets[open_key]
            ticket.alerts.append(rec.alert_id)
            ticket.repeats += 1
            ticket.last_seen = event.at
            ticket.cleared_at = None
            rec.ticket = ticket.key
            return [
                Decision("attach", "dedup", "an open ticket already covers this client, device and check",
                         event.at, state.client, rec.alert_id, fp, ticket.key,
                         {"repeats": ticket.repeats, "last_seen": event.at.isoformat()})
            ]
        return [self._open(state, rec, event, "new-ticket", "no open ticket for this client, device and check")]

    def _open(self, state: ClientState, rec: AlertRec, event: AlertEvent, rule: str, reason: str) -> Decision:
        fp = rec.fingerprint
        episode = state.episodes.get(fp, 0) + 1
        state.episodes[fp] = episode
        key = ticket_key(state.client, fp, episode)
        ticket = TicketRec(key=key, fingerprint=fp, opened_at=event.at, rule=rule, reason=reason,
                           alerts=[rec.alert_id], last_seen=event.at)
        state.tickets[key] = ticket
        state.open_by_fingerprint[fp] = key
        rec.ticket = key
        return Decision(
            "open", rule, reason, event.at, state.client, rec.alert_id, fp, key,
            {
                "severity": event.severity.value,
                "check": event.check,
                "device": event.device,
                "device_name": event.device_name or event.device,
                "device_type": event.device_type.value,
                "site": event.site,
                "site_name": event.site_name,
                "client_name": event.client_name or event.client,
                "message": event.message,
                "source": event.source,
            },
        )

    def _resolved(self, state: ClientState, event: AlertEvent) -> list[Decision]:
        rec = state.alerts.get(event.alert_id)
        if rec is None or not rec.is_open:
            return []
        self._seen(rec, event)
        rec.resolved_at = event.at
        ticket = state.tickets.get(rec.ticket) if rec.ticket else None
        if ticket is None:
            del state.alerts[event.alert_id]
            return []
        out = [Decision("clear", "auto-resolve", "alert cleared", event.at, state.client, rec.alert_id,
                        rec.fingerprint, ticket.key)]
        if all(not state.alerts[a].is_open for a in ticket.alerts if a in state.alerts):
            ticket.cleared_at = event.at
            out += self.on_tick(state, event.at)
        return out

    # -- timers -------------------------------------------------------------------------------------
    def on_tick(self, state: ClientState, now: datetime) -> list[Decision]:
        out: list[Decision] = []
        clear = timedelta(minutes=self.noise.resolve.clear_minutes)
        for ticket in list(state.tickets.values()):
            if ticket.status == "open" and ticket.cleared_at is not None and ticket.cleared_at + clear <= now:
                out.append(self._resolve(state, ticket, ticket.cleared_at + clear))
        return out

    def _resolve(self, state: ClientState, ticket: TicketRec, at: datetime) -> Decision:
        ticket.status = "resolved"
        ticket.closed_at = at
        if state.open_by_fingerprint.get(ticket.fingerprint) == ticket.key:
            del state.open_by_fingerprint[ticket.fingerprint]
        alerts = list(ticket.alerts)
        for alert_id in alerts:
            state.alerts.pop(alert_id, None)
        del state.tickets[ticket.key]
        minutes = self.noise.resolve.clear_minutes
        return Decision(
            "resolve", "auto-resolve",
            f"all {len(alerts)} attached alert(s) cleared" + (f" and stayed clear {minutes:g} min" if minutes else ""),
            at, state.client, None, ticket.fingerprint, ticket.key,
            {"alerts": alerts, "status": self.noise.resolve.status, "only_if_untouched": self.noise.resolve.only_if_untouched},
        )
