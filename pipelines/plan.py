"""Turn rule decisions into outbox actions and link rows (pure: no I/O).

One decision can mean several effects (open = create the ticket + post the explain note);
several decisions on one ticket in one batch collapse into a single note update.
Every action key is derived from the ticket key and what the action is for (and, for effects
that can happen again on a reopened ticket, its occurrence), so planning the same decision
twice records nothing new.

Effects by decision::

    open          create_ticket (+ explain note)
    attach/repeat explain note updated (TicketLink: repeat count, last seen)
    retitle       update_ticket (title) — a ticket that became a storm's (+ explain note)
    reopen        reopen_ticket + "Nth occurrence" note (+ explain note)
    resolve       "alerts cleared" note + close_ticket (only if untouched: checked at push time)
    resolve_alert resolve_alert in the RMM (two-way), one group per alert: rmm:{source}:{alert_id}
    hold/suppress/clear/closed: alert and ticket links only
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.canonical import Ref, Severity, TicketDraft, TicketPatch, TicketStatus
from pipelines.outbox import Action
from rules.config import TicketsConfig
from rules.engine import ClientState, Decision
from rules.enrich_note import kb_section

__all__ = ["Plan", "check_label", "explain_body", "plan", "title_of"]

EXPLAIN_MAX_ALERTS = 40
"""Alerts listed in the explain note; a bigger storm or outage is summarised after that."""


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    new_tickets: list[dict[str, Any]] = field(default_factory=list)
    ticket_updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    alert_links: list[dict[str, Any]] = field(default_factory=list)
    blocked: dict[str, str] = field(default_factory=dict)
    """action key -> why it cannot be applied yet (e.g. unmapped client)"""
    enrichments: dict[str, dict[str, Any]] = field(default_factory=dict)
    """ticket key -> enrichment record of each ticket opened in this batch"""
    written: dict[str, dict[str, Any]] = field(default_factory=dict)
    """ticket key -> the enrichment fields set on the new ticket"""


def check_label(check: str, cfg: TicketsConfig) -> str:
    if check in cfg.check_labels:
        return cfg.check_labels[check]
    base, _, detail = check.partition(":")
    if base in cfg.check_labels:
        return f"{cfg.check_labels[base]} ({detail})" if detail else cfg.check_labels[base]
    return check.replace("_", " ")


def title_of(data: Mapping[str, Any], cfg: TicketsConfig) -> str:
    """The ticket title from the configured template; storms, outages and flapping say so."""
    kind = data.get("kind", "alert")
    device = data.get("device_name") or data.get("device") or ""
    label = check_label(str(data.get("check", "")), cfg)
    if kind == "storm":
        device = f"{data.get('devices', 'several')} devices"
    elif kind == "outage":
        label = "Site outage"
        device = f"{data.get('site_name') or data.get('site') or 'site'} (via {device})"
    fields = {
        "severity_label": str(data.get("severity", "")).capitalize(),
        "check": data.get("check", ""),
        "check_label": label,
        "device_name": device,
        "client_name": data.get("client_name", ""),
        "site_name": data.get("site_name", ""),
    }
    try:
        title = cfg.title.format(**fields)
    except (KeyError, IndexError, ValueError):
        title = "{severity_label}: {check_label} on {device_name} ({client_name})".format(**fields)
    if kind == "flapping":
        title = f"Flapping - {title}"
    return title[:250]


def explain_body(state: ClientState, key: str, rule: str, reason: str, cfg: TicketsConfig) -> str:
    ticket = state.tickets.get(key)
    lines = [f"Why this ticket exists: {reason} (rule: {rule})."]
    if ticket is None:
        return lines[0]
    if ticket.occurrence > 1:
        lines.append(f"Occurrence {ticket.occurrence}: the same problem came back soon after the ticket closed, "
                     "so Switchboard reopened this ticket instead of opening a new one.")
    if ticket.last_seen:
        lines.append(
            f"Opened {ticket.opened_at:%Y-%m-%d %H:%M} UTC; seen {ticket.repeats + 1} time(s); "
            f"last seen {ticket.last_seen:%Y-%m-%d %H:%M} UTC."
        )
    listed = [state.alerts[a] for a in ticket.alerts if a in state.alerts]
    devices = {r.device for r in listed}
    lines.append(f"Attached alerts ({len(listed)} on {len(devices)} device(s)):")
    for rec in listed[:EXPLAIN_MAX_ALERTS]:
        status = f"cleared {rec.resolved_at:%H:%M}" if rec.resolved_at else "open"
        lines.append(
            f"- {check_label(rec.check, cfg)} on {rec.device_name} ({rec.severity}), raised "
            f"{rec.raised_at:%Y-%m-%d %H:%M} UTC, {status} [alert {rec.alert_id}; {rec.rule}]"
        )
    if len(listed) > EXPLAIN_MAX_ALERTS:
        lines.append(f"- … and {len(listed) - EXPLAIN_MAX_ALERTS} more")
    return "\n".join(lines)


def _suffix(occurrence: int) -> str:
    """Keys of the first occurrence stay as they always were; a reopened ticket's get ``:N``."""
    return f":{occurrence}" if occurrence > 1 else ""


def plan(
    decisions: Sequence[Decision],
    state: ClientState,
    *,
    psa: str,
    company: Ref | None,
    cfg: TicketsConfig,
    now: datetime,
    enrich: Callable[[Mapping[str, Any]], dict[str, Any] | None] | None = None,
    enrichments: Mapping[str, Mapping[str, Any]] | None = None,
    enrich_fields: Sequence[str] = ("type", "subtype", "priority"),
    kb_articles: int = 3,
) -> Plan:
    """``enrich`` (ticket data -> enrichment record) types and prioritises new tickets and gives
    their note its troubleshooting articles; ``enrichments`` are the records of tickets opened
    before, so their note keeps the articles when it is updated."""
    out = Plan()
    touched: list[str] = []
    internal = cfg.note_visibility == "internal"
    for d in decisions:
        if d.alert_id and d.kind != "resolve_alert":
            rec = state.alerts.get(d.alert_id)
            out.alert_links.append(
                {
                    "alert_id": d.alert_id, "client": d.client, "fingerprint": d.fingerprint or "",
                    "ticket_key": d.ticket, "rule": d.rule, "reason": d.reason, "kind": d.kind, "at": d.at,
                    "source": d.data.get("source") or (rec.source if rec else ""),
                    "raised_at": rec.raised_at if rec else d.at,
                    "resolved_at": rec.resolved_at if rec else None,
                }
            )
        if d.kind == "open" and d.ticket:
            title = title_of(d.data, cfg)
            severity = Severity(d.data.get("severity", "moderate"))
            description = (
                f"{d.data.get('message') or title}\n\n"
                f"Client: {d.data.get('client_name', d.client)}\nSite: {d.data.get('site_name') or d.data.get('site', '')}\n"
                f"Device: {d.data.get('device_name')} ({d.data.get('device_type')})\nCheck: {d.data.get('check')}\n"
                f"Severity: {severity.value}\nFirst seen: {d.at:%Y-%m-%d %H:%M} UTC\nSource: {d.data.get('source', '')}\n"
                f"Opened by Switchboard: {d.reason} (rule: {d.rule})"
            )
            priority = cfg.priority_by_severity.get(severity, 3)
            ttype = tsub = None
            erec = None
            if enrich is not None:
                erec = enrich({"title": title, "text": str(d.data.get("message") or ""), "severity": severity.value,
                               "client": d.client})
            if erec:
                out.enrichments[d.ticket] = erec
                written: dict[str, Any] = {}
                if "priority" in enrich_fields and erec.get("priority") and erec["priority"] < priority:
                    priority = written["priority"] = int(erec["priority"])  # the more urgent of the two
                if erec.get("confident"):
                    if "type" in enrich_fields and erec.get("type"):
                        ttype = written["type"] = erec.get("psa_type") or erec["type"]
                    if "subtype" in enrich_fields and erec.get("subtype") and ttype:
                        tsub = written["subtype"] = erec.get("psa_subtype") or erec["subtype"]
                out.written[d.ticket] = written
            draft = TicketDraft(
                title=title, description=description, company=company, priority=priority,
                status=TicketStatus.new, marker=d.ticket, source_alert=d.alert_id, type=ttype, subtype=tsub,
            )
            out.new_tickets.append(
                {"key": d.ticket, "psa": psa, "client": d.client, "fingerprint": d.fingerprint or "", "title": title,
                 "rule": d.rule, "reason": d.reason, "opened_at": d.at, "last_seen_at": d.at}
            )
            payload: dict[str, Any] = {"ticket": d.ticket, "draft": draft.model_dump(mode="json")}
            if ttype or tsub:
                payload["types_optional"] = True  # a PSA that lacks the type names still gets the ticket
            create = Action(f"create:{d.ticket}", d.ticket, "create_ticket", payload, d.client)
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
        elif d.kind == "retitle" and d.ticket:
            title = title_of(d.data, cfg)
            out.actions.append(Action(
                f"title:{d.ticket}:{d.data.get('kind', 'storm')}", d.ticket, "update_ticket",
                {"ticket": d.ticket, "patch": TicketPatch(title=title).model_dump(mode="json", exclude_none=True)},
                d.client,
            ))
            out.ticket_updates.setdefault(d.ticket, {}).update(title=title, rule=d.rule, reason=d.reason)
            touched.append(d.ticket)
        elif d.kind == "reopen" and d.ticket:
            n = int(d.data.get("occurrence", 2))
            out.actions.append(Action(f"reopen:{d.ticket}:{n}", d.ticket, "reopen_ticket", {"ticket": d.ticket}, d.client))
            out.actions.append(Action(
                f"note:{d.ticket}:occurrence:{n}", d.ticket, "add_note",
                {"ticket": d.ticket, "body": f"Reopened by Switchboard: {d.reason} (rule: {d.rule}).",
                 "marker": f"{d.ticket}:occurrence:{n}", "internal": internal, "title": f"Occurrence {n}"},
                d.client,
            ))
            upd = out.ticket_updates.setdefault(d.ticket, {})
            upd.update(status="reopening", closed_at=None, last_seen_at=d.at, repeat_count=d.data.get("repeats", 0))
            touched.append(d.ticket)
        elif d.kind == "resolve" and d.ticket:
            status = d.data.get("status", "closed")
            alerts = d.data.get("alerts", [])
            n = int(d.data.get("occurrence", 1))
            body = (
                f"Switchboard: {d.reason} (rule: {d.rule}). It moves this ticket to {status} unless a person is "
                f"working on it ({len(alerts)} alert(s) attached)."
            )
            out.actions.append(Action(
                f"note:{d.ticket}:resolved{_suffix(n)}", d.ticket, "add_note",
                {"ticket": d.ticket, "body": body, "marker": f"{d.ticket}:resolved{_suffix(n)}", "internal": internal},
                d.client,
            ))
            out.actions.append(Action(
                f"close:{d.ticket}{_suffix(n)}", d.ticket, "close_ticket",
                {"ticket": d.ticket, "status": status, "only_if_untouched": d.data.get("only_if_untouched", True)},
                d.client,
            ))
            out.ticket_updates.setdefault(d.ticket, {})["status"] = "resolving"
        elif d.kind == "resolve_alert":
            source, alert_id = d.data["source"], d.data["alert_id"]
            out.actions.append(Action(
                f"resolve-alert:{source}:{alert_id}", f"rmm:{source}:{alert_id}", "resolve_alert",
                {"source": source, "alert_id": alert_id, "ticket": d.ticket}, d.client,
            ))
    known = {**(enrichments or {}), **out.enrichments}
    if cfg.explain_note:
        for key in dict.fromkeys(touched):
            ticket = state.tickets.get(key)
            if ticket is None:
                continue  # resolved in this same batch: the resolve note says it all
            body = explain_body(state, key, ticket.rule, ticket.reason, cfg)
            kb = kb_section(known.get(key), max_articles=kb_articles)
            out.actions.append(Action(
                f"note:{key}:explain:{ticket.revision}", key, "upsert_note",
                {"ticket": key, "slot": "explain", "body": f"{body}\n\n{kb}" if kb else body,
                 "marker": f"{key}:explain", "internal": internal, "title": "Why Switchboard opened this ticket"},
                state.client,
            ))
    else:
        for key, erec in out.enrichments.items():  # no explain note: the articles get their own note, once
            kb = kb_section(erec, max_articles=kb_articles)
            if kb:
                out.actions.append(Action(
                    f"note:{key}:kb", key, "upsert_note",
                    {"ticket": key, "slot": "kb", "body": kb, "marker": f"{key}:kb", "internal": internal,
                     "title": "Troubleshooting articles"}, state.client,
                ))
    return out
