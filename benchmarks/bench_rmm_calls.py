"""API calls (and bytes) per operation for each RMM connector, against its simulator.

One topology for all three RMMs: ``CLIENTS`` clients with ``DEVICES`` devices and ``OPEN`` open
alerts. Per vendor it measures:

- full pull: the first poll (no cursor) reading every open alert; beside it the floor, the pages
  that reading ``OPEN`` alerts takes at the vendor's maximum page size (the target), plus the
  reference lists the vendor's alerts make necessary (Datto: the devices, for their type;
  NinjaOne: the trigger activities, for severity; Tactical: clients, checks, agents);
- incremental polls: nothing changed; 10 changes (5 raised on known devices and checks, 5
  cleared) among the open alerts; a storm (100 new alerts on 100 devices of one client);
- the full device listing, beside its page floor;
- resolving one alert.

The plain baseline for the incremental polls is a connector without a change marker, which
must re-read every open alert on each poll: the full pull's page count (its ratio is printed).
Rate limits are lifted (the simulators' and the connectors'): this counts calls, it does not time
them.

    .venv/bin/python benchmarks/bench_rmm_calls.py
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.datto_rmm import PAGE_MAX as DATTO_PAGE  # noqa: E402
from connectors.datto_rmm import DattoRmm, DattoRmmSettings  # noqa: E402
from connectors.ninjaone import ACTIVITY_PAGE_MAX, PAGE_SIZE, NinjaOne, NinjaOneSettings  # noqa: E402
from connectors.simulators.datto_rmm import DattoRmmSimulator, context_for  # noqa: E402
from connectors.simulators.ninjaone import NinjaOneSimulator  # noqa: E402
from connectors.simulators.tactical_rmm import TacticalRmmSimulator  # noqa: E402
from connectors.tactical_rmm import TacticalRmm, TacticalRmmSettings  # noqa: E402

CLIENTS = 50
DEVICES = 2000
OPEN = 5000
CHECKS = ["cpu", "memory", "disk_usage:C:", "disk_usage:D:", "service:Spooler", "service:W32Time",
          "eventlog:Disk:7", "ping", "device_offline"]
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Meter:
    """Counts calls and response bytes through the connector's transport (token calls excluded)."""

    sim: Any
    calls: int = 0
    bytes: int = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        response = self.sim.handle(request)
        if not request.url.path.endswith(("/oauth/token",)):
            self.calls += 1
            self.bytes += len(response.content)
        return response

    def measure(self, func: Callable[[], Any]) -> tuple[int, int, Any]:
        calls, size = self.calls, self.bytes
        result = func()
        return self.calls - calls, self.bytes - size, result


@dataclass
class Rmm:
    """One vendor's simulator loaded with the topology, and verbs to change it."""

    name: str
    sim: Any
    connector: Any
    meter: Meter
    devices: list[Any] = field(default_factory=list)
    client_of: dict[Any, int] = field(default_factory=dict)
    raise_alert: Callable[[Any, str], str] = lambda d, c: ""
    resolve: Callable[[str], None] = lambda a: None
    full_pull_floor: int = 0
    device_floor: int = 0


def topology(rng: random.Random) -> list[tuple[int, str]]:
    """(client index, device name) for every device."""
    return [(i % CLIENTS, f"C{i % CLIENTS:02d}-DEV{i:04d}") for i in range(DEVICES)]


def open_alerts(rng: random.Random) -> list[tuple[int, str]]:
    """(device index, check) pairs, distinct, for the alerts open at the start."""
    pairs = {(rng.randrange(DEVICES), rng.choice(CHECKS)) for _ in range(OPEN * 3)}
    return sorted(pairs)[:OPEN] if len(pairs) >= OPEN else sorted(pairs)


def datto(clock: Clock) -> Rmm:
    sim = DattoRmmSimulator(now=clock)
    sim.rate_limit = None
    meter = Meter(sim)
    conn = DattoRmm.from_settings(DattoRmmSettings(base_url=sim.base_url, api_key="sim-datto-key",
                                                   api_secret="sim-datto-secret", requests_per_minute=10**7),
                                  transport=httpx.MockTransport(meter.handle))
    r = Rmm("datto-rmm", sim, conn, meter)
    sites = [sim.add_site(f"Client {c:02d}") for c in range(CLIENTS)]
    for c, name in topology(random.Random(1)):
        r.devices.append(sim.add_device(sites[c], name, category="Server" if name.endswith("0") else "Desktop"))
        r.client_of[r.devices[-1]] = c
    r.raise_alert = lambda d, check: sim.raise_alert(d, context=context_for(check), priority="High")
    r.resolve = sim.resolve
    # alerts carry no device type: the devices are read too
    r.full_pull_floor = math.ceil(OPEN / DATTO_PAGE) + math.ceil(DEVICES / DATTO_PAGE)
    r.device_floor = math.ceil(DEVICES / DATTO_PAGE)
    return r


def ninjaone(clock: Clock) -> Rmm:
    sim = NinjaOneSimulator(now=clock)
    sim.rate_limit = None
    meter = Meter(sim)
    conn = NinjaOne.from_settings(NinjaOneSettings(base_url=sim.base_url, client_id="sim-ninja-client",
                                                   client_secret="sim-ninja-secret", requests_per_minute=10**7),
                                  transport=httpx.MockTransport(meter.handle))
    r = Rmm("ninjaone", sim, conn, meter)
    locations = [sim.add_location(sim.add_organization(f"Client {c:02d}"), "HQ") for c in range(CLIENTS)]
    for c, name in topology(random.Random(1)):
        r.devices.append(sim.add_device(locations[c], name))
        r.client_of[r.devices[-1]] = c
    r.raise_alert = lambda d, check: sim.raise_alert(d, check=check, severity="high")
    r.resolve = sim.resolve
    r.full_pull_floor = 1 + math.ceil(OPEN / ACTIVITY_PAGE_MAX)  # /v2/alerts is not paged; the triggers are
    r.device_floor = DEVICES // PAGE_SIZE + 1  # `after` paging ends on a short page: the API gives no total
    return r


def tactical(clock: Clock) -> Rmm:
    sim = TacticalRmmSimulator(now=clock)
    meter = Meter(sim)
    conn = TacticalRmm.from_settings(TacticalRmmSettings(base_url=sim.base_url, api_key="sim-tactical-key",
                                                         requests_per_minute=10**7),
                                     transport=httpx.MockTransport(meter.handle))
    r = Rmm("tactical-rmm", sim, conn, meter)
    sites = [sim.add_site(sim.add_client(f"Client {c:02d}"), "HQ") for c in range(CLIENTS)]
    for c, name in topology(random.Random(1)):
        r.devices.append(sim.add_agent(sites[c], name))
        r.client_of[r.devices[-1]] = c
    r.raise_alert = lambda d, check: str(sim.raise_alert(d, check))
    r.resolve = lambda a: sim.resolve(int(a))
    r.full_pull_floor = 4  # PATCH /alerts/ is not paged; + clients, checks, agents (ids and types by name)
    r.device_floor = 2  # agents + clients (agents name their client and site)
    return r


def run(make: Callable[[Clock], Rmm]) -> list[tuple[str, int, int, str]]:
    clock = Clock()
    rmm = make(clock)
    rng = random.Random(7)
    opened = [rmm.raise_alert(rmm.devices[d], check) for d, check in open_alerts(rng)]
    rows: list[tuple[str, int, int, str]] = []
    conn = rmm.connector

    calls, size, pulled = rmm.meter.measure(lambda: conn.pull_alert_events(None, clock()))
    assert len(pulled.items) == len(opened), (rmm.name, len(pulled.items), len(opened))
    full = calls
    rows.append((f"full pull: first poll, {len(opened)} open alerts", calls, size,
                 f"floor {rmm.full_pull_floor} pages at the max page size ({calls / rmm.full_pull_floor:.2f}x)"))
    cursor = pulled.cursor

    clock.at += timedelta(minutes=1)
    calls, size, pulled = rmm.meter.measure(lambda: conn.pull_alert_events(cursor, clock()))
    assert pulled.items == []
    rows.append(("incremental poll, nothing changed", calls, size, f"baseline {full} ({calls / full:.2f}x)"))
    cursor = pulled.cursor

    clock.at += timedelta(minutes=1)
    taken = {(d, c) for d, c in open_alerts(random.Random(7))}
    fresh = [(d, c) for d in range(DEVICES) for c in CHECKS if (d, c) not in taken][:5]
    for d, check in fresh:
        rmm.raise_alert(rmm.devices[d], check)
    for aid in opened[:5]:
        rmm.resolve(aid)
    clock.at += timedelta(seconds=5)
    calls, size, pulled = rmm.meter.measure(lambda: conn.pull_alert_events(cursor, clock()))
    assert sorted(e.kind for e in pulled.items) == ["raised"] * 5 + ["resolved"] * 5, pulled.items
    rows.append(("incremental poll, 10 changes (5 raised, 5 cleared)", calls, size,
                 f"baseline {full} ({calls / full:.2f}x)"))
    cursor = pulled.cursor

    clock.at += timedelta(minutes=1)
    client = [d for d in rmm.devices if rmm.client_of[d] == 3]
    for d in client[:100]:
        rmm.raise_alert(d, "antivirus")
    clock.at += timedelta(seconds=5)
    calls, size, pulled = rmm.meter.measure(lambda: conn.pull_alert_events(cursor, clock()))
    assert len(pulled.items) == min(100, len(client)), len(pulled.items)
    rows.append((f"incremental poll, storm of {len(pulled.items)} new alerts at one client", calls, size,
                 f"baseline {full} ({calls / full:.2f}x)"))

    fresh_conn = type(conn)(conn.http) if rmm.name == "datto-rmm" else conn
    calls, size, devices = rmm.meter.measure(lambda: list(fresh_conn.list_devices()))
    assert len(devices) == DEVICES
    rows.append((f"device listing, {DEVICES} devices", calls, size,
                 f"floor {rmm.device_floor} pages at the max page size ({calls / rmm.device_floor:.2f}x)"))

    calls, size, _ = rmm.meter.measure(lambda: conn.resolve_alert(opened[-1]))
    rows.append(("resolve one alert", calls, size, "target 1"))
    return rows


def day(name: str, make: Callable[[Clock], Rmm]) -> str:
    """A generated day (streams.generate) polled every 5 minutes: calls, and alerts seen of all."""
    from connectors.simulators.streams import generate
    from connectors.simulators.timeline import alert_spans

    start = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    stream = generate(5, start=start, hours=24, clients=6)
    clock = Clock()
    clock.at = start
    rmm = make(clock)
    rmm.sim.load_stream(stream)
    truth = [(e, c) for e, c in alert_spans(stream.events) if not e.muted]
    cursor, raised, calls = None, set(), 0
    polls = [start + timedelta(minutes=5 * k) for k in range(24 * 12 + 1)]
    for clock.at in polls:
        n, _, pulled = rmm.meter.measure(lambda c=cursor: rmm.connector.pull_alert_events(c, clock()))
        calls += n
        cursor = pulled.cursor
        raised |= {(e.device, e.check, e.at.replace(microsecond=0)) for e in pulled.items if e.kind == "raised" and not e.muted}
    blips = sum(1 for e, c in truth if c is not None and not any(e.at <= t < c for t in polls))
    return (f"{name:<13} a day polled every 5 min: {calls:>5} calls; raises seen {len(raised):>4} of {len(truth)} "
            f"unmuted alerts (ground truth); {blips} of them open and clear between two polls")


def main() -> None:
    print(f"topology: {CLIENTS} clients, {DEVICES} devices, {OPEN} open alerts; calls = API requests "
          "(token requests excluded), KB = response bytes")
    header = f"{'vendor':<13} {'operation':<58} {'calls':>6} {'KB':>9}  compared with"
    print(header)
    print("-" * (len(header) + 30))
    for make in (datto, ninjaone, tactical):
        rows = run(make)
        name = make.__name__.replace("datto", "datto-rmm").replace("tactical", "tactical-rmm")
        for op, calls, size, note in rows:
            print(f"{name:<13} {op:<58} {calls:>6} {size / 1024:>9.1f}  {note}")
        print()
    print("alerts a poll can see (Datto and Tactical list open alerts only; NinjaOne's activity log keeps all):")
    for make in (datto, ninjaone, tactical):
        name = make.__name__.replace("datto", "datto-rmm").replace("tactical", "tactical-rmm")
        print(day(name, make))


if __name__ == "__main__":
    main()
