"""The alert flow: pull RMM alert events -> rules -> plan -> outbox, one transaction per batch.

``poll`` reads the stream's saved cursor, pulls the vendor's changes since then, and hands the
events to ``ingest``. ``ingest`` loads each affected client's rules state (row-locked on
PostgreSQL), runs the engine, records decisions, links and outbox actions, saves the states and
moves the cursor — all in one transaction, so either everything about a batch is remembered or
nothing is (and the next poll simply sees the same changes again). The cursor is moved with a
compare-and-set on its version: two polls of one stream can never both commit.

``tick`` runs the engine's timers for clients whose next timer is due (an index on
``rules_state.next_due``, not a scan). Webhook deliveries call ``ingest`` directly; the poll
reconciles whatever a webhook missed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connectors.canonical import AlertEvent, Ref
from connectors.errors import ConnectorError
from connectors.protocols import Rejected
from pipelines import outbox, quarantine
from pipelines.plan import plan
from pipelines.state import AlertLink, ClientMap, DecisionRow, RulesState, SyncCursor, TicketLink
from rules.engine import ClientState, Decision

__all__ = ["CursorConflict", "IngestReport", "apply_decisions", "ingest", "load_state", "poll", "tick", "watermark"]


class CursorConflict(Exception):
    """Another poll of the same stream committed first; this batch was rolled back."""


@dataclass
class IngestReport:
    events: int = 0
    decisions: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    groups: list[str] = field(default_factory=list)
    quarantined: int = 0
    blocked: int = 0
    calls: int = 0

    def merge(self, other: IngestReport) -> None:
        self.events += other.events
        for k, v in other.decisions.items():
            self.decisions[k] += v
        self.groups = sorted(set(self.groups) | set(other.groups))
        self.quarantined += other.quarantined
        self.blocked += other.blocked
        self.calls += other.calls


def stream_name(vendor: str) -> str:
    return f"alerts:{vendor}"


def company_for(session: Session, rmm: str, client: str, psa: str) -> Ref | None:
    row = session.scalar(sa.select(ClientMap).where(ClientMap.rmm == rmm, ClientMap.rmm_client_id == client))
    if row is None or not row.psa_company_id or row.psa != psa:
        return None
    return Ref(vendor=psa, id=row.psa_company_id)


def load_state(session: Session, client: str) -> tuple[RulesState, ClientState]:
    """The client's rules state, locked for this transaction.

    Every batch of one client (polls, webhooks, ticks, ticket consumers on any worker) queues up
    here: PostgreSQL row lock (``FOR UPDATE``; a missing row is created with ``ON CONFLICT DO
    NOTHING`` first, so two workers cannot both create it), SQLite ``BEGIN IMMEDIATE`` (one writer
    at a time). The second batch sees the first one's tickets: many raises of one fingerprint at
    once still give one ticket.
    """
    pg = session.get_bind().dialect.name == "postgresql"
    q = sa.select(RulesState).where(RulesState.client == client)
    if pg:
        q = q.with_for_update()
    row = session.scalar(q)
    if row is None:
        insert = postgresql.insert if pg else sqlite.insert
        session.execute(insert(RulesState).values(client=client, state={}, version=0, updated_at=datetime.now(UTC))
                        .on_conflict_do_nothing(index_elements=["client"]))
        row = session.scalar(q.execution_options(populate_existing=True))
        assert row is not None
    return row, ClientState.from_dict(row.state, client)


def apply_decisions(
    ctx: Any, session: Session, state: ClientState, row: RulesState, decisions: Sequence[Decision],
    now: datetime, rmm: str,
) -> IngestReport:
    report = IngestReport()
    row.state = state.to_dict()
    row.next_due = state.next_due()
    row.version += 1
    row.updated_at = now
    if not decisions:
        return report
    from pipelines import enrich as enrichment  # (imports this module)

    psa = ctx.settings.psa
    company = company_for(session, rmm, state.client, psa)
    ecfg = enrichment.config_of(ctx)
    enrich = enrichment.alert_enricher(ctx, session)
    known = enrichment.stored_records(session, sorted({d.ticket for d in decisions if d.ticket})) if enrich else {}
    p = plan(decisions, state, psa=psa, company=company, cfg=ctx.tickets, now=now, enrich=enrich,
             enrichments=known, enrich_fields=ecfg.fields, kb_articles=ecfg.note.max_articles)
    if p.enrichments:
        enrichment.remember_alert_records(ctx, session, p.enrichments, p.written, now)
    for d in decisions:
        report.decisions[d.kind] += 1
        session.add(DecisionRow(at=d.at, client=d.client, kind=d.kind, rule=d.rule, reason=d.reason,
                                alert_id=d.alert_id, fingerprint=d.fingerprint, ticket_key=d.ticket))
    for t in p.new_tickets:
        if session.get(TicketLink, t["key"]) is None:
            session.add(TicketLink(**t))
    for key, changes in p.ticket_updates.items():
        link = session.get(TicketLink, key)
        if link is not None:
            for name, value in changes.items():
                setattr(link, name, value)
    for a in p.alert_links:
        _link_alert(session, a, rmm)
    report.groups = outbox.record(session, p.actions, now=now, status="shadow" if ctx.shadow else "pending",
                                  blocked=p.blocked)
    report.blocked += len(p.blocked)
    return report


def _link_alert(session: Session, a: dict[str, Any], rmm: str) -> None:
    """Keep ``alert_link`` (one row per RMM alert) at the alert's latest outcome."""
    source = a["source"] or rmm
    link = session.get(AlertLink, (source, a["alert_id"]))
    if link is None:
        link = AlertLink(source=source, alert_id=a["alert_id"], client=a["client"], fingerprint=a["fingerprint"],
                         raised_at=a.get("raised_at") or a["at"])
        session.add(link)
    kind = a["kind"]
    if a.get("resolved_at") is not None:
        link.resolved_at = a["resolved_at"]
    if kind in ("open", "attach", "reopen"):
        link.ticket_key, link.rule, link.reason = a["ticket_key"], a["rule"], a["reason"]
        link.state = "resolved" if link.resolved_at else "ticketed"
    elif kind == "hold":
        link.state, link.rule, link.reason = "held", a["rule"], a["reason"]
    elif kind == "suppress":
        if not link.ticket_key:
            link.state, link.rule, link.reason = "suppressed", a["rule"], a["reason"]
    elif kind == "clear":
        link.state, link.resolved_at = "resolved", a["at"]
    elif kind == "retitle" and a["ticket_key"]:
        link.ticket_key = a["ticket_key"]


def ingest(
    ctx: Any,
    events: Iterable[AlertEvent],
    *,
    now: datetime,
    rmm: str,
    rejected: Sequence[Rejected] = (),
    cursor: tuple[str, int, str | None] | None = None,
) -> IngestReport:
    """Run a batch of events through the rules and record the outcome (see module doc)."""
    by_client: dict[str, list[AlertEvent]] = defaultdict(list)
    total = 0
    for e in sorted(events, key=lambda e: (e.at, e.kind != "raised")):
        by_client[e.client].append(e)
        total += 1
    report = IngestReport(events=total)
    with ctx.db.session() as session:
        if cursor is not None:
            stream, version, value = cursor
            _save_cursor(session, stream, version, value, now)
        report.quarantined = quarantine.keep_all(session, rejected, now)
        for client in sorted(by_client):
            row, state = load_state(session, client)
            decisions = ctx.engine.on_events(state, by_client[client], now)
            report.merge(apply_decisions(ctx, session, state, row, decisions, now, rmm))
    return report


def _save_cursor(session: Session, stream: str, version: int, value: str | None, now: datetime) -> None:
    if version == 0 and session.get(SyncCursor, stream) is None:
        session.add(SyncCursor(stream=stream, value=value, version=1, updated_at=now, last_success_at=now))
        session.flush()
        return
    result = session.execute(
        sa.update(SyncCursor)
        .where(SyncCursor.stream == stream, SyncCursor.version == version)
        .values(value=value, version=version + 1, updated_at=now, last_success_at=now, last_error=None)
    )
    if result.rowcount != 1:
        raise CursorConflict(f"stream {stream} was advanced by another poll")


def read_cursor(ctx: Any, stream: str) -> tuple[str | None, int]:
    with ctx.db.session() as session:
        row = session.get(SyncCursor, stream)
        return (row.value, row.version) if row else (None, 0)


def note_error(ctx: Any, stream: str, error: str, now: datetime) -> None:
    with ctx.db.session() as session:
        row = session.get(SyncCursor, stream)
        if row is None:
            session.add(SyncCursor(stream=stream, value=None, version=0, updated_at=now, last_error=error))
        else:
            row.last_error = error
            row.updated_at = now


def poll(ctx: Any, *, now: datetime | None = None) -> IngestReport:
    """One incremental poll of the configured RMM's alerts."""
    source = ctx.rmm()
    now = now or ctx.clock.now()
    stream = stream_name(source.vendor)
    value, version = read_cursor(ctx, stream)
    try:
        pulled = source.pull_alert_events(value, now)
    except ConnectorError as exc:
        note_error(ctx, stream, str(exc), now)
        raise
    report = ingest(ctx, pulled.items, now=now, rmm=source.vendor, rejected=pulled.rejected,
                    cursor=(stream, version, pulled.cursor))
    report.calls = pulled.calls
    return report


def watermark(ctx: Any, now: datetime) -> datetime:
    """How far the rules' timers may run: up to the last successful poll of the RMM's alerts.

    A poll only learns at ``t`` what happened before ``t``: a blip that cleared two minutes after
    it was raised is seen cleared at the next poll. Were the hold decided on the wall clock, the
    tick could open a ticket for it just before that poll brings the clear. So timers run up to
    the moment the alert stream is known complete (its cursor's last success), never beyond
    ``now``. A stream never polled (webhook-only, tests feeding ``ingest`` directly) does not hold
    them back.
    """
    with ctx.db.session() as session:
        known = session.scalar(sa.select(SyncCursor.last_success_at)
                               .where(SyncCursor.stream == stream_name(ctx.settings.rmm)))
    return min(now, known) if known is not None else now


def tick(ctx: Any, *, now: datetime | None = None, limit: int = 500) -> IngestReport:
    """Run due timers (hold expiry, clear windows…) for the clients whose next timer has come
    (up to the :func:`watermark`)."""
    now = watermark(ctx, now or ctx.clock.now())
    report = IngestReport()
    with ctx.db.session() as session:
        due = list(session.scalars(
            sa.select(RulesState.client).where(RulesState.next_due <= now).order_by(RulesState.next_due).limit(limit)
        ))
    for client in due:
        with ctx.db.session() as session:
            row, state = load_state(session, client)
            decisions = ctx.engine.on_tick(state, now)
            report.merge(apply_decisions(ctx, session, state, row, decisions, now, ctx.settings.rmm))
    return report
