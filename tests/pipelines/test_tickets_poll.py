"""The PSA ticket poll hands new and changed tickets to its consumers, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest

from connectors.canonical import Ticket
from pipelines import tickets
from tests.helpers import build_stack

SEEN: list[list[str]] = []


def recording_consumer(ctx, session, batch: Sequence[Ticket], now: datetime) -> list[str]:
    SEEN.append(sorted(t.ref.id for t in batch))
    return []


def failing_consumer(ctx, session, batch, now) -> list[str]:
    raise RuntimeError("consumer bug")


@pytest.fixture
def stack(sim, make_context):
    SEEN.clear()
    return build_stack(sim, make_context)


def test_consumers_see_new_then_only_changed_tickets(stack) -> None:
    a = stack.autotask.add_ticket(title="Printer offline", companyID=stack.company)
    b = stack.autotask.add_ticket(title="New starter", companyID=stack.company)
    only = ["tests.pipelines.test_tickets_poll:recording_consumer"]
    stream = tickets.stream_name("autotask")
    from pipelines.alerts import read_cursor

    def run() -> tickets.TicketPollReport:
        value, version = read_cursor(stack.ctx, stream)
        pulled = stack.ctx.psa().pull_tickets(value, stack.clock.now())
        return tickets.ingest(stack.ctx, pulled.items, now=stack.clock.now(), cursor=(stream, version, pulled.cursor),
                              only=only)

    run()
    stack.advance(minutes=5)
    stack.autotask.set_status(b, 8)
    run()
    assert SEEN == [sorted([str(a), str(b)]), [str(b)]]


def test_a_failing_consumer_rolls_the_batch_back(stack) -> None:
    stack.autotask.add_ticket(title="x", companyID=stack.company)
    stream = tickets.stream_name("autotask")
    pulled = stack.ctx.psa().pull_tickets(None, stack.clock.now())
    with pytest.raises(RuntimeError):
        tickets.ingest(stack.ctx, pulled.items, now=stack.clock.now(), cursor=(stream, 0, pulled.cursor),
                       only=["tests.pipelines.test_tickets_poll:failing_consumer"])
    from pipelines.alerts import read_cursor

    assert read_cursor(stack.ctx, stream) == (None, 0)
