"""An SLA test stack: the Autotask simulator with people in it, a real context, a real SMTP server."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connectors.simulators.autotask import AutotaskSimulator
from pipelines import outbox, sla, tickets
from pipelines.clock import FixedClock
from pipelines.notify import notifier_for
from pipelines.runtime import Context
from pipelines.state import ActionRow, SlaTicket
from tests.smtp_sink import SmtpSink

T0 = datetime(2026, 11, 9, 14, 0, tzinfo=UTC)
"""Monday 09:00 in New York (the default calendar)."""

LEVEL1, LEVEL2, LEVEL3, ONSITE = "29683354", "29683355", "29683356", "29683357"

ESCALATION_YAML = f"""
roles:
  dispatcher: {{title: Service Dispatcher, email: [dispatch@msp.example]}}
  service_manager: {{title: Service Manager, email: [manager@msp.example]}}
  service_director: {{title: Service Director, email: [director@msp.example]}}
escalation:
  tiers:
    - {{name: Level 1, board: "{LEVEL1}"}}
    - {{name: Level 2, board: "{LEVEL2}", email: [level2@msp.example]}}
    - {{name: Level 3, board: "{LEVEL3}"}}
    - {{name: Onsite, board: "{ONSITE}"}}
"""


ENRICHMENT_OFF = "enabled: false\n"
"""The SLA tests count the notes and actions clocks cause; enrichment (its own note and field
writes, tested in test_enrich_flow.py, also alongside SLA clocks) is left out of them."""


def config_dir(tmp_path: Path, **files: str) -> Path:
    d = tmp_path / "config"
    d.mkdir(exist_ok=True)
    (d / "escalation.yaml").write_text(ESCALATION_YAML)
    (d / "enrichment.yaml").write_text(ENRICHMENT_OFF)
    for name, text in files.items():
        (d / name.replace("_yaml", ".yaml")).write_text(text)
    return d


def add_tier_queues(at: AutotaskSimulator) -> None:
    """The tenant's Level 2 / Level 3 / Onsite queues (Autotask refuses a queue its picklist lacks)."""
    queues = at.picklists["queueID"]
    for qid, name in ((LEVEL2, "Level II Support"), (LEVEL3, "Level III Support"), (ONSITE, "Onsite")):
        if not any(q["value"] == qid for q in queues):
            queues.append({**queues[-1], "value": qid, "label": name, "isDefaultValue": False,
                           "sortOrder": len(queues)})


def status_of(stack: SlaStack, ticket_id: int) -> str:
    """The ticket's status as Switchboard reads it (the tenant's status ids map by name)."""
    return stack.ctx.psa().get_ticket(str(ticket_id)).status.value


def smtp_settings(sink: SmtpSink | None) -> dict[str, Any]:
    if sink is None:
        return {}
    return {"host": sink.host, "port": sink.port, "security": "none", "from_address": "servicedesk@msp.example",
            "timeout_seconds": 10}


@dataclass
class SlaStack:
    ctx: Context
    at: AutotaskSimulator
    clock: FixedClock
    sink: SmtpSink | None
    company: int
    contact: int
    engineer: int
    senior: int
    dispatcher: int

    def advance(self, **delta: float) -> None:
        self.clock.set(self.clock.now() + timedelta(**delta))

    def new_ticket(self, title: str = "Server down", *, priority: int = 4, **fields: Any) -> int:
        """A ticket a person opened in the PSA (Autotask priority 4 = Critical = P1)."""
        base = {"title": title, "companyID": self.company, "contactID": self.contact, "priority": priority,
                "status": 1, "queueID": int(LEVEL1)}
        return self.at.add_ticket(**{**base, **fields})

    def poll(self) -> tickets.TicketPollReport:
        return tickets.poll(self.ctx)

    def tick(self) -> sla.SlaReport:
        return sla.tick(self.ctx)

    def push(self, ctx: Context | None = None) -> list[outbox.GroupResult]:
        ctx = ctx or self.ctx
        with ctx.db.session() as s:
            groups = outbox.pending_groups(s)
        targets = outbox.PushTargets(psa=ctx.psa(), notifier=notifier_for(ctx))
        return [outbox.push_group(ctx.db, targets, g) for g in groups]

    def cycle(self) -> None:
        self.poll()
        self.tick()
        self.push()

    def race(self, make_context: Any, step: Callable[[Context], Any], *, workers: int = 2, rounds: int = 2,
             join_seconds: float = 120) -> None:
        """``workers`` workers, each with its own context on the same database and PSA, start at once
        and each run ``step`` then a push ``rounds`` times, as duplicated jobs on several machines
        would; a push that meets the other worker's lease backs off. Fails on any worker's error;
        then pushes whatever a backed-off worker left behind."""
        settings = self.ctx.settings
        extra = {"smtp": settings.smtp.model_dump()} if self.sink is not None else {}
        contexts = [make_context({"autotask": self.at}, clock=self.clock, config_dir=settings.config_dir, **extra)
                    for _ in range(workers)]
        for c in contexts:
            c.psa().http._sleep = lambda s: None
        start = threading.Barrier(len(contexts))
        errors: list[BaseException] = []

        def work(ctx: Context) -> None:
            start.wait()
            try:
                for _ in range(rounds):
                    step(ctx)
                    with contextlib.suppress(outbox.LeaseHeld):  # the other worker is applying that group
                        self.push(ctx)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(c,)) for c in contexts]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=join_seconds)
        assert not errors, errors
        self.push()

    def row(self, ticket_id: int) -> SlaTicket:
        with self.ctx.db.session() as s:
            row = s.get(SlaTicket, f"autotask:{ticket_id}")
            assert row is not None
            s.expunge(row)
            return row

    def actions(self, *, kind: str | None = None) -> list[ActionRow]:
        with self.ctx.db.session() as s:
            q = sa.select(ActionRow).order_by(ActionRow.id)
            if kind:
                q = q.where(ActionRow.kind == kind)
            return list(s.scalars(q))

    def notes(self, ticket_id: int) -> list[dict[str, Any]]:
        return self.at.notes_of(ticket_id)

    def mail_to(self, address: str) -> list[str]:
        assert self.sink is not None
        return [r.subject for r in self.sink.received if address in r.rcpt_tos]


def build_sla_stack(sim: Any, make_context: Any, tmp_path: Path, *, sink: SmtpSink | None,
                    files: dict[str, str] | None = None, **overrides: Any) -> SlaStack:
    clock = FixedClock(T0)
    at = sim(AutotaskSimulator, now=clock.now)
    add_tier_queues(at)
    company = at.add_company("Acme Dental")
    contact = at.add_contact(company, "Jane", "Doe", "jane@acme.example")
    engineer = at.add_resource("Sam", "Tech", "sam@msp.example")
    senior = at.add_resource("Lee", "Senior", "lee@msp.example")
    dispatcher = at.add_resource("Dana", "Dispatch", "dana@msp.example")
    settings: dict[str, Any] = {"config_dir": config_dir(tmp_path, **(files or {}))}
    if sink is not None:
        settings["smtp"] = smtp_settings(sink)
    ctx = make_context({"autotask": at}, clock=clock, **{**settings, **overrides})
    ctx.psa().http._sleep = lambda s: None
    return SlaStack(ctx, at, clock, sink, company, contact, engineer, senior, dispatcher)
