"""The alert rules engine: canonical alert events in, decisions out.

The engine is pure: it reads and changes a :class:`ClientState` (one per client, everything its
rules need) and takes ``now`` as an argument. The live service loads a client's state from the
database, feeds it the client's new events, saves it with the resulting actions in one
transaction; ``switchboard replay`` runs the very same code on virtual time with the states kept
in memory. State is bounded by open alerts and tickets: a cleared alert leaves it once its ticket
resolves (or the flapping window has passed), a closed ticket once the reopen window has passed.

How an alert goes (rule ids are those of the default ``noise.yaml``)::

    raised ──> filters:  info-never-tickets, source-mute, maintenance    ──> suppress (or wait
      │                                                                       for the window's end)
      ├──> dedup at raise: an open ticket of the fingerprint takes it     ──> attach (no hold)
      ├──> flapping: Nth raise of the fingerprint within the window       ──> open, marked flapping
      └──> hold N min ──(cleared inside: suppress)──> confirmed ──> precedence:
               dedup ─> topology ─> storm ─> reopen ─> new-ticket      (changeable per client)

    ticket: every attached alert cleared and stayed clear N min ──> resolve (note + status,
            only if untouched — the outbox checks); closed in the PSA ──> two-way resolve_alert

Decisions (``Decision.kind``)::

    open         open a ticket for an alert             (data: title fields, ticket kind, …)
    attach       an alert joins an existing ticket
    repeat       an open alert fired again               (ticket's repeat count / last seen)
    reopen       a closed ticket of the fingerprint is reopened ("Nth occurrence")
    retitle      a ticket becomes the ticket of a storm (new title)
    hold         the alert waits (hold, maintenance window, topology parent, storm forming)
    suppress     the alert needs no ticket (rule says why)
    clear        an attached alert cleared
    resolve      every alert of a ticket cleared and stayed clear: note + resolved status
    closed       the ticket was closed in the PSA by a person
    resolve_alert  two-way: resolve the alert in the RMM because its ticket was closed
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from connectors.canonical import AlertEvent, DeviceType, Severity
from rules.config import NEW_TICKET, NoiseConfig, TicketsConfig
from rules.policy import Policy, describe_window
from rules.state import (
    CLEARED,
    CLOSED,
    HELD,
    MAINTENANCE,
    PENDING,
    SUPPRESSED,
    TICKETED,
    WAITING,
    AlertRec,
    ClientState,
    Decision,
    StormGroup,
    TicketRec,
    ticket_key,
)

__all__ = ["AlertRec", "ClientState", "Decision", "Engine", "Policy", "TicketRec", "ticket_key"]


_AFTER = timedelta(microseconds=1)
_SEVERITY = {s: s.value for s in Severity}
_DEVICE_TYPE = {t: t.value for t in DeviceType}


def _minutes(delta: timedelta) -> str:
    m = delta.total_seconds() / 60
    return f"{m:.1f} min" if m < 100 else f"{m / 60:.1f} h"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class Engine:
    """Pure decisions over one client's state; see the module docstring for the flow."""

    def __init__(self, noise: NoiseConfig, tickets: TicketsConfig) -> None:
        self.noise = noise
        self.tickets_cfg = tickets
        self._policies: dict[str, Policy] = {}

    def policy(self, client: str) -> Policy:
        p = self._policies.get(client)
        if p is None:
            p = self._policies[client] = Policy(self.noise, client)
        return p

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

    @staticmethod
    def _seen(rec: AlertRec, event: AlertEvent) -> bool:
        """The same event delivered again (a webhook and the poll, a retried batch)?"""
        ids = rec.last_event_ids
        if event.id in ids:
            return True
        ids.append(event.id)
        if len(ids) > 4:
            del ids[0]
        return False

    def _finish(self, state: ClientState, rec: AlertRec) -> None:
        state.alerts.pop(rec.alert_id, None)
        state.finished.append((rec.alert_id, rec.ticket, rec.rule, rec.reason))

    def _d(self, state: ClientState, kind: str, rule: str, reason: str, at: datetime, rec: AlertRec | None = None,
           ticket: str | None = None, data: dict[str, Any] | None = None) -> Decision:
        return Decision(kind, rule, reason, at, state.client, rec.alert_id if rec else None,
                        rec.fingerprint if rec else None, ticket, data if data is not None else {})

    def _raised(self, state: ClientState, event: AlertEvent) -> list[Decision]:
        rec = state.alerts.get(event.alert_id)
        if rec is not None:
            if self._seen(rec, event):
                return []
            if rec.is_open:
                return self._repeat(state, rec, event)
            # the same alert id raised again after it cleared: a new instance of it
            ticket = state.tickets.get(rec.ticket) if rec.ticket else None
            if ticket is not None:
                rec.resolved_at = None
                ticket.cleared_at = ticket.resolve_due = None
                return self._repeat(state, rec, event)
            self._finish(state, rec)
        at = event.at
        rec = AlertRec(
            event.alert_id, event.source, f"{event.client}|{event.device}|{event.check}", event.check,
            event.device, event.device_name or event.device, _DEVICE_TYPE[event.device_type], event.site,
            _SEVERITY[event.severity], event.message, at, event.site_name, event.client_name or event.client,
            last_event_ids=[event.id],
        )
        state.alerts[rec.alert_id] = rec
        pol = self.policy(state.client)

        # 1. filters: severity, source mute, maintenance windows (in file order)
        for r in pol.filters:
            m = pol.match[r.id]
            if not (m.any or m(rec)):
                continue
            if r.type == "severity":
                if rec.severity in pol.severity_sets[r.id]:
                    return [self._suppress(state, rec, at, r.id, f"severity {rec.severity} never opens a ticket")]
            elif r.type == "source_mute":
                if event.muted:
                    return [self._suppress(state, rec, at, r.id, "muted at the source (in the RMM)")]
            else:
                end = pol.window_end(r, at)
                if end is not None:
                    rec.status, rec.due, rec.rule = MAINTENANCE, end, r.id
                    rec.reason = (f"raised during maintenance window {r.id} "
                                  f"({describe_window(r, str(pol.zones[r.id]))}); no ticket while it lasts")
                    state.push(end, "alert", rec.alert_id)
                    return [self._d(state, "hold", r.id, rec.reason, at, rec)]

        # 2. an open ticket of the fingerprint takes the alert at once (an update, not a ticket)
        if pol.dedup:
            key = state.open_by_fingerprint.get(rec.fingerprint)
            if key is not None and key in state.tickets:
                return [self._attach(state, rec, key, at, pol.dedup_id,
                                     "an open ticket already covers this client, device and check")]

        # 3. flapping: counted over raises that passed the filters
        flap = pol.first(pol.flapping, rec)
        if flap is not None:
            out = self._flapping(state, rec, at, flap)
            if out:
                return out

        return self._hold(state, rec, at, pol)

    def _repeat(self, state: ClientState, rec: AlertRec, event: AlertEvent) -> list[Decision]:
        rec.repeats += 1
        ticket = state.tickets.get(rec.ticket) if rec.ticket and rec.status == TICKETED else None
        if ticket is None:
            return []
        ticket.repeats += 1
        ticket.revision += 1
        ticket.last_seen = event.at
        return [self._d(state, "repeat", self.policy(state.client).dedup_id,
                        f"alert fired again ({rec.repeats + 1} times)", event.at, rec, ticket.key,
                        {"repeats": ticket.repeats})]

    def _suppress(self, state: ClientState, rec: AlertRec, at: datetime, rule: str, reason: str) -> Decision:
        rec.status, rec.rule, rec.reason, rec.due = SUPPRESSED, rule, reason, None
        return self._d(state, "suppress", rule, reason, at, rec)

    def _hold(self, state: ClientState, rec: AlertRec, at: datetime, pol: Policy) -> list[Decision]:
        minutes, rule = pol.hold_minutes(rec)
        if minutes <= 0:
            return self._place(state, rec, at, 0)
        rec.status, rec.due, rec.rule = HELD, at + timedelta(minutes=minutes), rule.id
        rec.reason = f"waiting {minutes:g} min before opening a ticket: alerts that clear by then need none"
        state.push(rec.due, "alert", rec.alert_id)
        return [self._d(state, "hold", rule.id, rec.reason, at, rec)]

    # -- flapping ---------------------------------------------------------------------------------
    def _flapping(self, state: ClientState, rec: AlertRec, at: datetime, rule: Any) -> list[Decision]:
        fp = rec.fingerprint
        window = timedelta(minutes=rule.window_minutes)
        entry = state.flaps.get(fp)
        old_head = entry[1][0] if entry and entry[1] else None
        items = [(a, t) for a, t in entry[1] if t > at - window] if entry else []
        items.append((rec.alert_id, at))
        state.flaps[fp] = (rule.window_minutes, items)
        if items[0] != old_head:
            state.push(items[0][1] + window, "flap", fp)
        if len(items) < rule.raises:
            return []
        del state.flaps[fp]
        span = at - items[0][1]
        reason = (f"flapping: raised {len(items)} times in {_minutes(span)} "
                  f"({rule.raises} or more within {rule.window_minutes:g} min open one ticket)")
        pol = self.policy(state.client)
        reopen = next((r for r in pol.placement if r is not None and r.type == "reopen" and pol.match[r.id](rec)), None)
        out = self._reopen(state, rec, at, reopen) if reopen is not None else None
        if out:
            ticket = state.tickets[out[0].ticket or ""]
            ticket.reason = reason
        else:
            first = state.alerts.get(items[0][0]) or rec
            out = [self._open(state, first, at, rule.id, reason, "flapping")]
            ticket = state.tickets[out[0].ticket or ""]
        ticket.kind = "flapping"
        ticket.quiet_minutes = rule.resolve_after_quiet_minutes
        for alert_id, _t in items:
            other = state.alerts.get(alert_id)
            if other is None or (other.status == TICKETED and other.ticket == ticket.key):
                continue
            if other.status == TICKETED:
                continue  # it belongs to another ticket already
            out.append(self._attach(state, other, ticket.key, at, rule.id, "one of the raises of a flapping check"))
        return out

    # -- placement: where a confirmed alert goes ------------------------------------------------------
    def _place(self, state: ClientState, rec: AlertRec, at: datetime, start: int) -> list[Decision]:
        pol = self.policy(state.client)
        steps = pol.placement
        for i in range(start, len(steps)):
            rule = steps[i]
            if rule is None:
                minutes, _ = pol.hold_minutes(rec)
                reason = (f"still unresolved {_minutes(at - rec.raised_at)} after it was raised"
                          if minutes > 0 else "no rule holds or groups it")
                return [self._open(state, rec, at, NEW_TICKET, reason, "alert")]
            if not pol.match[rule.id](rec):
                continue
            t = rule.type
            if t == "dedup":
                key = state.open_by_fingerprint.get(rec.fingerprint)
                if key is not None and key in state.tickets:
                    return [self._attach(state, rec, key, at, rule.id,
                                         "an open ticket already covers this client, device and check")]
            elif t == "topology":
                if pol.topology_checks[rule.id](rec.check):
                    out = self._topology(state, rec, at, rule, i, pol)
                    if out is not None:
                        return out
            elif t == "storm":
                out = self._storm(state, rec, at, rule, i)
                if out is not None:
                    return out
            elif t == "reopen":
                out = self._reopen(state, rec, at, rule)
                if out is not None:
                    return out
        return [self._open(state, rec, at, NEW_TICKET, "no rule groups it", "alert")]  # precedence without new-ticket

    def _topology(self, state: ClientState, rec: AlertRec, at: datetime, rule: Any, step: int,
                  pol: Policy) -> list[Decision] | None:
        if not rec.site:
            return None
        window = timedelta(minutes=rule.window_minutes)
        parents = {t.value for t in rule.parent_device_types}
        checks = pol.topology_checks[rule.id]
        is_parent = rec.device_type in parents
        me = (rec.raised_at, rec.alert_id)
        ticketed: AlertRec | None = None
        pending: AlertRec | None = None
        children = 0
        for other in state.alerts.values():
            if other is rec or other.site != rec.site or other.device == rec.device or not checks(other.check):
                continue
            if abs(other.raised_at - rec.raised_at) > window:
                continue
            if other.device_type in parents and (not is_parent or (other.raised_at, other.alert_id) < me):
                if other.status == TICKETED and other.ticket in state.tickets:
                    if ticketed is None or other.raised_at < ticketed.raised_at:
                        ticketed = other
                elif other.status in PENDING and other.is_open and (pending is None or other.raised_at < pending.raised_at):
                    pending = other
            elif is_parent and other.is_open and other.status in PENDING:
                children += 1
        if ticketed is not None:
            return [self._attach(
                state, rec, ticketed.ticket or "", at, rule.id,
                f"{ticketed.device_name} ({ticketed.device_type}) at the same site went offline at "
                f"{ticketed.raised_at:%H:%M} UTC; offline alerts within ±{rule.window_minutes:g} min join its ticket",
            )]
        if pending is not None and pending.due is not None:
            waiting_on = f"alert:{pending.alert_id}"
            first_wait = rec.status != WAITING or rec.waiting_on != waiting_on
            # the parent decides at its due time; if that is now, look again just after it did
            due = pending.due if pending.due > at else at + _AFTER
            rec.status, rec.due, rec.resume, rec.waiting_on, rec.rule = WAITING, due, step, waiting_on, rule.id
            rec.reason = (f"waiting for {pending.device_name} ({pending.device_type}, same site) whose offline alert "
                          "is not confirmed yet: if it is, this alert joins its ticket")
            state.push(rec.due, "alert", rec.alert_id)
            return [self._d(state, "hold", rule.id, rec.reason, at, rec)] if first_wait else []
        if is_parent and children:
            reason = (f"site outage: {rec.device_name} ({rec.device_type}) is offline and {children} other "
                      f"device(s) at {rec.site_name or rec.site} went offline within ±{rule.window_minutes:g} min")
            return [self._open(state, rec, at, rule.id, reason, "outage")]
        return None

    def _storm(self, state: ClientState, rec: AlertRec, at: datetime, rule: Any, step: int) -> list[Decision] | None:
        gkey = f"{rule.id}|{rec.check}"
        key = state.storm_tickets.get(gkey)
        if key is not None and key in state.tickets:
            t = state.tickets[key]
            return [self._attach(state, rec, key, at, rule.id,
                                 f"the storm ticket for this check is open ({len(t.fingerprints)} devices): "
                                 "later devices attach to it")]
        window = timedelta(minutes=rule.window_minutes)
        group = state.groups.get(gkey)
        if group is not None and (group.deadline <= at or rec.raised_at > group.first_at + window):
            del state.groups[gkey]
            group = None
        if group is None:
            def peer(a: AlertRec) -> bool:
                if a is rec or a.check != rec.check or a.device == rec.device or not a.is_open:
                    return False
                if abs(a.raised_at - rec.raised_at) > window:
                    return False
                if a.status == HELD or (a.status == WAITING and (a.waiting_on or "").startswith("storm:")):
                    return True
                t = state.tickets.get(a.ticket or "") if a.status == TICKETED else None
                return t is not None and t.kind == "alert" and t.alerts == [a.alert_id]

            peers = [a for a in state.alerts.values() if peer(a)]
            if not peers:
                return None
            first_at = min(min(p.raised_at for p in peers), rec.raised_at)
            # every device raised inside the window has passed its hold by the deadline
            deadline = first_at + window + timedelta(minutes=self.policy(state.client).hold_minutes(rec)[0])
            if deadline <= at:
                return None
            anchors = sorted((state.tickets[p.ticket].opened_at, p.ticket) for p in peers
                             if p.status == TICKETED and p.ticket)
            group = StormGroup(gkey, rule.id, rec.check, first_at, deadline, [], anchors[0][1] if anchors else None)
            state.groups[gkey] = group
        if rec.alert_id not in group.members:
            group.members.append(rec.alert_id)
        members = [rec]
        for alert_id in group.members:
            m = state.alerts.get(alert_id)
            if m is not None and m is not rec and m.status == WAITING and m.is_open:
                members.append(m)
        devices = {m.device for m in members}
        anchor = state.tickets.get(group.anchor) if group.anchor else None
        if anchor is not None:
            devices.update(state.alerts[a].device for a in anchor.alerts if a in state.alerts)
        if len(devices) >= rule.min_devices:
            del state.groups[gkey]
            return self._form_storm(state, rec, at, rule, gkey, members, anchor, len(devices))
        waiting_on = f"storm:{gkey}"
        first_wait = rec.status != WAITING or rec.waiting_on != waiting_on
        rec.status, rec.due, rec.resume, rec.waiting_on, rec.rule = WAITING, group.deadline, step + 1, waiting_on, rule.id
        rec.reason = (f"{len(devices)} device(s) raised this check since {group.first_at:%H:%M} UTC: waiting until "
                      f"{group.deadline:%H:%M} to see whether {rule.min_devices} do within {rule.window_minutes:g} min "
                      "(a storm: one ticket)")
        state.push(rec.due, "alert", rec.alert_id)
        return [self._d(state, "hold", rule.id, rec.reason, at, rec)] if first_wait else []

    def _form_storm(self, state: ClientState, rec: AlertRec, at: datetime, rule: Any, gkey: str,
                    members: list[AlertRec], anchor: TicketRec | None, n: int) -> list[Decision]:
        reason = (f"storm: {rec.check} raised on {n} devices of this client within {rule.window_minutes:g} min "
                  f"({rule.min_devices} or more make one ticket)")
        out: list[Decision] = []
        members = sorted(members, key=lambda m: (m.raised_at, m.alert_id))
        if anchor is not None:
            anchor.kind, anchor.rule, anchor.reason, anchor.check = "storm", rule.id, reason, rec.check
            anchor.revision += 1
            ticket = anchor
            first = state.alerts.get(anchor.alerts[0]) if anchor.alerts else None
            out.append(self._d(state, "retitle", rule.id, reason, at, first, anchor.key,
                               {**self._title_data(first or rec), "kind": "storm", "devices": n}))
        else:
            out.append(self._open(state, members[0], at, rule.id, reason, "storm", devices=n))
            ticket = state.tickets[out[0].ticket or ""]
        state.storm_tickets[gkey] = ticket.key
        for m in members:
            if m.status != TICKETED:
                out.append(self._attach(state, m, ticket.key, at, rule.id, f"one of {n} devices in a storm of {rec.check}"))
        return out

    def _reopen(self, state: ClientState, rec: AlertRec, at: datetime, rule: Any) -> list[Decision] | None:
        key = state.closed_by_fingerprint.get(rec.fingerprint)
        ticket = state.closed.get(key) if key else None
        if ticket is None or ticket.closed_at is None:
            return None
        after = at - ticket.closed_at
        if after > timedelta(hours=rule.within_hours):
            return None
        for fp in ticket.fingerprints:
            if state.closed_by_fingerprint.get(fp) == ticket.key:
                del state.closed_by_fingerprint[fp]
        del state.closed[ticket.key]
        ticket.occurrence += 1
        ticket.status, ticket.closed_at, ticket.cleared_at, ticket.resolve_due = "open", None, None, None
        ticket.alerts, ticket.fingerprints = [], []
        ticket.revision += 1
        state.tickets[ticket.key] = ticket
        reason = (f"fired again {_minutes(after)} after its ticket closed (within {rule.within_hours:g} h): "
                  f"{_ordinal(ticket.occurrence)} occurrence")
        d = self._attach(state, rec, ticket.key, at, rule.id, reason)
        state.open_by_fingerprint[rec.fingerprint] = ticket.key
        return [Decision("reopen", rule.id, reason, at, state.client, rec.alert_id, rec.fingerprint, ticket.key,
                         {**d.data, "occurrence": ticket.occurrence})]

    # -- tickets -----------------------------------------------------------------------------------
    def _title_data(self, rec: AlertRec) -> dict[str, Any]:
        return {
            "severity": rec.severity, "check": rec.check, "device": rec.device, "device_name": rec.device_name,
            "device_type": rec.device_type, "site": rec.site, "site_name": rec.site_name,
            "client_name": rec.client_name, "message": rec.message, "source": rec.source,
        }

    def _open(self, state: ClientState, rec: AlertRec, at: datetime, rule: str, reason: str, kind: str,
              devices: int = 1) -> Decision:
        pol = self.policy(state.client)
        state.seq += 1
        key = ticket_key(state.client, rec.fingerprint, state.seq)
        auto = pol.first(pol.auto, rec)
        ticket = TicketRec(key=key, fingerprint=rec.fingerprint, opened_at=at, rule=rule, reason=reason, kind=kind,
                           check=rec.check, site=rec.site, alerts=[rec.alert_id], last_seen=at,
                           resolve_rule=auto.id if auto else None, fingerprints=[rec.fingerprint])
        state.tickets[key] = ticket
        state.open_by_fingerprint[rec.fingerprint] = key
        rec.status, rec.ticket, rec.rule, rec.reason, rec.due, rec.waiting_on = TICKETED, key, rule, reason, None, None
        return Decision("open", rule, reason, at, state.client, rec.alert_id, rec.fingerprint, key,
                        {**self._title_data(rec), "kind": kind, "devices": devices})

    def _attach(self, state: ClientState, rec: AlertRec, key: str, at: datetime, rule: str, reason: str) -> Decision:
        ticket = state.tickets[key]
        if rec.alert_id not in ticket.alerts:
            ticket.alerts.append(rec.alert_id)
        if rec.fingerprint not in ticket.fingerprints:
            ticket.fingerprints.append(rec.fingerprint)
        ticket.repeats += 1
        ticket.revision += 1
        ticket.last_seen = max(ticket.last_seen or at, at)
        if rec.is_open:
            ticket.cleared_at = ticket.resolve_due = None
        state.open_by_fingerprint.setdefault(rec.fingerprint, key)
        rec.status, rec.ticket, rec.rule, rec.reason, rec.due, rec.waiting_on = TICKETED, key, rule, reason, None, None
        return Decision("attach", rule, reason, at, state.client, rec.alert_id, rec.fingerprint, key,
                        {"repeats": ticket.repeats})

    # -- clears ------------------------------------------------------------------------------------
    def _resolved(self, state: ClientState, event: AlertEvent) -> list[Decision]:
        rec = state.alerts.get(event.alert_id)
        if rec is None or not rec.is_open:
            return []
        self._seen(rec, event)
        at = event.at
        rec.resolved_at = at
        status = rec.status
        if status in (SUPPRESSED, CLOSED):
            self._finish(state, rec)
            return []
        if status in PENDING:
            if status == MAINTENANCE:
                reason = f"cleared at {at:%H:%M} UTC, inside maintenance window {rec.rule}"
            elif status == HELD:
                reason = f"cleared after {_minutes(at - rec.raised_at)}, inside the hold"
            else:
                reason = f"cleared after {_minutes(at - rec.raised_at)}, while {rec.reason[0].lower()}{rec.reason[1:]}"
                group = state.groups.get((rec.waiting_on or "").removeprefix("storm:"))
                if group is not None and rec.alert_id in group.members:
                    group.members.remove(rec.alert_id)
            d = self._suppress(state, rec, at, rec.rule, reason)
            entry = state.flaps.get(rec.fingerprint)
            if status != MAINTENANCE and entry is not None and any(a == rec.alert_id for a, _ in entry[1]):
                rec.status = CLEARED  # may still count as a flap
            else:
                self._finish(state, rec)
            return [d]
        ticket = state.tickets.get(rec.ticket or "")
        if ticket is None:
            self._finish(state, rec)
            return []
        out = [self._d(state, "clear", ticket.resolve_rule or "auto-resolve", "alert cleared", at, rec, ticket.key)]
        if all(not state.alerts[a].is_open for a in ticket.alerts if a in state.alerts):
            out += self._cleared(state, ticket, at)
        return out

    def _cleared(self, state: ClientState, ticket: TicketRec, at: datetime) -> list[Decision]:
        ticket.cleared_at = at
        if ticket.resolve_rule is None:
            return []
        pol = self.policy(state.client)
        rule = pol.rules.get(ticket.resolve_rule)
        if rule is None:  # the rule was removed or disabled since the ticket opened
            ticket.resolve_rule = None
            return []
        ticket.resolve_due = at + timedelta(minutes=max(rule.clear_minutes, ticket.quiet_minutes))
        state.push(ticket.resolve_due, "ticket", ticket.key)
        return self.on_tick(state, at)

    # -- timers -------------------------------------------------------------------------------------
    def on_tick(self, state: ClientState, now: datetime) -> list[Decision]:
        heap, chores = state._heap, state._chores
        if (not heap or heap[0][0] > now) and (not chores or chores[0][0] > now):
            return []
        out: list[Decision] = []
        while (timer := state.pop_due(now)) is not None:
            due, _rank, kind, ref = timer
            if not state._valid(due, kind, ref):
                continue
            if kind == "alert":
                out += self._due_alert(state, state.alerts[ref], due)
            elif kind == "ticket":
                out += self._resolve(state, state.tickets[ref], due)
            elif kind == "flap":
                self._expire_flaps(state, ref, due)
            elif kind == "closed":
                self._expire_closed(state, ref, due)
        return out

    def _due_alert(self, state: ClientState, rec: AlertRec, at: datetime) -> list[Decision]:
        if rec.status == MAINTENANCE:
            pol = self.policy(state.client)
            minutes, rule = pol.hold_minutes(rec)
            if minutes > 0:
                window = rec.rule
                rec.status, rec.due, rec.rule = HELD, at + timedelta(minutes=minutes), rule.id
                rec.reason = (f"still open when maintenance window {window} ended: waiting {minutes:g} min "
                              "before opening a ticket")
                state.push(rec.due, "alert", rec.alert_id)
                return [self._d(state, "hold", rule.id, rec.reason, at, rec)]
            return self._place(state, rec, at, 0)
        if rec.status == HELD:
            return self._place(state, rec, at, 0)
        return self._place(state, rec, at, rec.resume)  # WAITING: topology parent or storm deadline came

    def _expire_flaps(self, state: ClientState, fp: str, now: datetime) -> None:
        window, items = state.flaps[fp]
        cutoff = now - timedelta(minutes=window)
        keep = [(a, t) for a, t in items if t > cutoff]
        for alert_id, t in items:
            if t <= cutoff:
                rec = state.alerts.get(alert_id)
                if rec is not None and rec.status == CLEARED:
                    rec.status = SUPPRESSED
                    self._finish(state, rec)
        if keep:
            state.flaps[fp] = (window, keep)
            state.push(keep[0][1] + timedelta(minutes=window), "flap", fp)  # the new head's expiry
        else:
            del state.flaps[fp]

    def _expire_closed(self, state: ClientState, key: str, now: datetime) -> None:
        ticket = state.closed[key]
        hours = self.policy(state.client).reopen_hours
        if ticket.closed_at is not None and ticket.closed_at + timedelta(hours=hours) > now:
            state.push(ticket.closed_at + timedelta(hours=hours), "closed", key)
            return
        del state.closed[key]
        for fp in ticket.fingerprints:
            if state.closed_by_fingerprint.get(fp) == key:
                del state.closed_by_fingerprint[fp]

    def _close(self, state: ClientState, ticket: TicketRec, at: datetime) -> list[AlertRec]:
        """Move a ticket out of the open set (kept for the reopen window); returns its open alerts."""
        del state.tickets[ticket.key]
        ticket.status, ticket.closed_at, ticket.resolve_due = "closed", at, None
        for fp in ticket.fingerprints:
            if state.open_by_fingerprint.get(fp) == ticket.key:
                del state.open_by_fingerprint[fp]
        for gkey in [g for g, k in state.storm_tickets.items() if k == ticket.key]:
            del state.storm_tickets[gkey]
        still_open = []
        for alert_id in ticket.alerts:
            rec = state.alerts.get(alert_id)
            if rec is None:
                continue
            if rec.is_open:
                rec.status = CLOSED
                still_open.append(rec)
            else:
                self._finish(state, rec)
        hours = self.policy(state.client).reopen_hours
        if hours > 0:
            state.closed[ticket.key] = ticket
            for fp in ticket.fingerprints:
                state.closed_by_fingerprint[fp] = ticket.key
            state.push(at + timedelta(hours=hours), "closed", ticket.key)
        return still_open

    def _resolve(self, state: ClientState, ticket: TicketRec, at: datetime) -> list[Decision]:
        pol = self.policy(state.client)
        rule = pol.rules.get(ticket.resolve_rule or "")
        if rule is None:
            ticket.resolve_due = None
            return []
        alerts = list(ticket.alerts)
        minutes = max(rule.clear_minutes, ticket.quiet_minutes)
        reason = f"all {len(alerts)} attached alert(s) have cleared" + (f" and stayed clear {minutes:g} min" if minutes else "")
        self._close(state, ticket, at)
        return [Decision(
            "resolve", rule.id, reason, at, state.client, None, ticket.fingerprint, ticket.key,
            {"alerts": alerts, "status": rule.status, "only_if_untouched": rule.only_if_untouched,
             "occurrence": ticket.occurrence},
        )]

    # -- the PSA side --------------------------------------------------------------------------------
    def on_ticket_closed(self, state: ClientState, key: str, at: datetime, who: str = "a person") -> list[Decision]:
        """The ticket was closed in the PSA (not by Switchboard): stop tracking it as open, and —
        two-way — resolve its still-open alerts in the RMM unless the client opted out."""
        ticket = state.tickets.get(key)
        if ticket is None:
            return []
        pol = self.policy(state.client)
        open_alerts = self._close(state, ticket, at)
        rule_id = pol.two_way[0].id if pol.two_way else "two-way"
        out = [self._d(state, "closed", rule_id, f"closed in the PSA by {who}", at, None, key,
                       {"open_alerts": [r.alert_id for r in open_alerts]})]
        for rec in open_alerts:
            rule = pol.first(pol.two_way, rec)
            if rule is None:
                continue
            out.append(self._d(state, "resolve_alert", rule.id,
                               "its ticket was closed in the PSA: resolving the alert in the RMM (two-way)", at, rec,
                               key, {"source": rec.source, "alert_id": rec.alert_id}))
        return out

