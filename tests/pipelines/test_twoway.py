"""Two-way: closing the ticket in the PSA resolves the alert in the RMM (per-client opt-out)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines import tickets
from pipelines.state import ActionRow, AlertLink, DecisionRow, TicketLink
from tests.helpers import build_stack

COMPLETE = 5  # Autotask's shipped "Complete" status


def opt_out(tmp_path: Path, client: str) -> Path:
    (tmp_path / "noise.yaml").write_text(
        "exceptions:\n"
        "  - id: own-noc\n"
        "    description: this client's NOC resolves alerts in the RMM itself\n"
        f"    clients: ['{client}']\n"
        "    rule: two-way\n"
        "    enabled: false\n"
    )
    return tmp_path


def open_ticket(stack) -> tuple[str, dict]:
    aid = stack.raise_past_hold(stack.device())
    stack.cycle()
    (ticket,) = stack.our_tickets()
    return aid, ticket


def poll_psa(stack) -> tickets.TicketPollReport:
    report = tickets.poll(stack.ctx)
    stack.push_all()
    return report


def test_a_person_closing_the_ticket_resolves_the_alert_in_the_rmm(sim, make_context) -> None:
    stack = build_stack(sim, make_context)
    aid, ticket = open_ticket(stack)
    poll_psa(stack)  # first poll: the ticket is open, nothing to do
    assert stack.datto.resolved_by_api == []
    stack.advance(minutes=30)
    stack.autotask.set_status(ticket["id"], COMPLETE)  # the technician fixed it and closed the ticket
    report = poll_psa(stack)
    assert report.by_consumer["pipelines.twoway:consume"] == 1
    assert stack.datto.resolved_by_api == [aid]
    with stack.ctx.db.session() as s:
        action = s.scalar(sa.select(ActionRow).where(ActionRow.kind == "resolve_alert"))
        assert action.grp == f"rmm:datto-rmm:{aid}" and action.status == "done"
        assert s.scalar(sa.select(AlertLink.rmm_resolved)) is True
        assert s.scalar(sa.select(TicketLink.status)) == "closed"
        assert {r for (r,) in s.execute(sa.select(DecisionRow.kind).where(DecisionRow.rule == "two-way"))} == {
            "closed", "resolve_alert"}
    # the RMM now reports the alert resolved: Switchboard does not resolve or note the closed ticket again
    stack.advance(minutes=5)
    report = stack.cycle()
    assert report.decisions.get("resolve", 0) == 0
    assert poll_psa(stack).by_consumer["pipelines.twoway:consume"] == 0
    assert len(stack.autotask.notes_of(ticket["id"])) == 1
    assert stack.datto.resolved_by_api == [aid]


def test_a_ticket_switchboard_closed_itself_does_not_echo_back(sim, make_context) -> None:
    stack = build_stack(sim, make_context)
    aid, ticket = open_ticket(stack)
    stack.advance(minutes=20)
    stack.datto.resolve(aid)
    stack.cycle()
    stack.advance(minutes=15)
    assert stack.cycle().decisions == {"resolve": 1}
    assert stack.psa.ticket(ticket["id"])["closed"]
    poll_psa(stack)
    with stack.ctx.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ActionRow).where(ActionRow.kind == "resolve_alert")) == 0
        assert s.scalar(sa.select(sa.func.count()).select_from(DecisionRow).where(DecisionRow.kind == "closed")) == 0


def test_a_client_can_opt_out(sim, make_context, tmp_path: Path) -> None:
    stack = build_stack(sim, make_context, site_uid="acme-site", config_dir=opt_out(tmp_path, "acme-site"))
    aid, ticket = open_ticket(stack)
    stack.autotask.set_status(ticket["id"], COMPLETE)
    poll_psa(stack)
    assert stack.datto.resolved_by_api == []
    with stack.ctx.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ActionRow).where(ActionRow.kind == "resolve_alert")) == 0
        assert s.scalar(sa.select(DecisionRow.kind).where(DecisionRow.kind == "closed")) == "closed"


def test_the_same_closed_ticket_seen_twice_resolves_once(sim, make_context) -> None:
    stack = build_stack(sim, make_context)
    aid, ticket = open_ticket(stack)
    stack.autotask.set_status(ticket["id"], COMPLETE)
    pulled = stack.ctx.psa().pull_tickets(None, stack.clock.now())
    now = stack.clock.now()
    tickets.ingest(stack.ctx, pulled.items, now=now)
    tickets.ingest(stack.ctx, pulled.items, now=now)  # a re-delivered batch
    stack.push_all()
    assert stack.datto.resolved_by_api == [aid]
    with stack.ctx.db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ActionRow).where(ActionRow.kind == "resolve_alert")) == 1


def test_shadow_mode_records_the_two_way_resolve_but_never_calls_the_rmm(sim, make_context) -> None:
    live = build_stack(sim, make_context)
    aid, ticket = open_ticket(live)
    shadow_ctx = make_context({"datto-rmm": live.datto, "autotask": live.autotask}, clock=live.clock, mode="shadow")
    shadow = live.__class__(shadow_ctx, live.datto, live.autotask, live.clock, live.site, live.company)
    live.autotask.set_status(ticket["id"], COMPLETE)
    tickets.poll(shadow.ctx)
    shadow.push_all()
    assert live.datto.resolved_by_api == [] and live.datto.count("POST", r"/resolve$") == 0
    with shadow.ctx.db.session() as s:
        assert s.scalar(sa.select(ActionRow.status).where(ActionRow.kind == "resolve_alert")) == "shadow"


@pytest.mark.parametrize("touched", [False, True])
def test_a_new_raise_after_a_person_closed_it_reopens_the_same_ticket(sim, make_context, touched: bool) -> None:
    stack = build_stack(sim, make_context)
    dev = stack.device()
    stack.raise_past_hold(dev)
    stack.cycle()
    (ticket,) = stack.our_tickets()
    stack.autotask.set_status(ticket["id"], COMPLETE)
    poll_psa(stack)
    stack.cycle()  # the RMM reports the alert resolved (two-way)
    stack.advance(hours=3)
    if touched:
        stack.autotask.set_status(ticket["id"], 8)  # a person reopened it and is working on it
    stack.raise_past_hold(dev)
    report = stack.cycle()
    assert report.decisions["reopen"] == 1 and "open" not in report.decisions
    (again,) = stack.our_tickets()
    assert again["id"] == ticket["id"]
    assert again["status"] == ("In Progress" if touched else "New")  # reopened, or left with the person's status
    notes = stack.psa.notes(ticket["id"])
    assert any("2nd occurrence" in n for n in notes)
