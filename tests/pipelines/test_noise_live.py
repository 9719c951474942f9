"""The whole rule set on the live service (real database, outbox, PSA simulator), against ground
truth and against the replay: the same engine code must decide the same on both."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.simulators.streams import generate
from pipelines import alerts, clients
from pipelines import replay as rp
from pipelines.state import ActionRow, AlertLink, DecisionRow
from rules.engine import Engine
from tests.helpers import build_stack

SEED = 57  # a day for four clients with every kind of incident: lasting, recurring, flapping, outage, storm
BATCH = timedelta(minutes=10)


@pytest.fixture(scope="module")
def stream() -> Any:
    s = generate(SEED, clients=4, hours=24)
    kinds = {i.kind for i in s.incidents}
    assert {"lasting", "recurring", "flapping", "site_outage", "storm"} <= kinds, kinds
    return s


def run_live(stack: Any, stream: Any) -> None:
    """Deliver the stream as the service would see it (batches of events, then the rules' timers)."""
    with stack.ctx.db.session() as s:
        for client in {e.client for e in stream.events}:
            company = stack.autotask.add_company(f"company of {client}")
            clients.map_client(s, rmm="datto-rmm", rmm_client_id=client, psa="autotask", psa_company_id=str(company))
    events = stream.events
    t = events[0].at
    i = 0
    while i < len(events):
        t += BATCH
        batch = []
        while i < len(events) and events[i].at <= t:
            batch.append(events[i])
            i += 1
        if batch:
            alerts.ingest(stack.ctx, batch, now=t, rmm="datto-rmm")
        alerts.tick(stack.ctx, now=t)


def test_live_service_opens_one_ticket_per_incident_and_agrees_with_the_replay(sim, make_context, stream) -> None:
    stack = build_stack(sim, make_context)
    run_live(stack, stream)
    stack.push_all()
    replayed: dict[str, Any] = {}
    rp.replay(stream.events, Engine(stack.ctx.noise, stack.ctx.tickets),
              outcome=lambda a, t, rule, reason: replayed.__setitem__(a, (t, rule)))
    with stack.ctx.db.session() as s:
        live = {a: (t, rule) for a, t, rule in s.execute(sa.select(AlertLink.alert_id, AlertLink.ticket_key,
                                                                   AlertLink.rule))}
    assert live == replayed  # same tickets (same keys), same deciding rule, for every alert
    ours = stack.our_tickets()
    assert len(ours) == len(stream.incidents)
    for inc in stream.incidents:
        assert len({live[a][0] for a in inc.alert_ids} - {None}) == 1, inc
    assert all(live[a][0] is None for a in stream.noise)
    with stack.ctx.db.session() as s:
        failed = s.scalar(sa.select(sa.func.count()).select_from(ActionRow)
                          .where(ActionRow.status.in_(("failed", "blocked"))))
    assert failed == 0
    storm_ticket = next(t for t in ours if "devices" in t["title"])
    notes = stack.autotask.notes_of(storm_ticket["id"])
    explain = next(n["description"] for n in notes if "Why this ticket exists" in n["description"])
    assert "storm" in explain and explain.count("\n- ") >= 5  # one line per attached device's alert


def test_shadow_mode_runs_every_rule_and_writes_nothing(sim, make_context, stream) -> None:
    stack = build_stack(sim, make_context, mode="shadow")
    run_live(stack, stream)
    stack.push_all()
    assert stack.autotask.count("POST") == 0 and stack.autotask.count("PATCH") == 0
    assert stack.datto.count("POST", r"/resolve$") == 0
    with stack.ctx.db.session() as s:
        statuses = set(s.scalars(sa.select(ActionRow.status)))
        kinds = set(s.scalars(sa.select(ActionRow.kind)))
        rules = set(s.scalars(sa.select(DecisionRow.rule).where(DecisionRow.kind.in_(("open", "attach", "reopen")))))
        suppressed = set(s.scalars(sa.select(DecisionRow.rule).where(DecisionRow.kind == "suppress")))
    assert statuses == {"shadow"}
    assert {"create_ticket", "upsert_note", "add_note", "close_ticket", "reopen_ticket"} <= kinds
    assert {"new-ticket", "dedup", "flapping", "topology", "storm", "reopen"} <= rules
    assert {"hold", "info-never-tickets", "source-mute"} <= suppressed
