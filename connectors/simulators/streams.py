"""Realistic RMM alert streams with ground truth, for the demo, tests and benchmarks.

A stream is what a NOC sees in a day: short blips that clear by themselves, ``info`` noise,
alerts muted at the source, repeats of a lasting problem, the same problem coming back a few
hours after it cleared, flapping checks, a site losing its firewall (and every device behind it
going "offline"), the same check failing on many devices of one client at once (a storm), and —
when asked for — planned reboots inside each client's maintenance window. Each generated
*incident* is something a person must work: the ground truth is "exactly one ticket per
incident, none for the noise".

Honest ground truth: a fingerprint (client + device + check) used by an incident is not reused by
anything else from two hours before the incident until a day after it ends, and blips do not
share a fingerprint within two hours of each other — otherwise no system (and no person) could
tell a blip from a repeat of the incident, or three random blips from a flapping check.

Everything is seeded (``random.Random(seed)``), so a stream is reproducible.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.canonical import AlertEvent, DeviceType, Severity, fingerprint_of

__all__ = ["Device", "Incident", "Stream", "StreamSpec", "Topology", "generate", "iter_events", "topology"]

CLIENT_NAMES = [
    "Acme Dental Group", "Birchwood Accounting", "Cedar Law Partners", "Dunmore Logistics", "Elm Street Clinic",
    "Foxglove Architects", "Granite Insurance", "Harbor Veterinary", "Ironbridge Manufacturing", "Juniper Realty",
    "Kestrel Engineering", "Lakeside School", "Maple Family Practice", "Northwind Traders", "Oakridge Credit Union",
]

MAINTENANCE_WINDOW = ("02:00", "04:00")
"""Each client's nightly maintenance window (UTC) used for planned reboots."""


@dataclass(frozen=True)
class Device:
    id: str
    name: str
    client: str
    client_name: str
    site: str
    site_name: str
    type: DeviceType


@dataclass
class Topology:
    devices: list[Device]

    def by_client(self) -> dict[str, list[Device]]:
        out: dict[str, list[Device]] = {}
        for d in self.devices:
            out.setdefault(d.client, []).append(d)
        return out

    def by_site(self) -> dict[str, list[Device]]:
        out: dict[str, list[Device]] = {}
        for d in self.devices:
            out.setdefault(d.site, []).append(d)
        return out


def topology(rng: random.Random, clients: int = 5, workstations: tuple[int, int] = (6, 14)) -> Topology:
    devices: list[Device] = []
    for c in range(clients):
        name = CLIENT_NAMES[c % len(CLIENT_NAMES)] + ("" if c < len(CLIENT_NAMES) else f" {c // len(CLIENT_NAMES)}")
        client = f"cl{c:03d}"
        slug = "".join(w[0] for w in name.split()[:3]).upper()
        for s in range(1 if rng.random() < 0.6 else 2):
            site = f"{client}-s{s}"
            site_name = f"{name} - {'HQ' if s == 0 else 'Branch'}"

            kinds = [("fw", DeviceType.network, 1), ("sw", DeviceType.network, 1),
                     ("srv", DeviceType.server, rng.randint(1, 2)),
                     ("ws", DeviceType.workstation, rng.randint(*workstations)),
                     ("prn", DeviceType.printer, rng.randint(0, 2))]
            for kind, dtype, n in kinds:
                for i in range(n):
                    devices.append(Device(f"{site}-{kind}{i}", f"{slug}-{kind.upper()}{s}{i:02d}", client, name, site,
                                          site_name, dtype))
    return Topology(devices)


@dataclass
class Incident:
    """Something a person must work: should end in exactly one ticket."""

    id: str
    kind: str
    client: str
    alert_ids: list[str]
    start: datetime
    end: datetime | None


@dataclass
class Stream:
    events: list[AlertEvent]
    incidents: list[Incident]
    noise: dict[str, str] = field(default_factory=dict)
    """alert_id -> why it is noise (blip, info, muted, maintenance)"""
    topology: Topology | None = None
    maintenance_rules: list[dict[str, Any]] = field(default_factory=list)
    """``noise.yaml`` rules for the maintenance windows the planned reboots fall into."""

    def alert_ids(self) -> set[str]:
        return {e.alert_id for e in self.events}


@dataclass(frozen=True)
class StreamSpec:
    """How much of each pattern per client per day."""

    blips: float = 12.0
    info: float = 4.0
    muted: float = 1.0
    lasting: float = 1.5
    recurring: float = 0.2
    flapping: float = 0.3
    site_outages: float = 0.15
    storms: float = 0.15
    maintenance: float = 0.0
    """Planned reboots per client per day inside :data:`MAINTENANCE_WINDOW` (noise when the window
    is configured: see ``Stream.maintenance_rules``)."""
    repeat_every_minutes: tuple[int, int] = (20, 60)
    open_ended_hours: tuple[float, float] | None = None
    """None: some lasting problems never clear within the stream. A range: they clear after that
    many hours (long streams whose state must stay bounded)."""


_LASTING_CHECKS = [
    ("disk_usage:C:", Severity.high, "Disk C: has {v}% free space", (DeviceType.server, DeviceType.workstation)),
    ("service:Spooler", Severity.moderate, "Service Print Spooler is stopped", (DeviceType.server,)),
    ("backup", Severity.high, "Backup job failed: {v} files skipped", (DeviceType.server,)),
    ("memory", Severity.moderate, "Memory usage {v}% over 15 minutes", (DeviceType.server, DeviceType.workstation)),
    ("device_offline", Severity.critical, "Device has not checked in for 10 minutes", (DeviceType.server,)),
    ("printer", Severity.low, "Printer reports toner low / paper jam", (DeviceType.printer,)),
]
_BLIP_CHECKS = [
    ("cpu", Severity.moderate, "CPU usage {v}% over 5 minutes"),
    ("device_offline", Severity.high, "Device has not checked in"),
    ("ping", Severity.moderate, "Ping loss {v}%"),
    ("memory", Severity.moderate, "Memory usage {v}%"),
]
_STORM_CHECKS = [
    ("antivirus", Severity.moderate, "Antivirus definitions out of date"),
    ("patch", Severity.moderate, "Patch install failed: KB50{v}"),
    ("eventlog:Microsoft-Windows-GroupPolicy:1129", Severity.moderate, "Group Policy processing failed"),
]
_INFO_CHECKS = ["patch", "reboot_pending", "software_installed"]

_FOREVER = datetime.max.replace(tzinfo=UTC)


class _Reservations:
    """Which fingerprints are spoken for when, so that ground truth stays unambiguous."""

    def __init__(self) -> None:
        self.spans: dict[str, list[tuple[datetime, datetime]]] = {}

    def free(self, fps: list[str], lo: datetime, hi: datetime) -> bool:
        return all(hi <= a or lo >= b for fp in fps for a, b in self.spans.get(fp, ()))

    def take(self, fps: list[str], lo: datetime, hi: datetime) -> None:
        for fp in fps:
            self.spans.setdefault(fp, []).append((lo, hi))


class _Builder:
    def __init__(self, rng: random.Random, source: str, prefix: str = "") -> None:
        self.rng = rng
        self.source = source
        self.prefix = prefix
        self.events: list[AlertEvent] = []
        self._n = 0

    def alert_id(self) -> str:
        self._n += 1
        return f"{self.prefix}a{self._n:07d}"

    def event(self, alert_id: str, kind: str, at: datetime, d: Device, check: str, sev: Severity, msg: str,
              muted: bool = False, n: int = 0) -> None:
        # model_construct: every value is made here and already valid (aware UTC times, enum members);
        # skipping validation makes long benchmark streams several times faster to generate
        self.events.append(AlertEvent.model_construct(
            id=f"{alert_id}:{'r' if kind == 'raised' else 'c'}{n}", alert_id=alert_id, source=self.source,
            kind=kind, at=at, client=d.client, site=d.site, device=d.id, device_type=d.type, check=check,
            severity=sev, message=msg.format(v=self.rng.randint(2, 99)), muted=muted, client_name=d.client_name,
            site_name=d.site_name, device_name=d.name, refs={},
        ))

    def alert(self, d: Device, check: str, sev: Severity, msg: str, start: datetime, minutes: float | None,
              muted: bool = False, repeat: tuple[int, int] | None = None) -> str:
        aid = self.alert_id()
        self.event(aid, "raised", start, d, check, sev, msg, muted)
        end = start + timedelta(minutes=minutes) if minutes is not None else None
        if repeat:
            t, n = start, 1
            while True:
                t += timedelta(minutes=self.rng.randint(*repeat))
                if end is not None and t >= end:
                    break
                if end is None and t > start + timedelta(hours=30):
                    break
                self.event(aid, "raised", t, d, check, sev, msg, muted, n)
                n += 1
        if end is not None:
            self.event(aid, "resolved", end, d, check, sev, msg, muted)
        return aid


def generate(
    seed: int = 1,
    *,
    start: datetime = datetime(2026, 11, 2, tzinfo=UTC),
    hours: float = 24.0,
    clients: int = 5,
    spec: StreamSpec | None = None,
    source: str = "sim-rmm",
    id_prefix: str = "",
    cut: bool = True,
) -> Stream:
    """A stream of ``hours`` hours for ``clients`` clients, sorted by time, with ground truth.

    ``cut=False`` keeps the events after the end (clears and repeats of alerts raised before it).
    """
    spec = spec or StreamSpec()
    rng = random.Random(seed)
    topo = topology(rng, clients)
    b = _Builder(rng, source, id_prefix)
    taken = _Reservations()
    incidents: list[Incident] = []
    noise: dict[str, str] = {}
    span = timedelta(hours=hours)
    day = hours / 24.0
    hour = timedelta(hours=1)

    def when(margin_min: float = 0) -> datetime:
        return start + timedelta(seconds=rng.uniform(0, max(1.0, span.total_seconds() - margin_min * 60)))

    def count(rate: float) -> int:
        expected = rate * day
        n = int(expected)
        return n + (1 if rng.random() < expected - n else 0)

    def fp(d: Device, check: str) -> str:
        return fingerprint_of(d.client, d.id, check)

    def lasting_minutes() -> float | None:
        if rng.random() < 0.5:
            return rng.uniform(25, 360)
        if spec.open_ended_hours is None:
            return None
        return rng.uniform(*spec.open_ended_hours) * 60

    def incident_span(t0: datetime, minutes: float | None) -> tuple[datetime, datetime]:
        end = t0 + timedelta(minutes=minutes) if minutes is not None else _FOREVER
        return t0 - 2 * hour, (end + 26 * hour) if end != _FOREVER else end

    def pick(tries: int, make: Any) -> Any:
        for _ in range(tries):
            got = make()
            if got is not None:
                return got
        return None

    h0, h1 = (int(x[:2]) for x in MAINTENANCE_WINDOW)

    def in_window(d: Device, check: str, t0: datetime, minutes: float | None) -> bool:
        """Would this alert fall into the maintenance window of its device (when windows are on)?"""
        if spec.maintenance <= 0 or d.type != DeviceType.server or check != "device_offline":
            return False
        end = t0 + timedelta(minutes=minutes) if minutes is not None else t0 + timedelta(days=2)
        day0 = t0.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        while day0 < end:
            if t0 < day0 + timedelta(hours=h1) and end > day0 + timedelta(hours=h0):
                return True
            day0 += timedelta(days=1)
        return False

    maintenance_rules: list[dict[str, Any]] = []
    for client, devices in topo.by_client().items():
        by_site: dict[str, list[Device]] = {}
        for d in devices:
            by_site.setdefault(d.site, []).append(d)

        # -- incidents: each takes its fingerprints --------------------------------------------------
        for _ in range(count(spec.lasting)):
            def lasting(devices: list[Device] = devices) -> tuple[Device, tuple[Any, ...], datetime, float | None] | None:
                check = rng.choice(_LASTING_CHECKS)
                d = rng.choice([x for x in devices if x.type in check[3]] or devices)
                t0, minutes = when(60), lasting_minutes()
                lo, hi = incident_span(t0, minutes)
                if in_window(d, check[0], t0, minutes):
                    return None
                return (d, check, t0, minutes) if taken.free([fp(d, check[0])], lo, hi) else None

            got = pick(10, lasting)
            if got is None:
                continue
            d, (check, sev, msg, _types), t0, minutes = got
            taken.take([fp(d, check)], *incident_span(t0, minutes))
            aid = b.alert(d, check, sev, msg, t0, minutes, repeat=spec.repeat_every_minutes)
            incidents.append(Incident(f"inc-{aid}", "lasting", client, [aid], t0,
                                      t0 + timedelta(minutes=minutes) if minutes else None))
        for _ in range(count(spec.recurring)):
            def recurring(devices: list[Device] = devices) -> tuple[Device, tuple[Any, ...], datetime, float, float, float] | None:
                check = rng.choice(_LASTING_CHECKS)
                d = rng.choice([x for x in devices if x.type in check[3]] or devices)
                t0, first, gap, second = when(600), rng.uniform(25, 120), rng.uniform(60, 360), rng.uniform(25, 120)
                total = first + gap + second
                if in_window(d, check[0], t0, total):
                    return None
                return (d, check, t0, first, gap, second) if taken.free([fp(d, check[0])], *incident_span(t0, total)) else None

            got = pick(10, recurring)
            if got is None:
                continue
            d, (check, sev, msg, _types), t0, first, gap, second = got
            taken.take([fp(d, check)], *incident_span(t0, first + gap + second))
            a1 = b.alert(d, check, sev, msg, t0, first, repeat=spec.repeat_every_minutes)
            t1 = t0 + timedelta(minutes=first + gap)
            a2 = b.alert(d, check, sev, msg, t1, second, repeat=spec.repeat_every_minutes)
            incidents.append(Incident(f"inc-recur-{a1}", "recurring", client, [a1, a2], t0,
                                      t1 + timedelta(minutes=second)))
        for _ in range(count(spec.flapping)):
            def flapping(devices: list[Device] = devices) -> tuple[Device, tuple[Any, ...], datetime] | None:
                d = rng.choice([x for x in devices if x.type != DeviceType.printer])
                check = rng.choice(_BLIP_CHECKS)
                t0 = when(90)
                return (d, check, t0) if taken.free([fp(d, check[0])], *incident_span(t0, 75)) else None

            got = pick(10, flapping)
            if got is None:
                continue
            d, (check, sev, msg), t0 = got
            t = t0
            ids = []
            for _k in range(rng.randint(4, 6)):
                ids.append(b.alert(d, check, sev, msg, t, rng.uniform(0.5, 3.0)))
                t += timedelta(minutes=rng.uniform(6, 12))
            taken.take([fp(d, check)], *incident_span(t0, (t - t0).total_seconds() / 60))
            incidents.append(Incident(f"inc-flap-{ids[0]}", "flapping", client, ids, t0, t))
        for _ in range(count(spec.site_outages)):
            def outage(by_site: dict[str, list[Device]] = by_site) -> tuple[list[Device], datetime, float] | None:
                site_devices = by_site[rng.choice(sorted(by_site))]
                t0, minutes = when(120), rng.uniform(20, 90)
                fps = [fp(d, "device_offline") for d in site_devices]
                if any(in_window(d, "device_offline", t0 - timedelta(minutes=5), minutes + 15) for d in site_devices):
                    return None
                return (site_devices, t0, minutes) if taken.free(fps, *incident_span(t0, minutes + 10)) else None

            got = pick(10, outage)
            if got is None:
                continue
            site_devices, t0, minutes = got
            taken.take([fp(d, "device_offline") for d in site_devices], *incident_span(t0, minutes + 10))
            fw = next(d for d in site_devices if d.type == DeviceType.network)
            ids = [b.alert(fw, "device_offline", Severity.critical, "Firewall not responding", t0, minutes)]
            for d in site_devices:
                if d is fw or rng.random() < 0.2:
                    continue
                lag = rng.uniform(-2, 8)
                ids.append(b.alert(d, "device_offline", Severity.high, "Device has not checked in",
                                   t0 + timedelta(minutes=lag), minutes + rng.uniform(-3, 3)))
            incidents.append(Incident(f"inc-outage-{ids[0]}", "site_outage", client, ids, t0,
                                      t0 + timedelta(minutes=minutes)))
        for _ in range(count(spec.storms)):
            check, sev, msg = rng.choice(_STORM_CHECKS)
            t0, minutes = when(180), rng.uniform(40, 160)
            lo, hi = incident_span(t0, minutes + 10)
            candidates = [d for d in devices if d.type in (DeviceType.workstation, DeviceType.server)
                          and taken.free([fp(d, check)], lo, hi)]
            k = min(len(candidates), len(devices) - 4, rng.randint(6, 12))
            if k < 6:
                continue
            targets = rng.sample(candidates, k=k)
            taken.take([fp(d, check) for d in targets], lo, hi)
            ids = [b.alert(d, check, sev, msg, t0 + timedelta(minutes=rng.uniform(0, 10)), minutes) for d in targets]
            incidents.append(Incident(f"inc-storm-{ids[0]}", "storm", client, ids, t0, t0 + timedelta(minutes=minutes)))

        # -- noise: on fingerprints no incident is using ------------------------------------------------
        def noise_alert(checks: list[tuple[str, Severity, str]], minutes: Any, margin: timedelta,
                        devices: list[Device] = devices, **kw: Any) -> str | None:
            def one() -> tuple[Device, tuple[str, Severity, str], datetime, float | None] | None:
                d = rng.choice(devices)
                check = rng.choice(checks)
                t0, length = when(), minutes()
                end = t0 + timedelta(minutes=length) if length is not None else _FOREVER
                hi = end + margin if end != _FOREVER else end
                return (d, check, t0, length) if taken.free([fp(d, check[0])], t0 - margin, hi) else None

            got = pick(10, one)
            if got is None:
                return None
            d, (check, sev, msg), t0, length = got
            end = t0 + timedelta(minutes=length) if length is not None else _FOREVER
            taken.take([fp(d, check)], t0 - margin, end + margin if end != _FOREVER else end)
            return b.alert(d, check, sev, msg, t0, length, **kw)

        for _ in range(count(spec.blips)):
            nid = noise_alert(_BLIP_CHECKS, lambda: rng.uniform(0.5, 4.0), 2 * hour)
            if nid:
                noise[nid] = "blip"
        for _ in range(count(spec.info)):
            checks = [(c, Severity.info, "Informational: {v}") for c in _INFO_CHECKS]
            nid = noise_alert(checks, lambda: rng.choice([None, rng.uniform(10, 300)])
                              if spec.open_ended_hours is None else rng.uniform(10, 300), timedelta(0))
            if nid:
                noise[nid] = "info"
        for _ in range(count(spec.muted)):
            checks = [(c, s, m) for c, s, m, _t in _LASTING_CHECKS]
            nid = noise_alert(checks, lambda: rng.uniform(30, 400), timedelta(0), muted=True)
            if nid:
                noise[nid] = "muted"
        if spec.maintenance > 0:
            servers = [d for d in devices if d.type == DeviceType.server]
            maintenance_rules.append({
                "id": f"nightly-{client}", "type": "maintenance", "description": f"planned reboots of {client}",
                "match": {"clients": [client], "device_types": ["server"], "checks": ["device_offline"]},
                "weekly": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                           "start": MAINTENANCE_WINDOW[0], "end": MAINTENANCE_WINDOW[1]},
            })
            for _ in range(count(spec.maintenance)):
                d = rng.choice(servers)
                days = max(1, int(hours // 24))
                base = (start + timedelta(days=rng.randrange(days))).replace(hour=h0, minute=0, second=0, microsecond=0)
                t0 = base + timedelta(minutes=rng.uniform(0, (h1 - h0) * 60 - 25))
                minutes = rng.uniform(3, 20)
                if not (start <= t0 < start + span) or not taken.free([fp(d, "device_offline")], t0 - hour, t0 + hour):
                    continue
                taken.take([fp(d, "device_offline")], t0 - hour, t0 + hour)
                aid = b.alert(d, "device_offline", Severity.high, "Device rebooting (planned)", t0, minutes)
                noise[aid] = "maintenance"
    b.events.sort(key=lambda e: (e.at, e.kind != "raised", e.id))
    events = b.events
    if cut:
        end = start + span
        events = [e for e in events if e.at <= end]
    return Stream(events, incidents, noise, topo, maintenance_rules)


def iter_events(
    seed: int, n_events: int, *, clients: int = 200, start: datetime | None = None, spec: StreamSpec | None = None,
) -> Iterator[AlertEvent]:
    """A long stream of ``n_events`` events, generated a day at a time (memory stays flat).

    Every alert clears eventually (lasting problems after 6–30 hours unless ``spec`` says
    otherwise), and a day's alerts that outlive it clear or repeat on the following days, so
    the stream looks like a real RMM's week after week: what a rules engine must keep in memory
    is bounded by the alerts open at a time, not by the length of the stream.
    """
    start = start or datetime(2026, 1, 5, tzinfo=UTC)
    spec = spec or StreamSpec(open_ended_hours=(6, 30))
    # A day's stream starts a little before its day (a device behind a firewall may go offline two
    # minutes before it) and ends long after (clears, repeats): events are merged in time order and
    # released only up to a horizon the next day cannot reach back before.
    pending: list[tuple[datetime, bool, str, AlertEvent]] = []
    produced = 0
    day = 0
    while produced < n_events:
        day_start = start + timedelta(days=day)
        stream = generate(seed + day, start=day_start, hours=24, clients=clients, spec=spec, source="sim-rmm",
                          id_prefix=f"d{day}-", cut=False)
        for e in stream.events:
            heapq.heappush(pending, (e.at, e.kind != "raised", e.id, e))
        horizon = day_start + timedelta(days=1) - timedelta(minutes=15)
        while pending and pending[0][0] < horizon:
            yield heapq.heappop(pending)[3]
            produced += 1
            if produced >= n_events:
                return
        day += 1
