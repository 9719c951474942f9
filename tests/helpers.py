"""Test helpers: a whole stack (simulators + real context) in one object."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.simulators.autotask import AutotaskSimulator
from connectors.simulators.connectwise_psa import ConnectWisePsaSimulator
from connectors.simulators.datto_rmm import DattoRmmSimulator
from connectors.simulators.halopsa import HaloPsaSimulator
from pipelines import alerts, clients, outbox
from pipelines.clock import FixedClock
from pipelines.runtime import Context

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
IMMEDIATE_NOISE = Path(__file__).resolve().parent / "noise_immediate"
"""A config dir whose noise rules open a ticket at once and resolve it when its alerts clear: for
tests about connectors and pushes rather than about the noise rules."""
PAST_HOLD = timedelta(minutes=6)
"""Longer than the default hold (5 min): an alert raised this long ago opens its ticket at the next poll."""
PSAS = ("autotask", "connectwise-psa", "halopsa")


class Clock:
    """A settable "now" for simulators in connector tests (``clock.at += timedelta(...)``)."""

    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at


class PsaView:
    """A PSA simulator seen the same way whichever vendor it is, for tests that run on every PSA.

    Each answer comes from the simulator's own state in the vendor's terms (Autotask status 5,
    ConnectWise ``closedFlag``, Halo status 9), not from the connector under test.
    """

    def __init__(self, vendor: str, sim: Any) -> None:
        self.vendor = vendor
        self.sim = sim

    @classmethod
    def make(cls, vendor: str, sim_factory: Any, clock: Any) -> PsaView:
        sim_cls = {"autotask": AutotaskSimulator, "connectwise-psa": ConnectWisePsaSimulator,
                   "halopsa": HaloPsaSimulator}[vendor]
        return cls(vendor, sim_factory(sim_cls, now=clock))

    def settings(self) -> dict[str, Any]:
        """Settings overrides that point the connector at this simulator."""
        s = self.sim
        if self.vendor == "connectwise-psa":
            return {"connectwise_psa": {"base_url": s.base_url + s.setting_path, "company_id": s.company_id,
                                        "public_key": s.public_key, "private_key": s.private_key,
                                        "client_id": s.client_id, "board_id": s.board_id}}
        if self.vendor == "halopsa":
            return {"halopsa": {"base_url": s.base_url + "/api", "client_id": s.client_id,
                                "client_secret": s.client_secret}}
        return {}

    def add_company(self, name: str) -> int:
        if self.vendor == "connectwise-psa":
            return int(self.sim.add_company(name))
        if self.vendor == "halopsa":
            return int(self.sim.add_client(name))
        return int(self.sim.add_company(name))

    def tickets(self) -> list[dict[str, Any]]:
        """Every ticket as ``{id, title, company, marker, status, closed}`` (status in the vendor's words)."""
        out = []
        if self.vendor == "connectwise-psa":
            for t in self.sim.tickets.values():
                out.append({"id": t["id"], "title": t["summary"], "company": t["company"]["id"],
                            "marker": t.get("externalXRef"), "status": t["status"]["name"], "closed": t["closedFlag"]})
        elif self.vendor == "halopsa":
            for t in self.sim.tickets.values():
                out.append({"id": t["id"], "title": t["summary"], "company": t["client_id"],
                            "marker": t.get("third_party_id_string"), "status": self.sim.statuses[t["status_id"]]["name"],
                            "closed": t["status_id"] == 9})
        else:
            labels = {int(v["value"]): v["label"] for v in self.sim.picklists["status"]}
            for t in self.sim.tickets():
                out.append({"id": t["id"], "title": t["title"], "company": t["companyID"], "marker": t.get("externalID"),
                            "status": labels.get(t["status"], str(t["status"])), "closed": t["status"] == 5})
        return out

    def ticket(self, tid: int) -> dict[str, Any]:
        return next(t for t in self.tickets() if t["id"] == tid)

    def notes(self, tid: int) -> list[str]:
        """Notes on a ticket (ConnectWise's copy of the initial description left out)."""
        if self.vendor == "connectwise-psa":
            return [n["text"] for n in self.sim.notes_of(tid) if n["id"] not in self.sim.initial_notes]
        if self.vendor == "halopsa":
            return [a["note"] for a in self.sim.notes_of(tid)]
        return [n["description"] for n in self.sim.notes_of(tid)]

    def log_time(self, tid: int, hours: float) -> None:
        """A technician logs time on the ticket."""
        if self.vendor == "connectwise-psa":
            self.sim.add_time_entry(tid, self.sim.technician_id, hours, "looked at it")
        elif self.vendor == "halopsa":
            self.sim.add_time(tid, self.sim.technician_id, hours, "looked at it")
        else:
            self.sim.add_time_entry(tid, 29682001, hours, "looked at it")

    @property
    def ticket_post(self) -> str:
        """Path regex of the call that creates a ticket."""
        return {"connectwise-psa": r"/service/tickets$", "halopsa": r"/api/Tickets$"}.get(self.vendor, r"/V1.0/Tickets$")

    @property
    def note_post(self) -> str:
        """Path regex of the call that adds a note."""
        return {"connectwise-psa": r"/notes$", "halopsa": r"/api/Actions$"}.get(self.vendor, r"/Notes$")

    def add_ticket(self, title: str, company: int) -> int:
        """A ticket a person opened in the PSA."""
        if self.vendor == "connectwise-psa":
            return int(self.sim.add_ticket(title, company))
        if self.vendor == "halopsa":
            return int(self.sim.add_ticket(title, company))
        return int(self.sim.add_ticket(title=title, companyID=company))

    def start_work(self, tid: int) -> None:
        """A person moves the ticket to In Progress."""
        if self.vendor == "connectwise-psa":
            self.sim.set_status(tid, "In Progress")
        elif self.vendor == "halopsa":
            self.sim.set_status(tid, 2)
        else:
            self.sim.set_status(tid, 8)

    def corrupt(self, tid: int) -> None:
        """Break the ticket's change marker the way a vendor bug would (not a date)."""
        if self.vendor == "connectwise-psa":
            self.sim.tickets[tid]["_info"]["lastUpdated"] = "not a date"
        elif self.vendor == "halopsa":
            self.sim.tickets[tid]["last_update"] = "not a date"
        else:
            self.sim.db["Tickets"][tid]["lastActivityDate"] = "not a date"

    def writes(self) -> int:
        """Calls that could change the PSA (the OAuth token call is not one)."""
        return sum(1 for c in self.sim.calls if c.method != "GET" and not c.path.endswith("/token"))


@dataclass
class Stack:
    ctx: Context
    datto: DattoRmmSimulator
    autotask: Any
    """The Autotask simulator (for ``psa="autotask"``, the default); see ``psa`` for any PSA."""
    clock: FixedClock
    site: str
    company: int
    psa: PsaView | None = None

    def advance(self, **delta: float) -> None:
        self.clock.set(self.clock.now() + timedelta(**delta))

    def cycle(self) -> alerts.IngestReport:
        """One poll + timers + every pending push, in this process."""
        report = alerts.poll(self.ctx)
        report.merge(alerts.tick(self.ctx))
        self.push_all()
        return report

    def push_all(self) -> list[outbox.GroupResult]:
        with self.ctx.db.session() as s:
            groups = outbox.pending_groups(s)
        from pipelines.notify import notifier_for

        targets = outbox.PushTargets(psa=self.ctx.psa(), rmm=self.ctx.rmm(), notifier=notifier_for(self.ctx))
        return [outbox.push_group(self.ctx.db, targets, g) for g in groups]

    def our_tickets(self) -> list[dict[str, Any]]:
        """Tickets carrying a Switchboard marker, as :meth:`PsaView.tickets` describes them."""
        assert self.psa is not None
        return [t for t in self.psa.tickets() if t.get("marker")]

    def device(self, name: str = "ACME-FS01", **kw: Any) -> str:
        return self.datto.add_device(self.site, name, **kw)

    def raise_past_hold(self, device_uid: str, **kw: Any) -> str:
        """An RMM alert raised :data:`PAST_HOLD` ago and still open: the next cycle opens its ticket."""
        return self.datto.schedule_alert(device_uid, raise_at=self.clock.now() - PAST_HOLD, **kw)


def build_stack(sim: Any, make_context: Any, *, map_client: bool = True, psa: str = "autotask",
                site_uid: str | None = None, **overrides: Any) -> Stack:
    """Datto RMM + one PSA (``autotask``, ``connectwise-psa`` or ``halopsa``) + a real context."""
    clock = FixedClock(START)
    datto = sim(DattoRmmSimulator, now=clock.now)
    view = PsaView.make(psa, sim, clock.now)
    company = view.add_company("Acme Dental")
    links = {"autotask_company_id": str(company)} if psa == "autotask" else {}
    site = datto.add_site("Acme Dental", uid=site_uid, **links)
    settings = {**view.settings(), **overrides}
    if psa != "autotask":
        settings["psa"] = psa
    ctx = make_context({"datto-rmm": datto, psa: view.sim}, clock=clock, **settings)
    for c in (ctx.rmm(), ctx.psa()):
        c.http._sleep = lambda s: None
    if map_client:
        with ctx.db.session() as s:
            clients.map_client(s, rmm="datto-rmm", rmm_client_id=site, rmm_name="Acme Dental", psa=psa,
                               psa_company_id=str(company))
    return Stack(ctx, datto, view.sim if psa == "autotask" else None, clock, site, company, view)


def settings_env(settings: Any) -> dict[str, str]:
    """Environment variables that reproduce ``settings`` in a child process (a real worker)."""
    import json
    import os

    from pydantic import BaseModel, SecretStr

    def text(value: Any) -> str:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, (dict, list)):
            return json.dumps(value, default=lambda v: v.get_secret_value() if isinstance(v, SecretStr) else str(v))
        return str(value)

    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_") and k not in ("DATABASE_URL", "REDIS_URL")}
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        if value is None:
            continue
        if name == "database_url":
            env["DATABASE_URL"] = value
        elif name == "redis_url":
            env["REDIS_URL"] = text(value)
        elif isinstance(value, BaseModel):
            for sub in value.model_fields_set:
                if getattr(value, sub) is not None:
                    env[f"SWITCHBOARD_{name.upper()}__{sub.upper()}"] = text(getattr(value, sub))
        else:
            env[f"SWITCHBOARD_{name.upper()}"] = text(value)
    return env


def virtual_time(http: Any, limit: Any) -> list[float]:
    """Make a connector's retries and rate limiter wait on a virtual clock; returns the waits.

    Tests of ``Retry-After`` then prove the wait without sleeping for real.
    """
    from connectors.ratelimit import LocalTokenBucket

    slept: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    http._sleep = sleep
    http.limiter = LocalTokenBucket(limit, clock=lambda: now[0], sleep=sleep)
    return slept
