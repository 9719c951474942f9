"""Models of the rule YAML files (``config/defaults/noise.yaml``, ``tickets.yaml``).

Unknown keys are refused so that a typo in a setting fails start-up instead of being ignored.

Noise policy is data (``noise.yaml``)::

    rules:        rule instances: id, type, description, enabled, match, parameters of the type
    precedence:   where a confirmed alert goes, in order (rule ids of placement rules, then new-ticket)
    clients:      per-client settings: time zone, precedence
    exceptions:   per-client exception documents that point at rule ids (disable a rule, change
                  its parameters for some clients)

A rule kind is the pydantic model of its parameters, one per ``type`` (a discriminated union);
the engine (``rules/engine.py``) gives each kind its behaviour. Cross-references are checked at
load: a duplicate rule id, an unknown rule id in ``precedence`` or in an exception, a parameter
an exception cannot set, an unknown time zone — each fails with the file and the key.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from connectors.canonical import DeviceType, Severity

__all__ = [
    "AutoResolveRule",
    "ClientSettings",
    "DedupRule",
    "ExceptionDoc",
    "FlappingRule",
    "HoldRule",
    "MaintenanceRule",
    "Match",
    "NEW_TICKET",
    "NoiseConfig",
    "PLACEMENT_TYPES",
    "ReopenRule",
    "Rule",
    "SeverityRule",
    "SourceMuteRule",
    "StormRule",
    "TicketsConfig",
    "TopologyRule",
    "TwoWayRule",
]

NEW_TICKET = "new-ticket"
"""The last step of every precedence: a ticket of its own."""

PLACEMENT_TYPES = ("dedup", "topology", "storm", "reopen")
"""Rule types that decide where a confirmed alert goes, in the order of ``precedence``."""

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/London)") from None
    return value


class Match(_Strict):
    """Which alerts a rule instance applies to; every list given must match (empty = any).

    ``checks`` are check ids or shell-style patterns (``eventlog:*``); a plain id also matches its
    refinements (``disk_usage`` matches ``disk_usage:C:``).
    """

    clients: list[str] = []
    sites: list[str] = []
    devices: list[str] = []
    device_types: list[DeviceType] = []
    checks: list[str] = []
    severities: list[Severity] = []


class _Rule(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)]
    description: str = ""
    enabled: bool = True
    match: Match = Match()

    kind: ClassVar[str] = "filter"


class SeverityRule(_Rule):
    """Alerts of these severities never open a ticket (default: ``info``)."""

    type: Literal["severity"]
    severities: list[Severity] = [Severity.info]


class SourceMuteRule(_Rule):
    """Alerts muted at the source (in the RMM) never open a ticket."""

    type: Literal["source_mute"]


class Weekly(_Strict):
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1)
    start: dt.time
    end: dt.time
    """May be earlier than ``start``: the window then runs past midnight into the next day."""

    @field_validator("days", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return [str(v).lower()[:3] for v in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _not_empty(self) -> Weekly:
        if self.start == self.end:
            raise ValueError("start and end are the same time: the window would be empty")
        return self


class Once(_Strict):
    start: dt.datetime
    end: dt.datetime
    """Naive times are in the window's (or the client's) time zone."""

    @model_validator(mode="after")
    def _order(self) -> Once:
        a, b = self.start.replace(tzinfo=None), self.end.replace(tzinfo=None)
        if (self.start.tzinfo is None) == (self.end.tzinfo is None) and a >= b and self.start.tzinfo is None:
            raise ValueError("end must be after start")
        if self.start.tzinfo is not None and self.end.tzinfo is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class MaintenanceRule(_Rule):
    """A maintenance window (recurring ``weekly`` or one-off ``once``) for the alerts it matches.

    An alert raised inside the window opens no ticket while the window lasts; if it is still open
    when the window ends it is treated as raised then (the hold starts at the window's end).
    """

    type: Literal["maintenance"]
    weekly: Weekly | None = None
    once: Once | None = None
    timezone: str | None = None
    """IANA time zone of the window's times; default: the client's, else the file's ``timezone``."""

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return value if value is None else _zone(value)

    @model_validator(mode="after")
    def _one_schedule(self) -> MaintenanceRule:
        if (self.weekly is None) == (self.once is None):
            raise ValueError("give exactly one of weekly or once")
        return self


class HoldRule(_Rule):
    """A raised alert opens a ticket only if it is still unresolved ``minutes`` after it was raised."""

    type: Literal["hold"]
    minutes: float = Field(5, ge=0)
    by_severity: dict[Severity, Annotated[float, Field(ge=0)]] = {}
    """Per-severity minutes, overriding ``minutes``."""

    kind: ClassVar[str] = "hold"

    def minutes_for(self, severity: Severity | str) -> float:
        if not self.by_severity:
            return self.minutes
        return self.by_severity.get(severity, self.minutes)  # type: ignore[arg-type]  # a str finds its StrEnum key


class FlappingRule(_Rule):
    """``raises`` or more raises of one fingerprint within ``window_minutes`` open one ticket
    marked flapping, even though each blip cleared inside the hold."""

    type: Literal["flapping"]
    raises: int = Field(3, ge=2)
    window_minutes: float = Field(60, gt=0)
    resolve_after_quiet_minutes: float = Field(60, ge=0)
    """A flapping ticket resolves only after every alert stayed clear this long (not the usual
    ``auto_resolve.clear_minutes``): a check that flaps again soon attaches instead of reopening."""

    kind: ClassVar[str] = "flapping"


class DedupRule(_Rule):
    """An open ticket of the same fingerprint (client + device + check) takes the alert: the
    ticket is updated (repeat count, last seen), never a second one opened."""

    type: Literal["dedup"]

    kind: ClassVar[str] = "placement"


class TopologyRule(_Rule):
    """When a network device of a site goes offline, offline alerts of other devices at that site
    raised within ±``window_minutes`` attach to its ticket instead of opening their own."""

    type: Literal["topology"]
    window_minutes: float = Field(10, gt=0)
    parent_device_types: list[DeviceType] = [DeviceType.network]
    checks: list[str] = ["device_offline"]

    kind: ClassVar[str] = "placement"


class StormRule(_Rule):
    """The same check raised on ``min_devices`` or more devices of one client within
    ``window_minutes`` becomes one ticket listing the devices; later devices attach to it."""

    type: Literal["storm"]
    min_devices: int = Field(5, ge=2)
    window_minutes: float = Field(15, gt=0)

    kind: ClassVar[str] = "placement"


class ReopenRule(_Rule):
    """A fingerprint that fires again within ``within_hours`` of its ticket closing reopens that
    ticket with an "Nth occurrence" note instead of opening a new one."""

    type: Literal["reopen"]
    within_hours: float = Field(24, gt=0)

    kind: ClassVar[str] = "placement"


class AutoResolveRule(_Rule):
    """When every alert of a ticket has cleared and stayed clear ``clear_minutes``, the ticket gets
    a note and moves to ``status`` — only if no person touched it (then it only gets the note)."""

    type: Literal["auto_resolve"]
    clear_minutes: float = Field(15, ge=0)
    status: Literal["resolved", "closed"] = "closed"
    only_if_untouched: bool = True

    kind: ClassVar[str] = "ticket"


class TwoWayRule(_Rule):
    """Closing the ticket in the PSA resolves its open alerts in the RMM."""

    type: Literal["two_way"]

    kind: ClassVar[str] = "ticket"


Rule = Annotated[
    SeverityRule | SourceMuteRule | MaintenanceRule | HoldRule | FlappingRule | DedupRule | TopologyRule
    | StormRule | ReopenRule | AutoResolveRule | TwoWayRule,
    Field(discriminator="type"),
]
_RULE = TypeAdapter(Rule)


def default_rules() -> list[Any]:
    """The built-in rule set: what an MSP gets with no ``rules:`` key."""
    return [
        _RULE.validate_python(r)
        for r in (
            {"id": "info-never-tickets", "type": "severity"},
            {"id": "source-mute", "type": "source_mute"},
            {"id": "hold", "type": "hold"},
            {"id": "flapping", "type": "flapping"},
            {"id": "dedup", "type": "dedup"},
            {"id": "topology", "type": "topology"},
            {"id": "storm", "type": "storm"},
            {"id": "reopen", "type": "reopen"},
            {"id": "auto-resolve", "type": "auto_resolve"},
            {"id": "two-way", "type": "two_way"},
        )
    ]


class ClientSettings(_Strict):
    """Settings of one client (the RMM's client id): its time zone and its own precedence."""

    client: str
    name: str = ""
    timezone: str | None = None
    precedence: list[str] | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return value if value is None else _zone(value)


class ExceptionDoc(_Strict):
    """A per-client exception: points at one rule id; disables it or changes its parameters."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)]
    description: str = ""
    clients: list[str] = Field(min_length=1)
    rule: str
    enabled: bool | None = None
    parameters: dict[str, Any] = {}


def _error(loc: tuple[Any, ...], message: str, value: Any) -> ValidationError:
    return ValidationError.from_exception_data(
        "NoiseConfig",
        [InitErrorDetails(type=PydanticCustomError("noise_config", message), loc=loc, input=value)],
    )


class NoiseConfig(_Strict):
    version: int = 2
    timezone: str = "UTC"
    """Default time zone of maintenance windows (a client's own ``timezone`` wins)."""
    rules: list[Rule] = Field(default_factory=default_rules)
    precedence: list[str] | None = None
    """Placement order for confirmed alerts; default: the placement rules in file order, then new-ticket."""
    clients: list[ClientSettings] = []
    exceptions: list[ExceptionDoc] = []

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _zone(value)

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        if isinstance(data, dict) and "resolve" in data:
            raise _error(("resolve",), "the resolve section is now the auto_resolve rule: write it under rules "
                                       "(type: auto_resolve, clear_minutes, status, only_if_untouched)", data["resolve"])
        return data

    @field_validator("rules", mode="wrap")
    @classmethod
    def _rule_errors(cls, value: Any, handler: Any) -> Any:
        """Report ``rules[2].minutes``, not pydantic's ``rules[2].hold.minutes`` (the type tag)."""
        try:
            return handler(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = list(first.get("loc", ()))
            if len(loc) >= 2 and isinstance(loc[0], int) and isinstance(value, list) and loc[0] < len(value):
                item = value[loc[0]]
                if isinstance(item, dict) and loc[1] == item.get("type"):
                    del loc[1]
            msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
            if first.get("type") in ("union_tag_invalid", "union_tag_not_found"):
                loc.append("type")
            raise _error(tuple(loc), msg, first.get("input")) from None

    # -- cross-references, checked at load ---------------------------------------------------------
    @model_validator(mode="after")
    def _references(self) -> NoiseConfig:
        by_id: dict[str, Any] = {}
        for i, rule in enumerate(self.rules):
            if rule.id in by_id or rule.id == NEW_TICKET:
                raise _error(("rules", i, "id"), f"duplicate rule id {rule.id!r}", rule.id)
            by_id[rule.id] = rule
        self._check_precedence(self.precedence, ("precedence",), by_id)
        seen_clients: set[str] = set()
        for i, c in enumerate(self.clients):
            if c.client in seen_clients:
                raise _error(("clients", i, "client"), f"client {c.client!r} is listed twice", c.client)
            seen_clients.add(c.client)
            self._check_precedence(c.precedence, ("clients", i, "precedence"), by_id)
        seen: set[str] = set()
        for i, ex in enumerate(self.exceptions):
            if ex.id in seen:
                raise _error(("exceptions", i, "id"), f"duplicate exception id {ex.id!r}", ex.id)
            seen.add(ex.id)
            target = by_id.get(ex.rule)
            if target is None:
                known = ", ".join(sorted(by_id)) or "none"
                raise _error(("exceptions", i, "rule"), f"unknown rule {ex.rule!r} (rules: {known})", ex.rule)
            for key in ("id", "type"):
                if key in ex.parameters:
                    raise _error(("exceptions", i, "parameters", key), f"an exception cannot change a rule's {key}",
                                 ex.parameters[key])
            try:
                _RULE.validate_python({**target.model_dump(), **ex.parameters})
            except ValidationError as exc:
                first = exc.errors()[0]
                loc = [p for p in first.get("loc", ()) if p != target.type]
                msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
                raise _error(("exceptions", i, "parameters", *loc), msg, first.get("input")) from None
        return self

    @staticmethod
    def _check_precedence(order: list[str] | None, loc: tuple[Any, ...], by_id: dict[str, Any]) -> None:
        if order is None:
            return
        for j, name in enumerate(order):
            if name == NEW_TICKET:
                if j != len(order) - 1:
                    raise _error((*loc, j), f"{NEW_TICKET} must be the last step", name)
                continue
            rule = by_id.get(name)
            if rule is None:
                raise _error((*loc, j), f"unknown rule {name!r}", name)
            if rule.type not in PLACEMENT_TYPES:
                raise _error((*loc, j), f"rule {name!r} ({rule.type}) does not place alerts; precedence lists "
                                        f"rules of type {', '.join(PLACEMENT_TYPES)} and {NEW_TICKET}", name)
            if name in order[:j]:
                raise _error((*loc, j), f"rule {name!r} is listed twice", name)

    # -- the effective policy of one client ---------------------------------------------------------
    def rules_for(self, client: str) -> list[Any]:
        """Rule instances as they apply to ``client``: exceptions applied, disabled ones left out."""
        out = []
        for rule in self.rules:
            r = rule
            for ex in self.exceptions:
                if ex.rule == rule.id and client in ex.clients:
                    data = {**r.model_dump(), **ex.parameters}
                    if ex.enabled is not None:
                        data["enabled"] = ex.enabled
                    r = _RULE.validate_python(data)
            if r.enabled and (not r.match.clients or client in r.match.clients):
                out.append(r)
        return out

    def client_settings(self, client: str) -> ClientSettings | None:
        for c in self.clients:
            if c.client == client:
                return c
        return None

    def precedence_for(self, client: str) -> list[str]:
        c = self.client_settings(client)
        order = (c.precedence if c and c.precedence is not None else None) or self.precedence
        if order is None:
            order = [r.id for r in self.rules if r.type in PLACEMENT_TYPES]
        return [*[o for o in order if o != NEW_TICKET], NEW_TICKET]

    def timezone_for(self, client: str) -> str:
        c = self.client_settings(client)
        return (c.timezone if c and c.timezone else None) or self.timezone

    def has_exceptions(self, client: str) -> bool:
        return any(client in ex.clients for ex in self.exceptions) or self.client_settings(client) is not None



class TicketsConfig(_Strict):
    title: str = "{severity_label}: {check_label} on {device_name} ({client_name})"
    """Ticket title; fields: severity_label, check, check_label, device_name, client_name, site_name."""
    priority_by_severity: dict[Severity, int] = Field(
        default_factory=lambda: {
            Severity.critical: 1,
            Severity.high: 2,
            Severity.moderate: 3,
            Severity.low: 4,
            Severity.info: 4,
        }
    )
    check_labels: dict[str, str] = Field(default_factory=dict)
    """Readable names of check ids (``device_offline: Device offline``)."""
    explain_note: bool = True
    """Post one note at open saying why the ticket exists (updated as alerts attach)."""
    note_visibility: Literal["internal", "client"] = "internal"
