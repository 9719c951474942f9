"""The scheduler of ``switchboard run``: enqueues the periodic jobs, once per period.

Several ``switchboard run`` processes may run at once (one per machine): each period's job is
enqueued under a Redis ``SET NX`` key named after the period, so only one of them enqueues it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rq import Queue

from pipelines.runtime import Context
from worker import jobs, kb_jobs, sla_jobs

__all__ = ["PERIODIC", "Periodic", "Scheduler"]

log = logging.getLogger("switchboard.scheduler")


@dataclass(frozen=True)
class Periodic:
    name: str
    func: Callable[..., Any]
    interval: Callable[[Context], float]
    queue: str = "poll"


PERIODIC: list[Periodic] = [
    Periodic("poll-alerts", jobs.poll_alerts_job, lambda c: c.settings.poll_interval_seconds),
    Periodic("poll-tickets", jobs.poll_tickets_job, lambda c: c.settings.ticket_poll_interval_seconds),
    Periodic("rules-tick", jobs.tick_job, lambda c: c.settings.tick_interval_seconds),
    Periodic("reconcile", jobs.reconcile_job, lambda c: c.settings.reconcile_interval_seconds),
    Periodic("sla-tick", sla_jobs.sla_tick_job, lambda c: c.settings.sla_tick_interval_seconds),
    Periodic("kb-sync", kb_jobs.sync_kb_job, lambda c: c.settings.kb_sync_interval_seconds),
]


class Scheduler:
    def __init__(self, ctx: Context, periodic: list[Periodic] | None = None) -> None:
        self.ctx = ctx
        self.periodic = periodic if periodic is not None else PERIODIC
        self.stopped = False

    def due(self, now: float) -> list[tuple[Periodic, int]]:
        out = []
        for p in self.periodic:
            interval = max(0.2, p.interval(self.ctx))
            period = int(now // interval)
            key = f"{self.ctx.prefix}:period:{p.name}:{period}"
            if self.ctx.redis.set(key, "1", nx=True, ex=int(interval * 4) + 5):
                out.append((p, period))
        return out

    def run_once(self, now: float | None = None) -> int:
        n = 0
        for p, period in self.due(now if now is not None else time.time()):
            queue = Queue(self.ctx.queue_name(p.queue), connection=self.ctx.redis)
            queue.enqueue(p.func, job_timeout=self.ctx.settings.job_timeout_seconds, result_ttl=300,
                          failure_ttl=86400, description=f"{p.name} #{period}")
            n += 1
        return n

    def run(self, *, tick: float | None = None, until: Callable[[], bool] | None = None) -> None:
        if tick is None:
            shortest = min((p.interval(self.ctx) for p in self.periodic), default=1.0)
            tick = min(1.0, max(0.02, shortest / 5))
        while not self.stopped and not (until and until()):
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the scheduler must outlive a Redis blip
                log.exception("scheduler tick failed; retrying")
            time.sleep(tick)
