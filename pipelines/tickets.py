"""The PSA ticket flow: poll new and changed tickets incrementally, hand them to the consumers.

One poll of the PSA serves every feature that watches tickets (two-way close, enrichment, SLA
clocks): each is a *consumer* listed in :data:`CONSUMERS`, a function
``consume(ctx, session, tickets, now) -> list[str]`` that records its decisions, state and
outbox actions in the given session and returns the outbox groups to push. Everything a batch
causes — every consumer's work and the moved cursor — commits in one transaction (cursor
compare-and-set as for alerts), so a consumer that fails rolls the batch back and the next poll
sees the same tickets again. Consumers must therefore be idempotent for re-delivered tickets.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from connectors.canonical import Ticket
from connectors.errors import ConnectorError
from pipelines import quarantine
from pipelines.alerts import _save_cursor, note_error, read_cursor

__all__ = ["CONSUMERS", "Consumer", "TicketPollReport", "consumers", "ingest", "poll", "stream_name"]

Consumer = Callable[[Any, Session, Sequence[Ticket], datetime], list[str]]

CONSUMERS: list[str] = [
    "pipelines.twoway:consume",
    "pipelines.enrich:consume",
    "pipelines.sla:consume",
]
"""``module:function`` of every ticket consumer, in the order they run."""


@dataclass
class TicketPollReport:
    tickets: int = 0
    groups: list[str] = field(default_factory=list)
    quarantined: int = 0
    calls: int = 0
    by_consumer: dict[str, int] = field(default_factory=dict)


def stream_name(vendor: str) -> str:
    return f"tickets:{vendor}"


def consumers(names: Sequence[str] | None = None) -> list[tuple[str, Consumer]]:
    out = []
    for spec in names if names is not None else CONSUMERS:
        module, _, attr = spec.partition(":")
        out.append((spec, getattr(importlib.import_module(module), attr)))
    return out


def ingest(
    ctx: Any,
    tickets: Sequence[Ticket],
    *,
    now: datetime,
    rejected: Sequence[Any] = (),
    cursor: tuple[str, int, str | None] | None = None,
    only: Sequence[str] | None = None,
) -> TicketPollReport:
    report = TicketPollReport(tickets=len(tickets))
    groups: set[str] = set()
    with ctx.db.session() as session:
        if cursor is not None:
            _save_cursor(session, *cursor, now)
        report.quarantined = quarantine.keep_all(session, rejected, now)
        for name, consume in consumers(only):
            got = consume(ctx, session, tickets, now)
            report.by_consumer[name] = len(got)
            groups.update(got)
    report.groups = sorted(groups)
    return report


def poll(ctx: Any, *, now: datetime | None = None) -> TicketPollReport:
    """One incremental poll of the configured PSA's tickets, through every consumer."""
    psa = ctx.psa()
    now = now or ctx.clock.now()
    stream = stream_name(psa.vendor)
    value, version = read_cursor(ctx, stream)
    try:
        pulled = psa.pull_tickets(value, now)
    except ConnectorError as exc:
        note_error(ctx, stream, str(exc), now)
        raise
    report = ingest(ctx, pulled.items, now=now, rejected=pulled.rejected, cursor=(stream, version, pulled.cursor))
    report.calls = pulled.calls
    return report
