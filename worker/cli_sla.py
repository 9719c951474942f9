"""``switchboard sla …``: deadlines, what a ticket's clocks say and why, running the clocks by hand.

- ``sla deadline --priority P --created ISO [--tz ZONE] [--country CC] [--json]`` — the three due
  times of a ticket created then (no database needed). ``--tz`` without ``--country`` takes the
  zone's country from the tz database (``Europe/London`` → GB) rather than the configured one.
- ``sla explain TICKET`` — clocks, pauses, facts, steps taken (with their outbox status) and steps due.
- ``sla tick`` — poll the PSA's tickets, take due steps and push, in the foreground.
- ``sla preview MESSAGE [--client ID]`` — render a message with sample data (checks overrides).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
import typer
from rich.table import Table

__all__ = ["register", "zone_country"]

sla_app = typer.Typer(help="SLA clocks: deadlines, explanations, running the clocks.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(sla_app, name="sla")


@lru_cache(maxsize=1)
def _zone_countries() -> dict[str, str]:
    """IANA zone -> ISO country, from the tz database's ``zone.tab``."""
    try:
        text = resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        return {}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            if len(parts) >= 3:
                out[parts[2]] = parts[0]
    return out


def zone_country(zone: str) -> str | None:
    return _zone_countries().get(zone)


def _parse_created(text: str, zone: ZoneInfo) -> datetime:
    from worker.cli import UserError

    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00") if text.strip().endswith("Z") else text.strip())
    except ValueError:
        raise UserError(f"--created {text!r} is not an ISO-8601 time (e.g. 2026-11-06T16:55 or 2026-11-06T21:55Z)") from None
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


@sla_app.command("deadline")
def deadline(
    priority: Annotated[int, typer.Option("--priority", help="Priority (1 = P1)")],
    created: Annotated[str, typer.Option("--created", help="When the ticket was created (ISO-8601; no offset = --tz)")],
    tz: Annotated[str | None, typer.Option("--tz", help="Client time zone (IANA, e.g. Europe/London)")] = None,
    country: Annotated[str | None, typer.Option("--country", help="Country for public holidays (ISO, e.g. GB)")] = None,
    subdivision: Annotated[str | None, typer.Option("--subdivision", help="Region for regional holidays")] = None,
    client: Annotated[str | None, typer.Option("--client", help="PSA company id: use its calendar from sla.yaml")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """The internal-response, client-response and escalation due times of a ticket created at --created."""
    from config.loader import load_all
    from config.settings import load_settings
    from rules.sla import BusinessCalendar, Policy, deadlines
    from rules.sla_config import check_country
    from worker.cli import UserError, console

    policy = Policy.from_configs(load_all(load_settings().config_dir))
    if priority not in policy.sla.priorities:
        known = ", ".join(str(p) for p in sorted(policy.sla.priorities))
        raise UserError(f"--priority {priority}: no such priority in sla.yaml (known: {known})")
    cal = policy.sla.calendar_for(client)
    changes: dict[str, Any] = {}
    note = ""
    if tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise UserError(f"--tz {tz!r}: unknown time zone (an IANA name such as Europe/London)") from None
        changes["timezone"] = tz
        if country is None:
            inferred = zone_country(tz)
            changes["country"], changes["subdivision"] = inferred, None
            note = f"holidays of {inferred} (from {tz}; --country to choose)" if inferred else f"no public holidays ({tz} has no country)"
    if country is not None:
        changes["country"], changes["subdivision"] = country.upper(), subdivision
    elif subdivision is not None:
        changes["subdivision"] = subdivision
    if changes:
        try:
            check_country(changes.get("country", cal.country), changes.get("subdivision", cal.subdivision))
        except ValueError as exc:
            raise UserError(str(exc)) from None
        cal = cal.model_copy(update=changes)
    calendar = BusinessCalendar(cal)
    when = _parse_created(created, calendar.zone)
    due = {k: v.astimezone(calendar.zone).isoformat() for k, v in deadlines(when, priority, policy, calendar=calendar).items()}
    if as_json:
        console.print_json(json.dumps(due))
        return
    t = Table("target", "clock", "due", title=f"P{priority} created {when.astimezone(calendar.zone).isoformat()}")
    for target, at in due.items():
        t.add_row(target.replace("_", " "), getattr(policy.sla.targets, target).clock, at)
    console.print(t)
    console.print(f"[dim]{calendar!r}{'; ' + note if note else ''}[/]")


def _find(session: Any, psa: str, ticket: str) -> Any:
    from pipelines.state import SlaTicket

    row = session.get(SlaTicket, ticket) or session.get(SlaTicket, f"{psa}:{ticket}")
    if row is None:
        row = session.scalar(sa.select(SlaTicket).where(SlaTicket.number == ticket).limit(1))
    return row


def explain_data(ctx: Any, ticket: str, now: datetime | None = None) -> dict[str, Any]:
    """Everything ``sla explain`` shows, as data (also its ``--json``)."""
    from pipelines.sla import policy_of
    from pipelines.state import ActionRow, SlaEvent
    from rules.escalation import plan
    from rules.sla import SlaState, clocks, span
    from worker.cli import UserError

    policy = policy_of(ctx)
    now = now or ctx.clock.now()
    with ctx.db.session() as s:
        row = _find(s, ctx.settings.psa, ticket)
        if row is None:
            raise UserError(f"no SLA clocks for ticket {ticket!r} (give the PSA ticket id or number; "
                            "tickets appear after the next PSA poll)")
        state = SlaState.from_dict(row.state)
        zone = policy.calendar(state.company).zone
        events = [{"at": e.at.astimezone(zone).isoformat(), "kind": e.kind, "detail": e.detail} for e in s.scalars(
            sa.select(SlaEvent).where(SlaEvent.ticket_key == row.key).order_by(SlaEvent.at, SlaEvent.id))]
        actions = {a.key: {"status": a.status, "kind": a.kind, "error": a.last_error,
                           "outcome": (a.result or {}).get("outcome")}
                   for a in s.scalars(sa.select(ActionRow).where(
                       sa.or_(ActionRow.key.like(f"notify:{row.key}:%"), ActionRow.key.like(f"sla:{row.key}:%"))))}
        next_due = row.next_due

    def local(at: datetime | None) -> str | None:
        return at.astimezone(zone).isoformat() if at else None

    taken = []
    for step_id, info in state.steps.items():
        mine = {k: v for k, v in actions.items() if k.startswith(f"notify:{row.key}:{step_id}:")
                or k == f"sla:{row.key}:{step_id}"}
        taken.append({"step": step_id, "due": local(datetime.fromisoformat(info["due"])),
                      "taken_at": local(datetime.fromisoformat(info["at"])), "outcome": info["outcome"],
                      "actions": mine})
    p = plan(state, now, policy)
    return {
        "ticket": {"key": row.key, "id": state.ticket_id, "number": state.number, "title": state.title,
                   "company": state.company, "priority": state.priority, "status": state.status,
                   "status_label": state.status_label, "open": state.open, "tier": policy.tier_name(state.tier),
                   "assigned_to": state.assigned_to, "contact": state.contact},
        "calendar": repr(policy.calendar(state.company)),
        "now": local(now),
        "facts": {"created": local(state.created_at), "first_seen": local(state.first_seen_at),
                  "assigned": local(state.assigned_at), "acknowledged": local(state.acknowledged_at),
                  "acknowledged_by": state.acknowledged_by or None,
                  "first_client_contact": local(state.met_at("client_response")),
                  "resolved": local(state.resolved_at), "tier_started": local(state.tier_anchor),
                  "tier_acknowledged": local(state.tier_ack_at), "waiting_since": local(state.waiting_since)},
        "clocks": [{"target": c.target, "clock": c.clock, "amount": span(c.amount), "started": local(c.anchor),
                    "due": local(c.due), "met": local(c.met_at), "used": span(c.used), "state": c.state}
                   for c in clocks(state, now, policy)],
        "pauses": [{"from": local(x.start), "to": local(x.end), "reason": x.reason} for x in state.pauses],
        "steps_taken": taken,
        "steps_due": [{"step": st.id, "due": local(st.at), "what": st.title, "now": o} for st, o in p.act]
        + [{"step": st.id, "due": local(st.at), "what": st.title,
            "to": [r for r, _ in st.sends]} for st in p.upcoming],
        "next_due": local(next_due),
        "events": events,
    }


@sla_app.command("explain")
def explain(
    ticket: Annotated[str, typer.Argument(help="PSA ticket id or number")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A ticket's clocks, pauses and facts, the steps taken (and their outbox status) and the steps due."""
    from worker.cli import console, context

    ctx = context()
    data = explain_data(ctx, ticket)
    if as_json:
        console.print_json(json.dumps(data, default=str))
        return
    t = data["ticket"]
    console.print(f"[bold]#{t['number'] or t['id']}[/] {t['title']}  (company {t['company']}, P{t['priority']}, "
                  f"{t['status']}{' ' + t['status_label'] if t['status_label'] else ''}, {t['tier']}"
                  f"{', closed' if not t['open'] else ''})")
    console.print(f"[dim]{data['calendar']}; now {data['now']}[/]")
    clocks_table = Table("target", "clock", "target", "started", "due", "met", "used", "state", title="clocks")
    for c in data["clocks"]:
        clocks_table.add_row(c["target"].replace("_", " "), c["clock"], c["amount"], c["started"], c["due"] or "(paused)",
                             c["met"] or "-", c["used"], c["state"])
    console.print(clocks_table)
    for key, value in data["facts"].items():
        if value:
            console.print(f"  {key.replace('_', ' '):>20}: {value}")
    for x in data["pauses"]:
        console.print(f"  paused {x['from']} -> {x['to'] or 'now'} ({x['reason']})")
    steps = Table("step", "due", "taken", "outcome", "outbox", title="steps taken")
    for st in data["steps_taken"]:
        outbox_state = ", ".join(f"{k.rsplit(':', 1)[-1]}={v['status']}" for k, v in st["actions"].items())
        steps.add_row(st["step"], st["due"], st["taken_at"], st["outcome"], outbox_state or "-")
    console.print(steps)
    due = Table("step", "due", "what", title="steps due")
    for st in data["steps_due"]:
        due.add_row(st["step"], st["due"], st["what"] + (f" -> {', '.join(st['to'])}" if st.get("to") else ""))
    console.print(due)
    for e in data["events"][-30:]:
        console.print(f"  [dim]{e['at']}[/] {e['kind']}: {e['detail']}")


@sla_app.command("tick")
def tick(
    poll: Annotated[bool, typer.Option(help="Poll the PSA's tickets first")] = True,
    push: Annotated[bool, typer.Option(help="Apply the resulting pushes here (else enqueue them)")] = True,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run the SLA clocks once in the foreground: poll tickets, take due steps, push the notifications."""
    from pipelines import outbox, sla, tickets
    from pipelines.notify import notifier_for
    from worker import jobs
    from worker.cli import console, context

    ctx = context()
    summary: dict[str, Any] = {"mode": ctx.settings.mode}
    groups: set[str] = set()
    if poll:
        polled = tickets.poll(ctx)
        summary["tickets_polled"] = polled.tickets
        groups |= set(polled.groups)
    report = sla.tick(ctx)
    groups |= set(report.groups)
    summary.update(tickets_due=report.tickets, steps=dict(report.steps), deferred=report.deferred)
    if push and not ctx.shadow:
        targets = outbox.PushTargets(psa=ctx.psa(), rmm=None, notifier=notifier_for(ctx))
        applied: dict[str, int] = {}
        failed = []
        for g in sorted(groups):
            result = outbox.push_group(ctx.db, targets, g, lease_seconds=ctx.settings.lease_seconds)
            for kind, _ in result.done:
                applied[kind] = applied.get(kind, 0) + 1
            failed += [f"{g}: {why}" for _, why in result.failed]
        summary.update(applied=applied, failed=failed)
    elif groups:
        summary["enqueued"] = jobs.enqueue_pushes(ctx, sorted(groups))
    if as_json:
        console.print_json(json.dumps(summary))
    else:
        for key, value in summary.items():
            console.print(f"{key:>15}: {value}")


@sla_app.command("preview")
def preview(
    message: Annotated[str, typer.Argument(help="Message name in messages.yaml (received, unassigned, …)")],
    client: Annotated[str | None, typer.Option("--client", help="PSA company id, for its overrides")] = None,
    html: Annotated[bool, typer.Option("--html", help="Print the HTML body instead of the text")] = False,
) -> None:
    """Render a message with sample data: how it reads, and whether an override works."""
    from config.loader import load_all
    from config.settings import load_settings
    from rules.messages import SAMPLE, render
    from rules.sla_config import MESSAGES, MessagesConfig
    from worker.cli import UserError, console

    if message not in MESSAGES:
        raise UserError(f"no message {message!r} (known: {', '.join(MESSAGES)})")
    messages = load_all(load_settings().config_dir)["messages.yaml"]
    assert isinstance(messages, MessagesConfig)
    template = messages.message(message, client)
    context = {**SAMPLE, "sender": messages.sender_for(client).model_dump()}
    rendered = render(template.subject, template.body, context)
    console.print(f"[bold]Subject:[/] {rendered.subject}  [dim]({MESSAGES[message]})[/]\n")
    console.print(rendered.html if html else rendered.text, markup=False, highlight=False)

