"""API calls per operation, per PSA, against the stateful simulators.

For each PSA (Autotask, ConnectWise PSA, HaloPSA) on a 10,000-ticket board:

- full pull (no cursor)                      target: the pages at the vendor's max page size
- incremental poll with 10 changed tickets   target: <= 2 calls
- ticket create + note                       target: <= 2 calls

Each figure stands beside a plain baseline measured in the same run: the full pull at the page
size a client gets when it does not ask (the vendor's default), and the "incremental" poll done
the naive way (pull everything again). Calls that happen once per process or per hour (the OAuth
token, the tenant's status/priority lists) are made first and reported in their own column; they
are not part of any operation. The client-side rate limiter is replaced by a no-op so the run
measures calls, not waiting.

    .venv/bin/python benchmarks/bench_psa_calls.py
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.autotask import MAX_RECORDS as AUTOTASK_PAGE  # noqa: E402
from connectors.autotask import Autotask, AutotaskSettings  # noqa: E402
from connectors.canonical import NoteDraft, Ref, TicketDraft  # noqa: E402
from connectors.connectwise_psa import PAGE_MAX as CW_PAGE  # noqa: E402
from connectors.connectwise_psa import ConnectWisePsa, ConnectWisePsaSettings  # noqa: E402
from connectors.halopsa import PAGE_MAX as HALO_PAGE  # noqa: E402
from connectors.halopsa import HaloPsa, HaloPsaSettings  # noqa: E402
from connectors.ratelimit import Unlimited  # noqa: E402
from connectors.simulators.autotask import AutotaskSimulator  # noqa: E402
from connectors.simulators.connectwise_psa import ConnectWisePsaSimulator  # noqa: E402
from connectors.simulators.halopsa import HaloPsaSimulator  # noqa: E402

TICKETS = 10_000
CHANGED = 10


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def seeding(self, i: int) -> Clock:
        """Tickets of a real board were last touched over weeks, not all in the same second."""
        self.at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC) - timedelta(minutes=3 * (TICKETS - i))
        return self


def seeded(clock: Clock, add: Any) -> list[int]:
    ids = []
    for i in range(TICKETS):
        clock.seeding(i)
        ids.append(int(add(i)))
    return ids


@dataclass
class Vendor:
    name: str
    page: int
    default_page: int
    """page size a client gets when it does not ask for one"""
    sim: Any
    connector: Any
    company: int
    ids: list[int]
    warm: Any
    change: Any
    """a person changes one ticket"""

    def calls(self) -> int:
        return sum(1 for c in self.sim.calls if not c.path.endswith("/token"))


def autotask(clock: Clock) -> Vendor:
    sim = AutotaskSimulator(now=clock)
    company = sim.add_company("Acme Dental")
    ids = seeded(clock, lambda i: sim.add_ticket(title=f"ticket {i}", companyID=company))
    c = Autotask.from_settings(
        AutotaskSettings(base_url=sim.base_url + "/ATServicesRest", username=sim.username, secret=sim.secret,
                         integration_code=sim.integration_code, queue_id=29683354),
        transport=sim.transport(),
    )
    return Vendor("autotask", AUTOTASK_PAGE, 500, sim, c, company, ids, c.maps, lambda tid: sim.set_status(tid, 8))


def connectwise(clock: Clock) -> Vendor:
    sim = ConnectWisePsaSimulator(now=clock)
    company = sim.add_company("Acme Dental")
    ids = seeded(clock, lambda i: sim.add_ticket(f"ticket {i}", company))
    c = ConnectWisePsa.from_settings(
        ConnectWisePsaSettings(base_url=sim.base_url + sim.setting_path, company_id=sim.company_id,
                               public_key=sim.public_key, private_key=sim.private_key, client_id=sim.client_id,
                               board_id=sim.board_id),
        transport=sim.transport(),
    )
    return Vendor("connectwise-psa", CW_PAGE, 25, sim, c, company, ids, lambda: c.maps_for(sim.board_id),
                  lambda tid: sim.set_status(tid, "In Progress"))


def halo(clock: Clock) -> Vendor:
    sim = HaloPsaSimulator(now=clock)
    sim.rate_limit = None  # the simulator's per-minute budget would answer 429 to the naive baseline
    company = sim.add_client("Acme Dental")
    ids = seeded(clock, lambda i: sim.add_ticket(f"ticket {i}", company))
    c = HaloPsa.from_settings(
        HaloPsaSettings(base_url=sim.base_url + "/api", client_id=sim.client_id, client_secret=sim.client_secret),
        transport=sim.transport(),
    )
    return Vendor("halopsa", HALO_PAGE, 50, sim, c, company, ids, c.maps, lambda tid: sim.set_status(tid, 2))


def measure(v: Vendor, clock: Clock) -> dict[str, Any]:
    clock.at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    v.connector.http.limiter = Unlimited()
    v.connector.http._sleep = lambda s: None
    before = v.calls()
    v.warm()
    warm = v.calls() - before
    tokens = sum(1 for c in v.sim.calls if c.path.endswith("/token"))

    started = time.perf_counter()
    before = v.calls()
    full = v.connector.pull_tickets(None, clock.at)
    full_calls, full_seconds = v.calls() - before, time.perf_counter() - started
    assert len(full.items) == TICKETS, (v.name, len(full.items))

    settings = v.connector.settings
    if hasattr(settings, "page_size"):  # baseline: the same pull at the vendor's default page size
        settings.page_size = v.default_page
        before = v.calls()
        assert len(v.connector.pull_tickets(None, clock.at).items) == TICKETS
        full_baseline = v.calls() - before
        settings.page_size = v.page
    else:  # Autotask's default and maximum are the same (500)
        full_baseline = full_calls

    clock.at += timedelta(minutes=5)
    for tid in v.ids[:: TICKETS // CHANGED][:CHANGED]:
        v.change(tid)
    before = v.calls()
    incremental = v.connector.pull_tickets(full.cursor, clock.at)
    inc_calls = v.calls() - before
    assert len(incremental.items) == CHANGED, (v.name, len(incremental.items))

    before = v.calls()
    naive = v.connector.pull_tickets(None, clock.at)  # baseline: pull everything again
    naive_calls = v.calls() - before
    assert len(naive.items) == TICKETS

    before = v.calls()
    draft = TicketDraft(title="High: Low disk space (C:) on ACME-FS01", description="Disk C: has 3% free",
                        company=Ref(vendor=v.name, id=str(v.company)), priority=2, marker="sb-bench-1")
    ticket = v.connector.create_ticket(draft)
    v.connector.add_note(ticket.ref.id, NoteDraft(body="Why this ticket exists", marker="sb-bench-1:explain"))
    create_calls = v.calls() - before

    return {
        "vendor": v.name, "page": v.page, "warm": warm, "tokens": tokens,
        "full": full_calls, "full_target": math.ceil(TICKETS / v.page),
        "full_baseline": full_baseline, "full_seconds": full_seconds,
        "inc": inc_calls, "inc_baseline": naive_calls, "create": create_calls,
    }


def main() -> int:
    rows = []
    for make in (autotask, connectwise, halo):
        clock = Clock()
        rows.append(measure(make(clock), clock))
    print(f"API calls per operation on a {TICKETS:,}-ticket board ({CHANGED} changed between polls)\n")
    header = ("vendor", "max page", "full pull", "target", "baseline*", "incremental", "target", "baseline**",
              "create+note", "target", "one-off***")
    print("{:<16} {:>8} {:>9} {:>6} {:>9} {:>11} {:>6} {:>10} {:>11} {:>6} {:>10}".format(*header))
    failed = 0
    for r in rows:
        ok = r["full"] == r["full_target"] and r["inc"] <= 2 and r["create"] <= 2
        failed += 0 if ok else 1
        print("{:<16} {:>8} {:>9} {:>6} {:>9} {:>11} {:>6} {:>10} {:>11} {:>6} {:>10}".format(
            r["vendor"], r["page"], r["full"], r["full_target"], r["full_baseline"], r["inc"], "<=2",
            r["inc_baseline"], r["create"], "<=2", f"{r['warm']}+{r['tokens']}tok"))
    print("\n  * full pull at the page size a client gets without asking (ConnectWise 25, Halo 50, Autotask 500)")
    print(" ** the same poll done naively: pull every ticket again")
    print("*** calls made once per process/hour before any operation: tenant status/priority lists + OAuth token")
    for r in rows:
        print(f"    {r['vendor']}: full pull of {TICKETS:,} tickets took {r['full_seconds']:.2f}s against the simulator")
    print("\nall targets met" if not failed else f"\n{failed} vendor(s) missed a target")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
