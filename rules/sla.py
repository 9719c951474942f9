"""SLA clocks (pure): business-hours arithmetic, pauses, and what is known about one ticket.

No I/O, no database, no clock reads: ``now`` is always an argument.

Clocks
    A target (internal response, client response, escalation threshold) is a duration counted
    from an anchor on a *calendar* clock (every minute counts: the NOC watches around the clock)
    or a *business* clock (only the client's business hours count: their time zone, working days
    and hours, minus the country's public holidays from the ``holidays`` library and the closure
    dates). Every clock skips the ticket's pauses (configured statuses such as Waiting on Client,
    and the time a ticket spent resolved before it was reopened). Business hours are computed per
    local date with ``zoneinfo``, so the day a clock change happens still has 08:00–17:00 of
    local time; calendar clocks count real elapsed time, so an hour is an hour on both DST nights.

Facts (:func:`observe`)
    From each version of a ticket the PSA poll delivers: status transitions, the first
    assignment, the acknowledgement (an acknowledged status — In Progress — or work by the
    assigned resource: a note, time entry or change they made), the first client-facing contact
    (the PSA's first-response stamp), pauses, tier moves, resolution and reopening. What the
    ticket does not say is derived from what the polls observe: the time of a change is the
    ticket's last-activity time in the first poll that shows it (never earlier than the previous
    observation, never later than now). Re-delivering the same ticket changes nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from connectors.canonical import Ticket, utc
from rules.sla_config import (
    WEEKDAYS,
    AutomationConfig,
    CalendarConfig,
    EscalationConfig,
    MessagesConfig,
    SlaConfig,
)

__all__ = [
    "TARGETS",
    "BusinessCalendar",
    "CalendarTime",
    "ClockView",
    "Event",
    "Measure",
    "Pause",
    "Policy",
    "SlaState",
    "clocks",
    "deadlines",
    "observe",
    "reach",
    "span",
    "used",
]

TARGETS = ("internal_response", "client_response", "escalation")
_DAY = timedelta(days=1)
_MAX_DAYS = 3660
"""A business clock gives up after ten years without an open hour (only a mis-configured calendar)."""


class Measure(Protocol):
    """How a clock counts time between two instants, and when an amount of it has passed."""

    def add(self, start: datetime, amount: timedelta) -> datetime: ...

    def between(self, start: datetime, end: datetime) -> timedelta: ...


class CalendarTime:
    """Every minute counts."""

    def add(self, start: datetime, amount: timedelta) -> datetime:
        return start + amount

    def between(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, timedelta(0))


CALENDAR = CalendarTime()


class BusinessCalendar:
    """Business hours in one time zone, minus public holidays and closure dates."""

    def __init__(self, cfg: CalendarConfig) -> None:
        self.cfg = cfg
        self.zone = ZoneInfo(cfg.timezone)
        self.days = frozenset(WEEKDAYS.index(d) for d in cfg.days)
        self.closures = frozenset(cfg.closures)
        self._holidays: Any = None
        if cfg.country and cfg.holidays:
            import holidays

            self._holidays = holidays.country_holidays(cfg.country, subdiv=cfg.subdivision)
        self._windows: dict[date, tuple[datetime, datetime] | None] = {}

    def __repr__(self) -> str:
        c = self.cfg
        where = f"{c.country}{'-' + c.subdivision if c.subdivision else ''}" if c.country else "no holidays"
        return f"BusinessCalendar({c.timezone}, {where}, {c.start // 60:02d}:{c.start % 60:02d}-{c.end // 60:02d}:{c.end % 60:02d})"

    def closed_reason(self, day: date) -> str | None:
        """Why ``day`` has no business hours (weekend, holiday name, closure), or None."""
        if day.weekday() not in self.days:
            return "not a working day"
        if day in self.closures:
            return "closure date"
        if self._holidays is not None and day in self._holidays:
            return str(self._holidays.get(day))
        return None

    def _local(self, day: date, minutes: int) -> datetime:
        if minutes >= 1440:
            day, minutes = day + _DAY, minutes - 1440
        return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=self.zone).astimezone(UTC)

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The UTC start and end of ``day``'s business hours (local date), or None on a closed day."""
        if day not in self._windows:
            self._windows[day] = (
                None if self.closed_reason(day) else (self._local(day, self.cfg.start), self._local(day, self.cfg.end))
            )
        return self._windows[day]

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The instant ``amount`` of business time after ``start``."""
        start = utc(start)
        remaining = amount
        day = start.astimezone(self.zone).date()
        for _ in range(_MAX_DAYS):
            hours = self.window(day)
            if hours is not None and hours[1] > start:
                begin = max(hours[0], start)
                if remaining <= hours[1] - begin:
                    return begin + remaining
                remaining -= hours[1] - begin
            day += _DAY
        raise ValueError(f"{self!r} has no business hours within ten years")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time in ``[start, end)``."""
        start, end = utc(start), utc(end)
        total = timedelta(0)
        if end <= start:
            return total
        day, last = start.astimezone(self.zone).date(), end.astimezone(self.zone).date()
        while day <= last:
            hours = self.window(day)
            if hours is not None:
                lo, hi = max(hours[0], start), min(hours[1], end)
                if hi > lo:
                    total += hi - lo
            day += _DAY
        return total


# -- pauses and clock arithmetic ---------------------------------------------------------------------


@dataclass
class Pause:
    start: datetime
    end: datetime | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat() if self.end else None, "reason": self.reason}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Pause:
        return cls(_dt(d["start"]), _dt(d.get("end")), d.get("reason", ""))  # type: ignore[arg-type]


def _segments(anchor: datetime, pauses: list[Pause]) -> Iterator[tuple[datetime, datetime | None]]:
    """The running stretches of a clock started at ``anchor`` (end None: still running)."""
    cur = anchor
    for p in (sorted(pauses, key=lambda p: p.start) if len(pauses) > 1 else pauses):
        if p.end is not None and p.end <= cur:
            continue
        if p.start > cur:
            yield cur, p.start
        if p.end is None:
            return
        cur = max(cur, p.end)
    yield cur, None


def reach(anchor: datetime, amount: timedelta, measure: Measure, pauses: list[Pause]) -> datetime | None:
    """When a clock started at ``anchor`` will have counted ``amount`` (None: paused before then)."""
    remaining = amount
    for start, end in _segments(anchor, pauses):
        if remaining <= timedelta(0):
            return start
        if end is None:
            return measure.add(start, remaining)
        available = measure.between(start, end)
        if remaining <= available:
            return measure.add(start, remaining)
        remaining -= available
    return None


def used(anchor: datetime, until: datetime, measure: Measure, pauses: list[Pause]) -> timedelta:
    """How much a clock started at ``anchor`` has counted by ``until``."""
    total = timedelta(0)
    for start, end in _segments(anchor, pauses):
        if start >= until:
            break
        total += measure.between(start, min(end, until) if end else until)
    return total


def _dt(value: str | None) -> datetime | None:
    return utc(datetime.fromisoformat(value)) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# -- the policy: the four YAML files plus calendars -------------------------------------------------


class Policy:
    """``sla.yaml`` + ``escalation.yaml`` + ``automation.yaml`` + ``messages.yaml``, with calendars cached."""

    def __init__(self, sla: SlaConfig, escalation: EscalationConfig, automation: AutomationConfig,
                 messages: MessagesConfig) -> None:
        self.sla = sla
        self.escalation = escalation
        self.automation = automation
        self.messages = messages
        ack = sla.targets.internal_response.met_by.statuses
        if escalation.escalation.set_status in ack:
            raise ValueError(
                f"escalation.yaml: escalation.set_status: {escalation.escalation.set_status!r} counts as acknowledged "
                "(sla.yaml targets.internal_response.met_by), so the new engineer's acknowledgement could not be seen"
            )

    @classmethod
    def from_configs(cls, configs: dict[str, Any]) -> Policy:
        return cls(configs["sla.yaml"], configs["escalation.yaml"], configs["automation.yaml"], configs["messages.yaml"])

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one policy per process; bounded by the number of clients
    def calendar(self, client: str | None) -> BusinessCalendar:
        return BusinessCalendar(self.sla.calendar_for(client))

    def measure(self, target: str, client: str | None) -> Measure:
        kind = getattr(self.sla.targets, target).clock
        return self.calendar(client) if kind == "business" else CALENDAR

    @staticmethod
    def matches(statuses: list[str], status: str, label: str) -> bool:
        return status.casefold() in statuses or (bool(label) and label.strip().casefold() in statuses)

    def tier_name(self, tier: int) -> str:
        tiers = self.escalation.escalation.tiers
        return tiers[min(tier, len(tiers) - 1)].name


# -- the state of one ticket -------------------------------------------------------------------------


@dataclass
class Event:
    """Something that happened to a ticket's clocks (kept in ``sla_event`` for ``sla explain``)."""

    at: datetime
    kind: str
    detail: str


@dataclass
class SlaState:
    psa: str
    ticket_id: str
    created_at: datetime
    first_seen_at: datetime
    last_seen_at: datetime
    number: str = ""
    title: str = ""
    url: str | None = None
    company: str | None = None
    contact: str | None = None
    priority: int | None = None
    status: str = "new"
    status_label: str = ""
    board: str | None = None
    assigned_to: str | None = None
    assigned_at: datetime | None = None
    met: dict[str, str] = field(default_factory=dict)
    """target -> ISO time it was met (internal_response = acknowledged; client_response = first contact)."""
    acknowledged_by: str = ""
    open: bool = True
    resolved_at: datetime | None = None
    tier: int = 0
    tier_started_at: datetime | None = None
    tier_reset_seen: bool = True
    """After Switchboard escalated: the ticket was seen in a not-acknowledged status again (our change landed)."""
    tier_ack_at: datetime | None = None
    pauses: list[Pause] = field(default_factory=list)
    waiting_episode: int = 0
    waiting_since: datetime | None = None
    last_client_activity_at: datetime | None = None
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    """step id -> {"at", "due", "outcome"}: what was done about each step (once)."""

    @property
    def key(self) -> str:
        return f"{self.psa}:{self.ticket_id}"

    def met_at(self, target: str) -> datetime | None:
        return _dt(self.met.get(target))

    @property
    def acknowledged_at(self) -> datetime | None:
        return self.met_at("internal_response")

    @property
    def tier_anchor(self) -> datetime:
        return self.tier_started_at or self.created_at

    def open_pause(self, reason_prefix: str) -> Pause | None:
        for p in self.pauses:
            if p.end is None and p.reason.startswith(reason_prefix):
                return p
        return None

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        for k in ("created_at", "first_seen_at", "last_seen_at", "assigned_at", "resolved_at", "tier_started_at",
                  "tier_ack_at", "waiting_since", "last_client_activity_at"):
            d[k] = _iso(d[k])
        d["pauses"] = [p.to_dict() for p in self.pauses]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SlaState:
        d = dict(d)
        for k in ("created_at", "first_seen_at", "last_seen_at", "assigned_at", "resolved_at", "tier_started_at",
                  "tier_ack_at", "waiting_since", "last_client_activity_at"):
            d[k] = _dt(d.get(k))
        d["pauses"] = [Pause.from_dict(p) for p in d.get("pauses", [])]
        d["met"] = dict(d.get("met") or {})
        d["steps"] = dict(d.get("steps") or {})
        return cls(**d)


def _label(t: Ticket) -> str:
    return f"{t.status.value} ({t.status_label})" if t.status_label else t.status.value


def observe(state: SlaState | None, t: Ticket, now: datetime, policy: Policy) -> tuple[SlaState, list[Event]]:
    """Fold one version of a ticket into its state; returns the state and what changed."""
    now = utc(now)
    at = min(utc(t.updated_at), now) if t.updated_at else now
    events: list[Event] = []
    first = state is None
    if state is None:
        created = utc(t.created_at) if t.created_at else at
        state = SlaState(psa=t.ref.vendor, ticket_id=t.ref.id, created_at=created, first_seen_at=now,
                         last_seen_at=min(at, now), status=t.status.value, status_label=t.status_label,
                         board=t.board, tier=policy.escalation.tier_of_board(t.board) or 0, tier_started_at=created)
        at = max(at, created)
        events.append(Event(now, "tracked", f"first seen: {_label(t)}, priority {t.priority or '?'}"))
    else:
        at = max(at, state.last_seen_at)
    moved = first or (t.updated_at is not None and utc(t.updated_at) > state.last_seen_at)
    sla, esc, auto = policy.sla, policy.escalation, policy.automation
    status, label = t.status.value, t.status_label

    def matches(statuses: list[str]) -> bool:
        return policy.matches(statuses, status, label)

    if not first and (status, label) != (state.status, state.status_label):
        events.append(Event(at, "status", f"{state.status} ({state.status_label}) -> {_label(t)}"))
    state.status, state.status_label = status, label

    # resolution and reopening: resolved time is a pause, so a reopened ticket's clocks resume
    resolved = not t.is_open or matches(sla.targets.escalation.met_by.statuses)
    if resolved and state.open:
        state.open = False
        state.resolved_at = utc(t.closed_at) if t.closed_at and not first else at
        state.pauses.append(Pause(state.resolved_at, None, "resolved"))
        events.append(Event(state.resolved_at, "resolved", f"resolved ({_label(t)}): clocks stop"))
        if "internal_response" not in state.met:  # resolving it is the clearest acknowledgement there is
            state.met["internal_response"], state.acknowledged_by = state.resolved_at.isoformat(), "resolution"
    elif not resolved and not state.open:
        pause = state.open_pause("resolved")
        if pause is not None:
            pause.end = at
        state.open, state.resolved_at = True, None
        events.append(Event(at, "reopened", f"reopened ({_label(t)}): clocks resume"))

    # pauses in configured statuses
    pause = state.open_pause("status")
    if matches(sla.pause_statuses) and pause is None and state.open:
        state.pauses.append(Pause(at, None, f"status {_label(t)}"))
        events.append(Event(at, "paused", f"clocks paused: {_label(t)}"))
    elif not matches(sla.pause_statuses) and pause is not None:
        pause.end = at
        events.append(Event(at, "resumed", f"clocks resumed after {pause.reason} ({span(at - pause.start)})"))

    # Waiting on Client episodes (the status automation counts from entering the status)
    if auto.waiting.enabled and matches(auto.waiting.statuses) and state.open:
        if state.waiting_since is None:
            state.waiting_episode += 1
            state.waiting_since = at
    else:
        state.waiting_since = None

    # assignment (the first one starts the acknowledgement chain)
    assignee = t.assigned_to.id if t.assigned_to else None
    if assignee != state.assigned_to:
        if assignee and state.assigned_at is None:
            state.assigned_at = at
            events.append(Event(at, "assigned", f"assigned to resource {assignee}"))
        elif assignee:
            events.append(Event(at, "reassigned", f"reassigned from {state.assigned_to or 'nobody'} to {assignee}"))
        else:
            events.append(Event(at, "unassigned", f"resource {state.assigned_to} removed"))
        state.assigned_to = assignee

    ack_status = matches(sla.targets.internal_response.met_by.statuses)
    by_engineer = bool(
        moved and assignee and t.last_activity_by is not None and t.last_activity_by.id == assignee
        and state.assigned_at is not None and at >= state.assigned_at
    )

    # a person moved the ticket to another tier's board: that tier's clock starts now
    if not first and t.board != state.board:
        tier = esc.tier_of_board(t.board)
        if tier is not None and tier != state.tier:
            events.append(Event(at, "tier", f"moved to {policy.tier_name(tier)} in the PSA (board {t.board})"))
            state.tier, state.tier_started_at, state.tier_reset_seen = tier, at, True
            state.tier_ack_at = at if ack_status else None

    # targets met (each once)
    for target in ("internal_response", "client_response"):
        if target in state.met:
            continue
        met_by = getattr(sla.targets, target).met_by
        when: datetime | None = None
        how = ""
        if met_by.first_client_contact and t.first_response_at is not None:
            when, how = utc(t.first_response_at), "first client contact"
        elif met_by.statuses and matches(met_by.statuses) and state.open:
            when, how = at, f"status {_label(t)}"
        elif target == "internal_response" and by_engineer:
            when, how = at, f"work by the assigned resource {assignee}"
        if when is not None:
            state.met[target] = when.isoformat()
            if target == "internal_response":
                state.acknowledged_by = "status" if how.startswith("status") else "activity"
            events.append(Event(when, "met", f"{target.replace('_', ' ')} met: {how}"))

    # the acknowledgement of an escalated ticket by its new engineer
    if state.tier > 0 and state.tier_ack_at is None and state.open:
        if not state.tier_reset_seen:
            if not ack_status:
                state.tier_reset_seen = True
        elif ack_status or (by_engineer and state.tier_started_at is not None and at > state.tier_started_at):
            state.tier_ack_at = at
            events.append(Event(at, "acknowledged", f"{policy.tier_name(state.tier)} acknowledged"))

    if t.priority != state.priority:
        if not first:
            events.append(Event(at, "priority", f"priority {state.priority} -> {t.priority}"))
        state.priority = t.priority
    state.number, state.title, state.url = t.number, t.title, t.url
    state.company = t.company.id if t.company else None
    state.contact = t.contact.id if t.contact else None
    state.board = t.board
    if t.last_client_activity_at is not None:
        state.last_client_activity_at = utc(t.last_client_activity_at)
    state.last_seen_at = max(state.last_seen_at, at)
    return state, events


# -- the clocks of one ticket ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClockView:
    target: str
    clock: str
    """calendar | business"""
    anchor: datetime
    amount: timedelta
    due: datetime | None
    """None while paused (the due time moves by the length of the pause)."""
    met_at: datetime | None
    used: timedelta
    state: str
    """met | met late | breached | running | paused | stopped"""


@functools.lru_cache(maxsize=1024)
def span(delta: timedelta) -> str:
    """A duration for people: ``15 min``, ``2 h``, ``6.0 d``."""
    minutes = int(round(delta.total_seconds() / 60))
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes / 60
    return f"{hours:g} h" if hours <= 120 else f"{hours / 24:.1f} d"


def clocks(state: SlaState, now: datetime, policy: Policy) -> list[ClockView]:
    """The three targets as they stand at ``now``."""
    targets = policy.sla.targets_for(state.priority)
    out = []
    for target in TARGETS:
        kind = getattr(policy.sla.targets, target).clock
        measure = policy.measure(target, state.company)
        anchor = state.tier_anchor if target == "escalation" else state.created_at
        amount: timedelta = getattr(targets, target)
        due = reach(anchor, amount, measure, state.pauses)
        met = state.resolved_at if target == "escalation" else state.met_at(target)
        until = min(now, met) if met else now
        spent = used(anchor, until, measure, state.pauses)
        if met is not None:
            status = "met" if due is None or met <= due else "met late"
        elif due is not None and due <= now:
            status = "breached"
        elif not state.open:
            status = "stopped"
        elif due is None:
            status = "paused"
        else:
            status = "running"
        out.append(ClockView(target, kind, anchor, amount, due, met, spent, status))
    return out


def deadlines(created: datetime, priority: int, policy: Policy, client: str | None = None,
              calendar: BusinessCalendar | None = None) -> dict[str, datetime]:
    """The three due times of a ticket created at ``created`` with no pauses (``sla deadline``)."""
    targets = policy.sla.targets_for(priority)
    out = {}
    for target in TARGETS:
        kind = getattr(policy.sla.targets, target).clock
        measure: Measure = (calendar or policy.calendar(client)) if kind == "business" else CALENDAR
        out[target] = measure.add(utc(created), getattr(targets, target))
    return out
