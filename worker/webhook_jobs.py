"""RQ jobs the webhook receiver enqueues: small, importable, safe to run twice.

- :func:`ingest_alerts_job` runs a delivery's canonical alert events through
  ``pipelines.alerts.ingest`` — the same rules and outbox as a poll. An event delivered twice (by
  the vendor, or once by webhook and once by the poll) is recognised by its id and changes nothing.
- :func:`refresh_tickets_job` re-reads the tickets a PSA says changed (a targeted pull: one read
  per ticket, at most :data:`TARGETED_MAX`) and hands them to the ticket consumers; for more, or
  when no ids came, it runs the incremental ticket poll instead. Either way the periodic poll still
  reconciles anything a webhook missed.
"""

from __future__ import annotations

import logging
from typing import Any

from connectors.canonical import AlertEvent
from connectors.errors import NotFound

__all__ = ["TARGETED_MAX", "ingest_alerts_job", "refresh_tickets_job"]

log = logging.getLogger("switchboard.webhooks")

TARGETED_MAX = 25


def ingest_alerts_job(vendor: str, events: list[dict[str, Any]], tenant: str | None = None) -> dict[str, Any]:
    from pipelines import alerts
    from worker import jobs

    ctx = jobs.context()
    parsed = [AlertEvent.model_validate(e) for e in events]
    report = alerts.ingest(ctx, parsed, now=ctx.clock.now(), rmm=vendor)
    jobs.enqueue_pushes(ctx, report.groups)
    return {"vendor": vendor, "tenant": tenant, "events": report.events, "decisions": dict(report.decisions),
            "groups": len(report.groups), "blocked": report.blocked}


def refresh_tickets_job(vendor: str, ids: list[str], tenant: str | None = None) -> dict[str, Any]:
    from pipelines import tickets
    from worker import jobs

    ctx = jobs.context()
    if vendor != ctx.settings.psa:
        return {"skipped": f"{vendor} is not the configured PSA ({ctx.settings.psa})"}
    if not ids or len(ids) > TARGETED_MAX:
        return {"incremental": jobs.poll_tickets_job()}
    psa = ctx.psa()
    found = []
    for ticket_id in dict.fromkeys(ids):
        try:
            found.append(psa.get_ticket(ticket_id))
        except NotFound:
            log.info("%s ticket %s from a webhook no longer exists", vendor, ticket_id)
    report = tickets.ingest(ctx, found, now=ctx.clock.now())
    jobs.enqueue_pushes(ctx, report.groups)
    return {"vendor": vendor, "tenant": tenant, "tickets": report.tickets, "groups": len(report.groups)}
