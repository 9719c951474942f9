"""NinjaOne: the connector checklist against the simulator mounted in respx.

Every request and response is validated against ``shared/specs/ninjaone.yaml`` (the ``sim``
fixture fails the test at teardown on any mismatch).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import respx

from connectors.canonical import DeviceType, Severity
from connectors.errors import AuthError, NotConfigured, NotFound, PaginationLoop, PermissionDenied
from connectors.ninjaone import WEBHOOK, NinjaOne, NinjaOneSettings, check_of, native_events
from connectors.ratelimit import Unlimited
from connectors.simulators.ninjaone import NinjaOneSimulator
from connectors.webhooks import WebhookRejected

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ninja(sim, clock):
    s = sim(NinjaOneSimulator, now=clock)
    with respx.mock(assert_all_called=False) as router:
        s.mount(router)
        yield s


def connector(sim: NinjaOneSimulator, secret: str = "sim-ninja-secret") -> NinjaOne:
    c = NinjaOne.from_settings(NinjaOneSettings(base_url=sim.base_url, client_id="sim-ninja-client",
                                                client_secret=secret))
    c.http._sleep = lambda s: None
    return c


def device(ninja: NinjaOneSimulator, name: str = "ACME-FS01", node_class: str = "WINDOWS_SERVER",
           org: str = "Acme Dental") -> int:
    oid = next((o["id"] for o in ninja.organizations.values() if o["name"] == org), None) or ninja.add_organization(org)
    lid = next((loc["id"] for loc in ninja.locations.values() if loc["organizationId"] == oid), None)
    return ninja.add_device(lid or ninja.add_location(oid, "HQ"), name, node_class=node_class)


def calls_of(ninja: NinjaOneSimulator) -> list[tuple[str, str]]:
    return [(c.method, c.path) for c in ninja.calls if not c.path.endswith("/oauth/token")]


def test_first_poll_reads_the_activity_marker_then_every_active_alert(ninja) -> None:
    dev = device(ninja)
    uids = {ninja.raise_alert(dev, check=f"disk_usage:{d}:") for d in "CDE"}
    ninja.add_activity(deviceId=dev)  # a script run: not an alert
    pulled = connector(ninja).pull_alert_events(None, NOW)
    assert {e.alert_id for e in pulled.items} == uids and {e.kind for e in pulled.items} == {"raised"}
    assert pulled.calls == 2 and calls_of(ninja) == [("GET", "/v2/activities"), ("GET", "/v2/alerts")]
    assert json.loads(pulled.cursor)["floor"] == max(a["id"] for a in ninja.activities)


def test_incremental_pull_reports_only_the_changes(ninja, clock) -> None:
    dev = device(ninja)
    first = ninja.raise_alert(dev, check="cpu")
    c = connector(ninja)
    p1 = c.pull_alert_events(None, NOW)
    clock.at += timedelta(minutes=5)
    second = ninja.raise_alert(dev, check="memory", severity="critical")
    ninja.resolve(first)
    ninja.add_activity(deviceId=dev)
    p2 = c.pull_alert_events(p1.cursor, clock.at)
    assert sorted((e.kind, e.alert_id) for e in p2.items) == sorted([("raised", second), ("resolved", first)])
    assert p2.calls == 2  # condition activities + the active alerts' details
    resolved = next(e for e in p2.items if e.kind == "resolved")
    assert (resolved.client, resolved.device, resolved.check) == (p1.items[0].client, p1.items[0].device, "cpu")
    p3 = c.pull_alert_events(p2.cursor, clock.at)
    assert p3.items == [] and p3.calls == 1
    assert set(json.loads(p3.cursor)["open"]) == {second}


def test_a_poll_with_only_resets_costs_one_call(ninja, clock) -> None:
    dev = device(ninja)
    uids = [ninja.raise_alert(dev, check=f"service:svc{i}") for i in range(20)]
    c = connector(ninja)
    p1 = c.pull_alert_events(None, NOW)
    clock.at += timedelta(minutes=1)
    for uid in uids[:3]:
        ninja.resolve(uid)
    p2 = c.pull_alert_events(p1.cursor, clock.at)
    assert [e.kind for e in p2.items] == ["resolved"] * 3 and p2.calls == 1


def test_activities_are_read_across_pages_at_the_documents_maximum(ninja, clock) -> None:
    dev = device(ninja)
    c = connector(ninja)
    p1 = c.pull_alert_events(None, NOW)
    clock.at += timedelta(minutes=1)
    made = {ninja.raise_alert(dev, check=f"service:svc{i}") for i in range(1205)}
    ninja.reset_calls()
    p2 = c.pull_alert_events(p1.cursor, clock.at)
    assert {e.alert_id for e in p2.items} == made and len(p2.items) == 1205
    pages = [c for c in ninja.calls if c.path == "/v2/activities"]
    assert [p.params["pageSize"] for p in pages] == ["1000", "1000"]
    assert "olderThan" not in pages[0].params and int(pages[1].params["olderThan"]) == min(
        a["id"] for a in ninja.activities[-1000:])
    assert p2.calls == 3


def test_lists_page_with_after_at_1000(ninja) -> None:
    oid = ninja.add_organization("Acme")
    lid = ninja.add_location(oid, "HQ")
    for i in range(2300):
        ninja.add_device(lid, f"WS{i:04d}")
    devices = list(connector(ninja).list_devices())
    assert len({d.ref.id for d in devices}) == 2300
    pages = [c.params for c in ninja.calls if c.path == "/v2/devices"]
    assert [p.get("pageSize") for p in pages] == ["1000"] * 3 and "after" not in pages[0]
    assert int(pages[2]["after"]) == sorted(ninja.devices)[1999]


def test_a_late_committed_activity_is_still_picked_up(ninja, clock) -> None:
    dev = device(ninja)
    c = connector(ninja)
    p1 = c.pull_alert_events(None, NOW)
    clock.at += timedelta(seconds=30)
    ninja.hold_next()
    late = ninja.raise_alert(dev, check="cpu")  # its id is taken, but it is not visible yet
    on_time = ninja.raise_alert(dev, check="memory")
    p2 = c.pull_alert_events(p1.cursor, clock.at)
    assert [e.alert_id for e in p2.items] == [on_time]
    ninja.release()
    clock.at += timedelta(seconds=30)
    p3 = c.pull_alert_events(p2.cursor, clock.at)
    assert [e.alert_id for e in p3.items] == [late]
    clock.at += timedelta(minutes=5)
    p4 = c.pull_alert_events(p3.cursor, clock.at)
    assert p4.items == []


def test_alerts_map_to_the_canonical_model(ninja) -> None:
    fw = device(ninja, "BA-FW01", "NMS_FIREWALL", org="Birchwood Accounting")
    ninja.raise_alert(fw, check="device_offline", severity="critical", message="Firewall not responding")
    c = connector(ninja)
    p1 = c.pull_alert_events(None, NOW)
    assert p1.items[0].severity is Severity.critical  # from its trigger: the document's Alert has none
    ninja.raise_alert(fw, check="disk_usage:C:", severity="critical")
    (event,) = c.pull_alert_events(p1.cursor, NOW).items
    dev = ninja.devices[fw]
    assert event.check == "disk_usage:C:" and event.severity is Severity.critical
    assert event.device_type is DeviceType.network and event.device_name == "BA-FW01"
    assert (event.client, event.site, event.device) == (str(dev["organizationId"]), str(dev["locationId"]), str(fw))
    assert event.client_name == "Birchwood Accounting" and event.site_name == "HQ"
    assert event.fingerprint == f"{dev['organizationId']}|{fw}|disk_usage:C:"


@pytest.mark.parametrize(
    ("data", "source_type", "name", "check"),
    [
        ({"message": {"code": "vmm_cond_memory_usage_ge", "params": {"target": "_average_"}}}, None, "x", "memory"),
        ({"message": {"code": "cond_disk_free_space_le", "params": {"target": "D:"}}}, None, "x", "disk_usage:D:"),
        ({"message": {"code": "cond_windows_service_state", "params": {"target": "Spooler"}}}, None, "x",
         "service:Spooler"),
        ({"message": {"code": "cond_windows_event_log", "params": {"source": "Disk", "eventId": 7}}}, None, "x",
         "eventlog:Disk:7"),
        ({"message": {"code": "agent_offline"}}, None, "x", "device_offline"),
        ({}, "CONDITION_AGENT_CPU", "x", "cpu"),
        ({}, "CONDITION_PENDING_REBOOT", "x", "reboot_pending"),
        ({}, "AV_QUARANTINE_THREAT", "x", "antivirus"),
        ({}, "CONDITION_NMS_NETWORK_TRAFFIC_BITS", "x", "nms_network_traffic_bits"),
        ({"message": {"code": "something_new"}}, None, "Custom Fields - Warranty", "condition:custom_fields_warranty"),
    ],
)
def test_condition_codes_and_source_types_map_to_shared_check_names(data, source_type, name, check) -> None:
    assert check_of(data=data, source_type=source_type, source_name=name) == check


def test_a_device_in_maintenance_alerts_muted(ninja) -> None:
    dev = device(ninja)
    ninja.set_maintenance(dev)
    ninja.raise_alert(dev, check="cpu")
    (event,) = connector(ninja).pull_alert_events(None, NOW).items
    assert event.muted is True


def test_a_blip_between_polls_is_raised_and_cleared(ninja, clock) -> None:
    dev = device(ninja)
    lasting = ninja.raise_alert(dev, check="cpu", condition_uid="11111111-2222-3333-4444-555555555555")
    c = connector(ninja)
    p1 = c.pull_alert_events(None, NOW)
    blip = ninja.raise_alert(dev, check="cpu", condition_uid="11111111-2222-3333-4444-555555555555")
    ninja.resolve(blip)
    clock.at += timedelta(minutes=1)
    p2 = c.pull_alert_events(p1.cursor, clock.at)
    assert [(e.kind, e.alert_id) for e in p2.items] == [("raised", blip), ("resolved", blip)]
    assert p2.items[0].check == p1.items[0].check == "cpu" and lasting != blip
    assert p2.items[0].fingerprint == p1.items[0].fingerprint


def test_malformed_records_are_rejected_with_a_reason_and_the_rest_go_on(ninja, clock) -> None:
    dev = device(ninja)
    good = ninja.raise_alert(dev, check="cpu")
    bad = ninja.raise_alert(dev, check="memory")
    ninja._advance()
    del ninja.alerts[bad]["createTime"]  # the document requires nothing; the connector needs a time
    c = connector(ninja)
    p1 = c.pull_alert_events(None, NOW)
    assert [e.alert_id for e in p1.items] == [good]
    assert len(p1.rejected) == 1 and "createTime" in p1.rejected[0].reason
    assert p1.rejected[0].payload["uid"] == bad
    ninja.alerts[bad]["createTime"] = NOW.timestamp()  # the vendor serves it properly again
    clock.at += timedelta(minutes=1)
    p1 = c.pull_alert_events(p1.cursor, clock.at)
    assert [e.alert_id for e in p1.items] == [bad] and p1.calls == 2 and p1.rejected == []
    ninja.add_activity(deviceId=dev, activityType="CONDITION", statusCode="TRIGGERED", activityTime=None)
    clock.at += timedelta(minutes=1)
    p2 = c.pull_alert_events(p1.cursor, clock.at)
    assert p2.items == [] and "activityTime" in p2.rejected[0].reason


def test_429_with_retry_after_is_honoured(ninja) -> None:
    device(ninja)
    c = connector(ninja)
    slept: list[float] = []
    c.http._sleep = slept.append
    c.http.limiter = Unlimited()  # the tenant-wide pause is the limiter's own test; here: the retry's wait
    ninja.fail_next(429, retry_after="7", path="/v2/alerts")
    assert c.pull_alert_events(None, NOW).items == []
    assert slept and slept[0] >= 7 and ninja.count("GET", "/v2/alerts") == 2


def test_5xx_then_success(ninja) -> None:
    c = connector(ninja)
    ninja.fail_next(502, times=2, path="/v2/activities")
    c.pull_alert_events(None, NOW)
    assert ninja.count("GET", "/v2/activities") == 3


def test_bad_secret_is_not_retried_and_names_the_setting(ninja) -> None:
    with pytest.raises(AuthError) as info:
        connector(ninja, secret="wrong-secret").pull_alert_events(None, NOW)
    assert "SWITCHBOARD_NINJAONE__CLIENT_SECRET" in str(info.value) and "wrong-secret" not in str(info.value)
    assert ninja.count("POST", "/ws/oauth/token") == 1 and calls_of(ninja) == []


def test_missing_permission_is_not_retried(ninja) -> None:
    ninja.fail_next(403, path="/v2/alerts", body={"resultCode": "FAILURE", "errorMessage": "scope monitoring needed"})
    c = connector(ninja)
    c.last_activity_id()
    with pytest.raises(PermissionDenied) as info:
        c.open_alerts()
    assert "scope monitoring needed" in str(info.value) and ninja.count("GET", "/v2/alerts") == 1


def test_expired_token_is_refreshed_once(ninja) -> None:
    c = connector(ninja)
    c.pull_alert_events(None, NOW)
    ninja.tokens.clear()
    c.open_alerts()
    assert ninja.count("POST", "/ws/oauth/token") == 2


def test_missing_settings_are_named() -> None:
    with pytest.raises(NotConfigured) as info:
        NinjaOne.from_settings(NinjaOneSettings(base_url="eu", client_id="x"))
    assert "SWITCHBOARD_NINJAONE__CLIENT_SECRET" in str(info.value)
    c = NinjaOne.from_settings(NinjaOneSettings(base_url="eu", client_id="x", client_secret="y"))
    assert str(c.http.client.base_url).rstrip("/") == "https://eu.ninjarmm.com"


def test_reset_alert_two_way(ninja, clock) -> None:
    dev = device(ninja)
    uid = ninja.raise_alert(dev, check="cpu")
    c = connector(ninja)
    p1 = c.pull_alert_events(None, NOW)
    c.resolve_alert(uid)
    assert ninja.reset_by_api == [uid] and ninja.alerts[uid]["_state"] == "reset"
    clock.at += timedelta(minutes=1)
    (event,) = c.pull_alert_events(p1.cursor, clock.at).items
    assert (event.kind, event.alert_id) == ("resolved", uid)
    with pytest.raises(NotFound):
        c.resolve_alert(uid)


def test_a_repeated_page_stops_instead_of_looping(ninja) -> None:
    oid = ninja.add_organization("Acme")
    lid = ninja.add_location(oid, "HQ")
    for i in range(1000):
        ninja.add_device(lid, f"WS{i:04d}")
    page = [ninja.device_record(d) for d in sorted(ninja.devices)]
    ninja.fail_next(200, times=2, path="/v2/devices$", body=page)
    with pytest.raises(PaginationLoop):
        list(connector(ninja).list_devices())


def test_clients_sites_and_devices(ninja) -> None:
    oid = ninja.add_organization("Acme Dental")
    hq, branch = ninja.add_location(oid, "HQ"), ninja.add_location(oid, "Branch")
    ws = ninja.add_device(branch, "ACME-WS01", node_class="WINDOWS_WORKSTATION", offline=True)
    c = connector(ninja)
    assert [(x.ref.id, x.name) for x in c.list_clients()] == [(str(oid), "Acme Dental")]
    assert {(s.ref.id, s.client.id) for s in c.list_sites()} == {(str(hq), str(oid)), (str(branch), str(oid))}
    (d,) = c.list_devices()
    assert (d.ref.id, d.site.id, d.device_type, d.online) == (str(ws), str(branch), DeviceType.workstation, False)


def test_webhook_carries_the_same_events_as_the_poll(ninja, clock) -> None:
    dev = device(ninja)
    c = connector(ninja)
    p1 = c.pull_alert_events(None, NOW)
    c.configure_webhook("https://switchboard.msp.example/hooks/ninjaone", "t0k3n-acme")
    assert ninja.webhook["expand"] == ["device"]
    uid = ninja.raise_alert(dev, check="disk_usage:C:", severity="MAJOR")
    clock.at += timedelta(minutes=1)
    polled = c.pull_alert_events(p1.cursor, clock.at).items
    (delivery,) = ninja.deliveries
    assert delivery.url.endswith("/hooks/ninjaone") and delivery.headers["X-Switchboard-Token"] == "t0k3n-acme"
    WEBHOOK.verify(delivery.headers, delivery.body, "t0k3n-acme", 0)
    for headers, code in (({"X-Switchboard-Token": "other"}, "bad_signature"), ({}, "unsigned")):
        with pytest.raises(WebhookRejected) as info:
            WEBHOOK.verify(headers, delivery.body, "t0k3n-acme", 0)
        assert info.value.code == code
    hooked = WEBHOOK.parse(delivery.headers, delivery.body).events
    assert [(e.id, e.client, e.device, e.check, e.severity) for e in hooked] == [
        (e.id, e.client, e.device, e.check, e.severity) for e in polled] and hooked[0].alert_id == uid


def test_webhook_without_a_usable_check_asks_for_a_poll(ninja) -> None:
    dev = device(ninja)
    NinjaOne.configure_webhook(connector(ninja), "https://sb.example/h", "t")
    uid = ninja.raise_alert(dev, check="brand_new_condition")
    ninja._advance()
    ninja.alerts[uid]["data"] = {}
    body = json.loads(ninja.deliveries[0].body)
    body["data"] = {"message": {"code": "zz_unknown"}}
    delivery = WEBHOOK.parse({}, json.dumps(body).encode())
    assert delivery.events == [] and delivery.ids == [uid]
    with pytest.raises(WebhookRejected) as info:
        WEBHOOK.parse({}, b'{"id": "x", "activityType": "CONDITION"}')
    assert info.value.code == "malformed"


def test_native_records_map_like_the_poll(ninja) -> None:
    dev = device(ninja)
    uid = ninja.raise_alert(dev, check="memory")
    c = connector(ninja)
    (polled,) = c.pull_alert_events(None, NOW).items
    (record,) = c.http.get_json("/v2/alerts")
    (event,) = native_events(record)
    assert (event.id, event.check, event.client, event.kind) == (polled.id, "memory", polled.client, "raised")
    reset = {**ninja.activities[-1], "statusCode": "RESET", "device": ninja.device_record(dev)}
    (cleared,) = native_events(reset)
    assert (cleared.kind, cleared.alert_id, cleared.client) == ("resolved", uid, polled.client)
    assert native_events({"id": 1, "activityTime": 1.0, "activityType": "ACTIONSET", "statusCode": "COMPLETED"}) == []


def test_an_answer_that_is_not_json_is_a_clear_error(ninja) -> None:
    from connectors.errors import MalformedRecord

    ninja.fail_next(200, path="/v2/alerts", raw=b"<html>Bad gateway</html>")
    with pytest.raises(MalformedRecord) as info:
        connector(ninja).open_alerts()
    assert "getAlerts" in str(info.value) and "not JSON" in str(info.value) and "Bad gateway" in info.value.payload
    ninja.contract.problems.clear()  # the injected page does not fit the document, on purpose


def test_the_document_check_is_not_vacuous_for_ninjaone() -> None:
    """The contract checks that guard every test above do catch what the document forbids."""
    import httpx

    from tests.conftest import document_or_skip

    doc = document_or_skip("ninjaone")
    base = "https://app.ninjarmm.com"
    ok = httpx.Request("GET", f"{base}/v2/activities?class=DEVICE&newerThan=5&pageSize=1000")
    assert doc.request_problems(ok) == []
    assert any("since" in p for p in doc.request_problems(httpx.Request("GET", f"{base}/v2/activities?since=5")))
    assert doc.request_problems(httpx.Request("GET", f"{base}/v2/activities?class=EVERYTHING")) != []
    assert doc.request_problems(httpx.Request("GET", f"{base}/v2/activities?newerThan=latest")) != []
    hook = httpx.Request("PUT", f"{base}/v2/webhook", json={"url": "https://x", "secret": "s"})
    assert any("secret" in p for p in doc.request_problems(hook))
    bad = httpx.Response(200, json=[{"uid": "u", "createTime": "yesterday"}])
    assert doc.response_problems(httpx.Request("GET", f"{base}/v2/alerts"), bad) != []
