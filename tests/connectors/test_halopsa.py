"""HaloPSA: the connector checklist, against the simulator mounted in respx.

Every request is checked against ``shared/specs/halopsa.json`` and every answer against the
document's own resource schemas (the ``sim`` fixture fails the test at teardown on a mismatch).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import respx

from connectors.canonical import NoteDraft, Ref, TicketDraft, TicketPatch, TicketStatus
from connectors.errors import (
    AuthError,
    NotConfigured,
    NotFound,
    PermissionDenied,
    UnknownOutcome,
    ValidationFailed,
)
from connectors.halopsa import WEBHOOK, HaloPsa, HaloPsaSettings, default_auth_url
from connectors.ratelimit import Unlimited
from connectors.simulators.halopsa import HaloPsaSimulator
from connectors.webhooks import WebhookRejected
from tests.helpers import Clock

V = "halopsa"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def halo(sim, clock):
    s = sim(HaloPsaSimulator, now=clock)
    with respx.mock(assert_all_called=False) as router:
        s.mount(router)
        yield s


def connector(sim: HaloPsaSimulator, **kw: object) -> HaloPsa:
    settings = HaloPsaSettings.model_validate({
        "base_url": sim.base_url + "/api", "client_id": "sim-halo-client", "client_secret": "sim-halo-secret",
        "ticket_type_id": 21, **kw,
    })
    c = HaloPsa.from_settings(settings)
    c.http._sleep = lambda s: None
    return c


def draft(client: int, marker: str = "sb-0123456789ab-1", **kw: object) -> TicketDraft:
    return TicketDraft(title="High: Low disk space (C:) on ACME-FS01", description="Disk C: has 3% free",
                       company=Ref(vendor=V, id=str(client)), priority=2, marker=marker, **kw)


def test_token_is_fetched_once_and_refreshed_once_on_401(halo) -> None:
    halo.add_client("Acme")
    c = connector(halo)
    list(c.list_companies())
    list(c.list_companies())
    assert halo.token_calls == 1
    halo.revoke_tokens()  # Halo dropped our token early
    assert [co.name for co in c.list_companies()] == ["Acme"]
    assert halo.token_calls == 2


def test_create_ticket_and_note_cost_two_calls_and_carry_the_marker(halo) -> None:
    cid = halo.add_client("Acme Dental")
    c = connector(halo)
    c.maps()  # statuses and priorities are read once an hour (and the token fetched), not per ticket
    before = len(halo.calls)
    ticket = c.create_ticket(draft(cid))
    note = c.add_note(ticket.ref.id, NoteDraft(body="Why this ticket exists", marker="sb-0123456789ab-1:explain"))
    assert len(halo.calls) - before == 2
    stored = halo.tickets[int(ticket.ref.id)]
    assert stored["third_party_id_string"] == "sb-0123456789ab-1" and stored["client_id"] == cid
    assert stored["priority_id"] == 2 and stored["tickettype_id"] == 21 and stored["status_id"] == 1
    assert stored["details"].endswith("[switchboard:sb-0123456789ab-1]")
    action = halo.actions[int(note.ref.id)]
    assert action["outcome"] == "Private Note" and action["hiddenfromuser"]
    assert action["note"].endswith("[switchboard:sb-0123456789ab-1:explain]")
    assert ticket.status is TicketStatus.new and ticket.priority == 2 and ticket.marker == "sb-0123456789ab-1"
    if halo.contract.doc is not None:  # the document is there: every API call (not the token) was checked
        api_calls = [c for c in halo.calls if c.path.startswith("/api/")]
        assert halo.contract.checked_requests == len(api_calls) == halo.contract.checked_responses
        assert halo.contract.undocumented_calls == halo.token_calls == 1


def test_an_unknown_ticket_is_not_found(halo) -> None:
    with pytest.raises(NotFound) as info:
        connector(halo).get_ticket("999999")
    assert "Ticket 999999 not found" in str(info.value)


def test_find_by_marker(halo) -> None:
    cid = halo.add_client("Acme")
    c = connector(halo)
    made = c.create_ticket(draft(cid, "sb-aaaaaaaaaaaa-2"))
    c.create_ticket(draft(cid, "sb-aaaaaaaaaaaa-20"))  # its marker line contains the other's text
    assert c.find_ticket_by_marker("sb-aaaaaaaaaaaa-2").ref == made.ref
    assert c.find_ticket_by_marker("sb-bbbbbbbbbbbb-1") is None
    assert "search_details" in halo.calls[-1].params


def test_full_pull_pages_at_100(halo) -> None:
    cid = halo.add_client("Acme")
    for i in range(250):
        halo.add_ticket(f"ticket {i}", cid)
    c = connector(halo)
    c.maps()
    pulled = c.pull_tickets(None, halo.now())
    assert len(pulled.items) == 250 and len({t.ref.id for t in pulled.items}) == 250
    assert pulled.calls == 3  # ceil(250 / 100)
    assert {call.params.get("page_size") for call in halo.calls if call.path == "/api/Tickets"} == {"100"}


def test_a_full_last_page_needs_no_empty_page_after_it(halo) -> None:
    cid = halo.add_client("Acme")
    for i in range(200):
        halo.add_ticket(f"ticket {i}", cid)
    c = connector(halo)
    c.maps()
    assert c.pull_tickets(None, halo.now()).calls == 2  # record_count says when to stop


def test_incremental_pull_picks_up_only_changes(halo, clock) -> None:
    cid = halo.add_client("Acme")
    ids = [halo.add_ticket(f"t{i}", cid) for i in range(50)]
    c = connector(halo)
    first = c.pull_tickets(None, clock.at)
    assert len(first.items) == 50
    clock.at += timedelta(minutes=5)
    halo.set_status(ids[3], 2)
    halo.add_human_note(ids[7], "Called the client")
    second = c.pull_tickets(first.cursor, clock.at)
    assert sorted(int(t.ref.id) for t in second.items) == sorted([ids[3], ids[7]])
    assert second.calls == 1
    assert halo.calls[-1].params["lastupdatefromdate"] == "2026-11-02T09:00:00"
    assert c.pull_tickets(second.cursor, clock.at).items == []


def test_close_uses_the_tenant_statuses_and_priorities(halo) -> None:
    cid = halo.add_client("Acme")
    c = connector(halo)
    made = c.create_ticket(draft(cid))
    closed = c.update_ticket(made.ref.id, TicketPatch(status=TicketStatus.closed, priority=1))
    stored = halo.tickets[int(made.ref.id)]
    assert stored["status_id"] == 9 and stored["dateclosed"] and stored["priority_id"] == 1
    assert closed.status is TicketStatus.closed and closed.status_label == "Closed" and closed.priority == 1
    halo.set_status(int(made.ref.id), 4)
    waiting = c.get_ticket(made.ref.id)
    assert waiting.status is TicketStatus.waiting_client and waiting.status_label == "With User"


def test_status_map_in_settings_overrides_the_tenant(halo) -> None:
    cid = halo.add_client("Acme")
    c = connector(halo, status_map={"8": "closed"})
    made = c.create_ticket(draft(cid))
    c.update_ticket(made.ref.id, TicketPatch(status=TicketStatus.closed))
    assert halo.tickets[int(made.ref.id)]["status_id"] == 8


def test_notes_by_people_and_time_are_told_apart(halo) -> None:
    cid = halo.add_client("Acme")
    c = connector(halo)
    made = c.create_ticket(draft(cid))
    c.add_note(made.ref.id, NoteDraft(body="ours", marker="m1"))
    halo.add_human_note(int(made.ref.id), "Spoke to Jane, rebooting tonight")
    halo.add_time(int(made.ref.id), halo.technician_id, 0.75, "remote session")
    notes = c.list_notes(made.ref.id)
    assert sorted(n.by_integration for n in notes) == [False, False, True]
    (entry,) = c.list_time_entries(made.ref.id)
    assert entry.hours == 0.75 and entry.member.id == str(halo.technician_id) and entry.notes == "remote session"


def test_update_note_changes_the_same_action(halo) -> None:
    cid = halo.add_client("Acme")
    c = connector(halo)
    made = c.create_ticket(draft(cid))
    note = c.add_note(made.ref.id, NoteDraft(body="seen once", marker="m1"))
    c.update_note(made.ref.id, note.ref.id, NoteDraft(body="seen twice", marker="m1"))
    assert [a["note"].split("\n")[0] for a in halo.notes_of(int(made.ref.id))] == ["seen twice"]


def test_reference_data(halo) -> None:
    acme = halo.add_client("Acme Dental")
    halo.add_client("Beta Law")
    halo.add_user(acme, "Jane Doe", "jane@acme.example", vip=True)
    c = connector(halo)
    assert sorted(co.name for co in c.list_companies()) == ["Acme Dental", "Beta Law"]
    (jane,) = c.list_contacts(str(acme))
    assert jane.email == "jane@acme.example" and jane.vip and jane.company.id == str(acme)
    assert {m.name for m in c.list_members()} == {"Switchboard API", "Tess Technician"}
    assert [p.name for p in c.list_priorities()] == ["Critical", "High", "Medium", "Low"]  # one per priority, not SLA
    assert c.ticket_type_named("alert") == 21
    assert [cat.name for cat in c.list_categories()] == ["Monitoring", "Hardware", "Network"]
    assert {s.name for s in c.list_slas()} == {"Standard SLA", "Premium SLA"}
    assert "Closed" in {s.name for s in c.list_statuses()}


def test_validation_error_carries_halos_message_and_is_not_retried(halo) -> None:
    c = connector(halo)
    with pytest.raises(ValidationFailed) as info:
        c.create_ticket(draft(424242))  # no such client
    assert "Please select a valid client (424242)" in str(info.value)
    assert halo.count("POST", r"/api/Tickets$") == 1


def test_5xx_on_a_read_is_retried_then_succeeds(halo) -> None:
    halo.add_client("Acme")
    halo.fail_next(503, times=2, path=r"/api/Client$")
    assert [co.name for co in connector(halo).list_companies()] == ["Acme"]
    assert halo.count("GET", r"/api/Client$") == 3


def test_5xx_on_a_create_is_an_unknown_outcome_and_not_resent(halo) -> None:
    cid = halo.add_client("Acme")
    c = connector(halo)
    halo.fail_next(502, method="POST", path=r"/api/Tickets$", after_effect=True)
    with pytest.raises(UnknownOutcome):
        c.create_ticket(draft(cid))
    assert halo.count("POST", r"/api/Tickets$") == 1
    assert c.find_ticket_by_marker("sb-0123456789ab-1") is not None


def test_429_with_retry_after(halo) -> None:
    slept: list[float] = []
    c = connector(halo)
    c.http._sleep = slept.append
    c.http.limiter = Unlimited()  # the shared limiter's pause is tested in test_ratelimit; here, the retry wait
    halo.fail_next(429, retry_after="4", path=r"/api/Client$")
    assert list(c.list_companies()) == []
    assert slept and slept[0] >= 4


def test_wrong_secret_is_not_retried_and_names_the_settings(halo) -> None:
    c = connector(halo, client_secret="nope-nope")
    with pytest.raises(AuthError) as info:
        c.find_ticket_by_marker("x")
    assert "SWITCHBOARD_HALOPSA__CLIENT_SECRET" in str(info.value) and "nope-nope" not in str(info.value)
    assert halo.token_calls == 1 and halo.count("GET") == 0


def test_missing_permission_is_not_retried(halo) -> None:
    halo.fail_next(403, path=r"/api/Agent$", body={"message": "Your agent may not view agents"})
    with pytest.raises(PermissionDenied) as info:
        list(connector(halo).list_members())
    assert "may not view agents" in str(info.value) and halo.count("GET", r"/api/Agent$") == 1


def test_hosted_tenant_is_sent_on_the_token_call(sim) -> None:
    s = sim(HaloPsaSimulator, tenant="msp")
    with respx.mock(assert_all_called=False) as router:
        s.mount(router)
        s.add_client("Acme")
        assert [co.name for co in connector(s, tenant="msp").list_companies()] == ["Acme"]
        with pytest.raises(AuthError):
            list(connector(s).list_companies())


def test_missing_settings_are_named() -> None:
    with pytest.raises(NotConfigured) as info:
        HaloPsa.from_settings(HaloPsaSettings(base_url="https://msp.halopsa.com/api", client_id="x"))
    assert "SWITCHBOARD_HALOPSA__CLIENT_SECRET" in str(info.value)
    assert default_auth_url("https://msp.halopsa.com/api") == "https://msp.halopsa.com/auth"


def test_malformed_ticket_is_rejected_and_the_rest_go_on(halo) -> None:
    cid = halo.add_client("Acme")
    good = halo.add_ticket("ok", cid)
    bad = halo.add_ticket("broken", cid)
    halo.tickets[bad]["last_update"] = "not a date"
    pulled = connector(halo).pull_tickets(None, halo.now())
    assert [int(t.ref.id) for t in pulled.items] == [good]
    assert pulled.rejected and pulled.rejected[0].payload["id"] == bad and "last_update" in pulled.rejected[0].reason


def test_check_says_what_works(halo) -> None:
    halo.add_client("Acme")
    results = {r.name: r for r in connector(halo).check()}
    assert all(r.ok for r in results.values()), results
    assert "closes with 'Closed'" in results["statuses"].detail and "new tickets are 'Alert'" in results["ticket type"].detail
    bad = {r.name: r for r in connector(halo, ticket_type_id=999).check()}
    assert not bad["ticket type"].ok and "999" in bad["ticket type"].detail


# -- webhooks ---------------------------------------------------------------------------------------------


def test_webhook_with_basic_auth_password_is_verified(halo) -> None:
    cid = halo.add_client("Acme")
    made = connector(halo).create_ticket(draft(cid))
    headers, body = halo.webhook_delivery(int(made.ref.id), "tenant-webhook-secret")
    WEBHOOK.verify(headers, body, "tenant-webhook-secret", now=0)
    delivery = WEBHOOK.parse(headers, body)
    assert delivery.kind == "tickets" and delivery.ids == [made.ref.id] and delivery.delivery_id
    with pytest.raises(WebhookRejected) as wrong:
        WEBHOOK.verify(headers, body, "another-secret", now=0)
    assert wrong.value.code == "bad_signature"
    with pytest.raises(WebhookRejected) as unsigned:
        WEBHOOK.verify({"content-type": "application/json"}, body, "tenant-webhook-secret", now=0)
    assert unsigned.value.code == "unsigned"
    with pytest.raises(WebhookRejected) as malformed:
        WEBHOOK.parse(headers, b'{"event": "Ticket Updated"}')
    assert malformed.value.code == "malformed"


def test_secrets_stay_out_of_reprs(halo) -> None:
    c = connector(halo)
    list(c.list_members())
    assert "sim-halo-secret" not in repr(c) + repr(c.http) + repr(c.http.client.auth) + repr(c.settings)
