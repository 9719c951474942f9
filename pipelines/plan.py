"""Turn rule decisions into outbox actions and link rows (pure: no I/O).

One decision can mean several effects (open = create the ticket + post the explain note);
several decisions on one ticket in one batch collapse into a single note update.
Every action key is derived from the ticket key and what the action is for, so planning the
same decision twice records nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.canonical import Ref, Severity, TicketDraft, TicketStatus
from pipelines.outbox import Action
from rules.config import TicketsConfig
from rules.engine import ClientState, Decision

__all__ = ["Plan", "check_label", "explain_body", "plan", "title_of"]


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    new_tickets: list[dict[str, Any]] = field(default_factory=list)
    ticket_updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    alert_links: list[dict[str, Any]] = field(default_factory=list)
    blocked: dict[str, str] = field(default_factory=dict)
    """action key -> why it cannot be applied yet (e.g. unmapped client)"""


def check_label(check: str, cfg: TicketsConfig) -> str:
    if check in cfg.check_labels:
        return cfg.check_labels[check]
    base, _, detail = check.partition(":")
    if base in cfg.check_labels:
        return f"{cfg.check_labels[base]} ({detail})" if detail else cfg.check_labels[base]
    return check.replace("_", " ")


def title_of(data: Mapping[str, Any], cfg: TicketsConfig) -> str:
    fields = {
        "severity_label": str(data.get("severity", "")).capitalize(),
        "check": data.get("check", ""),
        "check_label": check_label(str(data.get("check", "")), cfg),
        "device_name": data.get("device_name") or data.get("device") or "",
        "client_name": data.get("client_name", ""),
        "site_name": data.get("site_name", ""),
    }
    try:
        return cfg.title.format(**fields)[:250]
    except (KeyError, IndexError, ValueError):
        return "{severity_label}: {check_label} on {device_name} ({client_name})".format(**fields)[:250]


def explain_body(state: ClientState, key: str, rule: str, reason: str, cfg: TicketsConfig) -> str:
    ticket = state.tickets.get(key)
    lines = [f"Why this ticket exists: {reason} (rule: {rule})."]
    if ticket is None:
        return lines[0]
    lines.append(
        f"Opened {ticket.opened_at:%Y-%m-%d %H:%M} UTC; seen {ticket.repeats + 1} time(s); "
        f"last seen {ticket.last_seen:%Y-%m-%d %H:%M} UTC." if ticket.last_seen else ""
    )
    lines.append("Attached alerts:")
    for alert_id in ticket.alerts:
        rec = state.alerts.get(alert_id)
        if rec is None:
            continue
        status = f"cleared {rec.resolved_at:%H:%M}" if rec.resolved_at else "open"
        lines.append(
            f"- {check_label(rec.check, cfg)} on {rec.device_name} ({rec.severity}), raised "
            f"{rec.raised_at:%Y-%m-%d %H:%M} UTC, {status} [alert {rec.alert_id}]"
        )
    return "\n".join(line for line in lines if line)


def plan(
    decisions: Sequence[Decision],
    state: ClientState,
    *,
    psa: str,
    company: Ref | None,
    cfg: TicketsConfig,
    now: datetime,
) -> Plan:
    out = Plan()
    touched: list[str] = []
    internal = cfg.note_visibility == "internal"
    for d in decisions:
        if d.alert_id:
            out.alert_links.append(
                {
                    "alert_id": d.alert_id, "client": d.client, "fingerprint": d.fingerprint or "",
                    "ticket_key": d.ticket, "rule": d.rule, "reason": d.reason, "kind": d.kind, "at": d.at,
                    "source": d.data.get("source") or (state.alerts[d.alert_id].source if d.alert_id in state.alerts else ""),
                }
            )
        if d.kind == "open" and d.ticket:
            title = title_of(d.data, cfg)
            severity = Severity(d.data.get("severity", "moderate"))
            description = (
                f"{d.data.get('message') or title}\n\n"
                f"Client: {d.data.get('client_name', d.client)}\nSite: {d.data.get('site_name') or d.data.get('site', '')}\n"
                f"Device: {d.data.get('device_name')} ({d.data.get('device_type')})\nCheck: {d.data.get('check')}\n"
                f"Severity: {severity.value}\nFirst seen: {d.at:%Y-%m-%d %H:%M} UTC\nSource: {d.data.get('source', '')}"
            )
            draft = TicketDraft(
                title=title, description=description, company=company, priority=cfg.priority_by_severity.get(severity, 3),
                status=TicketStatus.new, marker=d.ticket, source_alert=d.alert_id,
            )
            out.new_tickets.append(
                {"key": d.ticket, "psa": psa, "client": d.client, "fingerprint": d.fingerprint or "", "title": title,
                 "rule": d.rule, "reason": d.reason, "opened_at": d.at, "last_seen_at": d.at}
            )
            create = Action(f"create:{d.ticket}", d.ticket, "create_ticket",
                            {"ticket": d.ticket, "draft": draft.model_dump(mode="json")}, d.client)
            out.actions.append(create)
            if company is None:
                out.blocked[create.key] = (
                    f"client {d.data.get('client_name') or d.client!r} ({d.client}) is not mapped to a {psa} company; "
                    "map it with `switchboard clients map`"
                )
            touched.append(d.ticket)
        elif d.kind in ("attach", "repeat") and d.ticket:
            upd = out.ticket_updates.setdefault(d.ticket, {})
            upd["repeat_count"] = d.data.get("repeats", 0)
            upd["last_seen_at"] = d.at
            touched.append(d.ticket)
        elif d.kind == "resolve" and d.ticket:
            status = d.data.get("status", "closed")
            alerts = d.data.get("alerts", [])
            body = (
                f"All {len(alerts)} attached alert(s) have cleared ({d.reason}; rule: {d.rule}). "
                f"Switchboard moves this ticket to {status} unless a person is working on it."
            )
            out.actions.append(Action(
                f"note:{d.ticket}:resolved", d.ticket, "add_note",
                {"ticket": d.ticket, "body": body, "marker": f"{d.ticket}:resolved", "internal": internal}, d.client,
            ))
            out.actions.append(Action(
                f"close:{d.ticket}", d.ticket, "close_ticket",
                {"ticket": d.ticket, "status": status, "only_if_untouched": d.data.get("only_if_untouched", True)},
                d.client,
            ))
            out.ticket_updates.setdefault(d.ticket, {})["status"] = "resolving"
    if cfg.explain_note:
        for key in dict.fromkeys(touched):
            ticket = state.tickets.get(key)
            if ticket is None:
                continue  # resolved in this same batch: the resolve note says it all
            rule, reason = ticket.rule, ticket.reason
            revision = ticket.repeats + len(ticket.alerts)
            out.actions.append(Action(
                f"note:{key}:explain:{revision}", key, "upsert_note",
                {"ticket": key, "slot": "explain", "body": explain_body(state, key, rule, reason, cfg),
                 "marker": f"{key}:explain", "internal": internal, "title": "Why Switchboard opened this ticket"},
                state.client,
            ))
    return out
