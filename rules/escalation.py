"""Escalation chains and status automation (pure): which steps of a ticket are due, and when next.

Every notification Switchboard sends is a *step* with a stable id (``unassigned:2``,
``escalation:tier1``, ``waiting-3:remind``, ``received``…). A ticket's state records each step it
acted on, once, so a step is never taken twice — the idempotency keys of the outbox rows it
records (``notify:{ticket}:{rule}:{step}:{recipient}``) make the same promise at the database.

Steps (seed 003):

- status automation: ``received`` (New), ``assigned`` (a resource was assigned),
  ``assigned-engineer`` and ``in-progress`` (off by default), ``assigned-status`` /
  ``acknowledged-status`` (move the PSA status), Waiting on Client ``waiting-{n}:remind`` (24 h
  since the last update: the resource and the contact), ``waiting-{n}:again`` (72 h in status:
  the contact), ``waiting-{n}:dispatcher`` (96 h in status);
- chains, on the internal-response clock: ``unassigned:{i}`` from creation until assigned,
  ``unacknowledged:{i}`` from assignment until acknowledged, ``tier{n}-unacknowledged:{i}`` from an
  escalation until the new engineer acknowledges;
- ``escalation:tier{n}`` when the escalation threshold of tier *n* passes (raise the tier), or
  ``decision-point:tier{n}`` at the last tier; ``breach:{target}`` when a response target is missed.

When several steps of one chain are due at once (the service was down), only the latest is sent
and the earlier ones are recorded as superseded; a step due longer ago than ``catch_up`` is
recorded as missed, not sent late (a ticket that predates Switchboard does not page anybody).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rules.sla import Policy, SlaState, reach, span

__all__ = ["Plan", "Step", "plan", "steps", "take"]


@dataclass(frozen=True)
class Step:
    id: str
    rule: str
    at: datetime
    kind: str
    """notify | patch | escalate"""
    sends: tuple[tuple[str, str], ...] = ()
    """(role, message) pairs; role is a configured role, ``engineer`` or ``contact``."""
    number: int = 0
    chain: str | None = None
    title: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    act: list[tuple[Step, str]] = field(default_factory=list)
    """Due steps and what to do: ``send``, or why not (``superseded …``, ``missed …``)."""
    upcoming: list[Step] = field(default_factory=list)
    next_due: datetime | None = None


def _chain(state: SlaState, policy: Policy, name: str, rule: str, anchor: datetime, title: str) -> list[Step]:
    chain = getattr(policy.escalation.chains, name)
    if not chain.enabled:
        return []
    priority = state.priority or policy.sla.default_priority
    scale = policy.escalation.scale_for(priority)
    measure = policy.measure("internal_response", state.company)
    out = []
    for i, cfg in enumerate(chain.steps, 1):
        if f"{rule}:{i}" in state.steps:
            continue  # taken: nothing to compute
        after = cfg.after * scale
        at = reach(anchor, after, measure, state.pauses)
        if at is None:
            continue
        out.append(Step(f"{rule}:{i}", rule, at, "notify", tuple((r, name) for r in cfg.notify), i, rule,
                        f"{title} after {span(after)}", {"elapsed": span(after)}))
    return out


def steps(state: SlaState, policy: Policy) -> list[Step]:
    """The steps the ticket's state calls for now, with their due times (chain steps already taken are
    left out; :func:`plan` leaves out the rest)."""
    if not state.open:
        return []
    auto, esc, sla = policy.automation, policy.escalation, policy.sla
    out: list[Step] = []
    ack = state.acknowledged_at

    # status automation and client communication
    if auto.received.enabled:
        out.append(Step("received", "received", state.created_at, "notify", (("contact", "received"),),
                        title="ticket received"))
    if state.assigned_at is not None:
        if auto.assigned.enabled:
            out.append(Step("assigned", "assigned", state.assigned_at, "notify", (("contact", "assigned"),),
                            title="technician assigned"))
        if auto.assigned_engineer.enabled:
            out.append(Step("assigned-engineer", "assigned-engineer", state.assigned_at, "notify",
                            (("engineer", "assigned_engineer"),), title="assigned to the engineer"))
        if auto.assigned_status and state.status == "new":
            out.append(Step("assigned-status", "assigned-status", state.assigned_at, "patch",
                            title=f"status -> {auto.assigned_status}", data={"status": auto.assigned_status}))
    if ack is not None:
        if auto.in_progress.enabled and state.acknowledged_by != "resolution":
            out.append(Step("in-progress", "in-progress", ack, "notify", (("contact", "in_progress"),),
                            title="work started"))
        if auto.acknowledged_status and state.acknowledged_by == "activity" and state.status in ("new", "assigned"):
            out.append(Step("acknowledged-status", "acknowledged-status", ack, "patch",
                            title=f"status -> {auto.acknowledged_status}", data={"status": auto.acknowledged_status}))
    w = auto.waiting
    if w.enabled and state.waiting_since is not None:
        n, since = state.waiting_episode, state.waiting_since
        last = max(since, state.last_client_activity_at or since)
        data: dict[str, Any] = {"since": since}
        out.append(Step(f"waiting-{n}:remind", f"waiting-{n}", last + w.remind_after, "notify",
                        (("engineer", "waiting_engineer"), ("contact", "waiting_client")),
                        title=f"waiting on client, no update for {span(w.remind_after)}",
                        data={**data, "hours": round(w.remind_after.total_seconds() / 3600)}))
        out.append(Step(f"waiting-{n}:again", f"waiting-{n}", since + w.again_after, "notify",
                        (("contact", "waiting_client"),), title=f"waiting on client {span(w.again_after)}",
                        data={**data, "hours": round(w.again_after.total_seconds() / 3600)}))
        out.append(Step(f"waiting-{n}:dispatcher", f"waiting-{n}", since + w.dispatcher_after, "notify",
                        (("dispatcher", "waiting_dispatcher"),), title=f"waiting on client {span(w.dispatcher_after)}",
                        data={**data, "hours": round(w.dispatcher_after.total_seconds() / 3600)}))

    # alerting and escalation chains
    priority = state.priority or sla.default_priority
    if priority in esc.priorities:
        if state.assigned_at is None:
            out += _chain(state, policy, "unassigned", "unassigned", state.created_at, "not assigned")
        elif ack is None and state.tier == 0:
            out += _chain(state, policy, "unacknowledged", "unacknowledged", state.assigned_at, "not acknowledged")
        if state.tier > 0 and state.tier_ack_at is None:
            out += _chain(state, policy, "escalated_unacknowledged", f"tier{state.tier + 1}-unacknowledged",
                          state.tier_anchor, f"{policy.tier_name(state.tier)} not acknowledged")
        threshold = sla.targets_for(state.priority).escalation
        at = reach(state.tier_anchor, threshold, policy.measure("escalation", state.company), state.pauses)
        tiers = esc.escalation.tiers
        if at is not None:
            info = {"from_tier": policy.tier_name(state.tier), "threshold": span(threshold),
                    "last_tier": state.tier >= len(tiers) - 1}
            if state.tier < len(tiers) - 1:
                info["to_tier"] = tiers[state.tier + 1].name
                info["moved"] = tiers[state.tier + 1].board is not None
                # an acknowledged ticket goes back to a not-acknowledged status, so the new engineer's
                # acknowledgement can be seen; a New/Assigned one already is (and is left alone)
                info["set_status"] = policy.matches(sla.targets.internal_response.met_by.statuses, state.status,
                                                    state.status_label)
                sends: list[tuple[str, str]] = []
                if esc.escalation.notify_client:
                    sends.append(("contact", "escalated_client"))
                if esc.escalation.notify_dispatcher:
                    sends.append(("dispatcher", "escalated_dispatcher"))
                if esc.escalation.notify_engineer:
                    sends.append(("tier-engineer", "escalated_engineer"))
                out.append(Step(f"escalation:tier{state.tier + 1}", "escalation", at, "escalate", tuple(sends),
                                state.tier + 1, title=f"escalation threshold {span(threshold)} reached at "
                                f"{info['from_tier']}: escalate to {info['to_tier']}", data=info))
            else:
                info["to_tier"] = info["from_tier"]
                out.append(Step(f"decision-point:tier{state.tier + 1}", "decision-point", at, "notify",
                                tuple((r, "decision_point") for r in esc.escalation.decision_point), state.tier + 1,
                                title=f"escalation threshold reached at the last tier ({info['from_tier']})",
                                data=info))

    # response targets missed
    targets = sla.targets_for(state.priority)
    for target in ("internal_response", "client_response"):
        if target in state.met or f"breach:{target}" in state.steps:
            continue
        at = reach(state.created_at, getattr(targets, target), policy.measure(target, state.company), state.pauses)
        if at is not None:
            roles = esc.breach.get(target, [])  # type: ignore[call-overload]
            out.append(Step(f"breach:{target}", "breach", at, "notify", tuple((r, "breach") for r in roles),
                            title=f"{target.replace('_', ' ')} target missed",
                            data={"target": target.replace("_", " "), "due": at}))
    return out


def plan(state: SlaState, now: datetime, policy: Policy) -> Plan:
    """The steps due at ``now`` and not yet taken (with what to do about each), and the next due time."""
    catch_up: timedelta = policy.escalation.catch_up
    result = Plan()
    due: list[Step] = []
    for step in steps(state, policy):
        if step.id in state.steps:
            continue
        if step.at <= now:
            due.append(step)
        else:
            result.upcoming.append(step)
    latest: dict[str, Step] = {}
    for step in due:
        if step.chain and (step.chain not in latest or step.number > latest[step.chain].number):
            latest[step.chain] = step
    for step in sorted(due, key=lambda s: (s.at, s.id)):
        if step.chain and latest[step.chain] is not step:
            result.act.append((step, f"superseded by step {latest[step.chain].number}"))
        elif step.at < now - catch_up:
            result.act.append((step, f"missed: due {step.at:%Y-%m-%d %H:%M} UTC, more than {span(catch_up)} "
                                     "before Switchboard could act"))
        else:
            result.act.append((step, "send"))
    result.upcoming.sort(key=lambda s: s.at)
    result.next_due = result.upcoming[0].at if result.upcoming else None
    return result


def take(state: SlaState, step: Step, outcome: str, now: datetime, *, acted: bool) -> None:
    """Record that ``step`` was dealt with (once): ``acted`` if its effects were recorded, else skipped
    (superseded, missed). An escalation acted on raises the tier and restarts that tier's clocks."""
    state.steps[step.id] = {"at": now.isoformat(), "due": step.at.isoformat(), "outcome": outcome}
    if step.kind == "escalate" and acted:
        state.tier += 1
        state.tier_started_at = now
        state.tier_reset_seen = not step.data.get("set_status")
        state.tier_ack_at = None

