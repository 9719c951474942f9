"""The SLA periodic job: take the steps of the tickets whose clocks are due, then queue their pushes."""

from __future__ import annotations

from typing import Any

from pipelines import sla
from worker import jobs

__all__ = ["sla_tick_job"]


def sla_tick_job() -> dict[str, Any]:
    """Safe to run twice or on several workers at once: rows are taken under lock, steps are recorded once."""
    ctx = jobs.context()
    report = sla.tick(ctx)
    jobs.enqueue_pushes(ctx, report.groups)
    return {"tickets": report.tickets, "steps": dict(report.steps), "groups": len(report.groups),
            "deferred": report.deferred}
