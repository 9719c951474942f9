"""Models of the SLA YAML files: ``sla.yaml``, ``escalation.yaml``, ``automation.yaml``, ``messages.yaml``.

The defaults are the service-desk playbook of seed 003 (SLA table, the "Alerts - Priority 1"
chain, the client-communication table); each MSP changes them by putting a file of the same name
in ``SWITCHBOARD_CONFIG_DIR``. Unknown keys are refused, and a bad value names its key: a time
zone that does not exist, a country the ``holidays`` library does not know, a chain step that
alerts a role nobody defined, a message template that does not compile or uses a variable that
does not exist — all stop start-up instead of surfacing at 3 a.m. on a P1.

Statuses are written either as Switchboard's canonical names (``new``, ``assigned``,
``in_progress``, ``waiting_client``, ``resolved``, ``closed``) or as the PSA's own status name
(``"Waiting Customer"``; the ticket's ``status_label``); a ticket matches when either equals
(case-insensitive).
Durations are ``30m``, ``1h``, ``.25h``, ``1h30m``, ``2d`` or a number of minutes.
"""

from __future__ import annotations

import functools
import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "AutomationConfig",
    "CalendarConfig",
    "ChainConfig",
    "ClientCalendar",
    "Duration",
    "EscalationConfig",
    "MESSAGES",
    "MessageTemplate",
    "MessagesConfig",
    "PriorityTargets",
    "SlaConfig",
    "TierConfig",
    "parse_duration",
    "parse_minutes",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WORKWEEK: list[Weekday] = ["mon", "tue", "wed", "thu", "fri"]
BUILTIN_ROLES = ("engineer", "contact")
"""Recipients taken from the ticket: the assigned resource and the ticket's contact."""

_UNITS = {"s": 1 / 60, "sec": 1 / 60, "m": 1, "min": 1, "h": 60, "hr": 60, "hour": 60, "hours": 60, "d": 1440,
          "day": 1440, "days": 1440}
_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]+)?")


def parse_duration(value: Any) -> timedelta:
    """``"30m"``, ``"1h"``, ``".25h"``, ``"1h30m"``, ``"2d"`` or a number of minutes."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration such as 30m, 1h or 2d")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(minutes=float(value))
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a duration such as 30m, 1h or 2d")
    text = value.strip().lower()
    if text.startswith("p"):  # ISO 8601 (PT2H), as a dumped config writes it
        from pydantic import TypeAdapter, ValidationError

        try:
            return TypeAdapter(timedelta).validate_python(value.strip())
        except ValidationError:
            raise ValueError(f"{value!r} is not a duration (examples: 30m, 1h, .25h, 1h30m, 2d)") from None
    total, pos = 0.0, 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"{value!r} is not a duration (examples: 30m, 1h, .25h, 1h30m, 2d)")
        unit = match.group(2) or "m"
        if unit not in _UNITS:
            raise ValueError(f"{value!r}: unknown unit {unit!r} (use s, m, h or d)")
        total += float(match.group(1)) * _UNITS[unit]
        pos = match.end()
    return timedelta(minutes=total)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def parse_minutes(value: Any) -> int:
    """``"08:00"`` -> 480; ``"24:00"`` is the end of the day (1440)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value // 60:02d}:{value % 60:02d}" if value >= 100 else value
    text = str(value).strip()
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match:
        raise ValueError(f"{value!r} is not a time of day (HH:MM)")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes >= 60 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"{value!r} is not a time of day (00:00 to 24:00)")
    return hours * 60 + minutes


Minutes = Annotated[int, BeforeValidator(parse_minutes)]


def _status_list(values: list[str]) -> list[str]:
    return [str(v).strip().casefold() for v in values if str(v).strip()]


OpenStatus = Literal["new", "assigned", "in_progress", "waiting_client"]
"""A status Switchboard sets on a ticket: a canonical name, which the PSA connector maps to its own value."""

StatusList = Annotated[list[str], BeforeValidator(lambda v: [str(x) for x in v] if isinstance(v, list) else v)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@functools.lru_cache(maxsize=1)
def _countries() -> dict[str, list[str]]:
    import holidays

    return {code: list(subdivs) for code, subdivs in holidays.list_supported_countries().items()}


def check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/London)") from None
    return value


def check_country(country: str | None, subdivision: str | None) -> None:
    if country is None:
        if subdivision:
            raise ValueError("a subdivision needs a country")
        return
    known = _countries()
    if country not in known:
        raise ValueError(f"country {country!r} is not known to the holidays library (ISO 3166 alpha-2, e.g. US, GB)")
    if subdivision and subdivision not in known[country]:
        sample = ", ".join(known[country][:8]) or "none"
        raise ValueError(f"{country} has no subdivision {subdivision!r} (known: {sample}…)")


# -- sla.yaml ----------------------------------------------------------------------------------------


class CalendarConfig(_Strict):
    """Business hours: when the client-response clock runs."""

    timezone: str = "America/New_York"
    country: str | None = "US"
    """Public holidays of this country (``holidays`` library) are not business days."""
    subdivision: str | None = None
    """State/province/region for regional holidays (``NY``, ``ENG``, ``NSW``…)."""
    holidays: bool = True
    days: list[Weekday] = Field(default_factory=lambda: list(_WORKWEEK), min_length=1)
    start: Minutes = 8 * 60
    end: Minutes = 17 * 60
    closures: list[date] = Field(default_factory=list)
    """Extra dates the service desk is closed (company events, a local holiday the library lacks)."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @model_validator(mode="after")
    def _check(self) -> CalendarConfig:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end // 60:02d}:{self.end % 60:02d}) must be after start")
        check_country(self.country, self.subdivision)
        return self


class ClientCalendar(_Strict):
    """One client's overrides of the calendar (keyed by the PSA company id)."""

    name: str = ""
    timezone: str | None = None
    country: str | None = None
    subdivision: str | None = None
    holidays: bool | None = None
    days: list[Weekday] | None = None
    start: Minutes | None = None
    end: Minutes | None = None
    closures: list[date] = Field(default_factory=list)
    """Added to the default closures."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return check_zone(value) if value is not None else None


class PriorityTargets(_Strict):
    internal_response: Duration
    client_response: Duration
    escalation: Duration


class MetBy(_Strict):
    statuses: StatusList = Field(default_factory=list)
    first_client_contact: bool = False
    """The first client-facing contact (the PSA's first-response stamp: an e-mail or client-visible note)."""

    @field_validator("statuses")
    @classmethod
    def _norm(cls, value: list[str]) -> list[str]:
        return _status_list(value)


class TargetConfig(_Strict):
    clock: Literal["calendar", "business"]
    met_by: MetBy


class Targets(_Strict):
    internal_response: TargetConfig = TargetConfig(clock="calendar", met_by=MetBy(statuses=["in_progress"]))
    client_response: TargetConfig = TargetConfig(clock="business", met_by=MetBy(first_client_contact=True))
    escalation: TargetConfig = TargetConfig(clock="calendar", met_by=MetBy(statuses=["resolved", "closed"]))


def _default_priorities() -> dict[int, PriorityTargets]:
    h = timedelta(hours=1)
    return {
        1: PriorityTargets(internal_response=h / 2, client_response=h, escalation=2 * h),
        2: PriorityTargets(internal_response=2 * h, client_response=4 * h, escalation=8 * h),
        3: PriorityTargets(internal_response=12 * h, client_response=24 * h, escalation=48 * h),
        4: PriorityTargets(internal_response=24 * h, client_response=48 * h, escalation=96 * h),
    }


class SlaConfig(_Strict):
    version: int = 1
    calendar: CalendarConfig = CalendarConfig()
    priorities: dict[int, PriorityTargets] = Field(default_factory=_default_priorities, min_length=1)
    default_priority: int = 3
    """Used for a ticket whose priority the PSA does not map to 1–4."""
    targets: Targets = Targets()
    pause_statuses: StatusList = Field(default_factory=lambda: ["waiting_client"])
    """Every clock stops while the ticket is in one of these statuses and resumes after."""
    clients: dict[str, ClientCalendar] = Field(default_factory=dict)

    @field_validator("pause_statuses")
    @classmethod
    def _norm(cls, value: list[str]) -> list[str]:
        return _status_list(value)

    @model_validator(mode="after")
    def _check(self) -> SlaConfig:
        if self.default_priority not in self.priorities:
            raise ValueError(f"default_priority {self.default_priority} is not in priorities")
        for client, cal in self.clients.items():
            merged = self.calendar_for(client)
            check_country(merged.country, merged.subdivision)
            if merged.end <= merged.start:
                raise ValueError(f"clients.{client}: end must be after start")
            del cal
        return self

    def targets_for(self, priority: int | None) -> PriorityTargets:
        return self.priorities.get(priority or 0) or self.priorities[self.default_priority]

    def calendar_for(self, client: str | None) -> CalendarConfig:
        """The default calendar with the client's overrides applied."""
        over = self.clients.get(client or "")
        if over is None:
            return self.calendar
        changes = {k: v for k, v in over.model_dump(exclude={"name", "closures"}).items() if v is not None}
        if over.country is not None and over.subdivision is None:
            changes["subdivision"] = None  # another country's subdivision would not apply
        changes["closures"] = sorted({*self.calendar.closures, *over.closures})
        return self.calendar.model_copy(update=changes)


# -- escalation.yaml ------------------------------------------------------------------------------------


class RoleConfig(_Strict):
    title: str
    email: list[str] = Field(default_factory=list)

    @field_validator("email")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", address):
                raise ValueError(f"{address!r} is not an e-mail address")
        return value


class StepConfig(_Strict):
    after: Duration
    notify: list[str] = Field(min_length=1)


class ChainConfig(_Strict):
    """A chain of alerts; its message in ``messages.yaml`` has the chain's name."""

    enabled: bool = True
    steps: list[StepConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _increasing(self) -> ChainConfig:
        afters = [s.after for s in self.steps]
        if afters != sorted(afters) or len(set(afters)) != len(afters):
            raise ValueError("steps must be in increasing order of 'after'")
        return self


def _step(after: str, *roles: str) -> StepConfig:
    return StepConfig(after=parse_duration(after), notify=list(roles))


class Chains(_Strict):
    unassigned: ChainConfig = ChainConfig(steps=[
        _step("15m", "dispatcher"),
        _step("20m", "dispatcher", "service_manager"),
        _step("30m", "dispatcher", "service_manager", "service_director"),
    ])
    unacknowledged: ChainConfig = ChainConfig(steps=[
        _step("15m", "engineer"),
        _step("30m", "engineer", "dispatcher"),
        _step("45m", "engineer", "dispatcher", "service_manager"),
        _step("1h", "engineer", "dispatcher", "service_manager", "service_director"),
    ])
    escalated_unacknowledged: ChainConfig = ChainConfig(steps=[
        _step("15m", "engineer", "dispatcher"),
        _step("30m", "engineer", "dispatcher", "service_manager"),
        _step("45m", "engineer", "dispatcher", "service_manager", "service_director"),
    ])


class TierConfig(_Strict):
    name: str
    board: str | None = None
    """The PSA queue/board of this tier (Autotask queue id). None: the tier is tracked by Switchboard only."""
    resource: str | None = None
    """A PSA resource to assign on escalation to this tier (None: the dispatcher assigns)."""
    email: list[str] = Field(default_factory=list)
    """A team address told of escalations to this tier when no resource is set."""


class EscalationAction(_Strict):
    tiers: list[TierConfig] = Field(
        default_factory=lambda: [TierConfig(name=n) for n in ("Level 1", "Level 2", "Level 3", "Onsite")],
        min_length=1,
    )
    set_status: OpenStatus = "assigned"
    """The status an escalated ticket is moved to, so the new engineer's acknowledgement (moving it to an
    acknowledged status) can be seen and the acknowledgement chain starts again."""
    notify_client: bool = True
    """E-mail the contact that the incident was escalated (message ``escalated_client``)."""
    notify_dispatcher: bool = True
    """Tell the dispatcher (message ``escalated_dispatcher``)."""
    notify_engineer: bool = True
    """Tell the new tier's engineer: its ``resource``, else its ``email`` (message ``escalated_engineer``)."""
    decision_point: list[str] = Field(default_factory=lambda: ["service_manager", "service_director"])
    """Who decides when the last tier's threshold passes (the playbook's IT/Service Manager decision point,
    message ``decision_point``)."""

    @model_validator(mode="after")
    def _unique(self) -> EscalationAction:
        boards = [t.board for t in self.tiers if t.board]
        if len(boards) != len(set(boards)):
            raise ValueError("two tiers share a board")
        return self


ResponseTarget = Literal["internal_response", "client_response"]
_BREACH: dict[ResponseTarget, list[str]] = {"client_response": ["dispatcher"]}


class EscalationConfig(_Strict):
    version: int = 1
    roles: dict[str, RoleConfig] = Field(default_factory=lambda: {
        "dispatcher": RoleConfig(title="Service Dispatcher"),
        "service_manager": RoleConfig(title="Service Manager"),
        "service_director": RoleConfig(title="Service Director"),
    })
    psa_notes: bool = True
    """Also record every internal alert as an internal note on the ticket (the trail technicians see)."""
    catch_up: Duration = timedelta(hours=2)
    """A step that fell due longer ago than this (Switchboard was down, or the ticket predates it) is
    recorded as missed instead of sent late."""
    priorities: list[int] = Field(default_factory=lambda: [1, 2, 3, 4])
    """Priorities whose tickets run the chains and the escalation threshold."""
    scale: dict[int, float] = Field(default_factory=lambda: {1: 1.0, 2: 4.0, 3: 24.0, 4: 48.0})
    """Chain step times are the P1 times of the playbook multiplied by this (P2 = 4x: the internal
    response target is 2 h instead of 30 min)."""
    chains: Chains = Chains()
    escalation: EscalationAction = EscalationAction()
    breach: dict[ResponseTarget, list[str]] = Field(default_factory=lambda: dict(_BREACH))
    """Who is told when a response target is missed (message ``breach``)."""

    @field_validator("roles")
    @classmethod
    def _role_names(cls, value: dict[str, RoleConfig]) -> dict[str, RoleConfig]:
        for name in value:
            if name in BUILTIN_ROLES:
                raise ValueError(f"{name!r} is taken from the ticket and cannot be defined as a role")
        if "dispatcher" not in value:
            raise ValueError("the dispatcher role is required (the playbook's alerts all go to the Service Dispatcher)")
        return value

    @staticmethod
    def _check_roles(info: ValidationInfo, wanted: list[tuple[str, str]]) -> None:
        known = set(info.data.get("roles") or {}) | set(BUILTIN_ROLES)
        for where, role in wanted:
            if role not in known:
                raise ValueError(f"{where}: unknown role {role!r} (known: {', '.join(sorted(known))})")

    @field_validator("chains")
    @classmethod
    def _chain_roles(cls, value: Chains, info: ValidationInfo) -> Chains:
        wanted = []
        for name in ("unassigned", "unacknowledged", "escalated_unacknowledged"):
            for i, step in enumerate(getattr(value, name).steps):
                wanted += [(f"{name}.steps[{i}].notify", r) for r in step.notify]
        cls._check_roles(info, wanted)
        return value

    @field_validator("escalation")
    @classmethod
    def _decision_roles(cls, value: EscalationAction, info: ValidationInfo) -> EscalationAction:
        cls._check_roles(info, [("decision_point", r) for r in value.decision_point])
        return value

    @field_validator("breach")
    @classmethod
    def _breach_roles(cls, value: dict[str, list[str]], info: ValidationInfo) -> dict[str, list[str]]:
        cls._check_roles(info, [(target, r) for target, roles in value.items() for r in roles])
        return value

    def scale_for(self, priority: int) -> float:
        return self.scale.get(priority, max(self.scale.values(), default=1.0))

    def tier_of_board(self, board: str | None) -> int | None:
        for i, tier in enumerate(self.escalation.tiers):
            if board is not None and tier.board == board:
                return i
        return None


# -- automation.yaml ------------------------------------------------------------------------------------


class StatusMessage(_Strict):
    """One e-mail of the status automation; its message in ``messages.yaml`` has the same name."""

    enabled: bool = True


class WaitingConfig(_Strict):
    enabled: bool = True
    statuses: StatusList = Field(default_factory=lambda: ["waiting_client"])
    remind_after: Duration = timedelta(hours=24)
    """Since the last update (entering the status, or the last client-visible activity): remind the assigned
    resource (message ``waiting_engineer``) and e-mail the contact (``waiting_client``)."""
    again_after: Duration = timedelta(hours=72)
    """In the status: e-mail the contact again (``waiting_client``)."""
    dispatcher_after: Duration = timedelta(hours=96)
    """In the status: ask the dispatcher to verify the attempts and close (``waiting_dispatcher``)."""

    @field_validator("statuses")
    @classmethod
    def _norm(cls, value: list[str]) -> list[str]:
        return _status_list(value)


class AutomationConfig(_Strict):
    version: int = 1
    received: StatusMessage = StatusMessage()
    """New ticket: e-mail the contact that it was received."""
    assigned: StatusMessage = StatusMessage()
    """A resource was assigned: e-mail the contact that a technician is reviewing it."""
    assigned_engineer: StatusMessage = StatusMessage(enabled=False)
    """E-mail the engineer on assignment (off: most PSAs already do — the playbook's "already done currently")."""
    in_progress: StatusMessage = StatusMessage(enabled=False)
    """The resource acknowledged: e-mail the contact that work started (off by default; see the README)."""
    assigned_status: OpenStatus | None = "assigned"
    """When a New ticket gets a resource, move it to this status (None: leave the status alone)."""
    acknowledged_status: OpenStatus | None = "in_progress"
    """When the assigned resource works the ticket (a note, time entry or change by them) while it is not yet
    in an acknowledged status, move it to this status (None: leave it)."""
    waiting: WaitingConfig = WaitingConfig()


# -- messages.yaml --------------------------------------------------------------------------------------


MESSAGES: dict[str, Literal["client", "internal"]] = {
    "received": "client",
    "assigned": "client",
    "in_progress": "client",
    "escalated_client": "client",
    "waiting_client": "client",
    "assigned_engineer": "internal",
    "unassigned": "internal",
    "unacknowledged": "internal",
    "escalated_unacknowledged": "internal",
    "escalated_dispatcher": "internal",
    "escalated_engineer": "internal",
    "decision_point": "internal",
    "breach": "internal",
    "waiting_engineer": "internal",
    "waiting_dispatcher": "internal",
}
"""Every message Switchboard sends, and who reads it (client-facing or the MSP's own people)."""


class MessageTemplate(_Strict):
    subject: str
    body: str
    """HTML (autoescaped): the e-mail body; its text is also used for PSA notes."""

    @field_validator("subject", "body")
    @classmethod
    def _compiles(cls, value: str) -> str:
        from rules.messages import check_template

        check_template(value)
        return value


class MessageOverride(_Strict):
    subject: str | None = None
    body: str | None = None

    @field_validator("subject", "body")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        from rules.messages import check_template

        if value is not None:
            check_template(value)
        return value


class Sender(_Strict):
    company: str = "Your Company Name"
    name: str = "Your Name"
    support_email: str = "support@yourcompanyurl.com"


class SenderOverride(_Strict):
    company: str | None = None
    name: str | None = None
    support_email: str | None = None


class ClientMessages(_Strict):
    sender: SenderOverride = SenderOverride()
    messages: dict[str, MessageOverride] = Field(default_factory=dict)


class MessagesConfig(_Strict):
    version: int = 1
    sender: Sender = Sender()
    messages: dict[str, MessageTemplate] = Field(default_factory=dict)
    clients: dict[str, ClientMessages] = Field(default_factory=dict)

    @field_validator("messages")
    @classmethod
    def _all_messages(cls, value: dict[str, MessageTemplate]) -> dict[str, MessageTemplate]:
        missing = [m for m in MESSAGES if m not in value]
        unknown = [m for m in value if m not in MESSAGES]
        if unknown:
            raise ValueError(f"unknown message {unknown[0]!r} (known: {', '.join(MESSAGES)})")
        if missing:
            raise ValueError(f"missing message(s): {', '.join(missing)}")
        return value

    @field_validator("clients")
    @classmethod
    def _overrides_exist(cls, value: dict[str, ClientMessages]) -> dict[str, ClientMessages]:
        for client, over in value.items():
            for name in over.messages:
                if name not in MESSAGES:
                    raise ValueError(f"{client}.messages.{name}: no such message (known: {', '.join(MESSAGES)})")
        return value

    def message(self, name: str, client: str | None) -> MessageTemplate:
        base = self.messages[name]
        over = self.clients.get(client or "")
        if over is None or name not in over.messages:
            return base
        o = over.messages[name]
        return base.model_copy(update={k: v for k, v in (("subject", o.subject), ("body", o.body)) if v is not None})

    def sender_for(self, client: str | None) -> Sender:
        over = self.clients.get(client or "")
        if over is None:
            return self.sender
        return self.sender.model_copy(update={k: v for k, v in over.sender.model_dump().items() if v is not None})
