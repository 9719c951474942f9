"""SLA notifications on the real stack: RQ worker processes racing on real Redis, the PSA simulator over
HTTP on 127.0.0.1, a real SMTP server — every notification delivered exactly once."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from rq import Queue

from connectors.simulators.autotask import AutotaskSimulator
from connectors.simulators.server import serve
from tests.helpers import settings_env
from tests.sla_stack import LEVEL1, T0, config_dir, smtp_settings
from tests.smtp_sink import smtp_server
from worker import jobs, sla_jobs

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self):
        return self.at


def run_workers(env: dict[str, str], n: int = 2) -> None:
    procs = [subprocess.Popen([sys.executable, "-m", "worker", "worker", "--burst"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(n)]
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, out.decode()[-3000:]


def test_two_worker_processes_racing_send_each_notification_once(sim, make_context, settings_factory,
                                                                 tmp_path) -> None:
    clock = Clock()
    at = sim(AutotaskSimulator, now=clock)
    company = at.add_company("Acme Dental")
    contact = at.add_contact(company, "Jane", "Doe", "jane@acme.example")
    with smtp_server() as sink, serve(at) as server:
        overrides = {"autotask": {"base_url": server.url}, "config_dir": config_dir(tmp_path),
                     "smtp": smtp_settings(sink), "clock": "redis", "job_timeout_seconds": 60}
        ctx = make_context(**overrides)
        env = settings_env(settings_factory(**overrides))

        def set_time(when) -> None:
            clock.at = when
            ctx.redis.set(f"{ctx.prefix}:clock", when.isoformat())

        set_time(T0)
        for i in range(6):
            at.add_ticket(title=f"Server {i} down", companyID=company, contactID=contact, priority=4, status=1,
                          queueID=int(LEVEL1))
        poll = Queue(ctx.queue_name("poll"), connection=ctx.redis)
        poll.enqueue(jobs.poll_tickets_job)
        poll.enqueue(jobs.poll_tickets_job)  # a duplicated poll
        run_workers(env)
        assert len([r for r in sink.received if "jane@acme.example" in r.rcpt_tos]) == 6

        set_time(T0 + timedelta(minutes=15))
        for _ in range(3):  # the scheduler fired twice, and a retry: all racing on two workers
            poll.enqueue(sla_jobs.sla_tick_job)
        run_workers(env)
        dispatcher = [r for r in sink.received if "dispatch@msp.example" in r.rcpt_tos]
        assert len(dispatcher) == 6, "one alert per ticket, counting every delivery"
        assert all("not assigned after 15 min" in r.subject for r in dispatcher)
        assert sorted(len(at.notes_of(t["id"])) for t in at.tickets()) == [1] * 6
        assert len(sink.received) == 12
