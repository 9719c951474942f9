"""SLA clocks in the service: PSA poll -> clocks -> due steps -> outbox -> PSA notes and e-mails (aiosmtpd)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.sla_stack import LEVEL2, T0, build_sla_stack, status_of
from tests.smtp_sink import smtp_server


@pytest.fixture
def sink():
    with smtp_server() as s:
        yield s


@pytest.fixture
def stack(sim, make_context, tmp_path, sink):
    return build_sla_stack(sim, make_context, tmp_path, sink=sink)


def test_a_p1_ticket_from_new_to_acknowledged(stack) -> None:
    tid = stack.new_ticket()
    stack.cycle()
    (received,) = stack.sink.to("jane@acme.example")
    assert received.subject.startswith("We received your ticket #T20261109.")
    assert "We will assign it to the appropriate technician to begin work" in received.text()
    assert "Hello Jane" in received.text() and received.message["Auto-Submitted"] == "auto-generated"

    stack.advance(minutes=15)
    stack.cycle()
    assert stack.mail_to("dispatch@msp.example") == [f"P1 ticket #{stack.at.db['Tickets'][tid]['ticketNumber']} "
                                                      "not assigned after 15 min"]
    (note,) = stack.notes(tid)
    assert note["publish"] == 2, "alerts are internal notes"
    assert "Alerted: Service Dispatcher." in note["description"]
    assert "E-mailed to dispatch@msp.example." in note["description"]

    stack.advance(minutes=5)
    stack.cycle()
    assert len(stack.mail_to("dispatch@msp.example")) == 2 and len(stack.mail_to("manager@msp.example")) == 1
    assert stack.mail_to("director@msp.example") == []

    stack.advance(minutes=2)
    stack.at.assign(tid, stack.engineer, by=stack.dispatcher)
    stack.cycle()
    assert [s.split(":")[0] for s in stack.mail_to("jane@acme.example")][1] == (
        f"A technician is reviewing ticket #{stack.at.db['Tickets'][tid]['ticketNumber']}")
    assert status_of(stack, tid) == "assigned", "a New ticket that gets a resource moves to Assigned"

    stack.advance(minutes=15)
    stack.cycle()
    assert stack.mail_to("sam@msp.example") == [f"P1 ticket #{stack.at.db['Tickets'][tid]['ticketNumber']} "
                                                 "not acknowledged after 15 min"]
    stack.advance(minutes=3)
    stack.at.set_status(tid, 8, by=stack.engineer)  # Sam acknowledges
    stack.cycle()
    stack.advance(minutes=60)
    stack.cycle()
    assert len(stack.mail_to("sam@msp.example")) == 1, "no more alerts after the acknowledgement"
    assert stack.mail_to("director@msp.example") == []
    state = stack.row(tid).state
    assert state["met"]["internal_response"] == (T0 + timedelta(minutes=40)).isoformat()
    assert "breach:client_response" in state["steps"]  # no first response recorded within 1 business hour


def test_work_by_the_assigned_engineer_is_acknowledgement_and_the_status_follows(stack) -> None:
    tid = stack.new_ticket()
    stack.at.assign(tid, stack.engineer, by=stack.dispatcher)
    stack.cycle()
    stack.advance(minutes=5)
    stack.at.add_time_entry(tid, stack.engineer, 0.25, "remote session")
    stack.cycle()
    assert status_of(stack, tid) == "in_progress", "acknowledged by work: moved to In Progress"
    stack.advance(minutes=30)
    stack.cycle()
    assert stack.mail_to("sam@msp.example") == []


def test_a_client_visible_note_is_the_first_client_contact(stack) -> None:
    tid = stack.new_ticket(priority=1)  # P2: 4 business hours
    stack.cycle()
    stack.advance(minutes=50)
    stack.at.add_human_note(tid, "Called Jane, rebooting the server now", resource_id=stack.engineer)
    stack.cycle()
    state = stack.row(tid).state
    assert state["met"]["client_response"] == (T0 + timedelta(minutes=50)).isoformat()
    stack.advance(hours=5)
    stack.cycle()
    assert "breach:client_response" not in stack.row(tid).state["steps"]


def test_escalation_moves_the_ticket_up_a_tier_and_restarts_the_acknowledgement_chain(stack) -> None:
    tid = stack.new_ticket()
    stack.at.assign(tid, stack.engineer, by=stack.engineer)
    stack.at.set_status(tid, 8, by=stack.engineer)
    stack.cycle()
    stack.advance(minutes=120)
    stack.cycle()
    ticket = stack.at.db["Tickets"][tid]
    assert str(ticket["queueID"]) == LEVEL2, "moved to Level 2's queue"
    assert status_of(stack, tid) == "assigned", "an acknowledged ticket goes back to Assigned for the new engineer"
    number = ticket["ticketNumber"]
    assert f"Ticket #{number} has been escalated to Level 2" in stack.mail_to("jane@acme.example")
    assert stack.mail_to("dispatch@msp.example") == [f"SLA missed: client response on P1 ticket #{number}",
                                                      f"Ticket #{number} escalated to Level 2"]
    assert stack.mail_to("level2@msp.example") == [f"Escalated to you: ticket #{number} (Level 2)"]
    (told,) = [r for r in stack.sink.to("dispatch@msp.example") if "escalated" in r.subject]
    assert "needs to be escalated to Level 2. Switchboard moved it to the Level 2 queue." in told.text()

    stack.advance(minutes=15)
    stack.cycle()  # the poll also sees our change (Level 2, Assigned) land
    assert stack.mail_to("sam@msp.example") == [f"Escalated ticket #{number} not acknowledged after 15 min"]
    stack.at.assign(tid, stack.senior, by=stack.dispatcher)
    stack.advance(minutes=5)
    stack.at.set_status(tid, 8, by=stack.senior)  # Lee acknowledges
    stack.cycle()
    stack.advance(minutes=40)
    stack.cycle()
    assert stack.mail_to("lee@msp.example") == [] and stack.mail_to("director@msp.example") == []
    row = stack.row(tid)
    assert row.tier == 1 and row.state["tier_ack_at"] == (T0 + timedelta(minutes=140)).isoformat()
    assert row.next_due == T0 + timedelta(minutes=240), "Level 2's own escalation threshold"


def test_waiting_on_client_reminders_at_24_72_and_96_hours(stack) -> None:
    tid = stack.new_ticket()
    stack.at.assign(tid, stack.engineer, by=stack.engineer)
    stack.at.set_status(tid, 8, by=stack.engineer)
    stack.cycle()
    stack.advance(minutes=10)
    stack.at.set_status(tid, 7, by=stack.engineer)  # Waiting Customer
    stack.cycle()
    for hours in (24, 48, 24, 24):
        stack.advance(hours=hours)
        stack.cycle()
    number = stack.at.db["Tickets"][tid]["ticketNumber"]
    waiting = [s for s in stack.mail_to("jane@acme.example") if s.startswith("We are waiting")]
    assert waiting == [f"We are waiting for your reply on ticket #{number}: Server down"] * 2
    (reminder,) = stack.sink.to("sam@msp.example")
    assert "There should be 3 attempts to contact the customer (at least one by phone)" in reminder.text()
    (verify,) = stack.sink.to("dispatch@msp.example")
    assert "including at least 1 phone call" in verify.text() and verify.subject.startswith("Verify and close")
    assert "escalation:tier1" not in stack.row(tid).state["steps"], "clocks are paused while waiting on the client"


def test_redelivered_tickets_and_repeated_ticks_notify_once(stack) -> None:
    from pipelines import tickets

    tid = stack.new_ticket()
    stack.cycle()
    stack.advance(minutes=15)
    pulled = stack.ctx.psa().pull_tickets(None, stack.clock.now())  # the whole history again
    for _ in range(2):
        tickets.ingest(stack.ctx, pulled.items, now=stack.clock.now())
        stack.tick()
        stack.push()
    stack.cycle()
    assert len(stack.mail_to("jane@acme.example")) == 1 and len(stack.mail_to("dispatch@msp.example")) == 1
    assert len(stack.notes(tid)) == 1
    keys = [a.key for a in stack.actions()]
    assert len(keys) == len(set(keys))
    assert sorted(k for k in keys if k.startswith("notify:")) == sorted([
        f"notify:autotask:{tid}:received:contact",
        f"notify:autotask:{tid}:unassigned:1:dispatcher",
        f"notify:autotask:{tid}:unassigned:1:psa-note",
    ])


def test_a_restart_with_an_emptied_redis_sends_nothing_twice(stack, make_context, redis_client) -> None:
    stack.new_ticket()
    stack.cycle()
    stack.advance(minutes=15)
    stack.tick()
    stack.push()
    for key in redis_client.scan_iter(f"{stack.ctx.prefix}*"):
        redis_client.delete(key)
    again = make_context({"autotask": stack.at}, clock=stack.clock, config_dir=stack.ctx.settings.config_dir,
                         smtp=stack.ctx.settings.smtp.model_dump())
    from pipelines import sla, tickets

    tickets.poll(again)
    sla.tick(again)
    stack.push(again)
    assert len(stack.sink.received) == 2  # received + the first dispatcher alert, once each


def test_shadow_mode_records_everything_and_sends_nothing(sim, make_context, tmp_path, sink) -> None:
    stack = build_sla_stack(sim, make_context, tmp_path, sink=sink, mode="shadow")
    tid = stack.new_ticket()
    stack.cycle()
    stack.advance(minutes=15)
    stack.cycle()
    assert sink.received == [] and stack.notes(tid) == []
    statuses = {a.key.split(":", 3)[3]: a.status for a in stack.actions()}
    assert statuses == {"received:contact": "shadow", "unassigned:1:dispatcher": "shadow",
                        "unassigned:1:psa-note": "shadow"}
    (email,) = [a for a in stack.actions() if a.key.endswith("received:contact")]
    assert email.payload["to"] == ["jane@acme.example"] and "We received your ticket" in email.payload["subject"]
    assert stack.row(tid).state["steps"]["unassigned:1"]["outcome"].startswith("shadow: ")


def test_without_smtp_internal_alerts_still_reach_the_psa(sim, make_context, tmp_path) -> None:
    stack = build_sla_stack(sim, make_context, tmp_path, sink=None)
    tid = stack.new_ticket()
    stack.cycle()
    stack.advance(minutes=15)
    stack.cycle()
    assert [a.kind for a in stack.actions()] == ["add_note"]
    (note,) = stack.notes(tid)
    assert note["description"].startswith("Not assigned after 15 min.")
    steps = stack.row(tid).state["steps"]
    assert "e-mail is not configured" in steps["received"]["outcome"] and steps["received"]["outcome"].startswith("not sent")


def test_an_unreachable_psa_directory_defers_the_step_instead_of_sending_it_blind(stack) -> None:
    tid = stack.new_ticket()
    stack.at.fail_next(403, times=1, path=r"/Contacts/query")
    stack.cycle()
    row = stack.row(tid)
    assert "received" not in row.state["steps"] and row.next_due == T0 + timedelta(minutes=1)
    assert stack.sink.received == []
    stack.advance(minutes=1)
    stack.cycle()
    assert len(stack.mail_to("jane@acme.example")) == 1


def test_a_template_that_breaks_on_odd_data_is_quarantined_and_the_rest_goes_out(sim, make_context, tmp_path,
                                                                                 sink) -> None:
    messages = (tmp_path / "m.yaml")
    import yaml

    from config.loader import defaults_dir

    data = yaml.safe_load((defaults_dir() / "messages.yaml").read_text())
    data["messages"]["received"]["subject"] = "{{ 100 // (ticket.title | length - 7) }}% done"
    messages.write_text(yaml.safe_dump(data))
    stack = build_sla_stack(sim, make_context, tmp_path, sink=sink, files={"messages_yaml": messages.read_text()})
    tid = stack.new_ticket("Printer")  # 7 letters: the template divides by zero
    stack.cycle()
    stack.advance(minutes=15)
    stack.cycle()
    from pipelines import quarantine

    with stack.ctx.db.session() as s:
        (item,) = quarantine.listing(s)
        assert item.stream == "sla:messages" and "ZeroDivisionError" in item.reason
    assert stack.mail_to("jane@acme.example") == [] and len(stack.mail_to("dispatch@msp.example")) == 1
    assert len(stack.notes(tid)) == 1


def test_two_workers_racing_notify_exactly_once(stack, make_context) -> None:
    from pipelines import sla

    tids = [stack.new_ticket(f"Server {i} down") for i in range(12)]
    stack.poll()
    stack.push()
    stack.advance(minutes=15)
    stack.race(make_context, sla.tick)  # each worker runs the tick twice, as a duplicated job would
    dispatcher = [r for r in stack.sink.received if "dispatch@msp.example" in r.rcpt_tos]
    assert len(dispatcher) == 12, "each ticket's first alert exactly once (counting deliveries, not de-duplicated)"
    assert len({r.message_id for r in dispatcher}) == 12
    assert [len(stack.notes(t)) for t in tids] == [1] * 12
    keys = [a.key for a in stack.actions()]
    assert len(keys) == len(set(keys)) == 12 * 3
    assert {a.status for a in stack.actions()} == {"done"}


def test_people_and_company_names_are_read_from_the_psa_once_and_cached(stack) -> None:
    for i in range(5):
        stack.new_ticket(f"Server {i} down")
    stack.cycle()
    stack.advance(minutes=15)
    stack.cycle()
    assert len(stack.mail_to("jane@acme.example")) == 5 and len(stack.mail_to("dispatch@msp.example")) == 5
    assert stack.at.count("POST", r"/Contacts/query") == 1
    assert stack.at.count("POST", r"/Companies/query") == 1
    (first,) = stack.sink.to("dispatch@msp.example")[:1]
    assert "(Acme Dental, P1)" in first.text()
