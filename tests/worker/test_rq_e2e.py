"""The real stack: RQ worker processes on a real Redis, simulators over real HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from rq import Queue

from connectors.simulators.autotask import AutotaskSimulator
from connectors.simulators.datto_rmm import DattoRmmSimulator
from connectors.simulators.server import serve
from pipelines import alerts, clients
from pipelines.state import ActionRow, TicketLink
from tests.helpers import PAST_HOLD, settings_env
from worker import jobs

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served(sim):
    datto = sim(DattoRmmSimulator)
    autotask = sim(AutotaskSimulator)
    servers = [serve(datto), serve(autotask)]
    yield datto, autotask, servers
    for s in servers:
        s.close()


@pytest.fixture
def live(served, make_context, settings_factory):
    datto, autotask, (ds, ats) = served
    overrides = {
        "datto_rmm": {"base_url": ds.url},
        "autotask": {"base_url": ats.url},
        "lease_seconds": 2,
        "job_timeout_seconds": 30,
    }
    ctx = make_context(**overrides)
    company = autotask.add_company("Acme Dental")
    site = datto.add_site("Acme Dental", autotask_company_id=str(company))
    with ctx.db.session() as s:
        clients.map_client(s, rmm="datto-rmm", rmm_client_id=site, psa="autotask", psa_company_id=str(company))
    env = settings_env(settings_factory(**overrides))
    return ctx, datto, autotask, site, env


def start_worker(env: dict[str, str], *, burst: bool) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "worker", "worker"] + (["--burst"] if burst else [])
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_for(predicate, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_alert_in_the_rmm_becomes_a_ticket_through_a_real_worker(live) -> None:
    ctx, datto, autotask, site, env = live
    datto.schedule_alert(datto.add_device(site, "ACME-FS01", category="Server"), raise_at=datto.now() - PAST_HOLD,
                         diagnostics="Disk C: 2% free", context={"@class": "perf_disk_usage_ctx", "diskName": "C:"})
    Queue(ctx.queue_name("poll"), connection=ctx.redis).enqueue(jobs.poll_alerts_job)
    worker = start_worker(env, burst=True)
    out, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, out.decode()[-2000:]
    tickets = [t for t in autotask.tickets() if t.get("externalID")]
    assert len(tickets) == 1, out.decode()[-2000:]
    assert tickets[0]["title"] == "High: Low disk space (C:) on ACME-FS01 (Acme Dental)"
    assert len(autotask.notes_of(tickets[0]["id"])) == 1


def test_worker_killed_mid_push_and_restarted_still_makes_exactly_one_ticket(live) -> None:
    ctx, datto, autotask, site, env = live
    datto.schedule_alert(datto.add_device(site, "ACME-FS01"), raise_at=datto.now() - PAST_HOLD)
    report = alerts.poll(ctx)
    # the PSA commits the ticket, then takes 5 s to answer: the worker will die in that window
    autotask.fail_next(200, method="POST", path=r"/V1.0/Tickets$", after_effect_delay=5.0)
    jobs.enqueue_pushes(ctx, report.groups)
    first = start_worker(env, burst=False)
    try:
        assert wait_for(lambda: autotask.count("POST", r"/V1.0/Tickets$") == 1), "the push never reached the PSA"
        time.sleep(0.3)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    with ctx.db.session() as s:
        create = s.scalar(sa.select(ActionRow).where(ActionRow.kind == "create_ticket"))
        assert create.status == "running" and create.attempts == 1  # died holding it
        assert s.scalar(sa.select(TicketLink.psa_ticket_id)) is None  # never learned the id
    time.sleep(2.2)  # the dead worker's lease runs out
    Queue(ctx.queue_name("poll"), connection=ctx.redis).enqueue(jobs.reconcile_job, 0)
    second = start_worker(env, burst=True)
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 0, out.decode()[-2000:]
    tickets = [t for t in autotask.tickets() if t.get("externalID")]
    assert len(tickets) == 1, f"expected exactly one ticket, got {len(tickets)}"
    assert autotask.count("POST", r"/V1.0/Tickets$") == 1, "the create was re-sent"
    with ctx.db.session() as s:
        create = s.scalar(sa.select(ActionRow).where(ActionRow.kind == "create_ticket"))
        assert create.status == "done" and create.attempts == 2
        assert create.result["outcome"] == "found by marker after an unknown outcome"
        assert s.scalar(sa.select(TicketLink.psa_ticket_id)) == str(tickets[0]["id"])
    assert len(autotask.notes_of(tickets[0]["id"])) == 1


def test_sync_once_cli_runs_a_cycle_in_the_foreground(live) -> None:
    ctx, datto, autotask, site, env = live
    datto.schedule_alert(datto.add_device(site, "ACME-WS01"), raise_at=datto.now() - PAST_HOLD)
    proc = subprocess.run([sys.executable, "-m", "worker", "sync", "once", "--json"], env=env, cwd=ROOT,
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert '"events": 1' in proc.stdout.decode()
    assert len([t for t in autotask.tickets() if t.get("externalID")]) == 1
    assert os.environ.get("SWITCHBOARD_DEBUG") != "1"
