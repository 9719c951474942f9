"""Replay and backtest: the live service's rules engine on virtual time, states in memory.

``switchboard replay`` feeds an alert stream through the very same :class:`rules.engine.Engine`
the live service runs (same policy, same timers), one :class:`~rules.engine.ClientState` per client
kept in memory, time taken from the events. Nothing is written to a PSA, a database or Redis.
Memory stays flat: the engine forgets an alert once its outcome is final, and that outcome is
written out there and then.

Input formats
    Canonical (default): JSON Lines, one alert event per line, sorted by time::

        {"id": "ev-1", "alert_id": "a-17", "source": "datto-rmm", "kind": "raised",
         "at": "2026-11-02T09:00:00Z", "client": "c1", "site": "s1", "device": "d1",
         "device_type": "server", "check": "disk_usage:C:", "severity": "high",
         "message": "Disk C: 3% free", "muted": false}

    (optional: ``client_name``, ``site_name``, ``device_name``; unknown keys are ignored and
    counted). A raise may repeat for the same ``alert_id`` while it is open.

    Vendor-native (``--source datto-rmm``, and any RMM registered with a ``native_events``
    function): JSON Lines, one vendor alert record per line *as the vendor's API returns it*
    (Datto: an ``Alert`` of ``GET /v2/account/alerts/open|resolved``), in the order the alerts
    were raised. A resolved record stands for its raise and its clear; the clear is replayed at
    its own time. The same alert seen twice (open, then resolved) is one alert. ``--devices FILE``
    adds the vendor's device records (one per line, or a JSON array / API page) for device types,
    which topology correlation needs.

Bad lines never stop a replay and never vanish: each is counted and listed with its line
number and reason (``rejected`` in the summary).

Outcomes (``--outcomes OUT.jsonl``): one line per alert, written when its fate is final::

    {"alert_id": "a-17", "ticket": "sb-…-n3" | null, "rule": "hold", "reason": "cleared after …"}
"""

from __future__ import annotations

import heapq
import importlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import IO, Any

from pydantic import ValidationError

from config.loader import load_all
from connectors.canonical import AlertEvent, DeviceType
from rules.config import NoiseConfig, TicketsConfig
from rules.engine import ClientState, Engine
from rules.state import CLOSED, PENDING, TICKETED

__all__ = [
    "NATIVE_SOURCES",
    "Funnel",
    "ReplayError",
    "native_module",
    "read_canonical",
    "read_native",
    "replay",
    "replay_file",
    "write_events",
]

NATIVE_SOURCES: dict[str, str] = {
    "datto-rmm": "connectors.datto_rmm",
}
"""Vendor name -> module with ``native_events(record) -> list[AlertEvent]`` (and optionally
``native_device(record) -> Device``). An RMM in ``connectors.registry.VENDORS`` whose module has
``native_events`` is found without an entry here."""

MAX_LISTED = 100
"""Rejected lines listed in the summary (all are counted)."""


class ReplayError(Exception):
    """The replay cannot start (no such file, unknown source): one line for the user."""


@dataclass
class Rejected:
    line: int
    reason: str


@dataclass
class Funnel:
    """What a stream did under one configuration, next to the plain baseline (one ticket per alert)."""

    config: str = "defaults"
    events: int = 0
    alerts: int = 0
    tickets_opened: int = 0
    tickets_reopened: int = 0
    ticket_updates: int = 0
    tickets_resolved: int = 0
    tickets_open_at_end: int = 0
    alerts_with_ticket: int = 0
    alerts_without_ticket: int = 0
    suppressed_by_rule: Counter[str] = field(default_factory=Counter)
    placed_by_rule: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    rejected_lines: list[Rejected] = field(default_factory=list)
    ignored_keys: set[str] = field(default_factory=set)
    peak_open_alerts: int = 0
    peak_open_tickets: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    seconds: float = 0.0

    def reject(self, line: int, reason: str) -> None:
        self.rejected += 1
        if len(self.rejected_lines) < MAX_LISTED:
            self.rejected_lines.append(Rejected(line, reason))

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "events": self.events,
            "alerts": self.alerts,
            "baseline_tickets": self.alerts,
            "tickets": {
                "opened": self.tickets_opened,
                "reopened": self.tickets_reopened,
                "updated": self.ticket_updates,
                "closed": self.tickets_resolved,
                "open_at_end": self.tickets_open_at_end,
            },
            "alerts_with_ticket": self.alerts_with_ticket,
            "alerts_without_ticket": self.alerts_without_ticket,
            "suppressed_by_rule": dict(sorted(self.suppressed_by_rule.items())),
            "placed_by_rule": dict(sorted(self.placed_by_rule.items())),
            "reduction": round(1 - self.tickets_opened / self.alerts, 4) if self.alerts else 0.0,
            "rejected": self.rejected,
            "rejected_lines": [{"line": r.line, "reason": r.reason} for r in self.rejected_lines],
            "ignored_keys": sorted(self.ignored_keys),
            "state": {"peak_open_alerts": self.peak_open_alerts, "peak_open_tickets": self.peak_open_tickets},
            "from": self.first_at.isoformat() if self.first_at else None,
            "until": self.last_at.isoformat() if self.last_at else None,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events / self.seconds) if self.seconds else None,
        }


# -- reading ---------------------------------------------------------------------------------------

_FIELDS = set(AlertEvent.model_fields)


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "line"
    return f"{where}: {first.get('msg', 'invalid')}"


def read_canonical(lines: Iterable[str], funnel: Funnel) -> Iterator[AlertEvent]:
    """Canonical JSON Lines -> events, in order; bad or out-of-order lines are rejected, not fatal."""
    last: datetime | None = None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        event: AlertEvent | None = None
        try:
            event = AlertEvent.model_validate_json(line)
        except ValidationError as exc:
            if all(e["type"] == "extra_forbidden" for e in exc.errors()):
                try:
                    data = json.loads(line)
                    funnel.ignored_keys.update(k for k in data if k not in _FIELDS)
                    event = AlertEvent.model_validate({k: v for k, v in data.items() if k in _FIELDS})
                except (ValueError, ValidationError) as again:
                    funnel.reject(n, _reason(again) if isinstance(again, ValidationError) else "not valid JSON")
                    continue
            else:
                funnel.reject(n, "not valid JSON" if exc.errors()[0]["type"] == "json_invalid" else _reason(exc))
                continue
        assert event is not None
        if last is not None and event.at < last:
            funnel.reject(n, f"at {event.at.isoformat()} is before the previous event ({last.isoformat()}): "
                             "events must be sorted by time")
            continue
        last = event.at
        yield event


def native_module(name: str) -> ModuleType:
    """The module that reads vendor ``name``'s native alert records."""
    spec = NATIVE_SOURCES.get(name)
    if spec is None:
        from connectors import registry

        try:
            info = registry.get(name)
        except KeyError as exc:
            raise ReplayError(str(exc.args[0])) from None
        if info.kind != "rmm":
            raise ReplayError(f"{name} is a {info.kind}, not an RMM: it has no alert records to replay")
        spec = info.client.partition(":")[0]
    module = importlib.import_module(spec)
    if not hasattr(module, "native_events"):
        raise ReplayError(f"{name} cannot read its native alert records yet (no native_events in {spec})")
    return module


def _records(path: Path) -> Iterator[tuple[int, Any]]:
    """JSON Lines, or one JSON array, or an API page ``{"devices": [...]}``-style object."""
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        yield from enumerate(json.loads(stripped), 1)
        return
    if stripped.startswith("{") and "\n{" not in stripped.strip():
        body = json.loads(stripped)
        lists = [v for v in body.values() if isinstance(v, list)] if isinstance(body, dict) else []
        yield from enumerate(lists[0] if lists else [body], 1)
        return
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield n, json.loads(line)


def device_types(module: ModuleType, path: Path) -> dict[str, DeviceType]:
    """Device id -> type from the vendor's device records (``--devices``)."""
    reader = getattr(module, "native_device", None)
    if reader is None:
        raise ReplayError(f"{module.__name__} cannot read device records (no native_device)")
    out: dict[str, DeviceType] = {}
    try:
        for n, record in _records(path):
            try:
                device = reader(record)
            except ValidationError as exc:
                raise ReplayError(f"{path}: record {n}: {_reason(exc)}") from None
            out[device.ref.id] = device.device_type
    except json.JSONDecodeError as exc:
        raise ReplayError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    return out


def read_native(lines: Iterable[str], module: ModuleType, funnel: Funnel,
                types: dict[str, DeviceType] | None = None) -> Iterator[AlertEvent]:
    """Vendor-native alert records -> canonical events in time order (clears at their own time)."""
    later: list[tuple[datetime, int, AlertEvent]] = []
    seq = 0
    last: datetime | None = None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            events = module.native_events(json.loads(line))
        except ValueError as exc:  # json.JSONDecodeError and pydantic.ValidationError are ValueErrors
            funnel.reject(n, _reason(exc) if isinstance(exc, ValidationError) else "not valid JSON")
            continue
        if not events:
            continue
        if types:
            events = [e.model_copy(update={"device_type": types[e.device]}) if e.device in types else e for e in events]
        first = min(e.at for e in events)
        if last is not None and first < last:
            funnel.reject(n, f"raised {first.isoformat()}, before the previous record ({last.isoformat()}): "
                             "records must be in the order the alerts were raised")
            continue
        while later and later[0][0] <= first:
            yield heapq.heappop(later)[2]
        last = first
        for e in events:
            if e.at <= first:
                yield e
            else:
                seq += 1
                heapq.heappush(later, (e.at, seq, e))
    while later:
        yield heapq.heappop(later)[2]


# -- replaying --------------------------------------------------------------------------------------


def _final(rec: Any) -> tuple[str | None, str, str]:
    if rec.status in (TICKETED, CLOSED) and rec.ticket:
        return rec.ticket, rec.rule, rec.reason
    reason = rec.reason + (" (the stream ended before it was decided)" if rec.status in PENDING else "")
    return None, rec.rule, reason


def replay(
    events: Iterable[AlertEvent],
    engine: Engine,
    *,
    funnel: Funnel | None = None,
    outcome: Callable[[str, str | None, str, str], None] | None = None,
    until: datetime | None = None,
) -> Funnel:
    """Run ``events`` through ``engine`` on virtual time; ``outcome(alert_id, ticket, rule, reason)``
    is called once per alert when its outcome is final (at the latest, at the end)."""
    funnel = funnel or Funnel()
    states: dict[str, ClientState] = {}
    decisions: Counter[str] = Counter()
    alerts_open = tickets_open = 0
    started = time.perf_counter()

    def settle(state: ClientState) -> None:
        for alert_id, ticket, rule, reason in state.drain_finished():
            funnel.alerts += 1
            if ticket:
                funnel.alerts_with_ticket += 1
            else:
                funnel.alerts_without_ticket += 1
                funnel.suppressed_by_rule[rule] += 1
            if outcome is not None:
                outcome(alert_id, ticket, rule, reason)

    last: datetime | None = None
    for event in events:
        state = states.get(event.client)
        if state is None:
            state = states[event.client] = ClientState(event.client)
        before_a, before_t = len(state.alerts), len(state.tickets)
        heap, chores, at = state._heap, state._chores, event.at
        if (heap and heap[0][0] <= at) or (chores and chores[0][0] <= at):
            for d in engine.on_tick(state, at):
                decisions[d.kind] += 1
                if d.kind in ("open", "attach", "reopen"):
                    funnel.placed_by_rule[d.rule] += 1
        for d in engine.on_event(state, event):
            decisions[d.kind] += 1
            if d.kind in ("open", "attach", "reopen"):
                funnel.placed_by_rule[d.rule] += 1
        if state.finished:
            settle(state)
        alerts_open += len(state.alerts) - before_a
        tickets_open += len(state.tickets) - before_t
        if alerts_open > funnel.peak_open_alerts:
            funnel.peak_open_alerts = alerts_open
        if tickets_open > funnel.peak_open_tickets:
            funnel.peak_open_tickets = tickets_open
        funnel.events += 1
        if funnel.first_at is None:
            funnel.first_at = event.at
        last = event.at
    end = until or last
    for state in states.values():
        if end is not None:
            for d in engine.on_tick(state, end):
                decisions[d.kind] += 1
                if d.kind in ("open", "attach", "reopen"):
                    funnel.placed_by_rule[d.rule] += 1
        for rec in list(state.alerts.values()):
            state.finished.append((rec.alert_id, *_final(rec)))
        state.alerts.clear()
        settle(state)
        funnel.tickets_open_at_end += len(state.tickets)
    funnel.last_at = end
    funnel.tickets_opened = decisions["open"]
    funnel.tickets_reopened = decisions["reopen"]
    funnel.ticket_updates = decisions["attach"] + decisions["repeat"] + decisions["retitle"]
    funnel.tickets_resolved = decisions["resolve"]
    funnel.seconds = time.perf_counter() - started
    return funnel


def engine_for(config_dir: Path | str | None) -> Engine:
    """The engine the live service would build from ``config_dir`` (validated the same way)."""
    configs = load_all(config_dir)
    noise, tickets = configs["noise.yaml"], configs["tickets.yaml"]
    assert isinstance(noise, NoiseConfig) and isinstance(tickets, TicketsConfig)
    return Engine(noise, tickets)


def _open_text(path: Path) -> IO[str]:
    try:
        return path.open(encoding="utf-8")
    except FileNotFoundError:
        raise ReplayError(f"{path}: no such file") from None
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read ({exc.strerror})") from None


def replay_file(
    path: Path,
    *,
    config_dir: Path | str | None = None,
    outcomes: Path | None = None,
    source: str | None = None,
    devices: Path | None = None,
    until: datetime | None = None,
) -> Funnel:
    """``switchboard replay``: read ``path``, replay it, write outcomes; returns the funnel."""
    engine = engine_for(config_dir)
    module = native_module(source) if source else None
    if devices is not None and module is None:
        raise ReplayError("--devices goes with --source (canonical events carry device_type themselves)")
    types = device_types(module, devices) if module is not None and devices is not None else None
    funnel = Funnel(config=str(config_dir) if config_dir else "defaults")
    out: IO[str] | None = None
    try:
        if outcomes is not None:
            try:
                out = outcomes.open("w", encoding="utf-8")
            except OSError as exc:
                raise ReplayError(f"{outcomes}: cannot write ({exc.strerror})") from None
        write = out.write if out is not None else None
        dumps = json.JSONEncoder(ensure_ascii=False).encode

        def outcome(alert_id: str, ticket: str | None, rule: str, reason: str) -> None:
            if write is not None:
                write(dumps({"alert_id": alert_id, "ticket": ticket, "rule": rule, "reason": reason}) + "\n")

        with _open_text(path) as lines:
            events = read_native(lines, module, funnel, types) if module is not None else read_canonical(lines, funnel)
            replay(events, engine, funnel=funnel, outcome=outcome if out is not None else None, until=until)
    finally:
        if out is not None:
            out.close()
    return funnel


def write_events(events: Iterable[AlertEvent], path: Path) -> int:
    """Write canonical JSON Lines (the replay's input format); returns the number of events."""
    n = 0
    with path.open("w", encoding="utf-8") as out:
        for e in events:
            out.write(e.model_dump_json(exclude={"refs"}) + "\n")
            n += 1
    return n
