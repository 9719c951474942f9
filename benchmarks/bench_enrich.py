"""Enrichment of PSA tickets through the real pipeline: the ticket consumer with its state and outbox.

Prints, for N new tickets (written from the development set's summaries and descriptions):

- the first pass (``pipelines.enrich.consume`` in one transaction per batch of 500, as a poll
  would): classify + prioritise + KB-link each ticket, record its ``ticket_enrichment`` row and its
  two outbox actions — tickets per second, and per-ticket cost;
- the same tickets re-delivered (the poll seeing them again): nothing recorded — tickets per second;
- the outbox rows recorded (2 per ticket expected: the note and the field update).

``python benchmarks/bench_enrich.py [--tickets N]``; SQLite in a temporary directory unless
``DATABASE_URL`` is set (then a throw-away PostgreSQL schema).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from config.settings import Settings  # noqa: E402
from connectors.canonical import Ref, Ticket  # noqa: E402
from pipelines import enrich  # noqa: E402
from pipelines.runtime import build_context, stop_embedded_redis  # noqa: E402
from pipelines.state import ActionRow, TicketEnrichment  # noqa: E402


def tickets(n: int) -> list[Ticket]:
    rows = [json.loads(line) for line in (ROOT / "tests/data/classify_dev.jsonl").read_text().splitlines() if line]
    now = datetime(2026, 11, 9, 14, 0, tzinfo=UTC)
    return [Ticket(ref=Ref(vendor="autotask", id=str(100000 + i)), title=rows[i % len(rows)]["summary"],
                   description=f"{rows[i % len(rows)].get('description') or ''}\n(ticket {i})", priority=None,
                   company=Ref(vendor="autotask", id="7000"), created_at=now, updated_at=now)
            for i in range(n)]


def run(ctx, batch: list[Ticket], size: int = 500) -> float:
    now = datetime(2026, 11, 9, 14, 5, tzinfo=UTC)
    started = time.perf_counter()
    for i in range(0, len(batch), size):
        with ctx.db.session() as s:
            enrich.consume(ctx, s, batch[i:i + size], now)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=5000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-enrich-"))
    url = os.environ.get("DATABASE_URL")
    schema = f"bench_{uuid.uuid4().hex[:8]}" if url else None
    settings = Settings(_env_file=None, var_dir=tmp, database_url=url or f"sqlite:///{tmp / 'bench.db'}",  # type: ignore[call-arg]
                        db_schema=schema, docs=None, redis_prefix=f"bench{uuid.uuid4().hex[:6]}")
    ctx = build_context(settings)
    try:
        batch = tickets(args.tickets)
        with ctx.db.session() as s:
            enrich.enricher_for(ctx, s)  # built once per process; not what is measured
        first = run(ctx, batch)
        again = run(ctx, batch)
        with ctx.db.session() as s:
            actions = s.scalar(sa.select(sa.func.count()).select_from(ActionRow)) or 0
            rows = s.scalar(sa.select(sa.func.count()).select_from(TicketEnrichment)) or 0
        backend = "PostgreSQL" if url else "SQLite"
        print(f"enrichment of {args.tickets:,} new PSA tickets through the consumer ({backend}, batches of 500):")
        print(f"  first pass   {args.tickets / first:8,.0f} tickets/s   ({first * 1000 / args.tickets:.2f} ms per ticket: "
              "classify + prioritise + KB, state row, note + field update in the outbox)")
        print(f"  re-delivered {args.tickets / again:8,.0f} tickets/s   (text unchanged: nothing recorded)")
        print(f"  rows: {rows:,} ticket_enrichment, {actions:,} outbox actions "
              f"({actions / max(rows, 1):.2f} per ticket)")
    finally:
        if url and schema:
            with ctx.db.engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        ctx.close()
        stop_embedded_redis()


if __name__ == "__main__":
    main()
