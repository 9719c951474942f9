"""A whole stack per RMM (its simulator + Autotask + a real context), driven the same way for all
three, so the alert pipeline is proven with each ``SWITCHBOARD_RMM``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.simulators.autotask import AutotaskSimulator
from connectors.simulators.datto_rmm import DattoRmmSimulator, context_for
from connectors.simulators.ninjaone import NinjaOneSimulator
from connectors.simulators.tactical_rmm import TacticalRmmSimulator
from pipelines import alerts, clients, outbox
from pipelines.clock import FixedClock
from pipelines.runtime import Context

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
RMMS = ("datto-rmm", "ninjaone", "tactical-rmm")
DATTO_PRIORITY = {"critical": "Critical", "high": "High", "moderate": "Moderate", "low": "Low", "info": "Information"}
TACTICAL_SEVERITY = {"critical": "error", "high": "error", "moderate": "warning", "low": "warning", "info": "info"}


class RmmDriver:
    """One RMM simulator behind four verbs: a client, a device, an alert raised, an alert cleared."""

    vendor = ""
    sim_class: type = object
    settings: dict[str, Any] = {}

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.client_id = ""
        self._site: Any = None

    def add_client(self, name: str) -> str:
        raise NotImplementedError

    def add_device(self, name: str, kind: str = "server") -> Any:
        raise NotImplementedError

    def raise_alert(self, device: Any, check: str, severity: str = "high", message: str = "") -> str:
        raise NotImplementedError

    def resolve(self, alert_id: str) -> None:
        raise NotImplementedError

    def break_alert(self, alert_id: str) -> None:
        """Make the vendor serve the alert in a shape the connector cannot use (the document allows it)."""
        raise NotImplementedError

    def is_resolved(self, alert_id: str) -> bool:
        raise NotImplementedError


class DattoDriver(RmmDriver):
    vendor = "datto-rmm"
    sim_class = DattoRmmSimulator

    def add_client(self, name: str) -> str:
        self._site = self.client_id = self.sim.add_site(name)
        return self.client_id

    def add_device(self, name: str, kind: str = "server") -> Any:
        return self.sim.add_device(self._site, name, category="Server" if kind == "server" else "Desktop")

    def raise_alert(self, device: Any, check: str, severity: str = "high", message: str = "") -> str:
        return str(self.sim.raise_alert(device, context=context_for(check), priority=DATTO_PRIORITY[severity],
                                        diagnostics=message))

    def resolve(self, alert_id: str) -> None:
        self.sim.resolve(alert_id)

    def break_alert(self, alert_id: str) -> None:
        del self.sim.alerts[alert_id]["alertSourceInfo"]

    def is_resolved(self, alert_id: str) -> bool:
        return bool(self.sim.alerts[alert_id]["resolved"])


class NinjaDriver(RmmDriver):
    vendor = "ninjaone"
    sim_class = NinjaOneSimulator
    settings = {"ninjaone": {"base_url": NinjaOneSimulator.base_url, "client_id": "sim-ninja-client",
                             "client_secret": "sim-ninja-secret"}}

    def add_client(self, name: str) -> str:
        org = self.sim.add_organization(name)
        self._site = self.sim.add_location(org, "HQ")
        self.client_id = str(org)
        return self.client_id

    def add_device(self, name: str, kind: str = "server") -> Any:
        return self.sim.add_device(self._site, name,
                                   node_class="WINDOWS_SERVER" if kind == "server" else "WINDOWS_WORKSTATION")

    def raise_alert(self, device: Any, check: str, severity: str = "high", message: str = "") -> str:
        return str(self.sim.raise_alert(device, check=check, severity=severity, message=message))

    def resolve(self, alert_id: str) -> None:
        self.sim.resolve(alert_id)

    def break_alert(self, alert_id: str) -> None:
        self.sim._advance()
        del self.sim.alerts[alert_id]["createTime"]

    def is_resolved(self, alert_id: str) -> bool:
        return bool(self.sim.alerts[alert_id]["_state"] == "reset")


class TacticalDriver(RmmDriver):
    vendor = "tactical-rmm"
    sim_class = TacticalRmmSimulator
    settings = {"tactical_rmm": {"base_url": TacticalRmmSimulator.base_url, "api_key": "sim-tactical-key"}}

    def add_client(self, name: str) -> str:
        cid = self.sim.add_client(name)
        self._site = self.sim.add_site(cid, "HQ")
        self.client_id = str(cid)
        return self.client_id

    def add_device(self, name: str, kind: str = "server") -> Any:
        return self.sim.add_agent(self._site, name, monitoring_type="server" if kind == "server" else "workstation")

    def raise_alert(self, device: Any, check: str, severity: str = "high", message: str = "") -> str:
        return str(self.sim.raise_alert(device, check, severity=TACTICAL_SEVERITY[severity],
                                        **({"message": message} if message else {})))

    def resolve(self, alert_id: str) -> None:
        self.sim.resolve(int(alert_id))

    def break_alert(self, alert_id: str) -> None:
        self.sim._advance()
        self.sim.alerts[int(alert_id)]["alert_time"] = None

    def is_resolved(self, alert_id: str) -> bool:
        return bool(self.sim.alerts[int(alert_id)]["resolved"])


DRIVERS: dict[str, type[RmmDriver]] = {d.vendor: d for d in (DattoDriver, NinjaDriver, TacticalDriver)}


@dataclass
class RmmStack:
    ctx: Context
    rmm: RmmDriver
    autotask: AutotaskSimulator
    clock: FixedClock
    company: int

    def advance(self, **delta: float) -> None:
        self.clock.set(self.clock.now() + timedelta(**delta))

    def cycle(self) -> alerts.IngestReport:
        report = alerts.poll(self.ctx)
        report.merge(alerts.tick(self.ctx))
        self.push_all()
        return report

    def push_all(self) -> list[outbox.GroupResult]:
        with self.ctx.db.session() as s:
            groups = outbox.pending_groups(s)
        targets = outbox.PushTargets(psa=self.ctx.psa(), rmm=self.ctx.rmm())
        return [outbox.push_group(self.ctx.db, targets, g) for g in groups]

    def our_tickets(self) -> list[dict[str, Any]]:
        return [t for t in self.autotask.tickets() if t.get("externalID")]


def build_rmm_stack(vendor: str, sim: Any, make_context: Any, *, client: str = "Acme Dental", **overrides: Any) -> RmmStack:
    clock = FixedClock(START)
    driver = DRIVERS[vendor](sim(DRIVERS[vendor].sim_class, now=clock.now))
    autotask = sim(AutotaskSimulator, now=clock.now)
    company = autotask.add_company(client)
    client_id = driver.add_client(client)
    ctx = make_context({vendor: driver.sim, "autotask": autotask}, clock=clock, rmm=vendor,
                       **{**driver.settings, **overrides})
    for c in (ctx.rmm(), ctx.psa()):
        c.http._sleep = lambda s: None
    with ctx.db.session() as s:
        clients.map_client(s, rmm=vendor, rmm_client_id=client_id, rmm_name=client, psa="autotask",
                           psa_company_id=str(company))
    return RmmStack(ctx, driver, autotask, clock, company)
