"""Test helpers: a whole stack (simulators + real context) in one object."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.simulators.autotask import AutotaskSimulator
from connectors.simulators.datto_rmm import DattoRmmSimulator
from pipelines import alerts, clients, outbox
from pipelines.clock import FixedClock
from pipelines.runtime import Context

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass
class Stack:
    ctx: Context
    datto: DattoRmmSimulator
    autotask: AutotaskSimulator
    clock: FixedClock
    site: str
    company: int

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
        return [t for t in self.autotask.tickets() if t.get("externalID")]

    def device(self, name: str = "ACME-FS01", **kw: Any) -> str:
        return self.datto.add_device(self.site, name, **kw)


def build_stack(sim: Any, make_context: Any, *, map_client: bool = True, **overrides: Any) -> Stack:
    clock = FixedClock(START)
    datto = sim(DattoRmmSimulator, now=clock.now)
    autotask = sim(AutotaskSimulator, now=clock.now)
    company = autotask.add_company("Acme Dental")
    site = datto.add_site("Acme Dental", autotask_company_id=str(company))
    ctx = make_context({"datto-rmm": datto, "autotask": autotask}, clock=clock, **overrides)
    for c in (ctx.rmm(), ctx.psa()):
        c.http._sleep = lambda s: None
    if map_client:
        with ctx.db.session() as s:
            clients.map_client(s, rmm="datto-rmm", rmm_client_id=site, rmm_name="Acme Dental", psa="autotask",
                               psa_company_id=str(company))
    return Stack(ctx, datto, autotask, clock, site, company)


def settings_env(settings: Any) -> dict[str, str]:
    """Environment variables that reproduce ``settings`` in a child process (a real worker)."""
    import json
    import os

    from pydantic import BaseModel, SecretStr

    def text(value: Any) -> str:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, (dict, list)):
            return json.dumps(value, default=str)
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
