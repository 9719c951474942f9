"""Realistic RMM alert streams with ground truth, for the demo, tests and benchmarks.

A stream is what a NOC sees in a day: short blips that clear by themselves, ``info`` noise,
alerts muted at the source, repeats of a lasting problem, flapping checks, a site losing its
firewall (and every device behind it going "offline"), and the same check failing on many
devices of one client at once (a storm). Each generated *incident* is something a person must
work: the ground truth is "exactly one ticket per incident, none for the noise".

Everything is seeded (``random.Random(seed)``), so a stream is reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from connectors.canonical import AlertEvent, DeviceType, Severity

__all__ = ["Device", "Incident", "Stream", "StreamSpec", "Topology", "generate", "iter_events", "topology"]

CLIENT_NAMES = [
    "Acme Dental Group", "Birchwood Accounting", "Cedar Law Partners", "Dunmore Logistics", "Elm Street Clinic",
    "Foxglove Architects", "Granite Insurance", "Harbor Veterinary", "Ironbridge Manufacturing", "Juniper Realty",
    "Kestrel Engineering", "Lakeside School", "Maple Family Practice", "Northwind Traders", "Oakridge Credit Union",
]


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
    """alert_id -> why it is noise (blip, info, muted)"""
    topology: Topology | None = None

    def alert_ids(self) -> set[str]:
        return {e.alert_id for e in self.events}


@dataclass(frozen=True)
class StreamSpec:
    """How much of each pattern per client per day."""

    blips: float = 12.0
    info: float = 4.0
    muted: float = 1.0
    lasting: float = 1.5
    flapping: float = 0.3
    site_outages: float = 0.15
    storms: float = 0.15
    repeat_every_minutes: tuple[int, int] = (20, 60)


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
        self.events.append(AlertEvent(
            id=f"{alert_id}:{'r' if kind == 'raised' else 'c'}{n}", alert_id=alert_id, source=self.source,
            kind=kind, at=at, client=d.client, site=d.site, device=d.id, device_type=d.type, check=check,
            severity=sev, message=msg.format(v=self.rng.randint(2, 99)), muted=muted, client_name=d.client_name,
            site_name=d.site_name, device_name=d.name,
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
) -> Stream:
    """A stream of ``hours`` hours for ``clients`` clients, sorted by time, with ground truth."""
    spec = spec or StreamSpec()
    rng = random.Random(seed)
    topo = topology(rng, clients)
    b = _Builder(rng, source, id_prefix)
    incidents: list[Incident] = []
    noise: dict[str, str] = {}
    span = timedelta(hours=hours)
    day = hours / 24.0

    def when(margin_min: float = 0) -> datetime:
        return start + timedelta(seconds=rng.uniform(0, max(1.0, span.total_seconds() - margin_min * 60)))

    def count(rate: float) -> int:
        expected = rate * day
        n = int(expected)
        return n + (1 if rng.random() < expected - n else 0)

    for client, devices in topo.by_client().items():
        for _ in range(count(spec.blips)):
            d = rng.choice(devices)
            check, sev, msg = rng.choice(_BLIP_CHECKS)
            aid = b.alert(d, check, sev, msg, when(), rng.uniform(0.5, 4.0))
            noise[aid] = "blip"
        for _ in range(count(spec.info)):
            d = rng.choice(devices)
            aid = b.alert(d, rng.choice(["patch", "reboot_pending", "software_installed"]), Severity.info,
                          "Informational: {v}", when(), rng.choice([None, rng.uniform(10, 300)]))
            noise[aid] = "info"
        for _ in range(count(spec.muted)):
            d = rng.choice(devices)
            check, sev, msg, _types = rng.choice(_LASTING_CHECKS)
            aid = b.alert(d, check, sev, msg, when(), rng.uniform(30, 400), muted=True)
            noise[aid] = "muted"
        for _ in range(count(spec.lasting)):
            check, sev, msg, types = rng.choice(_LASTING_CHECKS)
            candidates = [d for d in devices if d.type in types] or devices
            d = rng.choice(candidates)
            t0 = when(60)
            minutes = rng.choice([None, rng.uniform(25, 360)])
            aid = b.alert(d, check, sev, msg, t0, minutes, repeat=spec.repeat_every_minutes)
            incidents.append(Incident(f"inc-{aid}", "lasting", client, [aid], t0,
                                      t0 + timedelta(minutes=minutes) if minutes else None))
        for _ in range(count(spec.flapping)):
            d = rng.choice([x for x in devices if x.type != DeviceType.printer])
            check, sev, msg = rng.choice(_BLIP_CHECKS)
            t = when(90)
            ids = []
            for _k in range(rng.randint(4, 6)):
                ids.append(b.alert(d, check, sev, msg, t, rng.uniform(0.5, 3.0)))
                t += timedelta(minutes=rng.uniform(6, 12))
            incidents.append(Incident(f"inc-flap-{ids[0]}", "flapping", client, ids, start, t))
        by_site: dict[str, list[Device]] = {}
        for d in devices:
            by_site.setdefault(d.site, []).append(d)
        for _ in range(count(spec.site_outages)):
            site_devices = by_site[rng.choice(sorted(by_site))]
            fw = next(d for d in site_devices if d.type == DeviceType.network)
            t0 = when(120)
            minutes = rng.uniform(20, 90)
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
            targets = rng.sample([d for d in devices if d.type in (DeviceType.workstation, DeviceType.server)],
                                 k=min(len(devices) - 4, rng.randint(6, 12)))
            t0 = when(180)
            minutes = rng.uniform(40, 160)
            ids = [b.alert(d, check, sev, msg, t0 + timedelta(minutes=rng.uniform(0, 10)), minutes) for d in targets]
            incidents.append(Incident(f"inc-storm-{ids[0]}", "storm", client, ids, t0, t0 + timedelta(minutes=minutes)))
    b.events.sort(key=lambda e: (e.at, e.kind != "raised", e.id))
    cut = start + span
    events = [e for e in b.events if e.at <= cut]
    return Stream(events, incidents, noise, topo)


def iter_events(seed: int, n_events: int, *, clients: int = 200, start: datetime | None = None) -> Iterator[AlertEvent]:
    """A long stream of about ``n_events`` events, generated a day at a time (memory stays flat)."""
    start = start or datetime(2026, 1, 5, tzinfo=UTC)
    produced = 0
    day = 0
    while produced < n_events:
        stream = generate(seed + day, start=start + timedelta(days=day), hours=24, clients=clients,
                          source="sim-rmm", id_prefix=f"d{day}-")
        for e in stream.events:
            yield e
            produced += 1
            if produced >= n_events:
                return
        day += 1
