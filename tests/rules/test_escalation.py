"""Chains, escalation and status automation (pure): which step is due when, for whom, and only once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.loader import load_all
from connectors.canonical import Ref, Ticket, TicketStatus
from rules.escalation import plan, take
from rules.sla import Policy, SlaState, clocks, observe
from rules.sla_config import EscalationConfig

DEFAULTS = load_all(None)
T0 = datetime(2026, 11, 9, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York
M = timedelta(minutes=1)


def policy(**escalation: Any) -> Policy:
    esc = DEFAULTS["escalation.yaml"]
    if escalation:
        esc = EscalationConfig.model_validate({**esc.model_dump(mode="json"), **escalation})
    return Policy(DEFAULTS["sla.yaml"], esc, DEFAULTS["automation.yaml"], DEFAULTS["messages.yaml"])


POLICY = policy()


def ticket(at: datetime = T0, **kw: Any) -> Ticket:
    fields: dict[str, Any] = {
        "ref": Ref(vendor="autotask", id="100"), "number": "T20261109.0001", "title": "Server down",
        "status": TicketStatus.new, "status_label": "1", "priority": 1, "company": Ref(vendor="autotask", id="700"),
        "contact": Ref(vendor="autotask", id="800"), "created_at": T0, "updated_at": at,
    }
    for key in ("assigned_to", "last_activity_by"):
        if isinstance(kw.get(key), str):
            kw[key] = Ref(vendor="autotask", id=kw[key])
    return Ticket(**{**fields, **kw})


class Run:
    """A ticket's life: observe its versions, take the steps due, as the service does."""

    def __init__(self, p: Policy = POLICY) -> None:
        self.policy = p
        self.state: SlaState | None = None
        self.sent: list[tuple[datetime, str, str]] = []
        self.skipped: list[tuple[str, str]] = []
        self.recorded: list[str] = []

    def see(self, now: datetime, **kw: Any) -> list[str]:
        self.state, events = observe(self.state, ticket(now, **kw), now, self.policy)
        return [e.kind for e in events]

    def until(self, end: datetime, step: timedelta = M) -> None:
        """Tick every minute up to ``end``, taking what is due."""
        now = self.state.last_seen_at if self.state else T0
        while now <= end:
            self.tick(now)
            now += step

    def tick(self, now: datetime) -> None:
        assert self.state is not None
        for s, outcome in plan(self.state, now, self.policy).act:
            if outcome == "send":
                self.sent += [(now, s.id, role) for role, _ in s.sends]
                self.recorded.append(s.id)
            else:
                self.skipped.append((s.id, outcome))
            take(self.state, s, outcome, now, acted=outcome == "send")

    def ids(self) -> list[str]:
        """Steps that told somebody something, in order."""
        return list(dict.fromkeys(i for _, i, _ in self.sent))

    def at(self, step_id: str) -> datetime:
        return next(t for t, i, _ in self.sent if i == step_id)

    def to(self, step_id: str) -> list[str]:
        return [r for _, i, r in self.sent if i == step_id]


def test_unassigned_p1_alerts_dispatcher_then_manager_then_director() -> None:
    r = Run()
    r.see(T0)
    r.until(T0 + 45 * M)
    assert r.ids() == ["received", "unassigned:1", "unassigned:2", "unassigned:3"]
    assert "breach:internal_response" in r.recorded  # nobody is configured to hear of it, but it is on record
    assert (r.at("unassigned:1"), r.at("unassigned:2"), r.at("unassigned:3")) == (T0 + 15 * M, T0 + 20 * M, T0 + 30 * M)
    assert r.to("unassigned:1") == ["dispatcher"]
    assert r.to("unassigned:3") == ["dispatcher", "service_manager", "service_director"]
    assert r.to("received") == ["contact"]


@pytest.mark.parametrize("priority, first_alert", [(1, 15 * M), (2, 60 * M), (3, 6 * 60 * M), (4, 12 * 60 * M)])
def test_chains_scale_with_priority(priority, first_alert) -> None:
    r = Run()
    r.see(T0, priority=priority)
    r.until(T0 + first_alert + M)
    assert r.at("unassigned:1") == T0 + first_alert


def test_assignment_stops_the_unassigned_chain_and_starts_the_acknowledgement_chain() -> None:
    r = Run()
    r.see(T0)
    r.until(T0 + 17 * M)
    assert r.see(T0 + 17 * M, assigned_to="29682001", status=TicketStatus.assigned, status_label="13") == \
        ["status", "assigned"]
    r.until(T0 + 80 * M)
    assert [i for i in r.ids() if i.startswith(("unassigned", "unacknowledged", "assigned"))] == [
        "unassigned:1", "assigned", "unacknowledged:1", "unacknowledged:2", "unacknowledged:3", "unacknowledged:4"]
    assert r.at("unacknowledged:1") == T0 + 32 * M  # .25 h after the assignment
    assert r.to("unacknowledged:4") == ["engineer", "dispatcher", "service_manager", "service_director"]
    assert r.to("assigned") == ["contact"]


def test_acknowledgement_by_status_meets_internal_response_and_stops_the_chain() -> None:
    r = Run()
    r.see(T0, assigned_to="29682001", status=TicketStatus.assigned)
    r.until(T0 + 16 * M)
    r.see(T0 + 20 * M, assigned_to="29682001", status=TicketStatus.in_progress, status_label="8")
    r.until(T0 + 90 * M)
    assert [i for i in r.ids() if i.startswith("unack")] == ["unacknowledged:1"]
    internal = next(c for c in clocks(r.state, T0 + 90 * M, POLICY) if c.target == "internal_response")
    assert internal.state == "met" and internal.met_at == T0 + 20 * M


def test_work_by_the_assigned_resource_is_an_acknowledgement_and_moves_the_status_to_in_progress() -> None:
    r = Run()
    r.see(T0, assigned_to="29682001", status=TicketStatus.assigned, last_activity_by="29682999")  # the dispatcher
    r.until(T0 + 5 * M)
    assert "unacknowledged:1" not in r.ids() and r.state.acknowledged_at is None
    r.see(T0 + 10 * M, assigned_to="29682001", status=TicketStatus.assigned, last_activity_by="29682001")
    assert r.state.acknowledged_at == T0 + 10 * M and r.state.acknowledged_by == "activity"
    steps = {s.id: s for s, _ in plan(r.state, T0 + 11 * M, POLICY).act}
    assert steps["acknowledged-status"].kind == "patch" and steps["acknowledged-status"].data == {"status": "in_progress"}


def test_a_new_ticket_that_gets_a_resource_is_moved_to_assigned() -> None:
    r = Run()
    r.see(T0)
    r.see(T0 + 5 * M, assigned_to="29682001")  # still New
    steps = {s.id: s for s, _ in plan(r.state, T0 + 5 * M, POLICY).act}
    assert steps["assigned-status"].data == {"status": "assigned"}
    r.see(T0 + 6 * M, assigned_to="29682001", status=TicketStatus.assigned)
    assert "assigned-status" not in {s.id for s, _ in plan(r.state, T0 + 6 * M, POLICY).act}


def test_escalation_threshold_raises_the_tier_and_restarts_the_acknowledgement_chain() -> None:
    r = Run()
    r.see(T0, assigned_to="29682001", status=TicketStatus.in_progress, status_label="8")
    r.until(T0 + 121 * M)
    assert r.at("escalation:tier1") == T0 + 120 * M
    assert r.to("escalation:tier1") == ["contact", "dispatcher", "tier-engineer"]
    assert r.state.tier == 1 and r.state.tier_started_at == T0 + 120 * M
    # our status change has not landed yet: the ticket still says In Progress — that is no acknowledgement
    r.see(T0 + 125 * M, assigned_to="29682001", status=TicketStatus.in_progress, status_label="8")
    r.until(T0 + 150 * M)
    assert r.to("tier2-unacknowledged:1") == ["engineer", "dispatcher"] and r.at("tier2-unacknowledged:1") == T0 + 135 * M
    r.see(T0 + 151 * M, assigned_to="29682002", status=TicketStatus.assigned, status_label="13")  # it landed
    r.see(T0 + 155 * M, assigned_to="29682002", status=TicketStatus.in_progress, status_label="8")  # new engineer acks
    r.until(T0 + 200 * M)
    assert [i for i in r.ids() if i.startswith("tier2")] == ["tier2-unacknowledged:1", "tier2-unacknowledged:2"]
    assert r.state.tier_ack_at == T0 + 155 * M


def test_the_last_tier_reaches_the_decision_point_instead() -> None:
    r = Run()
    r.see(T0, assigned_to="29682001", status=TicketStatus.in_progress)
    r.until(T0 + 9 * 60 * M, step=5 * M)
    assert [i for i in r.ids() if i.startswith(("escalation", "decision"))] == [
        "escalation:tier1", "escalation:tier2", "escalation:tier3", "decision-point:tier4"]
    assert r.state.tier == 3
    assert r.to("decision-point:tier4") == ["service_manager", "service_director"]


def test_a_person_moving_the_ticket_to_a_tier_board_restarts_that_tiers_clock() -> None:
    p = policy(escalation={"tiers": [{"name": "Level 1", "board": "10"}, {"name": "Level 2", "board": "20"},
                                     {"name": "Level 3", "board": "30"}]})
    r = Run(p)
    r.see(T0, board="10", assigned_to="29682001", status=TicketStatus.in_progress)
    assert r.see(T0 + 60 * M, board="20", assigned_to="29682001", status=TicketStatus.assigned) == ["status", "tier"]
    assert r.state.tier == 1 and r.state.tier_started_at == T0 + 60 * M
    r.until(T0 + 181 * M)
    assert r.at("escalation:tier2") == T0 + 180 * M  # Level 2's own 2 h


def test_waiting_on_client_pauses_the_clocks_and_runs_its_own_reminders() -> None:
    r = Run()
    r.see(T0, assigned_to="29682001", status=TicketStatus.in_progress)
    w = T0 + 30 * M
    assert r.see(w, assigned_to="29682001", status=TicketStatus.waiting_client, status_label="7") == ["status", "paused"]
    r.until(w + 97 * 60 * M, step=30 * M)
    assert "escalation:tier1" not in r.ids()  # paused: 30 min used of the 2 h threshold
    assert [i for i in r.ids() if i.startswith("waiting")] == ["waiting-1:remind", "waiting-1:again", "waiting-1:dispatcher"]
    assert r.at("waiting-1:remind") == w + 24 * 60 * M and r.at("waiting-1:again") == w + 72 * 60 * M
    assert r.at("waiting-1:dispatcher") == w + 96 * 60 * M
    assert r.to("waiting-1:remind") == ["engineer", "contact"] and r.to("waiting-1:dispatcher") == ["dispatcher"]
    back = w + 98 * 60 * M
    assert r.see(back, assigned_to="29682001", status=TicketStatus.in_progress) == ["status", "resumed"]
    esc = next(c for c in clocks(r.state, back, POLICY) if c.target == "escalation")
    assert esc.due == back + 90 * M


def test_a_client_visible_update_moves_the_24_hour_reminder() -> None:
    r = Run()
    r.see(T0, assigned_to="29682001", status=TicketStatus.waiting_client)
    r.see(T0 + 10 * 60 * M, assigned_to="29682001", status=TicketStatus.waiting_client,
          last_client_activity_at=T0 + 10 * 60 * M)
    r.until(T0 + 35 * 60 * M, step=30 * M)
    assert r.at("waiting-1:remind") == T0 + 34 * 60 * M


def test_each_stay_in_waiting_on_client_is_its_own_episode() -> None:
    r = Run()
    r.see(T0, assigned_to="1", status=TicketStatus.waiting_client)
    r.until(T0 + 25 * 60 * M, step=30 * M)
    r.see(T0 + 26 * 60 * M, assigned_to="1", status=TicketStatus.in_progress)
    r.see(T0 + 27 * 60 * M, assigned_to="1", status=TicketStatus.waiting_client)
    r.until(T0 + 52 * 60 * M, step=30 * M)
    assert [i for i in r.ids() if i.startswith("waiting")] == ["waiting-1:remind", "waiting-2:remind"]


def test_steps_due_at_once_send_only_the_latest_and_old_ones_are_missed() -> None:
    r = Run()
    r.see(T0)
    r.tick(T0 + 31 * M)  # the service was down for half an hour
    assert r.ids() == ["received", "unassigned:3"]
    assert ("unassigned:1", "superseded by step 3") in r.skipped and ("unassigned:2", "superseded by step 3") in r.skipped
    old = Run()
    old.see(T0 + 5 * 60 * M)  # a ticket that predates Switchboard by five hours
    old.tick(T0 + 5 * 60 * M)
    assert old.ids() == []
    assert {i for i, why in old.skipped if why.startswith("missed")} == {
        "received", "unassigned:3", "escalation:tier1", "breach:internal_response", "breach:client_response"}


def test_redelivered_tickets_change_nothing() -> None:
    r = Run()
    r.see(T0)
    r.see(T0 + 17 * M, assigned_to="29682001", status=TicketStatus.assigned)
    before = r.state.to_dict()
    assert r.see(T0 + 17 * M, assigned_to="29682001", status=TicketStatus.assigned) == []
    assert r.state.to_dict() == before


def test_resolution_stops_everything_and_a_reopen_resumes() -> None:
    r = Run()
    r.see(T0, assigned_to="1", status=TicketStatus.in_progress)
    r.see(T0 + 60 * M, assigned_to="1", status=TicketStatus.closed, closed_at=T0 + 60 * M)
    assert not r.state.open and plan(r.state, T0 + 10 * 60 * M, POLICY).next_due is None
    r.see(T0 + 5 * 60 * M, assigned_to="1", status=TicketStatus.in_progress)
    esc = next(c for c in clocks(r.state, T0 + 5 * 60 * M, POLICY) if c.target == "escalation")
    assert esc.due == T0 + 6 * 60 * M  # 1 h used before, 1 h left after the reopen


def test_a_missed_client_response_is_reported_to_the_dispatcher() -> None:
    r = Run()
    r.see(T0, assigned_to="1", status=TicketStatus.in_progress)
    r.until(T0 + 61 * M)
    assert r.at("breach:client_response") == T0 + 60 * M and r.to("breach:client_response") == ["dispatcher"]
    met = Run()
    met.see(T0, assigned_to="1", status=TicketStatus.in_progress, first_response_at=T0 + 20 * M)
    met.until(T0 + 61 * M)
    assert "breach:client_response" not in met.ids()


def test_priorities_without_chains_get_no_alerts_but_keep_their_clocks() -> None:
    r = Run(policy(priorities=[1, 2]))
    r.see(T0, priority=4)
    r.until(T0 + 13 * 60 * M, step=30 * M)
    assert not [i for i in r.ids() if i.startswith(("unassigned", "escalation"))]
    assert "received" in r.ids()


def test_escalating_a_ticket_nobody_acknowledged_leaves_its_status_alone() -> None:
    r = Run()
    r.see(T0)  # New, unassigned: already "not acknowledged"
    r.until(T0 + 121 * M)
    step = r.state.steps["escalation:tier1"]
    assert step["outcome"] == "send" and r.state.tier == 1 and r.state.tier_reset_seen
    r.see(T0 + 130 * M, assigned_to="29682002", status=TicketStatus.in_progress)
    assert r.state.tier_ack_at == T0 + 130 * M
