"""The vertical slice in one process: RMM alert -> rules -> outbox -> PSA ticket, on real state.

Every test runs against each PSA (Autotask, ConnectWise PSA, HaloPSA), selected the way a user
selects it (``SWITCHBOARD_PSA``), through the vendors' simulators.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pipelines import alerts
from pipelines.state import ActionRow, AlertLink, DecisionRow, Quarantine, TicketLink
from tests.helpers import PSAS, build_stack


@pytest.fixture(params=PSAS)
def stack(request, sim, make_context):
    return build_stack(sim, make_context, psa=request.param)


def test_alert_becomes_one_ticket_with_an_explain_note(stack) -> None:
    dev = stack.device("ACME-FS01", category="Server")
    stack.datto.raise_alert(dev, priority="High", diagnostics="Disk C: has 3% free",
                            context={"@class": "perf_disk_usage_ctx", "diskName": "C:"})
    report = stack.cycle()
    assert report.events == 1 and report.decisions == {"open": 1}
    (ticket,) = stack.our_tickets()
    assert ticket["title"] == "High: Low disk space (C:) on ACME-FS01 (Acme Dental)"
    assert ticket["company"] == stack.company and ticket["status"] == "New" and not ticket["closed"]
    (note,) = stack.psa.notes(ticket["id"])
    assert "Why this ticket exists" in note
    with stack.ctx.db.session() as s:
        link = s.scalar(sa.select(TicketLink))
        assert link.psa_ticket_id == str(ticket["id"]) and ticket["marker"] == link.key and link.psa == stack.psa.vendor


def test_repeats_update_the_ticket_instead_of_opening_another(stack) -> None:
    dev = stack.device()
    stack.datto.raise_alert(dev)
    stack.cycle()
    stack.advance(minutes=10)
    stack.datto.raise_alert(dev)  # same device and check: same fingerprint, a new RMM alert
    stack.cycle()
    assert len(stack.our_tickets()) == 1
    (ticket,) = stack.our_tickets()
    (note,) = stack.psa.notes(ticket["id"])  # the explain note was updated, not re-posted
    assert "seen 2 time(s)" in note
    with stack.ctx.db.session() as s:
        assert s.scalar(sa.select(TicketLink.repeat_count)) == 1


def test_clear_notes_and_closes_the_ticket(stack) -> None:
    dev = stack.device()
    aid = stack.datto.raise_alert(dev)
    stack.cycle()
    stack.advance(minutes=20)
    stack.datto.resolve(aid)
    report = stack.cycle()
    assert report.decisions["clear"] == 1 and report.decisions["resolve"] == 1
    (ticket,) = stack.our_tickets()
    assert ticket["closed"]
    assert any("have cleared" in n for n in stack.psa.notes(ticket["id"]))


def test_a_ticket_a_person_touched_is_noted_but_left_open(stack) -> None:
    dev = stack.device()
    aid = stack.datto.raise_alert(dev)
    stack.cycle()
    (ticket,) = stack.our_tickets()
    stack.psa.log_time(ticket["id"], 0.5)
    stack.advance(minutes=20)
    stack.datto.resolve(aid)
    stack.cycle()
    after = stack.psa.ticket(ticket["id"])
    assert after["status"] == "New" and not after["closed"]
    with stack.ctx.db.session() as s:
        close = s.scalar(sa.select(ActionRow).where(ActionRow.kind == "close_ticket"))
        assert close.status == "done" and close.result["moved"] is False
        assert "time entr" in close.result["touched"]


@pytest.mark.parametrize("psa", PSAS)
def test_unmapped_client_waits_and_is_released_when_mapped(sim, make_context, psa) -> None:
    from pipelines import clients

    stack = build_stack(sim, make_context, map_client=False, psa=psa)
    stack.datto.raise_alert(stack.device())
    report = stack.cycle()
    assert report.blocked == 1 and stack.our_tickets() == []
    with stack.ctx.db.session() as s:
        row = s.scalar(sa.select(ActionRow).where(ActionRow.kind == "create_ticket"))
        assert row.status == "blocked" and "not mapped" in row.last_error
        clients.map_client(s, rmm="datto-rmm", rmm_client_id=stack.site, psa=stack.psa.vendor,
                           psa_company_id=str(stack.company))
        assert clients.unblock_client(s, stack.site, stack.psa.vendor, str(stack.company))
    stack.push_all()
    (ticket,) = stack.our_tickets()
    assert ticket["company"] == stack.company
    assert len(stack.psa.notes(ticket["id"])) == 1


def test_malformed_vendor_payload_is_quarantined_and_the_sync_goes_on(stack) -> None:
    dev = stack.device()
    stack.datto.raise_alert(dev)
    bad = stack.datto.raise_alert(stack.device("ACME-WS02"))
    del stack.datto.alerts[bad]["alertSourceInfo"]
    report = stack.cycle()
    assert report.quarantined == 1 and len(stack.our_tickets()) == 1
    stack.cycle()  # the vendor keeps serving it: counted, not duplicated
    with stack.ctx.db.session() as s:
        (q,) = s.scalars(sa.select(Quarantine))
        assert q.stream == "datto-rmm:alerts" and "alertSourceInfo" in q.reason and q.seen_count == 2
        assert bad in q.payload


@pytest.mark.parametrize("psa", PSAS)
def test_shadow_mode_decides_everything_and_writes_nothing(sim, make_context, psa) -> None:
    stack = build_stack(sim, make_context, mode="shadow", psa=psa)
    stack.datto.raise_alert(stack.device())
    report = stack.cycle()
    assert report.decisions == {"open": 1}
    assert stack.our_tickets() == []
    assert stack.psa.writes() == 0
    with stack.ctx.db.session() as s:
        assert s.scalar(sa.select(ActionRow.status).where(ActionRow.kind == "create_ticket")) == "shadow"
        assert s.scalar(sa.select(sa.func.count()).select_from(DecisionRow)) == 1


def test_a_poll_that_lost_the_race_commits_nothing(stack) -> None:
    stack.datto.raise_alert(stack.device())
    stream = alerts.stream_name("datto-rmm")
    value, version = alerts.read_cursor(stack.ctx, stream)
    pulled = stack.ctx.rmm().pull_alert_events(value, stack.clock.now())
    alerts.poll(stack.ctx)  # another worker's poll commits first
    with pytest.raises(alerts.CursorConflict):
        alerts.ingest(stack.ctx, pulled.items, now=stack.clock.now(), rmm="datto-rmm",
                      cursor=(stream, version, pulled.cursor))
    with stack.ctx.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(TicketLink)) == 1
        assert s.scalar(sa.select(sa.func.count()).select_from(AlertLink)) == 1


def test_events_delivered_twice_decide_once(stack) -> None:
    stack.datto.raise_alert(stack.device())
    pulled = stack.ctx.rmm().pull_alert_events(None, stack.clock.now())
    alerts.ingest(stack.ctx, pulled.items, now=stack.clock.now(), rmm="datto-rmm")
    again = alerts.ingest(stack.ctx, pulled.items, now=stack.clock.now(), rmm="datto-rmm")  # a webhook + the poll
    assert sum(again.decisions.values()) == 0
    stack.push_all()
    assert len(stack.our_tickets()) == 1
