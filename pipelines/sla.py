"""SLA clocks in the service: the ticket consumer, the due-clock tick, and the notifications they record.

- :func:`consume` is a PSA ticket consumer (``pipelines.tickets.CONSUMERS``): each new or changed
  ticket is folded into its ``sla_ticket`` row (:func:`rules.sla.observe`), its due steps are
  taken, and the row's ``next_due`` is set — in the poll's transaction.
- :func:`tick` (the ``sla-tick`` periodic job) reads only the rows whose ``next_due`` has come,
  through the index on that column, and takes their steps.

Exactly once per ticket, rule and step. A step is taken under the row's lock (``FOR UPDATE`` on
PostgreSQL — ``SKIP LOCKED`` in the tick, so two workers share the work instead of queueing; a
``BEGIN IMMEDIATE`` transaction on SQLite), recorded in the row's state, and its effects are
outbox actions keyed ``notify:{psa}:{ticket}:{rule}:{step}:{recipient}`` recorded in the same
transaction. Two workers racing, a job run twice, a worker killed after the commit: the step is
already in the state, and the key is already in ``action_log``. The outbox then applies each
action once (leases, markers on PSA notes, a Message-ID on e-mails). In shadow mode the actions
are recorded as ``shadow`` and never sent.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from config.loader import ConfigError
from connectors.canonical import Ref, Ticket, TicketPatch, TicketStatus, utc
from connectors.errors import ConnectorError
from pipelines import outbox, quarantine
from pipelines.notify import Directory, DirectoryUnavailable, email_action
from pipelines.state import SlaEvent, SlaTicket
from rules.escalation import Step, plan, take
from rules.messages import TemplateProblem, render
from rules.sla import Event, Policy, SlaState, clocks, observe, span
from rules.sla_config import MESSAGES

__all__ = ["SlaReport", "consume", "policy_of", "tick"]

log = logging.getLogger("switchboard.sla")

RETRY_LOOKUP = timedelta(minutes=1)
"""A step waiting for the PSA directory is tried again this much later."""

_POLICIES: dict[int, Policy] = {}


def policy_of(ctx: Any) -> Policy:
    """The policy of the context's configuration (built once; cross-file checks raise ConfigError)."""
    configs = ctx.configs
    policy = _POLICIES.get(id(configs))
    if policy is None:
        try:
            policy = Policy.from_configs(configs)
        except ValueError as exc:
            file, _, rest = str(exc).partition(": ")
            key, _, reason = rest.partition(": ")
            raise ConfigError(file, key, reason) from None
        _POLICIES[id(configs)] = policy
    return policy


@dataclass
class SlaReport:
    tickets: int = 0
    steps: Counter[str] = field(default_factory=Counter)
    """outcome -> count (sent, shadow, superseded, missed, …)"""
    groups: list[str] = field(default_factory=list)
    deferred: int = 0


def _lock(session: Session, key: str, *, skip_locked: bool = False) -> SlaTicket | None:
    q = sa.select(SlaTicket).where(SlaTicket.key == key)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=skip_locked)
    return session.scalar(q)


def _fmt(at: datetime | None, zone: Any) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if at else "-"


class _Recorder:
    """Takes the due steps of tickets in one transaction and records what they cause."""

    def __init__(self, ctx: Any, session: Session, policy: Policy, now: datetime,
                 directory: Directory | None = None) -> None:
        self.ctx = ctx
        self.session = session
        self.policy = policy
        self.now = now
        self.groups: set[str] = set()
        self.report = SlaReport()
        self._directory = directory

    @property
    def directory(self) -> Directory:
        if self._directory is None:
            self._directory = directory_of(self.ctx)
        return self._directory

    def events(self, key: str, events: Sequence[Event]) -> None:
        for e in events:
            self.session.add(SlaEvent(ticket_key=key, at=e.at, kind=e.kind, detail=e.detail, recorded_at=self.now))

    # -- steps -------------------------------------------------------------------------------------
    def act(self, row: SlaTicket, state: SlaState) -> None:
        """Take every due step of one ticket, then save its state and next due time."""
        deferred: set[str] = set()
        for _ in range(4):  # an escalation can make new steps due at once; bounded
            todo = [(s, o) for s, o in plan(state, self.now, self.policy).act if s.id not in deferred]
            if not todo:
                break
            for step, outcome in todo:
                acted = outcome == "send"
                if acted:
                    try:
                        outcome = self._send(state, step)
                    except DirectoryUnavailable as exc:
                        deferred.add(step.id)
                        self.report.deferred += 1
                        self.events(state.key, [Event(self.now, "deferred", f"{step.id}: {exc}; trying again")])
                        continue
                take(state, step, outcome, self.now, acted=acted)
                self.report.steps[outcome.split(":")[0]] += 1
                self.events(state.key, [Event(self.now, "step", f"{step.id} ({step.title}): {outcome}")])
        next_due = plan(state, self.now, self.policy).next_due
        if deferred:
            retry = self.now + RETRY_LOOKUP
            next_due = min(next_due, retry) if next_due else retry
        row.state = state.to_dict()
        row.next_due = next_due
        row.number, row.company, row.priority = state.number, state.company, state.priority
        row.status, row.tier, row.open = state.status, state.tier, state.open
        row.version += 1
        row.updated_at = self.now

    def _zone(self, state: SlaState) -> Any:
        return self.policy.calendar(state.company).zone

    def _context(self, state: SlaState, step: Step) -> dict[str, Any]:
        zone = self._zone(state)
        d = self.directory
        views = {c.target: c for c in clocks(state, self.now, self.policy)}
        contact = d.contact(state.company, state.contact) or {}
        engineer = d.member(state.assigned_to) or {}
        sla = {f"{t}_due": _fmt(views[t].due, zone) for t in views}
        if "target" in step.data:
            sla.update(target=step.data["target"], due=_fmt(step.data["due"], zone))
        waiting = {}
        if "since" in step.data:
            waiting = {"since": _fmt(step.data["since"], zone), "hours": step.data["hours"]}
        return {
            "ticket": {"id": state.ticket_id, "number": state.number or state.ticket_id, "title": state.title,
                       "priority": state.priority or self.policy.sla.default_priority, "status": state.status,
                       "url": state.url or "", "tier": self.policy.tier_name(state.tier), "board": state.board or ""},
            "client": {"id": state.company or "", "name": d.company_name(state.company)},
            "contact": {"name": "", "first_name": "", "email": "", **contact},
            "engineer": {"name": "", "first_name": "", "email": "", **engineer},
            "sender": self.policy.messages.sender_for(state.company).model_dump(),
            "step": {"rule": step.rule, "number": step.number, "title": step.title,
                     "elapsed": step.data.get("elapsed", span(self.now - step.at)), "due": _fmt(step.at, zone)},
            "recipients": [self._title(r) for r, _ in step.sends],
            "escalation": {"from_tier": "", "to_tier": "", "threshold": "", "last_tier": False, "moved": False,
                           **{k: v for k, v in step.data.items()
                              if k in ("from_tier", "to_tier", "threshold", "last_tier", "moved")}},
            "sla": {"target": "", "due": "", **sla},
            "waiting": {"since": "", "hours": 0, **waiting},
        }

    def _title(self, role: str) -> str:
        if role == "contact":
            return "the client's contact"
        if role == "engineer":
            return "the assigned engineer"
        if role == "tier-engineer":
            return "the new tier's engineer"
        return self.policy.escalation.roles[role].title

    def _addresses(self, state: SlaState, role: str, context: dict[str, Any]) -> tuple[list[str], str]:
        """The e-mail addresses of a role on this ticket, or why there are none."""
        if role == "contact":
            if not state.contact:
                return [], "no contact on the ticket"
            email = context["contact"]["email"]
            return ([email], "") if email else ([], f"contact {state.contact} has no e-mail address in the PSA")
        if role == "engineer":
            if not state.assigned_to:
                return [], "no resource assigned"
            email = context["engineer"]["email"]
            return ([email], "") if email else ([], f"resource {state.assigned_to} has no e-mail address in the PSA")
        if role == "tier-engineer":
            tiers = self.policy.escalation.escalation.tiers
            tier = tiers[min(state.tier + 1, len(tiers) - 1)]
            if tier.resource:
                member = self.directory.member(tier.resource) or {}
                if member.get("email"):
                    context["engineer"] = {"name": "", "first_name": "", **member}
                    return [member["email"]], ""
                return [], f"{tier.name} resource {tier.resource} has no e-mail address in the PSA"
            if tier.email:
                return list(tier.email), ""
            return [], f"no engineer configured for {tier.name} (escalation.tiers): the dispatcher assigns one"
        cfg = self.policy.escalation.roles[role]
        return (list(cfg.email), "") if cfg.email else ([], f"no e-mail address for {cfg.title}")

    def _send(self, state: SlaState, step: Step) -> str:
        """Record the step's effects as outbox actions; returns what was done, for the record."""
        status = "shadow" if self.ctx.shadow else "pending"
        ticket = state.key
        smtp = self.ctx.settings.smtp
        actions: list[outbox.Action] = []
        done: list[str] = []
        internal: list[str] = []
        """who was meant to hear of it, among the MSP's people (a PSA note goes with it)"""
        note_text = ""
        if step.kind in ("patch", "escalate"):
            patch = self._patch(state, step)
            if patch is not None:
                actions.append(patch)
                done.append("PSA " + ("tier change" if step.kind == "escalate" else step.title))
        context = self._context(state, step) if step.sends else {}
        for role, name in step.sends:
            addresses, why = self._addresses(state, role, context)
            message = self.policy.messages.message(name, state.company)
            try:
                rendered = render(message.subject, message.body, context)
            except TemplateProblem as exc:
                quarantine.keep(self.session, "sla:messages", f"message {name!r} for {ticket}: {exc}",
                                {"ticket": ticket, "step": step.id, "message": name}, self.now)
                done.append(f"{role}: message {name} could not be rendered (quarantined)")
                continue
            if MESSAGES[name] == "internal":
                internal.append(self._title(role) + (f" ({', '.join(addresses)})" if addresses else ""))
                note_text = note_text or rendered.text
            if not addresses:
                done.append(f"{role}: not e-mailed ({why})")
                continue
            if not smtp.configured:
                done.append(f"{role}: not e-mailed (e-mail is not configured: SWITCHBOARD_SMTP__HOST)")
                continue
            key = f"notify:{ticket}:{step.id}:{role}"
            actions.append(email_action(key, f"notify:{ticket}:{role}", to=addresses, subject=rendered.subject,
                                        html=rendered.html, text=rendered.text, ticket=ticket, role=role, smtp=smtp,
                                        now=self.now, client=state.company))
            done.append(f"{role}: e-mail to {', '.join(addresses)}")
        if internal and self.policy.escalation.psa_notes:
            mailed = [d.partition(": e-mail to ")[2] for d in done if ": e-mail to " in d]
            body = f"{step.title[:1].upper()}{step.title[1:]}.\n\n{note_text}\n\n" + (
                f"E-mailed to {', '.join(mailed)}." if mailed else "Not e-mailed (no addresses or no e-mail set up).")
            actions.append(outbox.Action(
                f"notify:{ticket}:{step.id}:psa-note", f"sla:{ticket}:psa", "add_note",
                {"ticket": ticket, "psa_ticket_id": state.ticket_id, "body": body, "marker": f"sla:{ticket}:{step.id}",
                 "internal": True, "title": f"SLA: {step.title}"[:250]}, state.company,
            ))
            done.append("internal PSA note")
        if actions:
            self.groups.update(outbox.record(self.session, actions, now=self.now, status=status))
        summary = "; ".join(done) if done else "nobody to tell"
        prefix = ("shadow" if self.ctx.shadow else "sent") if actions else "not sent"
        return f"{prefix}: {summary}"

    def _patch(self, state: SlaState, step: Step) -> outbox.Action | None:
        """The PSA change a step makes (None: nothing to change, e.g. tiers that have no PSA board)."""
        psa = state.psa
        if step.kind == "escalate":
            tier = self.policy.escalation.escalation.tiers[state.tier + 1]
            patch = TicketPatch(
                status=TicketStatus(self.policy.escalation.escalation.set_status) if step.data.get("set_status") else None,
                board=tier.board,
                assigned_to=Ref(vendor=psa, id=tier.resource) if tier.resource else None,
            )
        else:
            patch = TicketPatch(status=TicketStatus(step.data["status"]))
        if patch.is_empty():
            return None
        return outbox.Action(
            f"sla:{state.key}:{step.id}", f"sla:{state.key}:psa", "update_ticket",
            {"ticket": state.key, "psa_ticket_id": state.ticket_id, "patch": patch.model_dump(mode="json", exclude_none=True)},
            state.company,
        )


def directory_of(ctx: Any) -> Directory:
    try:
        psa = ctx.psa()
    except ConnectorError as exc:  # e.g. PSA credentials missing: wait, as if it were unreachable
        raise DirectoryUnavailable(f"the PSA connector cannot be built: {exc}") from None
    return Directory(psa, ctx.redis, ctx.prefix, ttl=ctx.settings.directory_cache_seconds)


def consume(ctx: Any, session: Session, tickets: Sequence[Ticket], now: datetime) -> list[str]:
    """Ticket consumer: fold each new/changed ticket into its clocks and take the steps now due."""
    policy = policy_of(ctx)
    rec = _Recorder(ctx, session, policy, utc(now))
    for t in tickets:
        key = f"{t.ref.vendor}:{t.ref.id}"
        row = _lock(session, key)
        if row is None and not t.is_open:
            continue  # closed before Switchboard first saw it: nothing to time
        previous = SlaState.from_dict(row.state) if row is not None else None
        state, events = observe(previous, t, rec.now, policy)
        if row is None:
            row = SlaTicket(key=key, psa=t.ref.vendor, ticket_id=t.ref.id, state={}, version=0, created_at=rec.now)
            session.add(row)
        rec.events(key, events)
        rec.act(row, state)
        rec.report.tickets += 1
    return sorted(rec.groups)


def tick(ctx: Any, *, now: datetime | None = None, limit: int = 1000) -> SlaReport:
    """Take the steps of the tickets whose next due time has come (index on ``next_due``; never a scan)."""
    now = utc(now or ctx.clock.now())
    policy = policy_of(ctx)
    report = SlaReport()
    with ctx.db.session() as s:
        keys = list(s.scalars(
            sa.select(SlaTicket.key).where(SlaTicket.next_due <= now).order_by(SlaTicket.next_due).limit(limit)
        ))
    groups: set[str] = set()
    directory: Directory | None = None
    for key in keys:
        with ctx.db.session() as s:
            row = _lock(s, key, skip_locked=True)
            if row is None or row.next_due is None or row.next_due > now:
                continue  # another worker has it, or took it already
            rec = _Recorder(ctx, s, policy, now, directory)
            rec.act(row, SlaState.from_dict(row.state))
            report.tickets += 1
            report.steps.update(rec.report.steps)
            report.deferred += rec.report.deferred
            groups |= rec.groups
            directory = rec._directory  # one directory (and its reads) for the whole tick
    report.groups = sorted(groups)
    return report
