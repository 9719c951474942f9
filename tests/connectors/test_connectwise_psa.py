"""ConnectWise PSA: the connector checklist, against the simulator mounted in respx.

Every request and answer is checked against ``shared/specs/connectwise-psa.json`` by the ``sim``
fixture (the test fails at teardown on any mismatch).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import respx

from connectors.canonical import NoteDraft, Ref, TicketDraft, TicketPatch, TicketStatus
from connectors.connectwise_psa import (
    WEBHOOK,
    ConnectWisePsa,
    ConnectWisePsaSettings,
    conditions_since,
    next_link,
)
from connectors.errors import (
    AuthError,
    NotConfigured,
    NotFound,
    PermissionDenied,
    RateLimited,
    UnknownOutcome,
    ValidationFailed,
)
from connectors.ratelimit import Unlimited
from connectors.simulators.connectwise_psa import ConnectWisePsaSimulator
from connectors.webhooks import WebhookRejected
from tests.helpers import Clock

V = "connectwise-psa"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cw(sim, clock):
    s = sim(ConnectWisePsaSimulator, now=clock)
    with respx.mock(assert_all_called=False) as router:
        s.mount(router)
        yield s


def connector(sim: ConnectWisePsaSimulator, **kw: object) -> ConnectWisePsa:
    settings = ConnectWisePsaSettings.model_validate({
        "base_url": sim.base_url + sim.setting_path, "company_id": "msp", "public_key": "simPublicKey",
        "private_key": "sim-cw-private-key", "client_id": "sim-client-id", "board_id": sim.board_id, **kw,
    })
    c = ConnectWisePsa.from_settings(settings)
    c.http._sleep = lambda s: None
    return c


def draft(company: int, marker: str = "sb-0123456789ab-1", **kw: object) -> TicketDraft:
    return TicketDraft(title="High: Low disk space (C:) on ACME-FS01", description="Disk C: has 3% free",
                       company=Ref(vendor=V, id=str(company)), priority=2, marker=marker, **kw)


def test_create_ticket_and_note_cost_two_calls_and_carry_the_marker(cw) -> None:
    cid = cw.add_company("Acme Dental")
    c = connector(cw)
    c.maps_for(cw.board_id)  # board statuses and priorities are read once an hour, not per ticket
    before = len(cw.calls)
    ticket = c.create_ticket(draft(cid))
    note = c.add_note(ticket.ref.id, NoteDraft(body="Why this ticket exists", marker="sb-0123456789ab-1:explain"))
    assert len(cw.calls) - before == 2
    stored = cw.tickets[int(ticket.ref.id)]
    assert stored["externalXRef"] == "sb-0123456789ab-1" and stored["company"]["id"] == cid
    assert stored["board"]["id"] == cw.board_id and stored["status"]["name"] == "New"
    assert stored["priority"]["name"] == "Priority 2 - Quick Response"  # P2 -> level High
    assert ticket.status is TicketStatus.new and ticket.priority == 2 and ticket.marker == "sb-0123456789ab-1"
    posted = cw.notes[int(note.ref.id)]
    assert posted["text"].endswith("[switchboard:sb-0123456789ab-1:explain]") and posted["internalAnalysisFlag"]
    description = [n for n in cw.notes_of(int(ticket.ref.id)) if n["id"] in cw.initial_notes]
    assert description and "[switchboard:sb-0123456789ab-1]" in description[0]["text"]
    if cw.contract.doc is not None:  # the document is there: every call was really checked against it
        assert cw.contract.checked_requests == len(cw.calls) and cw.contract.checked_responses == len(cw.calls)


def test_an_unknown_ticket_is_not_found_with_the_vendors_words(cw) -> None:
    with pytest.raises(NotFound) as info:
        connector(cw).get_ticket("999999")
    assert "Ticket with id 999999 not found" in str(info.value)


def test_find_by_marker(cw) -> None:
    cid = cw.add_company("Acme")
    c = connector(cw)
    made = c.create_ticket(draft(cid, "sb-aaaaaaaaaaaa-2"))
    cw.add_ticket("unrelated", cid, externalXRef="sb-aaaaaaaaaaaa-20")
    assert c.find_ticket_by_marker("sb-aaaaaaaaaaaa-2").ref == made.ref
    assert c.find_ticket_by_marker("sb-bbbbbbbbbbbb-1") is None


def test_full_pull_pages_at_1000_forward_only(cw) -> None:
    cid = cw.add_company("Acme")
    for i in range(2001):
        cw.add_ticket(f"ticket {i}", cid)
    c = connector(cw)
    c.maps_for(cw.board_id)
    before = len(cw.calls)
    pulled = c.pull_tickets(None, cw.now())
    assert len(pulled.items) == 2001 and len({t.ref.id for t in pulled.items}) == 2001
    assert pulled.calls == 3  # ceil(2001 / 1000)
    pages = [call for call in cw.calls[before:] if call.path.endswith("/service/tickets")]
    assert [p.params.get("pageSize") for p in pages] == ["1000"] * 3
    assert "pageId" not in pages[0].params and all("pageId" in p.params for p in pages[1:])


def test_incremental_pull_picks_up_only_changes(cw, clock) -> None:
    cid = cw.add_company("Acme")
    ids = [cw.add_ticket(f"t{i}", cid) for i in range(50)]
    c = connector(cw)
    first = c.pull_tickets(None, clock.at)
    assert len(first.items) == 50
    clock.at += timedelta(minutes=5)
    cw.set_status(ids[3], "In Progress")
    cw.add_human_note(ids[7], "Called the client")
    second = c.pull_tickets(first.cursor, clock.at)
    assert sorted(int(t.ref.id) for t in second.items) == sorted([ids[3], ids[7]])
    assert second.calls == 1
    assert "lastUpdated >= [2026-11-02T09:00:00Z]" in cw.calls[-1].params["conditions"]
    assert c.pull_tickets(second.cursor, clock.at).items == []


def test_poll_can_be_limited_to_some_boards(cw) -> None:
    cid = cw.add_company("Acme")
    other = cw.add_board("Projects")
    cw.add_ticket("on the service desk", cid)
    cw.add_ticket("on another board", cid, board={"id": other})
    pulled = connector(cw, poll_board_ids=[cw.board_id]).pull_tickets(None, cw.now())
    assert [t.title for t in pulled.items] == ["on the service desk"]


def test_close_and_reopen_use_the_board_statuses(cw) -> None:
    cid = cw.add_company("Acme")
    c = connector(cw)
    made = c.create_ticket(draft(cid))
    closed = c.update_ticket(made.ref.id, TicketPatch(status=TicketStatus.closed, priority=1))
    stored = cw.tickets[int(made.ref.id)]
    assert stored["closedFlag"] and stored["status"]["name"] == "Completed" and closed.status is TicketStatus.closed
    assert stored["priority"]["name"] == "Priority 1 - Emergency Response" and closed.priority == 1
    assert closed.closed_at is not None
    reopened = c.update_ticket(made.ref.id, TicketPatch(status=TicketStatus.new))
    assert not cw.tickets[int(made.ref.id)]["closedFlag"] and reopened.status is TicketStatus.new


def test_status_map_in_settings_overrides_the_board(cw) -> None:
    cid = cw.add_company("Acme")
    c = connector(cw, status_map={"Closed": "closed"})
    made = c.create_ticket(draft(cid))
    c.update_ticket(made.ref.id, TicketPatch(status=TicketStatus.closed))
    assert cw.tickets[int(made.ref.id)]["status"]["name"] == "Closed"


def test_a_custom_status_the_board_marks_closed_is_closed(cw) -> None:
    cid = cw.add_company("Acme")
    board = cw.add_board("NOC", statuses=(("Open", False), ("Parts Ordered", False), ("Fixed Remotely", True)))
    tid = cw.add_ticket("router", cid, board={"id": board})
    c = connector(cw)
    assert c.get_ticket(str(tid)).status is TicketStatus.new
    cw.set_status(tid, "Parts Ordered")
    assert c.get_ticket(str(tid)).status is TicketStatus.other  # says nothing we know: open, never guessed
    cw.set_status(tid, "Fixed Remotely")
    ticket = c.get_ticket(str(tid))
    assert ticket.status is TicketStatus.closed and ticket.status_label == "Fixed Remotely"
    assert [r.detail for r in connector(cw, board_id=board).check() if r.name == "board"][0].endswith(
        "not mapped (treated as open): Parts Ordered")


def test_types_are_resolved_by_name_on_the_board(cw) -> None:
    cid = cw.add_company("Acme")
    c = connector(cw, ticket_item="Monitoring")
    made = c.create_ticket(draft(cid, type="Alert", subtype="disk"))
    stored = cw.tickets[int(made.ref.id)]
    assert stored["type"]["name"] == "Alert" and stored["subType"]["name"] == "Disk"
    assert stored["item"]["name"] == "Monitoring"
    posts = cw.count("POST", r"/service/tickets$")
    with pytest.raises(ValidationFailed) as info:
        c.create_ticket(draft(cid, marker="sb-x-2", type="Printers"))
    assert "no type 'Printers'" in str(info.value) and "Alert" in str(info.value)
    assert cw.count("POST", r"/service/tickets$") == posts  # refused before anything was sent


def test_notes_by_people_are_told_apart_from_ours(cw) -> None:
    cid = cw.add_company("Acme")
    c = connector(cw)
    made = c.create_ticket(draft(cid))
    c.add_note(made.ref.id, NoteDraft(body="ours", marker="m1"))
    cw.add_human_note(int(made.ref.id), "Spoke to Jane, rebooting tonight")
    notes = c.list_notes(made.ref.id)
    assert sorted(n.by_integration for n in notes) == [False, True, True]  # description, ours, Jane's
    assert [n.author.id for n in notes if not n.by_integration] == [str(cw.technician_id)]


def test_update_note_replaces_its_text(cw) -> None:
    cid = cw.add_company("Acme")
    c = connector(cw)
    made = c.create_ticket(draft(cid))
    note = c.add_note(made.ref.id, NoteDraft(body="seen once", marker="m1"))
    c.update_note(made.ref.id, note.ref.id, NoteDraft(body="seen twice", marker="m1"))
    assert cw.notes[int(note.ref.id)]["text"].startswith("seen twice")
    assert len(cw.notes_of(int(made.ref.id))) == 2


def test_time_entries_are_read(cw) -> None:
    cid = cw.add_company("Acme")
    c = connector(cw)
    made = c.create_ticket(draft(cid))
    other = c.create_ticket(draft(cid, "sb-other-1"))
    cw.add_time_entry(int(made.ref.id), cw.technician_id, 0.75, "remote session")
    cw.add_time_entry(int(other.ref.id), cw.technician_id, 2.0)
    (entry,) = c.list_time_entries(made.ref.id)
    assert entry.hours == 0.75 and entry.member.id == str(cw.technician_id) and entry.notes == "remote session"


def test_reference_data(cw) -> None:
    acme = cw.add_company("Acme Dental")
    cw.add_company("Beta Law")
    cw.add_contact(acme, "Jane", "Doe", "jane@acme.example")
    c = connector(cw)
    assert sorted(co.name for co in c.list_companies()) == ["Acme Dental", "Beta Law"]
    (jane,) = c.list_contacts(str(acme))
    assert jane.name == "Jane Doe" and jane.email == "jane@acme.example" and jane.company.id == str(acme)
    assert {m.name for m in c.list_members()} >= {"Switchboard API", "Tess Technician"}
    assert [b.name for b in c.list_boards()] == ["Service Desk"]
    assert [s.name for s in c.list_statuses(cw.board_id) if s.closed] == ["Completed", "Closed"]
    assert {t.name for t in c.list_types(cw.board_id, "subtypes")} == {"Disk", "Network", "Server", "Backup"}
    assert len(c.list_priorities()) == 5


def test_validation_error_names_the_field_and_is_not_retried(cw) -> None:
    c = connector(cw)
    with pytest.raises(ValidationFailed) as info:
        c.create_ticket(draft(424242))  # no such company
    assert "company: Company with id 424242 was not found" in str(info.value)
    assert cw.count("POST", r"/service/tickets$") == 1


def test_5xx_on_a_read_is_retried_then_succeeds(cw) -> None:
    cw.fail_next(503, times=2, path=r"/service/tickets$")
    assert connector(cw).find_ticket_by_marker("x") is None
    assert cw.count("GET", r"/service/tickets$") == 3


def test_5xx_on_a_create_is_an_unknown_outcome_and_not_resent(cw) -> None:
    cid = cw.add_company("Acme")
    c = connector(cw)
    cw.fail_next(502, method="POST", path=r"/service/tickets$", after_effect=True)
    with pytest.raises(UnknownOutcome):
        c.create_ticket(draft(cid))
    assert cw.count("POST", r"/service/tickets$") == 1
    assert c.find_ticket_by_marker("sb-0123456789ab-1") is not None  # what the outbox does next


def test_429_with_retry_after(cw) -> None:
    slept: list[float] = []
    c = connector(cw)
    c.http._sleep = slept.append
    c.http.limiter = Unlimited()  # the shared limiter's pause is tested in test_ratelimit; here, the retry wait
    cw.fail_next(429, retry_after="3", path=r"/company/companies")
    assert list(c.list_companies()) == []
    assert slept and slept[0] >= 3


def test_429_longer_than_we_wait_in_line_is_raised(cw) -> None:
    cw.fail_next(429, retry_after="600", path=r"/company/companies")
    with pytest.raises(RateLimited):
        list(connector(cw).list_companies())


def test_wrong_private_key_is_not_retried_and_names_the_settings(cw) -> None:
    c = connector(cw, private_key="nope-nope")
    with pytest.raises(AuthError) as info:
        c.find_ticket_by_marker("x")
    assert "SWITCHBOARD_CONNECTWISE_PSA__PRIVATE_KEY" in str(info.value) and "nope-nope" not in str(info.value)
    assert cw.count("GET") == 1


def test_missing_client_id_header_is_refused(cw) -> None:
    with pytest.raises(AuthError) as info:
        connector(cw, client_id="someone-else").find_ticket_by_marker("x")
    assert "__CLIENT_ID" in str(info.value)


def test_missing_permission_is_not_retried(cw) -> None:
    cw.fail_next(403, path=r"/time/entries", body={"code": "Forbidden", "message": "Time Entry inquire denied"})
    with pytest.raises(PermissionDenied) as info:
        connector(cw).list_time_entries("1")
    assert "Time Entry inquire denied" in str(info.value)
    assert cw.count("GET", r"/time/entries") == 1


def test_missing_settings_are_named() -> None:
    with pytest.raises(NotConfigured) as info:
        ConnectWisePsa.from_settings(ConnectWisePsaSettings(base_url="https://x.example", company_id="msp",
                                                            public_key="p", private_key="k"))
    assert "SWITCHBOARD_CONNECTWISE_PSA__CLIENT_ID" in str(info.value)


def test_create_without_a_board_names_the_setting(cw) -> None:
    cid = cw.add_company("Acme")
    with pytest.raises(NotConfigured) as info:
        connector(cw, board_id=None).create_ticket(draft(cid))
    assert "SWITCHBOARD_CONNECTWISE_PSA__BOARD_ID" in str(info.value)


def test_malformed_ticket_is_rejected_and_the_rest_go_on(cw) -> None:
    cid = cw.add_company("Acme")
    good = cw.add_ticket("ok", cid)
    bad = cw.add_ticket("broken", cid)
    cw.tickets[bad]["_info"]["lastUpdated"] = "not a date"
    pulled = connector(cw).pull_tickets(None, cw.now())
    assert [int(t.ref.id) for t in pulled.items] == [good]
    assert pulled.rejected and pulled.rejected[0].payload["id"] == bad and "lastUpdated" in pulled.rejected[0].reason


def test_a_page_that_is_not_json_is_a_clear_error(cw) -> None:
    from connectors.errors import MalformedRecord

    cw.fail_next(200, path=r"/service/tickets$", raw=b"<html>maintenance</html>")
    with pytest.raises(MalformedRecord) as info:
        connector(cw).pull_tickets(None, cw.now())
    assert "not JSON" in str(info.value)
    # the contract check caught the injected page too; it was meant to break the document
    assert [p for p in cw.contract.problems if "response is not JSON" in p] == cw.contract.problems != []
    cw.contract.problems.clear()


def test_check_says_what_works(cw) -> None:
    cw.add_company("Acme")
    results = {r.name: r for r in connector(cw).check()}
    assert all(r.ok for r in results.values()), results
    assert "closes with 'Completed'" in results["board"].detail
    assert "P1 -> 'Priority 1 - Emergency Response'" in results["priorities"].detail
    missing = {r.name: r for r in connector(cw, board_id=None).check()}
    assert not missing["board"].ok and "SWITCHBOARD_CONNECTWISE_PSA__BOARD_ID" in missing["board"].detail


# -- callbacks --------------------------------------------------------------------------------------------


def test_callbacks_are_registered_once_and_deliveries_verified(cw) -> None:
    cid = cw.add_company("Acme")
    c = connector(cw)
    made = c.create_ticket(draft(cid))
    cb = c.register_callback("https://switchboard.msp.example/hooks/connectwise-psa")
    assert c.register_callback("https://switchboard.msp.example/hooks/connectwise-psa").id == cb.id
    assert cw.count("POST", r"/system/callbacks") == 1
    headers, body = cw.callback_delivery(int(made.ref.id))
    import json

    key = c.callback_signing_key(json.loads(body)["Metadata"]["key_url"])
    WEBHOOK.verify(headers, body, key.get_secret_value(), now=0)
    delivery = WEBHOOK.parse(headers, body)
    assert delivery.kind == "tickets" and delivery.ids == [made.ref.id] and delivery.delivery_id
    with pytest.raises(WebhookRejected) as bad:
        WEBHOOK.verify(headers, body.replace(b'"updated"', b'"deleted"'), key.get_secret_value(), now=0)
    assert bad.value.code == "bad_signature"
    with pytest.raises(WebhookRejected) as unsigned:
        WEBHOOK.verify({"content-type": "application/json"}, body, key.get_secret_value(), now=0)
    assert unsigned.value.code == "unsigned"


def test_a_signing_key_is_only_fetched_from_our_own_site(cw) -> None:
    with pytest.raises(ValidationFailed):
        connector(cw).callback_signing_key("https://attacker.example/v4_6_release/apis/3.0/system/callbackEntry/key/1")
    assert cw.calls == []


# -- pure pieces ----------------------------------------------------------------------------------------


def test_conditions_and_link_headers() -> None:
    since = datetime(2026, 11, 2, 9, 30, 5, tzinfo=UTC)
    assert conditions_since(since, []) == "lastUpdated >= [2026-11-02T09:30:05Z]"
    assert conditions_since(None, [1, 2]) == "board/id in (1,2)"
    assert conditions_since(None, []) is None
    link = '<https://x/apis/3.0/service/tickets?pageSize=1000&pageId=77>; rel="next", <https://x/last>; rel="last"'
    assert next_link(link) == "https://x/apis/3.0/service/tickets?pageSize=1000&pageId=77"
    assert next_link('<https://x/last>; rel="last"') is None and next_link(None) is None


def test_secrets_stay_out_of_reprs(cw) -> None:
    c = connector(cw)
    assert "sim-cw-private-key" not in repr(c) + repr(c.http) + repr(c.http.client.auth) + repr(c.settings)
