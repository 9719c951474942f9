"""Each PSA under the pipelines: exactly-once pushes after unknown outcomes, and the ticket poll.

The same scenarios as ``test_outbox.py``/``test_tickets_poll.py``, run against ConnectWise PSA and
HaloPSA as well as Autotask, through their simulators and real state.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import pytest
import sqlalchemy as sa

from connectors.canonical import Ticket
from connectors.errors import UnknownOutcome
from pipelines import alerts, outbox, tickets
from pipelines.state import Quarantine, TicketLink
from tests.helpers import PSAS, build_stack

SEEN: list[list[str]] = []


def recording_consumer(ctx, session, batch: Sequence[Ticket], now: datetime) -> list[str]:
    SEEN.append(sorted(t.ref.id for t in batch))
    return []


@pytest.fixture(params=PSAS)
def stack(request, sim, make_context):
    SEEN.clear()
    return build_stack(sim, make_context, psa=request.param)


def opened(stack) -> str:
    """Raise one alert and poll: one ticket planned, its group returned (nothing pushed yet)."""
    stack.datto.raise_alert(stack.device())
    alerts.poll(stack.ctx)
    with stack.ctx.db.session() as s:
        return s.scalar(sa.select(TicketLink.key))


def push(stack, group: str) -> outbox.GroupResult:
    return outbox.push_group(stack.ctx.db, outbox.PushTargets(psa=stack.ctx.psa(), rmm=stack.ctx.rmm()), group)


def test_create_with_unknown_outcome_is_found_by_marker_not_recreated(stack) -> None:
    group = opened(stack)
    stack.psa.sim.fail_next(502, method="POST", path=stack.psa.ticket_post, after_effect=True)
    with pytest.raises(UnknownOutcome):
        push(stack, group)
    assert len(stack.our_tickets()) == 1  # the vendor did create it
    result = push(stack, group)  # the job's retry
    assert result.done[0] == ("create_ticket", "found by marker after an unknown outcome")
    (ticket,) = stack.our_tickets()
    assert stack.psa.sim.count("POST", stack.psa.ticket_post) == 1
    assert len(stack.psa.notes(ticket["id"])) == 1


def test_note_with_unknown_outcome_is_found_by_marker_not_reposted(stack) -> None:
    group = opened(stack)
    stack.psa.sim.fail_next(504, method="POST", path=stack.psa.note_post, after_effect=True)
    with pytest.raises(UnknownOutcome):
        push(stack, group)
    result = push(stack, group)
    assert result.done[0][1] == "note found by marker after an unknown outcome"
    (ticket,) = stack.our_tickets()
    assert len(stack.psa.notes(ticket["id"])) == 1


def test_the_ticket_poll_sees_new_then_only_changed_tickets(stack) -> None:
    a = stack.psa.add_ticket("Printer offline", stack.company)
    b = stack.psa.add_ticket("New starter", stack.company)
    stream = tickets.stream_name(stack.psa.vendor)

    def run() -> tickets.TicketPollReport:
        value, version = alerts.read_cursor(stack.ctx, stream)
        pulled = stack.ctx.psa().pull_tickets(value, stack.clock.now())
        return tickets.ingest(stack.ctx, pulled.items, now=stack.clock.now(), rejected=pulled.rejected,
                              cursor=(stream, version, pulled.cursor),
                              only=["tests.pipelines.test_psa_pipelines:recording_consumer"])

    run()
    stack.advance(minutes=5)
    stack.psa.start_work(b)
    run()
    run()
    assert SEEN == [sorted([str(a), str(b)]), [str(b)], []]


def test_a_malformed_ticket_is_quarantined_with_its_reason_and_the_poll_goes_on(stack) -> None:
    good = stack.psa.add_ticket("Printer offline", stack.company)
    bad = stack.psa.add_ticket("Broken record", stack.company)
    stack.psa.corrupt(bad)
    report = tickets.poll(stack.ctx)
    assert report.tickets == 1 and report.quarantined == 1
    with stack.ctx.db.session() as s:
        (q,) = s.scalars(sa.select(Quarantine))
        assert q.stream == f"{stack.psa.vendor}:tickets"
        assert "Input should be a valid datetime" in q.reason  # which field, and why
        assert json.loads(q.payload)["id"] == bad != good
    stack.advance(minutes=5)
    stack.psa.start_work(good)
    assert tickets.poll(stack.ctx).tickets == 1  # the sync goes on past the bad record
