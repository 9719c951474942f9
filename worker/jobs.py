"""RQ jobs: small functions taking primitives; each wires its context and calls one pipeline.

Every job is safe to run twice: polls are serialised by a Redis lock and a cursor
compare-and-set, pushes by the outbox's leases and idempotency keys.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from rq import Queue, Retry

from pipelines import alerts, outbox
from pipelines.runtime import Context, build_context

__all__ = [
    "context", "enqueue_pushes", "poll_alerts_job", "poll_tickets_job", "push_job", "reconcile_job", "tick_job",
]

log = logging.getLogger("switchboard.jobs")

PUSH_RETRY = Retry(max=8, interval=[5, 10, 30, 60, 120, 300, 600, 900])
POLL_RETRY = Retry(max=2, interval=[10, 30])

_CTX: Context | None = None


def context() -> Context:
    """This process's context, built once from the environment."""
    global _CTX
    if _CTX is None:
        _CTX = build_context(migrate=False)
    return _CTX


def set_context(ctx: Context | None) -> None:
    global _CTX
    _CTX = ctx


def _group_hash(group: str) -> str:
    return hashlib.sha1(group.encode()).hexdigest()[:20]


def enqueue_pushes(ctx: Context, groups: list[str]) -> int:
    """Queue one push job per group unless one is already waiting for it."""
    queue = Queue(ctx.queue_name("push"), connection=ctx.redis)
    n = 0
    for group in groups:
        h = _group_hash(group)
        if not ctx.redis.set(f"{ctx.prefix}:pushq:{h}", "1", nx=True, ex=max(60, ctx.settings.job_timeout_seconds)):
            continue
        queue.enqueue(
            push_job, group, retry=PUSH_RETRY, job_timeout=ctx.settings.job_timeout_seconds,
            description=f"push {group}", result_ttl=600, failure_ttl=7 * 86400,
        )
        n += 1
    return n


def push_job(group: str) -> dict[str, Any]:
    ctx = context()
    ctx.redis.delete(f"{ctx.prefix}:pushq:{_group_hash(group)}")
    from pipelines.notify import notifier_for

    targets = outbox.PushTargets(psa=ctx.psa(), rmm=ctx.rmm(), notifier=notifier_for(ctx))
    result = outbox.push_group(ctx.db, targets, group, lease_seconds=ctx.settings.lease_seconds)
    if result.failed:
        log.error("push %s failed: %s", group, result.failed[-1][1])
    return {"group": group, "done": result.done, "failed": result.failed}


@contextlib.contextmanager
def only_one(ctx: Context, name: str) -> Iterator[bool]:
    """Run the body only if no other job holds ``name`` (a Redis lock for one job timeout); yields
    whether this job got it. Stream jobs use it so two polls of one stream do not run at once."""
    lock = ctx.redis.lock(f"{ctx.prefix}:lock:{name}", timeout=ctx.settings.job_timeout_seconds, blocking=False)
    if not lock.acquire():
        yield False
        return
    try:
        yield True
    finally:
        with contextlib.suppress(Exception):  # an expired lock: the cursor's compare-and-set still protects us
            lock.release()


def poll_alerts_job() -> dict[str, Any]:
    ctx = context()
    with only_one(ctx, f"poll:{ctx.settings.rmm}") as mine:
        if not mine:
            return {"skipped": "another poll of this stream is running"}
        report = alerts.poll(ctx)
    enqueue_pushes(ctx, report.groups)
    return {"events": report.events, "decisions": dict(report.decisions), "groups": len(report.groups),
            "quarantined": report.quarantined, "blocked": report.blocked, "calls": report.calls}


def poll_tickets_job() -> dict[str, Any]:
    from pipelines import tickets

    ctx = context()
    with only_one(ctx, f"poll:{ctx.settings.psa}") as mine:
        if not mine:
            return {"skipped": "another poll of this stream is running"}
        report = tickets.poll(ctx)
    enqueue_pushes(ctx, report.groups)
    return {"tickets": report.tickets, "groups": len(report.groups), "by_consumer": report.by_consumer,
            "quarantined": report.quarantined, "calls": report.calls}


def tick_job() -> dict[str, Any]:
    ctx = context()
    report = alerts.tick(ctx)
    enqueue_pushes(ctx, report.groups)
    return {"decisions": dict(report.decisions), "groups": len(report.groups)}


def reconcile_job(min_age_seconds: int = 30) -> dict[str, Any]:
    """Re-queue groups whose push job was lost (dead worker, dropped job, emptied Redis)."""
    ctx = context()
    with ctx.db.session() as s:
        groups = outbox.pending_groups(s, older_than=datetime.now(UTC) - timedelta(seconds=min_age_seconds))
    return {"groups": len(groups), "enqueued": enqueue_pushes(ctx, groups)}
