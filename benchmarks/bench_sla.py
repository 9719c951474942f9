"""SLA clocks at scale: 100,000 open tickets.

Prints
- the pure evaluation of every ticket's clocks and due steps (``clocks`` + ``plan``): time, per-ticket
  cost, peak memory (tracemalloc);
- the due-index query the periodic job runs (``WHERE next_due <= now``) against the plain baseline of
  loading and evaluating every open ticket to find the due ones, in the same run, on the same
  database — as a ratio — and that both find the same tickets;
- one real ``sla.tick`` over the due tickets (steps taken, notes recorded in the outbox) with the
  Autotask simulator, time per due ticket;
- the process's peak RSS.

``python benchmarks/bench_sla.py [--tickets N]``; SQLite in a temporary directory unless
``DATABASE_URL`` is set (then a throw-away PostgreSQL schema).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from config.loader import load_all  # noqa: E402
from connectors.canonical import Ref, Ticket, TicketStatus  # noqa: E402
from rules.escalation import plan, take  # noqa: E402
from rules.sla import Policy, SlaState, clocks, observe  # noqa: E402
from rules.sla_config import SlaConfig  # noqa: E402

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
CLIENTS = {  # five client calendars on three continents
    "7001": {"name": "Acme (New York)"},
    "7002": {"timezone": "Europe/London", "country": "GB", "subdivision": "ENG"},
    "7003": {"timezone": "Australia/Sydney", "country": "AU", "subdivision": "NSW"},
    "7004": {"timezone": "America/Los_Angeles", "country": "US", "subdivision": "CA"},
    "7005": {"timezone": "Asia/Tokyo", "country": "JP"},
}


def make_policy() -> Policy:
    configs = dict(load_all(None))
    sla = configs["sla.yaml"].model_dump(mode="json")
    sla["clients"] = CLIENTS
    configs["sla.yaml"] = SlaConfig.model_validate(sla)
    return Policy.from_configs(configs)


def make_states(n: int, policy: Policy, rng: random.Random, window: timedelta) -> list[SlaState]:
    """Realistic open tickets: created over the last three days, some assigned, acknowledged, waiting."""
    states = []
    for i in range(n):
        created = NOW - timedelta(minutes=rng.uniform(1, 3 * 24 * 60))
        company = rng.choice(list(CLIENTS))
        base = {"ref": Ref(vendor="autotask", id=str(100000 + i)), "number": f"T{i:06d}", "title": f"Ticket {i}",
                "priority": rng.choices([1, 2, 3, 4], weights=[5, 20, 50, 25])[0], "created_at": created,
                "company": Ref(vendor="autotask", id=company), "contact": Ref(vendor="autotask", id="1"),
                "status": TicketStatus.new}
        state, _ = observe(None, Ticket(**base, updated_at=created), created, policy)
        r = rng.random()
        if r < 0.7:  # assigned some minutes later
            at = created + timedelta(minutes=rng.uniform(2, 90))
            if at < NOW:
                status = TicketStatus.in_progress if r < 0.45 else TicketStatus.assigned
                state, _ = observe(state, Ticket(**{**base, "status": status}, assigned_to=Ref(vendor="autotask", id="9"),
                                                 updated_at=at), at, policy)
                if r < 0.1:  # then waiting on the client
                    later = at + timedelta(minutes=rng.uniform(5, 600))
                    if later < NOW:
                        state, _ = observe(state, Ticket(**{**base, "status": TicketStatus.waiting_client},
                                                         assigned_to=Ref(vendor="autotask", id="9"),
                                                         updated_at=later), later, policy)
        # the service has been running: every step due ``window`` ago was taken then
        earlier = NOW - window
        for step, outcome in plan(state, earlier, policy).act:
            take(state, step, outcome if outcome != "send" else "sent", earlier, acted=outcome == "send")
        states.append(state)
    return states


def evaluate_all(states: list[SlaState], policy: Policy) -> tuple[float, int, int]:
    """Time one pass over every ticket (clocks + due steps); peak memory from a second, traced pass."""

    def one_pass() -> int:
        due = 0
        for s in states:
            clocks(s, NOW, policy)
            if plan(s, NOW, policy).act:
                due += 1
        return due

    t = time.perf_counter()
    due = one_pass()
    elapsed = time.perf_counter() - t
    tracemalloc.start()
    one_pass()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak, due


def rss() -> int:
    """Current resident set size in bytes (Linux), 0 elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--window", type=float, default=15.0,
                        help="minutes since the service last took the due steps (what is due now)")
    args = parser.parse_args()
    window = timedelta(minutes=args.window)
    rng = random.Random(6)
    policy = make_policy()

    t = time.perf_counter()
    before = rss()
    states = make_states(args.tickets, policy, rng, window)
    print(f"built {len(states):,} open tickets' states from their PSA versions in {time.perf_counter() - t:.1f} s; "
          f"they hold about {(rss() - before) / 2**20:.0f} MiB (RSS growth); steps due up to {args.window:g} min "
          "ago were taken")

    elapsed, peak, due = evaluate_all(states, policy)
    print(f"pure evaluation (clocks + due steps) of {len(states):,} tickets: {elapsed:.2f} s "
          f"({elapsed / len(states) * 1e6:.0f} µs/ticket), peak extra memory of the pass {peak / 2**10:.0f} KiB "
          f"(tracemalloc); {due:,} have a step due now")

    from pipelines.db import Database
    from pipelines.state import SlaTicket

    tmp = Path(tempfile.mkdtemp(prefix="bench-sla-"))
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'bench.db'}"
    schema = f"bench_sla_{uuid.uuid4().hex[:8]}" if url.startswith("postgres") else None
    db = Database(url, schema=schema)
    db.upgrade()
    try:
        t = time.perf_counter()
        for i in range(0, len(states), 5000):
            rows = [{"key": s.key, "psa": s.psa, "ticket_id": s.ticket_id, "number": s.number, "company": s.company,
                     "priority": s.priority, "status": s.status, "tier": s.tier, "open": True, "state": s.to_dict(),
                     "next_due": plan(s, NOW - window, policy).next_due, "version": 1, "created_at": NOW,
                     "updated_at": NOW} for s in states[i:i + 5000]]
            with db.session() as session:
                session.execute(sa.insert(SlaTicket), rows)
        print(f"stored {len(states):,} rows in {time.perf_counter() - t:.1f} s ({db.dialect})")
        if db.dialect == "postgresql":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE sla_ticket")  # as autovacuum would after a bulk load

        def by_index() -> list[str]:
            with db.session() as session:
                return list(session.scalars(sa.select(SlaTicket.key).where(SlaTicket.next_due <= NOW)
                                            .order_by(SlaTicket.next_due)))

        def full_scan() -> list[str]:
            out = []
            with db.session() as session:
                rows = session.execute(sa.select(SlaTicket.key, SlaTicket.state).where(SlaTicket.open)
                                       .execution_options(yield_per=2000))
                for key, state in rows:
                    if plan(SlaState.from_dict(state), NOW, policy).act:
                        out.append(key)
            return out

        index_time, index_keys = timed(by_index)
        scan_time, scan_keys = timed(full_scan, repeat=1)
        assert isinstance(index_keys, list) and isinstance(scan_keys, list)
        print(f"due tickets by the next_due index: {len(index_keys):,} in {index_time * 1000:.1f} ms (median of 5)")
        print(f"baseline, load and evaluate every open ticket: {len(scan_keys):,} in {scan_time * 1000:.0f} ms")
        print(f"index vs full scan: {scan_time / index_time:.0f}x faster; same tickets: "
              f"{sorted(index_keys) == sorted(scan_keys)}")
        with db.engine.connect() as conn:
            if db.dialect == "sqlite":
                plan_rows = conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN SELECT key FROM sla_ticket WHERE next_due <= ? ORDER BY next_due",
                    (NOW.replace(tzinfo=None),)).fetchall()
            else:
                plan_rows = conn.exec_driver_sql(
                    "EXPLAIN SELECT key FROM sla_ticket WHERE next_due <= %s ORDER BY next_due",
                    (NOW.replace(tzinfo=None),)).fetchall()
        print("query plan: " + "; ".join(str(r[-1]).strip() for r in plan_rows))

        tick_due(db, url, schema, tmp, policy, len(index_keys))
    finally:
        if schema:
            with db.engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        db.dispose()
    print(f"peak RSS of the benchmark process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
          "(it holds every ticket's state at once for the in-memory pass; the service loads only due rows)")


def tick_due(db, url: str, schema: str | None, tmp: Path, policy: Policy, due: int) -> None:
    """One real periodic tick over every due ticket (steps recorded in the outbox), against the simulator."""
    from config.settings import Settings
    from connectors.simulators.autotask import AutotaskSimulator
    from pipelines import sla
    from pipelines.clock import FixedClock
    from pipelines.runtime import build_context, stop_embedded_redis
    from pipelines.state import ActionRow

    at = AutotaskSimulator(now=lambda: NOW)
    at.add_resource("Sam", "Tech", "sam@msp.example", rid=9)
    for cid in CLIENTS:
        at.add_company(f"Client {cid}", cid=int(cid))
    at.add_contact(7001, "Jane", "Doe", "jane@acme.example")
    settings = Settings(_env_file=None, database_url=url, db_schema=schema, var_dir=tmp / "var",  # type: ignore[call-arg]
                        autotask={"base_url": "https://webservices14.autotask.net/ATServicesRest",
                                  "username": "api@msp.example", "secret": "sim-autotask-secret",
                                  "integration_code": "SIMINTEGRATION"})
    ctx = build_context(settings, migrate=False)
    ctx.transports["autotask"] = httpx.MockTransport(at.handle)
    ctx.clock = FixedClock(NOW)
    from pipelines import sla as sla_pipeline

    sla_pipeline._POLICIES[id(ctx.configs)] = policy
    try:
        t = time.perf_counter()
        report = sla.tick(ctx, limit=due + 1)
        elapsed = time.perf_counter() - t
        with ctx.db.session() as session:
            recorded = session.scalar(sa.select(sa.func.count()).select_from(ActionRow))
        print(f"sla.tick over the {report.tickets:,} due tickets: {elapsed:.1f} s "
              f"({elapsed / max(report.tickets, 1) * 1000:.2f} ms/ticket), {sum(report.steps.values()):,} steps "
              f"({', '.join(f'{k} {v:,}' for k, v in report.steps.most_common())}), {recorded:,} outbox rows, "
              f"{len(at.calls)} PSA calls (directory cached)")
    finally:
        ctx.close()
        stop_embedded_redis()


if __name__ == "__main__":
    main()
