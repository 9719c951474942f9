"""Exactly-once effects on a PSA that has no transactions with us."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from connectors.errors import UnknownOutcome
from pipelines import outbox
from pipelines.state import ActionRow, TicketLink
from tests.helpers import build_stack


@pytest.fixture
def stack(sim, make_context):
    s = build_stack(sim, make_context)
    s.raise_past_hold(s.device())
    from pipelines import alerts

    alerts.poll(s.ctx)
    return s


def group(stack) -> str:
    with stack.ctx.db.session() as s:
        return s.scalar(sa.select(TicketLink.key))


def push(stack, g: str) -> outbox.GroupResult:
    return outbox.push_group(stack.ctx.db, outbox.PushTargets(psa=stack.ctx.psa(), rmm=stack.ctx.rmm()), g)


def rows(stack) -> dict[str, ActionRow]:
    with stack.ctx.db.session() as s:
        return {r.kind: r for r in s.scalars(sa.select(ActionRow))}


def test_a_push_run_twice_makes_one_ticket_and_one_note(stack) -> None:
    g = group(stack)
    first = push(stack, g)
    second = push(stack, g)
    assert [k for k, _ in first.done] == ["create_ticket", "upsert_note"] and second.done == []
    assert len(stack.our_tickets()) == 1
    assert len(stack.autotask.notes_of(stack.our_tickets()[0]["id"])) == 1


def test_create_with_unknown_outcome_is_found_by_marker_not_recreated(stack) -> None:
    g = group(stack)
    stack.autotask.fail_next(502, method="POST", path=r"/V1.0/Tickets$", after_effect=True)
    with pytest.raises(UnknownOutcome):
        push(stack, g)
    assert len(stack.our_tickets()) == 1  # the vendor did create it
    assert rows(stack)["create_ticket"].status == "pending"
    result = push(stack, g)  # the job's retry
    assert result.done[0] == ("create_ticket", "found by marker after an unknown outcome")
    assert len(stack.our_tickets()) == 1
    assert stack.autotask.count("POST", r"/V1.0/Tickets$") == 1


def test_note_with_unknown_outcome_is_found_by_marker_not_reposted(stack) -> None:
    g = group(stack)
    stack.autotask.fail_next(504, method="POST", path=r"/Notes$", after_effect=True)
    with pytest.raises(UnknownOutcome):
        push(stack, g)
    result = push(stack, g)
    assert result.done[0][1] == "note found by marker after an unknown outcome"
    (ticket,) = stack.our_tickets()
    assert len(stack.autotask.notes_of(ticket["id"])) == 1


def test_a_live_lease_makes_another_worker_back_off(stack) -> None:
    g = group(stack)
    with stack.ctx.db.session() as s:
        row = s.scalar(sa.select(ActionRow).where(ActionRow.kind == "create_ticket"))
        row.status, row.attempts = "running", 1
        row.lease_until = datetime.now(UTC) + timedelta(seconds=60)
    with pytest.raises(outbox.LeaseHeld):
        push(stack, g)
    assert stack.our_tickets() == []


def test_an_expired_lease_is_taken_over_and_the_marker_searched(stack) -> None:
    g = group(stack)
    stack.autotask.fail_next(502, method="POST", path=r"/V1.0/Tickets$", after_effect=True)
    with pytest.raises(UnknownOutcome):
        push(stack, g)
    with stack.ctx.db.session() as s:  # as if the worker had died mid-call, holding the lease
        row = s.scalar(sa.select(ActionRow).where(ActionRow.kind == "create_ticket"))
        row.status, row.lease_until = "running", datetime.now(UTC) - timedelta(seconds=1)
    with stack.ctx.db.session() as s:
        assert outbox.pending_groups(s) == [g]
    push(stack, g)
    assert len(stack.our_tickets()) == 1


def test_a_fatal_error_fails_the_row_and_holds_the_rest_of_the_ticket(stack) -> None:
    g = group(stack)
    stack.autotask.fail_next(403, method="POST", path=r"/V1.0/Tickets$", body={"errors": ["no permission"]})
    result = push(stack, g)
    assert result.failed and "permission" in result.failed[0][1]
    r = rows(stack)
    assert r["create_ticket"].status == "failed" and r["upsert_note"].status == "blocked"
    with stack.ctx.db.session() as s:
        assert outbox.pending_groups(s) == []
        assert outbox.retry_failed(s) == [g]
    push(stack, g)
    assert len(stack.our_tickets()) == 1 and rows(stack)["upsert_note"].status == "done"


def test_only_the_newest_version_of_a_note_is_sent(stack) -> None:
    g = group(stack)
    push(stack, g)
    ticket_key = g
    now = datetime.now(UTC)
    with stack.ctx.db.session() as s:
        outbox.record(s, [
            outbox.Action(f"note:{ticket_key}:explain:{n}", g, "upsert_note",
                          {"ticket": ticket_key, "slot": "explain", "body": f"version {n}", "marker": f"{ticket_key}:explain"})
            for n in (2, 3, 4)
        ], now=now)
    before = stack.autotask.count("PATCH")
    push(stack, g)
    assert stack.autotask.count("PATCH") - before == 1
    (note,) = stack.autotask.notes_of(stack.our_tickets()[0]["id"])
    assert note["description"].startswith("version 4")
    statuses = sorted(r.status for r in rows_all(stack) if r.kind == "upsert_note")
    assert statuses == ["done", "done", "skipped", "skipped"]


def rows_all(stack) -> list[ActionRow]:
    with stack.ctx.db.session() as s:
        return list(s.scalars(sa.select(ActionRow)))


def test_two_workers_racing_on_one_ticket_make_one_ticket(stack) -> None:
    g = group(stack)
    stack.autotask.fail_next(200, method="POST", path=r"/V1.0/Tickets$", after_effect_delay=0.3)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            push(stack, g)
        except outbox.LeaseHeld as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stack.our_tickets()) == 1
    assert stack.autotask.count("POST", r"/V1.0/Tickets$") == 1
    assert len(errors) >= 1  # the others backed off
