"""Replay throughput, memory, and the quality funnel of the noise rules — figures, not assertions.

    python benchmarks/bench_replay.py [--events 1000000] [--clients 200]

1. Writes a long generated stream (``iter_events``: 200 clients, day after day, every alert
   clearing eventually) as canonical JSON Lines, and its first 10 %.
2. Whole process: ``switchboard replay FILE --outcomes OUT --json`` as a child process on each file:
   wall time, events/s, peak RSS (``wait4``), peak rules state.
3. Rules alone: the engine on the same events in this process, one core, parsing not timed.
4. Memory flat: peak RSS and peak state at 10 % vs 100 % of the stream.
5. Quality: a generated week with ground truth (incidents, noise) under the default rules, next
   to the plain baseline (one ticket per alert) measured on the same stream.

Targets (issue 4): ≥ 20,000 events/s for the rules on one core; memory flat.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from itertools import islice
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.canonical import AlertEvent  # noqa: E402
from connectors.simulators.streams import StreamSpec, generate, iter_events  # noqa: E402
from pipelines.replay import replay, write_events  # noqa: E402
from rules.config import NoiseConfig, TicketsConfig, default_rules  # noqa: E402
from rules.engine import ClientState, Engine  # noqa: E402


def child_replay(path: Path, out: Path) -> dict[str, Any]:
    """``switchboard replay`` in a child process: wall seconds and its JSON summary (which carries
    the process's own peak RSS)."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "worker", "replay", str(path), "--outcomes", str(out), "--json"],
                          cwd=ROOT, capture_output=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"replay failed: {proc.stderr.decode()[-2000:]}")
    summary = json.loads(proc.stdout)
    return {"wall": wall, "rss_mib": summary["peak_rss_mib"], "summary": summary}


def rules_alone(path: Path, chunk: int = 50_000) -> tuple[float, float, int, int, int]:
    """Events per wall second and per CPU second of the engine alone (events parsed before the
    clock starts), and the peak open alerts/tickets. The CPU figure is what one core does when the
    machine is shared (this one is: 2 cores, several engineers)."""
    engine = Engine(NoiseConfig(), TicketsConfig())
    states: dict[str, ClientState] = {}
    spent = cpu = 0.0
    n = 0
    peak_alerts = peak_tickets = 0
    with path.open() as lines:
        while True:
            batch = [AlertEvent.model_validate_json(x) for x in islice(lines, chunk)]
            if not batch:
                break
            t0, c0 = time.perf_counter(), time.process_time()
            for e in batch:
                st = states.get(e.client)
                if st is None:
                    st = states[e.client] = ClientState(e.client)
                engine.on_tick(st, e.at)
                engine.on_event(st, e)
                st.finished.clear()
            spent += time.perf_counter() - t0
            cpu += time.process_time() - c0
            n += len(batch)
            peak_alerts = max(peak_alerts, sum(len(s.alerts) for s in states.values()))
            peak_tickets = max(peak_tickets, sum(len(s.tickets) for s in states.values()))
    return n / spent, n / cpu, n, peak_alerts, peak_tickets


def quality(days: int = 7, clients: int = 50, seed: int = 1) -> None:
    stream = generate(seed, clients=clients, hours=24 * days, spec=StreamSpec(maintenance=1.0))
    noise = NoiseConfig.model_validate({"rules": [r.model_dump() for r in default_rules()] + stream.maintenance_rules})
    got: dict[str, str | None] = {}
    funnel = replay(stream.events, Engine(noise, TicketsConfig()),
                    outcome=lambda a, t, _rule, _reason: got.__setitem__(a, t))
    alerts = len(stream.alert_ids())
    one = sum(1 for i in stream.incidents if len({got[a] for a in i.alert_ids} - {None}) == 1)
    base_one = sum(1 for i in stream.incidents if len(set(i.alert_ids)) == 1)
    quiet = sum(1 for a in stream.noise if got[a] is None)
    kinds = Counter(i.kind for i in stream.incidents)
    noise_kinds = Counter(stream.noise.values())
    print(f"\n-- quality: {days} days, {clients} clients, seed {seed}: {len(stream.events)} events, {alerts} alerts, "
          f"{len(stream.incidents)} incidents ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}), "
          f"{len(stream.noise)} noise alerts ({', '.join(f'{k} {n}' for k, n in sorted(noise_kinds.items()))})")
    print(f"{'':44}{'one ticket per alert':>22}{'noise rules':>14}")
    print(f"{'tickets opened':44}{alerts:>22}{funnel.tickets_opened:>14}")
    print(f"{'incidents with exactly one ticket':44}{base_one:>15}/{len(stream.incidents):<6}{one:>7}/{len(stream.incidents)}")
    print(f"{'noise alerts with no ticket':44}{0:>15}/{len(stream.noise):<6}{quiet:>7}/{len(stream.noise)}")
    print(f"{'tickets per incident':44}{alerts / len(stream.incidents):>22.2f}"
          f"{funnel.tickets_opened / len(stream.incidents):>14.2f}")
    by_rule: Counter[str] = Counter()
    for rule, n in funnel.suppressed_by_rule.items():
        by_rule["maintenance windows (nightly-*)" if rule.startswith("nightly-") else rule] += n
    print("suppressed by rule: " + ", ".join(f"{k}={v}" for k, v in sorted(by_rule.items())))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--clients", type=int, default=200)
    args = ap.parse_args()
    small_n = args.events // 10
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        big, small = Path(tmp) / "events.jsonl", Path(tmp) / "events-10pct.jsonl"
        t0 = time.perf_counter()
        write_events(iter_events(1, args.events, clients=args.clients), big)
        with big.open() as src, small.open("w") as dst:
            dst.writelines(islice(src, small_n))
        print(f"stream: {args.events} events, {args.clients} clients, written in {time.perf_counter() - t0:.0f} s "
              f"({big.stat().st_size / 2**20:.0f} MiB)")

        print("\n-- whole process: switchboard replay FILE --outcomes OUT --json")
        runs = {}
        for label, path in (("10%", small), ("100%", big)):
            r = child_replay(path, Path(tmp) / f"outcomes-{label}.jsonl")
            s = r["summary"]
            runs[label] = r
            print(f"{label:>5}: {s['events']:>9} events  {s['alerts']:>8} alerts  wall {r['wall']:6.1f} s  "
                  f"{s['events'] / r['wall']:>8.0f} events/s (process, incl. start-up)  "
                  f"{s['events_per_second']:>8} events/s (read+rules+write)  peak RSS {r['rss_mib']:6.1f} MiB  "
                  f"peak state {s['state']['peak_open_alerts']} alerts / {s['state']['peak_open_tickets']} tickets; "
                  f"{s['rejected']} line(s) rejected")

        print("\n-- rules alone (engine only, one core, events parsed before timing)")
        rate, per_cpu, n, pa, pt = rules_alone(big)
        print(f"{n} events: {rate:,.0f} events/s wall, {per_cpu:,.0f} events per CPU-second of one core "
              f"(target >= 20,000; load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores); "
              f"peak state {pa} alerts, {pt} open tickets")

        a, b = runs["10%"], runs["100%"]
        sa_, sb = a["summary"], b["summary"]
        print("\n-- memory flat? (10% vs 100% of the stream)")
        print(f"peak RSS      {a['rss_mib']:7.1f} MiB -> {b['rss_mib']:7.1f} MiB   ratio {b['rss_mib'] / a['rss_mib']:.2f} "
              f"for {sb['events'] / sa_['events']:.0f}x the events")
        print(f"peak alerts   {sa_['state']['peak_open_alerts']:7} -> {sb['state']['peak_open_alerts']:7}       "
              f"ratio {sb['state']['peak_open_alerts'] / max(1, sa_['state']['peak_open_alerts']):.2f} "
              f"(alerts seen: {sa_['alerts']} -> {sb['alerts']})")
    quality()


if __name__ == "__main__":
    main()
