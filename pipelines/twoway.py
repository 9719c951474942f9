"""Two-way: a ticket closed in the PSA by a person resolves its still-open alerts in the RMM.

A ticket consumer (see ``pipelines/tickets.py``): the PSA poll hands it new and changed tickets,
in the poll's transaction. For each ticket Switchboard opened (found by its correlation marker)
that a person closed, it tells the client's rules engine, which

- stops treating the ticket as open (a new raise of the fingerprint reopens it within the reopen
  window instead of opening another), and
- for every attached alert still open, decides ``resolve_alert`` — unless the client opted out
  (an exception that disables the ``two_way`` rule). Each becomes an outbox action in its own
  group ``rmm:{source}:{alert_id}``, pushed to that RMM (``PushTargets.rmm_for``).

No echo: a ticket Switchboard is closing or closed itself has ``ticket_link.status`` other than
``open`` (``resolving`` from the moment the resolve is planned, then the status the push set), so
it is skipped — its alerts had cleared anyway. Re-delivered tickets are skipped the same way once
handled. In shadow mode the actions are recorded as ``shadow`` and never pushed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from connectors.canonical import Ticket
from pipelines.alerts import apply_decisions, load_state
from pipelines.state import TicketLink

__all__ = ["consume"]


def _link_of(session: Session, ticket: Ticket) -> TicketLink | None:
    if ticket.marker:
        link = session.get(TicketLink, ticket.marker)
        if link is not None:
            return link
    return session.scalar(sa.select(TicketLink).where(TicketLink.psa == ticket.ref.vendor,
                                                      TicketLink.psa_ticket_id == ticket.ref.id))


def consume(ctx: Any, session: Session, tickets: Sequence[Ticket], now: datetime) -> list[str]:
    groups: set[str] = set()
    for ticket in tickets:
        if ticket.is_open:
            continue
        link = _link_of(session, ticket)
        if link is None or link.status != "open":
            continue  # not Switchboard's ticket, or Switchboard closed it itself, or already handled
        closed_at = ticket.closed_at or ticket.updated_at or now
        link.status, link.closed_at = ticket.status.value, closed_at
        row, state = load_state(session, link.client)
        decisions = ctx.engine.on_ticket_closed(state, link.key, closed_at)
        report = apply_decisions(ctx, session, state, row, decisions, now, ctx.settings.rmm)
        groups.update(report.groups)
    return sorted(groups)
