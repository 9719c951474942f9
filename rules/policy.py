"""A client's rules, compiled: exceptions applied, matchers built, precedence resolved."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rules.config import DAYS, NEW_TICKET, Match, NoiseConfig
from rules.state import AlertRec

__all__ = ["Policy", "describe_window"]


class _Checks:
    """Check patterns: exact ids (which also match their ``id:detail`` refinements) and globs."""

    __slots__ = ("exact", "regex")

    def __init__(self, patterns: Iterable[str]) -> None:
        exact, globs = set(), []
        for p in patterns:
            if any(ch in p for ch in "*?["):
                globs.append(fnmatch.translate(p))
            else:
                exact.add(p)
        self.exact = frozenset(exact)
        self.regex = re.compile("|".join(globs)) if globs else None

    def __call__(self, check: str) -> bool:
        if check in self.exact or check.partition(":")[0] in self.exact:
            return True
        return bool(self.regex and self.regex.match(check))


class _Matcher:
    __slots__ = ("any", "checks", "device_types", "devices", "severities", "sites")

    def __init__(self, m: Match) -> None:
        self.sites = frozenset(m.sites)
        self.devices = frozenset(m.devices)
        self.device_types = frozenset(t.value for t in m.device_types)
        self.severities = frozenset(s.value for s in m.severities)
        self.checks = _Checks(m.checks) if m.checks else None
        self.any = not (self.sites or self.devices or self.device_types or self.severities or self.checks)

    def __call__(self, rec: AlertRec) -> bool:
        if self.any:
            return True
        return (
            (not self.sites or rec.site in self.sites)
            and (not self.devices or rec.device in self.devices)
            and (not self.device_types or rec.device_type in self.device_types)
            and (not self.severities or rec.severity in self.severities)
            and (self.checks is None or self.checks(rec.check))
        )


class Policy:
    """The rules of one client, compiled: exceptions applied, matchers built, precedence resolved."""

    def __init__(self, noise: NoiseConfig, client: str) -> None:
        rules = noise.rules_for(client)
        self.rules = {r.id: r for r in rules}
        self.match = {r.id: _Matcher(r.match) for r in rules}
        self.filters = [r for r in rules if r.type in ("severity", "source_mute", "maintenance")]
        self.severity_sets = {r.id: frozenset(s.value for s in r.severities) for r in rules if r.type == "severity"}
        self.maintenance = [r for r in rules if r.type == "maintenance"]
        self.holds = [r for r in rules if r.type == "hold"]
        self.flapping = [r for r in rules if r.type == "flapping"]
        self.auto = [r for r in rules if r.type == "auto_resolve"]
        self.two_way = [r for r in rules if r.type == "two_way"]
        self.topology_checks = {r.id: _Checks(r.checks) for r in rules if r.type == "topology"}
        self.placement: list[Any] = []
        for name in noise.precedence_for(client):
            if name == NEW_TICKET:
                self.placement.append(None)
            elif name in self.rules:  # a rule disabled for this client drops out of its precedence
                self.placement.append(self.rules[name])
        self.dedup = any(r is not None and r.type == "dedup" for r in self.placement)
        self.dedup_id = next((r.id for r in self.placement if r is not None and r.type == "dedup"), "dedup")
        self.reopen_hours = max((r.within_hours for r in self.placement if r is not None and r.type == "reopen"),
                                default=0.0)
        self.tz = ZoneInfo(noise.timezone_for(client))
        self.zones = {r.id: ZoneInfo(r.timezone) if r.timezone else self.tz for r in self.maintenance}

    def first(self, rules: list[Any], rec: AlertRec) -> Any:
        match = self.match
        for r in rules:
            m = match[r.id]
            if m.any or m(rec):
                return r
        return None

    def hold_minutes(self, rec: AlertRec) -> tuple[float, Any]:
        rule = self.first(self.holds, rec)
        return (rule.minutes_for(rec.severity), rule) if rule is not None else (0.0, None)

    def window_end(self, rule: Any, at: datetime) -> datetime | None:
        """The end of ``rule``'s maintenance window if ``at`` is inside it, else None."""
        tz = self.zones[rule.id]
        if rule.once is not None:
            start = rule.once.start if rule.once.start.tzinfo else rule.once.start.replace(tzinfo=tz)
            end = rule.once.end if rule.once.end.tzinfo else rule.once.end.replace(tzinfo=tz)
            return end.astimezone(UTC) if start <= at < end else None
        w = rule.weekly
        local = at.astimezone(tz)
        t = local.time().replace(tzinfo=None)
        day = DAYS[local.weekday()]
        overnight = w.end <= w.start
        if day in w.days and t >= w.start and (overnight or t < w.end):
            end_date = local.date() + timedelta(days=1 if overnight else 0)
            return datetime.combine(end_date, w.end, tzinfo=tz).astimezone(UTC)
        if overnight and t < w.end and DAYS[(local.weekday() - 1) % 7] in w.days:
            return datetime.combine(local.date(), w.end, tzinfo=tz).astimezone(UTC)
        return None


def describe_window(rule: Any, tz: str) -> str:
    if rule.once is not None:
        return f"{rule.once.start:%Y-%m-%d %H:%M}–{rule.once.end:%Y-%m-%d %H:%M} {tz}"
    w = rule.weekly
    days = ",".join(d.capitalize() for d in w.days)
    return f"{days} {w.start:%H:%M}–{w.end:%H:%M} {tz}"


