"""The alert pipeline with each RMM (``SWITCHBOARD_RMM``): alert -> rules -> outbox -> Autotask
ticket, on real state, the same behaviour whichever RMM fires the alerts."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from connectors import registry
from connectors.datto_rmm import DattoRmm
from connectors.ninjaone import NinjaOne
from connectors.tactical_rmm import TacticalRmm
from pipelines import alerts, outbox
from pipelines.state import ActionRow, AlertLink, Quarantine
from tests.rmm_stacks import RMMS, build_rmm_stack


@pytest.fixture(params=RMMS)
def stack(request, sim, make_context):
    return build_rmm_stack(request.param, sim, make_context)


def test_the_setting_selects_the_connector(make_context, sim) -> None:
    for vendor, cls in (("datto-rmm", DattoRmm), ("ninjaone", NinjaOne), ("tactical-rmm", TacticalRmm)):
        stack = build_rmm_stack(vendor, sim, make_context)
        assert isinstance(stack.ctx.rmm(), cls) and registry.get(vendor).kind == "rmm"
        assert stack.ctx.rmm().vendor == vendor


def test_alert_becomes_one_ticket_with_an_explain_note(stack) -> None:
    dev = stack.rmm.add_device("ACME-FS01")
    stack.rmm.raise_alert(dev, "disk_usage:C:", "high", "Disk C: has 3% free")
    report = stack.cycle()
    assert report.events == 1 and report.decisions == {"open": 1}
    (ticket,) = stack.our_tickets()
    assert ticket["title"] == "High: Low disk space (C:) on ACME-FS01 (Acme Dental)"
    assert ticket["companyID"] == stack.company
    (note,) = stack.autotask.notes_of(ticket["id"])
    assert "Why this ticket exists" in note["description"]


def test_the_same_check_failing_again_updates_the_ticket(stack) -> None:
    dev = stack.rmm.add_device("ACME-FS01")
    first = stack.rmm.raise_alert(dev, "service:Spooler", "moderate")
    stack.cycle()
    stack.advance(minutes=10)
    stack.rmm.resolve(first)
    second = stack.rmm.raise_alert(dev, "service:Spooler", "moderate")
    stack.cycle()
    assert len(stack.our_tickets()) == 1
    with stack.ctx.db.session() as s:
        linked = dict(s.execute(sa.select(AlertLink.alert_id, AlertLink.ticket_key)).all())
    assert linked[first] == linked[second]


def test_clear_notes_and_closes_the_ticket(stack) -> None:
    dev = stack.rmm.add_device("ACME-FS01")
    aid = stack.rmm.raise_alert(dev, "memory")
    stack.cycle()
    stack.advance(minutes=20)
    stack.rmm.resolve(aid)
    report = stack.cycle()
    assert report.decisions["clear"] == 1 and report.decisions["resolve"] == 1
    (ticket,) = stack.our_tickets()
    assert ticket["status"] == 5
    assert any("have cleared" in n["description"] for n in stack.autotask.notes_of(ticket["id"]))


def test_malformed_vendor_payload_is_quarantined_and_the_sync_goes_on(stack) -> None:
    stack.rmm.raise_alert(stack.rmm.add_device("ACME-FS01"), "cpu")
    bad = stack.rmm.raise_alert(stack.rmm.add_device("ACME-WS02", "workstation"), "memory")
    stack.rmm.break_alert(bad)
    report = stack.cycle()
    assert report.quarantined == 1 and len(stack.our_tickets()) == 1
    stack.cycle()  # still served: counted, not duplicated
    with stack.ctx.db.session() as s:
        (q,) = s.scalars(sa.select(Quarantine))
        assert q.stream.startswith(stack.rmm.vendor) and bad in q.payload and q.seen_count == 2


def test_resolving_an_alert_goes_through_the_outbox_once(stack) -> None:
    aid = stack.rmm.raise_alert(stack.rmm.add_device("ACME-FS01"), "cpu")
    stack.cycle()
    action = outbox.Action(f"resolve:{stack.rmm.vendor}:{aid}", f"rmm:{aid}", "resolve_alert",
                           {"source": stack.rmm.vendor, "alert_id": aid})
    for _ in range(2):  # a duplicated job records and applies nothing new
        with stack.ctx.db.session() as s:
            outbox.record(s, [action], now=stack.clock.now())
        stack.push_all()
    assert stack.rmm.is_resolved(aid)
    with stack.ctx.db.session() as s:
        (row,) = s.scalars(sa.select(ActionRow).where(ActionRow.kind == "resolve_alert"))
        assert row.status == "done" and row.attempts == 1
        assert s.scalar(sa.select(AlertLink.rmm_resolved).where(AlertLink.alert_id == aid)) is True
    stack.advance(minutes=1)
    assert stack.cycle().decisions.get("clear") == 1


def test_events_delivered_twice_decide_once(stack) -> None:
    stack.rmm.raise_alert(stack.rmm.add_device("ACME-FS01"), "cpu")
    pulled = stack.ctx.rmm().pull_alert_events(None, stack.clock.now())
    alerts.ingest(stack.ctx, pulled.items, now=stack.clock.now(), rmm=stack.rmm.vendor)
    again = alerts.ingest(stack.ctx, pulled.items, now=stack.clock.now(), rmm=stack.rmm.vendor)
    assert sum(again.decisions.values()) == 0
    stack.push_all()
    assert len(stack.our_tickets()) == 1
