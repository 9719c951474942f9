"""Races: many raises of one fingerprint at once, on several workers, still make exactly one ticket.

Each thread is a worker with its own database connection and transaction (a poll, a webhook, a
tick), all released at the same instant. What keeps them apart is the per-client rules-state lock
(PostgreSQL ``FOR UPDATE`` on ``rules_state``, created race-free with ``ON CONFLICT DO NOTHING``;
SQLite ``BEGIN IMMEDIATE``), backed by the ticket key's unique constraints in ``ticket_link`` and
``action_log`` and, at push time, the correlation marker in Autotask's ``externalID``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.canonical import AlertEvent
from pipelines import alerts, outbox
from pipelines.state import ActionRow, DecisionRow, RulesState, TicketLink
from tests.helpers import PAST_HOLD, build_stack

WORKERS = 8


@pytest.fixture
def stack(sim, make_context):
    return build_stack(sim, make_context)


def raised(stack, n: int, *, alert_id: str | None = None, ago: timedelta = PAST_HOLD) -> AlertEvent:
    return AlertEvent(
        id=f"ev-{alert_id or n}", alert_id=alert_id or f"alert-{n}", source="datto-rmm", kind="raised",
        at=stack.clock.now() - ago, client=stack.site, site=stack.site, device="dev-fs01", device_type="server",
        check="device_offline", severity="critical", message="Server not responding", client_name="Acme Dental",
        device_name="ACME-FS01",
    )


def all_at_once(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run every job in its own thread, released together; re-raise the first error."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(i: int, job: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = job()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def count(stack, model: Any, *where: Any) -> int:
    with stack.ctx.db.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0


def push_concurrently(stack) -> None:
    """Every worker pushes every pending group; a worker that finds a lease held backs off and retries."""
    targets = outbox.PushTargets(psa=stack.ctx.psa(), rmm=stack.ctx.rmm())

    def worker() -> None:
        for _ in range(200):
            with stack.ctx.db.session() as s:
                groups = outbox.pending_groups(s)
            if not groups:
                return
            for g in groups:
                try:
                    outbox.push_group(stack.ctx.db, targets, g)
                except outbox.LeaseHeld:
                    threading.Event().wait(0.01)

    all_at_once([worker] * 4)


def test_many_raises_of_one_fingerprint_on_many_workers_make_one_ticket(stack) -> None:
    now = stack.clock.now()
    jobs = [lambda i=i: alerts.ingest(stack.ctx, [raised(stack, i)], now=now, rmm="datto-rmm") for i in range(WORKERS)]
    reports = all_at_once(jobs)
    assert sum(r.decisions.get("open", 0) for r in reports) == 1
    assert sum(r.decisions.get("attach", 0) for r in reports) == WORKERS - 1
    assert count(stack, TicketLink) == 1
    assert count(stack, ActionRow, ActionRow.kind == "create_ticket") == 1
    assert count(stack, RulesState) == 1  # the state row was created once, by whichever worker came first
    push_concurrently(stack)
    (ticket,) = stack.our_tickets()
    assert stack.autotask.count("POST", r"/V1.0/Tickets$") == 1
    with stack.ctx.db.session() as s:
        assert ticket["marker"] == s.scalar(sa.select(TicketLink.key))


def test_the_same_alert_delivered_by_every_worker_at_once_decides_once(stack) -> None:
    now = stack.clock.now()
    event = raised(stack, 0, alert_id="alert-dup")
    all_at_once([lambda: alerts.ingest(stack.ctx, [event], now=now, rmm="datto-rmm")] * WORKERS)
    assert count(stack, DecisionRow, DecisionRow.kind == "open") == 1
    assert count(stack, DecisionRow) == 2  # hold + open, once
    assert count(stack, TicketLink) == 1


def test_workers_ticking_the_same_due_hold_at_once_open_one_ticket(stack) -> None:
    now = stack.clock.now()
    alerts.ingest(stack.ctx, [raised(stack, i, ago=timedelta(0)) for i in range(2)], now=now, rmm="datto-rmm")
    assert count(stack, TicketLink) == 0  # both inside their hold (a third raise would be flapping)
    stack.advance(minutes=5)
    later = stack.clock.now()
    reports = all_at_once([lambda: alerts.tick(stack.ctx, now=later)] * WORKERS)
    assert sum(r.decisions.get("open", 0) for r in reports) == 1
    assert count(stack, TicketLink) == 1
    assert count(stack, ActionRow, ActionRow.kind == "create_ticket") == 1
