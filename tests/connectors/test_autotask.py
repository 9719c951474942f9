"""Autotask: the connector checklist, against the simulator mounted in respx."""

from __future__ import annotations

from datetime import timedelta

import pytest
import respx

from connectors.autotask import Autotask, AutotaskSettings
from connectors.canonical import NoteDraft, Ref, TicketDraft, TicketPatch, TicketStatus
from connectors.errors import AuthError, ValidationFailed
from connectors.ratelimit import Unlimited
from connectors.simulators.autotask import AutotaskSimulator
from tests.helpers import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def at(sim, clock):
    s = sim(AutotaskSimulator, now=clock)
    with respx.mock(assert_all_called=False) as router:
        s.mount(router)
        yield s


def connector(sim: AutotaskSimulator, **kw: object) -> Autotask:
    settings = AutotaskSettings(base_url=sim.base_url + "/ATServicesRest", username="api@msp.example",
                                secret="sim-autotask-secret", integration_code="SIMINTEGRATION", queue_id=29683354)
    c = Autotask.from_settings(settings.model_copy(update=kw))
    c.http._sleep = lambda s: None
    return c


def draft(company: int, marker: str = "sb-0123456789ab-1") -> TicketDraft:
    return TicketDraft(title="High: Low disk space (C:) on ACME-FS01", description="Disk C: has 3% free",
                       company=Ref(vendor="autotask", id=str(company)), priority=2, marker=marker)


def test_create_ticket_and_note_cost_two_calls_and_carry_the_marker(at) -> None:
    cid = at.add_company("Acme Dental")
    c = connector(at)
    c.maps()  # the tenant's picklists are read once an hour, not per ticket
    before = len(at.calls)
    ticket = c.create_ticket(draft(cid))
    note = c.add_note(ticket.ref.id, NoteDraft(body="Why this ticket exists", marker="sb-0123456789ab-1:explain"))
    assert len(at.calls) - before == 2
    stored = at.db["Tickets"][int(ticket.ref.id)]
    assert stored["externalID"] == "sb-0123456789ab-1" and stored["companyID"] == cid
    assert stored["priority"] == 1 and stored["queueID"] == 29683354  # P2 -> Autotask "High"
    assert "[switchboard:sb-0123456789ab-1:explain]" in at.db["TicketNotes"][int(note.ref.id)]["description"]


def test_find_by_marker(at) -> None:
    cid = at.add_company("Acme")
    c = connector(at)
    made = c.create_ticket(draft(cid, "sb-aaaaaaaaaaaa-2"))
    at.add_ticket(title="unrelated", companyID=cid)
    assert c.find_ticket_by_marker("sb-aaaaaaaaaaaa-2").ref == made.ref
    assert c.find_ticket_by_marker("sb-bbbbbbbbbbbb-1") is None


def test_full_pull_pages_at_500_records(at) -> None:
    cid = at.add_company("Acme")
    for i in range(1201):
        at.add_ticket(title=f"ticket {i}", companyID=cid)
    c = connector(at)
    c.maps()  # the tenant's picklists are read once an hour, not per pull
    pulled = c.pull_tickets(None, at.now())
    assert len(pulled.items) == 1201 and len({t.ref.id for t in pulled.items}) == 1201
    assert pulled.calls == 3  # ceil(1201 / 500)


def test_incremental_pull_picks_up_only_changes(at, clock) -> None:
    cid = at.add_company("Acme")
    ids = [at.add_ticket(title=f"t{i}", companyID=cid) for i in range(50)]
    c = connector(at)
    first = c.pull_tickets(None, clock.at)
    assert len(first.items) == 50
    clock.at += timedelta(minutes=5)
    at.set_status(ids[3], 8)
    at.add_human_note(ids[7], "Called the client")
    second = c.pull_tickets(first.cursor, clock.at)
    assert sorted(int(t.ref.id) for t in second.items) == sorted([ids[3], ids[7]])
    assert second.calls == 1
    third = c.pull_tickets(second.cursor, clock.at)
    assert third.items == []


def test_status_and_priority_maps(at) -> None:
    cid = at.add_company("Acme")
    c = connector(at)
    made = c.create_ticket(draft(cid))
    updated = c.update_ticket(made.ref.id, TicketPatch(status=TicketStatus.closed, priority=1))
    assert updated.status is TicketStatus.closed and updated.priority == 1
    assert at.db["Tickets"][int(made.ref.id)]["status"] == 5 and at.db["Tickets"][int(made.ref.id)]["priority"] == 4


def test_notes_by_people_are_told_apart_from_ours(at) -> None:
    cid = at.add_company("Acme")
    c = connector(at)
    made = c.create_ticket(draft(cid))
    c.add_note(made.ref.id, NoteDraft(body="ours", marker="m1"))
    at.add_human_note(int(made.ref.id), "Spoke to Jane, rebooting tonight")
    notes = c.list_notes(made.ref.id)
    assert sorted(n.by_integration for n in notes) == [False, True]


def test_time_entries_are_read(at) -> None:
    cid = at.add_company("Acme")
    c = connector(at)
    made = c.create_ticket(draft(cid))
    at.add_time_entry(int(made.ref.id), 29682001, 0.75, "remote session")
    (entry,) = c.list_time_entries(made.ref.id)
    assert entry.hours == 0.75 and entry.member.id == "29682001"


def test_business_rule_failure_is_a_clear_validation_error_not_retried(at) -> None:
    c = connector(at)
    with pytest.raises(ValidationFailed) as info:
        c.create_ticket(draft(424242))  # no such company
    assert "companyID" in str(info.value)
    assert at.count("POST", r"/V1.0/Tickets$") == 1


def test_500_without_errors_is_an_outage_and_is_retried(at) -> None:
    cid = at.add_company("Acme")
    at.fail_next(500, times=1, path=r"/V1.0/Tickets/query", body={"message": "Service Unavailable"})
    assert connector(at).find_ticket_by_marker("x") is None
    assert at.count("POST", r"/V1.0/Tickets/query") == 2
    assert cid


def test_429_with_retry_after(at) -> None:
    slept: list[float] = []
    c = connector(at)
    c.http._sleep = slept.append
    c.http.limiter = Unlimited()  # the shared limiter's pause is tested in test_ratelimit; here, the retry wait
    at.fail_next(429, retry_after="2", path=r"/V1.0/Companies/query")
    assert list(c.list_companies()) == []
    assert slept and slept[0] >= 2


def test_wrong_secret_is_not_retried_and_names_the_settings(at) -> None:
    with pytest.raises(AuthError) as info:
        connector(at, secret="nope").find_ticket_by_marker("x")
    assert "SWITCHBOARD_AUTOTASK__SECRET" in str(info.value)
    assert at.count("POST", r"/V1.0/Tickets/query") == 1


def test_malformed_ticket_is_rejected_and_the_rest_go_on(at) -> None:
    cid = at.add_company("Acme")
    good = at.add_ticket(title="ok", companyID=cid)
    bad = at.add_ticket(title="broken", companyID=cid)
    at.db["Tickets"][bad]["lastActivityDate"] = "not a date"
    pulled = connector(at).pull_tickets(None, at.now())
    assert [int(t.ref.id) for t in pulled.items] == [good]
    assert pulled.rejected and pulled.rejected[0].payload["id"] == bad


def test_zone_discovery(at) -> None:
    from connectors.autotask import discover_zone

    with respx.mock() as router:
        router.get("https://webservices.autotask.net/ATServicesRest/V1.0/ZoneInformation").mock(
            side_effect=lambda request: at.handle(request)
        )
        headers = {"ApiIntegrationCode": "SIMINTEGRATION", "UserName": "api@msp.example", "Secret": "sim-autotask-secret"}
        assert discover_zone("api@msp.example", headers=headers).startswith(at.base_url)


# -- the tenant's picklists, types by name, webhooks -------------------------------------------------------


def test_maps_come_from_the_tenant_picklists(at) -> None:
    cid = at.add_company("Acme")
    c = connector(at)
    waiting = at.add_ticket(title="parts", companyID=cid, status=12)
    custom = at.add_ticket(title="change", companyID=cid, status=21)
    assert c.get_ticket(str(waiting)).status is TicketStatus.waiting_client
    ticket = c.get_ticket(str(custom))
    assert ticket.status is TicketStatus.other and ticket.status_label == "Change Order"  # never guessed
    assert c.get_ticket(str(waiting)).status_label == "Waiting Vendor"
    at.picklists["priority"].append({"value": "6", "label": "P1 - Emergency", "isDefaultValue": False,
                                     "sortOrder": 0, "parentValue": "", "isActive": True, "isSystem": False})
    assert c.maps().priority_id(1) == "4"  # cached for an hour: Critical, still
    checks = {r.name: r for r in c.check()}
    assert checks["picklists"].ok and "closes with 'Complete'" in checks["picklists"].detail
    assert checks["picklists"].detail.endswith("not mapped (treated as open): Change Order")
    assert "Monitoring Alert" in checks["queue"].detail


def test_a_status_map_set_in_settings_overrides_the_tenant(at) -> None:
    cid = at.add_company("Acme")
    c = connector(at, status_map={1: TicketStatus.new, 14: TicketStatus.closed, 21: TicketStatus.in_progress})
    made = c.create_ticket(draft(cid))
    c.update_ticket(made.ref.id, TicketPatch(status=TicketStatus.closed))
    assert at.db["Tickets"][int(made.ref.id)]["status"] == 14  # "Resolved" closes, as the MSP said
    at.set_status(int(made.ref.id), 21)
    assert c.get_ticket(made.ref.id).status is TicketStatus.in_progress


def test_without_permission_to_read_picklists_the_settings_maps_are_used(at) -> None:
    cid = at.add_company("Acme")
    at.fail_next(403, path=r"/entityInformation/fields", body={"errors": ["no access"]})
    c = connector(at)
    made = c.create_ticket(draft(cid))
    assert at.db["Tickets"][int(made.ref.id)]["priority"] == 1 and made.status_label == "1"


def test_issue_types_are_resolved_by_name(at) -> None:
    cid = at.add_company("Acme")
    c = connector(at)
    made = c.create_ticket(draft(cid).model_copy(update={"type": "Monitoring", "subtype": "disk"}))
    stored = at.db["Tickets"][int(made.ref.id)]
    assert stored["issueType"] == 12 and stored["subIssueType"] == 201
    with pytest.raises(ValidationFailed) as info:
        c.create_ticket(draft(cid, "sb-x-2").model_copy(update={"type": "Hardware", "subtype": "Disk"}))
    assert "subIssueType 'Disk'" in str(info.value) and "Printer" in str(info.value)  # Disk is not under Hardware
    assert at.count("POST", r"/V1.0/Tickets$") == 1
    assert [q.name for q in c.list_queues()] == ["Monitoring Alert", "Client Portal", "Level I Support"]
    assert [s.name for s in c.list_sub_issue_types("11")] == ["Printer"]
    assert [i.name for i in c.list_issue_types()] == ["Monitoring", "Hardware", "Network"]
    assert {p.name for p in c.list_priorities()} >= {"Critical", "High", "Medium", "Low"}
    assert "Complete" in {s.name for s in c.list_statuses()}


def test_tenant_picklists_can_be_turned_off(at) -> None:
    cid = at.add_company("Acme")
    c = connector(at, tenant_picklists=False)
    c.create_ticket(draft(cid))
    assert at.count("GET", r"entityInformation") == 0


def test_webhook_signature_is_verified(at, clock) -> None:
    from connectors.autotask import WEBHOOK
    from connectors.webhooks import WebhookRejected

    cid = at.add_company("Acme")
    tid = at.add_ticket(title="x", companyID=cid)
    headers, body = at.webhook_delivery(tid, "webhook-secret-key")
    now = clock.at.timestamp()
    WEBHOOK.verify(headers, body, "webhook-secret-key", now)
    delivery = WEBHOOK.parse(headers, body)
    assert delivery.kind == "tickets" and delivery.ids == [str(tid)] and delivery.delivery_id.endswith(":1")
    refused = (
        (headers, body, "another-key", "bad_signature"),  # not our secret
        (headers, body.replace(b'"Update"', b'"Delete"'), "webhook-secret-key", "bad_signature"),  # tampered
        ({"Content-Type": "application/json"}, body, "webhook-secret-key", "unsigned"),
    )
    for bad_headers, bad_body, secret, code in refused:
        with pytest.raises(WebhookRejected) as info:
            WEBHOOK.verify(bad_headers, bad_body, secret, now)
        assert info.value.code == code
    with pytest.raises(WebhookRejected) as stale:
        WEBHOOK.verify(headers, body, "webhook-secret-key", now + 2 * 3600)
    assert stale.value.code == "stale"
    note_headers, note_body = at.webhook_delivery(777, "k", entity="TicketNote", fields={"TicketID": tid})
    assert WEBHOOK.parse(note_headers, note_body).ids == [str(tid)]
