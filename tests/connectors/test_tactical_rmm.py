"""Tactical RMM: the connector checklist against the simulator mounted in respx.

Tactical publishes no API document; the simulator answers as the server's views do (as read in
``amidaware/tacticalrmm``, see ``connectors/tactical_rmm.py``) and records any request outside
that reading as a contract problem, which fails the test at teardown like a document mismatch.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from connectors.canonical import DeviceType, Severity
from connectors.errors import AuthError, PermissionDenied
from connectors.ratelimit import Unlimited
from connectors.simulators.tactical_rmm import TacticalRmmSimulator
from connectors.tactical_rmm import (
    WEBHOOK,
    WEBHOOK_BODY,
    Directory,
    TacticalRmm,
    TacticalRmmSettings,
    TrmmCheck,
    TrmmClient,
    check_from_message,
    check_of,
    native_events,
)
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
def trmm(sim, clock):
    s = sim(TacticalRmmSimulator, now=clock)
    with respx.mock(assert_all_called=False) as router:
        s.mount(router)
        yield s


def connector(sim: TacticalRmmSimulator, key: str = "sim-tactical-key") -> TacticalRmm:
    c = TacticalRmm.from_settings(TacticalRmmSettings(base_url=sim.base_url, api_key=key))
    c.http._sleep = lambda s: None
    return c


def agent(trmm: TacticalRmmSimulator, hostname: str = "ACME-FS01", monitoring_type: str = "server",
          client: str = "Acme Dental", site: str = "HQ") -> str:
    cid = next((c["id"] for c in trmm.clients.values() if c["name"] == client), None) or trmm.add_client(client)
    sid = next((s["id"] for s in trmm.sites.values() if s["client"] == cid and s["name"] == site), None)
    return trmm.add_agent(sid or trmm.add_site(cid, site), hostname, monitoring_type=monitoring_type)


def test_open_alerts_come_in_one_response_tactical_does_not_page(trmm) -> None:
    ag = agent(trmm)
    for i in range(600):
        trmm.raise_alert(ag, f"service:svc{i % 7}")
    c = connector(trmm)
    pulled = c.pull_alert_events(None, NOW)
    assert len(pulled.items) == 600 and len({e.alert_id for e in pulled.items}) == 600
    assert trmm.count("PATCH", "/alerts/") == 1
    assert pulled.calls == 4  # alerts, clients, all checks at once, agents


def test_incremental_pull_reports_only_the_changes(trmm, clock) -> None:
    ag = agent(trmm)
    first = trmm.raise_alert(ag, "cpu")
    c = connector(trmm)
    p1 = c.pull_alert_events(None, NOW)
    clock.at += timedelta(minutes=5)
    second = trmm.raise_alert(ag, "cpu")  # a check failing again is a new alert in Tactical
    trmm.resolve(first)
    p2 = c.pull_alert_events(p1.cursor, clock.at)
    assert sorted((e.kind, e.alert_id) for e in p2.items) == [("raised", str(second)), ("resolved", str(first))]
    assert p2.calls == 2  # the open list + the one alert that left it
    assert p2.items[0].at == clock.at - timedelta(seconds=1)
    p3 = c.pull_alert_events(p2.cursor, clock.at)
    assert p3.items == [] and p3.calls == 1
    assert set(json.loads(p3.cursor)["open"]) == {str(second)}


def test_many_clears_cost_one_more_call_reaching_back_to_the_oldest(trmm, clock) -> None:
    ag = agent(trmm)
    old = trmm.raise_alert(ag, "memory", raise_at=NOW - timedelta(days=9))
    recent = [trmm.raise_alert(ag, f"disk_usage:{d}:") for d in "DEF"]
    c = connector(trmm)
    p1 = c.pull_alert_events(None, NOW)
    clock.at += timedelta(hours=1)
    for aid in [old, *recent]:
        trmm.resolve(aid)
    trmm.reset_calls()
    p2 = c.pull_alert_events(p1.cursor, clock.at)
    assert sorted(e.alert_id for e in p2.items) == sorted(str(a) for a in [old, *recent])
    assert {e.kind for e in p2.items} == {"resolved"} and p2.calls == 2
    assert [c.method for c in trmm.calls] == ["PATCH", "PATCH"]
    assert trmm.filters_seen[-1] == {"timeFilter": 11, "resolvedFilter": True, "snoozedFilter": True}


def test_alerts_map_to_the_canonical_model(trmm) -> None:
    ag = agent(trmm, "BA-SRV01", client="Birchwood Accounting", site="Main Office")
    aid = trmm.raise_alert(ag, "disk_usage:C:", severity="error", snoozed=True)
    (event,) = connector(trmm).pull_alert_events(None, NOW).items
    cid = next(c["id"] for c in trmm.clients.values() if c["name"] == "Birchwood Accounting")
    sid = next(s["id"] for s in trmm.sites.values() if s["name"] == "Main Office")
    assert (event.alert_id, event.client, event.site, event.device) == (str(aid), str(cid), str(sid), ag)
    assert event.check == "disk_usage:C:" and event.severity is Severity.high and event.muted is True
    assert event.device_type is DeviceType.server and event.device_name == "BA-SRV01"
    assert event.client_name == "Birchwood Accounting" and event.site_name == "Main Office"


@pytest.mark.parametrize(
    ("check", "expected_severity"),
    [("device_offline", "error"), ("cpu", "warning"), ("memory", "info"), ("service:Spooler", "warning"),
     ("eventlog:Disk:7", "warning"), ("eventlog:Microsoft-Windows-GroupPolicy:1129", "error"),
     ("ping:10.0.0.1", "error"), ("script:Backup status", "warning"), ("disk_usage:D:", "error")],
)
def test_each_kind_of_check_keeps_its_canonical_name(trmm, check: str, expected_severity: str) -> None:
    trmm.raise_alert(agent(trmm), check, severity=expected_severity)
    (event,) = connector(trmm).pull_alert_events(None, NOW).items
    assert event.check == check
    assert event.severity is {"error": Severity.high, "warning": Severity.moderate, "info": Severity.info}[
        expected_severity]


def test_task_and_message_only_checks() -> None:
    assert check_of("task", None, 42) == "task:42"
    assert check_of("check", TrmmCheck(check_type="eventlog", log_name="Application", event_id=0,
                                       event_id_is_wildcard=True)) == "eventlog:Application:*"
    parsed = check_from_message("SRV has a diskspace check: Disk Space Check: Drive E: - Error Threshold: 10% that failed.")
    assert parsed is not None and check_of("check", parsed) == "disk_usage:E:"
    parsed = check_from_message("SRV has a winsvc check: Service Check: Spooler that failed.")
    assert parsed is not None and check_of("check", parsed) == "service:Spooler"


def test_a_client_created_after_the_first_poll_is_found(trmm, clock) -> None:
    trmm.raise_alert(agent(trmm), "cpu")
    c = connector(trmm)
    p1 = c.pull_alert_events(None, NOW)  # reads the client list once
    trmm.raise_alert(agent(trmm, client="New Client"), "cpu")
    clock.at += timedelta(minutes=1)
    (event,) = c.pull_alert_events(p1.cursor, clock.at).items
    assert event.client_name == "New Client" and trmm.count("GET", "/clients/$") == 2


def test_an_alert_whose_client_is_not_listed_is_quarantined_and_tried_again(trmm, clock) -> None:
    aid = trmm.raise_alert(agent(trmm), "cpu")
    trmm.fail_next(200, times=2, path="/clients/$", body=[])  # the client list, read and read again, lacks it
    c = connector(trmm)
    p1 = c.pull_alert_events(None, NOW)
    assert p1.items == [] and "not found in Tactical's client list" in p1.rejected[0].reason
    assert trmm.count("GET", "/clients/$") == 2
    p2 = c.pull_alert_events(p1.cursor, clock.at)
    assert [e.alert_id for e in p2.items] == [str(aid)]


def test_malformed_alert_is_rejected_with_a_reason_and_the_rest_go_on(trmm) -> None:
    ag = agent(trmm)
    good = trmm.raise_alert(ag, "cpu")
    bad = trmm.raise_alert(ag, "memory")
    trmm._advance()
    trmm.alerts[bad]["alert_time"] = None
    pulled = connector(trmm).pull_alert_events(None, NOW)
    assert [e.alert_id for e in pulled.items] == [str(good)]
    assert len(pulled.rejected) == 1 and "alert_time" in pulled.rejected[0].reason
    assert pulled.rejected[0].payload["id"] == bad


def test_429_with_retry_after_is_honoured(trmm) -> None:
    c = connector(trmm)
    slept: list[float] = []
    c.http._sleep = slept.append
    c.http.limiter = Unlimited()
    trmm.fail_next(429, retry_after="4", path="/alerts/")
    c.pull_alert_events(None, NOW)
    assert slept and slept[0] >= 4 and trmm.count("PATCH", "/alerts/") == 2


def test_5xx_then_success(trmm) -> None:
    trmm.fail_next(502, times=2, path="/alerts/")
    connector(trmm).pull_alert_events(None, NOW)
    assert trmm.count("PATCH", "/alerts/") == 3


def test_bad_key_is_not_retried_and_names_the_setting(trmm) -> None:
    with pytest.raises(AuthError) as info:
        connector(trmm, key="wrong-key-123").pull_alert_events(None, NOW)
    assert "SWITCHBOARD_TACTICAL_RMM__API_KEY" in str(info.value) and "wrong-key-123" not in str(info.value)
    assert trmm.count("PATCH", "/alerts/") == 1


def test_a_view_only_key_cannot_resolve_and_is_not_retried(trmm) -> None:
    trmm.api_keys["view-only-key"] = {"view"}
    aid = trmm.raise_alert(agent(trmm), "cpu")
    with pytest.raises(PermissionDenied) as info:
        connector(trmm, key="view-only-key").resolve_alert(str(aid))
    assert "permission" in str(info.value) and trmm.count("PUT") == 1


def test_resolve_and_acknowledge_two_way(trmm, clock) -> None:
    ag = agent(trmm)
    first, second = trmm.raise_alert(ag, "cpu"), trmm.raise_alert(ag, "memory")
    c = connector(trmm)
    p1 = c.pull_alert_events(None, NOW)
    c.resolve_alert(str(first))
    c.acknowledge_alert(str(second))
    assert trmm.resolved_by_api == [first] and trmm.alerts[second]["snoozed"] is True
    assert trmm.alerts[second]["snooze_until"] == NOW + timedelta(days=1)
    c.resolve_alert(str(first))  # again: still resolved, no error
    (event,) = c.pull_alert_events(p1.cursor, clock.at).items
    assert (event.kind, event.alert_id) == ("resolved", str(first))


def test_a_deleted_alert_is_dropped(trmm, clock) -> None:
    aid = trmm.raise_alert(agent(trmm), "cpu")
    c = connector(trmm)
    p1 = c.pull_alert_events(None, NOW)
    trmm.alerts.pop(aid)
    p2 = c.pull_alert_events(p1.cursor, clock.at)
    assert p2.items == [] and json.loads(p2.cursor)["open"] == {}


def test_requests_outside_the_reference_are_caught(trmm) -> None:
    problems = trmm.reference_problems(httpx.Request("PUT", f"{trmm.base_url}/alerts/5/",
                                                     headers={"X-API-KEY": "k"}, json={"type": "ack"}))
    assert problems and "type must be" in problems[0]
    problems = trmm.reference_problems(httpx.Request("PATCH", f"{trmm.base_url}/alerts/", json={"since": 1}))
    assert any("X-API-KEY" in p for p in problems) and any("'since'" in p for p in problems)
    assert trmm.reference_problems(httpx.Request("GET", f"{trmm.base_url}/api/v3/alerts/"))


def test_clients_sites_and_devices(trmm) -> None:
    ws = agent(trmm, "ACME-WS01", "workstation", site="Branch")
    c = connector(trmm)
    (client,) = c.list_clients()
    (site,) = c.list_sites()
    (device,) = c.list_devices()
    assert client.name == "Acme Dental" and site.name == "Branch" and site.client == client.ref
    assert (device.ref.id, device.site, device.client, device.device_type) == (ws, site.ref, client.ref,
                                                                                DeviceType.workstation)


def test_webhook_carries_the_same_events_as_the_poll(trmm, clock) -> None:
    ag = agent(trmm)
    trmm.set_actions("https://switchboard.msp.example/hooks/tactical-rmm", body=WEBHOOK_BODY,
                     headers={"X-Switchboard-Token": "{{global.switchboard_token}}"})
    trmm.global_store["switchboard_token"] = "t0k3n-acme"
    aid = trmm.raise_alert(ag, "eventlog:Disk:7", severity="error")
    c = connector(trmm)
    p1 = c.pull_alert_events(None, NOW)
    clock.at += timedelta(minutes=3)
    trmm.resolve(aid)
    p2 = c.pull_alert_events(p1.cursor, clock.at)
    failure, resolved = trmm.deliveries
    assert failure.headers["X-Switchboard-Token"] == "t0k3n-acme"
    for d in (failure, resolved):
        WEBHOOK.verify(d.headers, d.body, "t0k3n-acme", 0)
    with pytest.raises(WebhookRejected) as info:
        WEBHOOK.verify({"X-Switchboard-Token": "nope"}, failure.body, "t0k3n-acme", 0)
    assert info.value.code == "bad_signature"
    hooked = [*WEBHOOK.parse(failure.headers, failure.body).events, *WEBHOOK.parse({}, resolved.body).events]
    polled = [*p1.items, *p2.items]
    fields = ("id", "kind", "at", "client", "site", "device", "device_type", "check", "severity", "muted")
    assert [tuple(getattr(e, f) for f in fields) for e in hooked] == [
        tuple(getattr(e, f) for f in fields) for e in polled]
    with pytest.raises(WebhookRejected) as bad:
        WEBHOOK.parse({}, b'{"id": "{{alert.id}}"}')
    assert bad.value.code == "malformed"
    without_ids = {k: v for k, v in json.loads(failure.body).items() if k not in ("client_id", "site_id")}
    with pytest.raises(WebhookRejected, match="client_id"):
        WEBHOOK.parse({}, json.dumps(without_ids).encode())


def test_native_api_records_take_ids_from_the_directory(trmm) -> None:
    ag = agent(trmm)
    aid = trmm.raise_alert(ag, "disk_usage:C:")
    trmm.resolve(aid)
    trmm._advance()
    record = trmm.serialize_alert(trmm.alerts[aid])
    replayed = native_events(record)  # a replay file: names stand in for ids, marked as such
    assert replayed[0].client == "name:Acme Dental" and replayed[0].check == "disk_usage:C:"
    directory = Directory([TrmmClient.model_validate(c) for c in trmm.list_clients(httpx.Request("GET", "http://x"))])
    events = native_events(record, directory)
    assert [e.kind for e in events] == ["raised", "resolved"] and events[0].check == "disk_usage:C:"
    assert events[0].client == str(next(iter(trmm.clients)))
    with pytest.raises(ValueError, match="has no id"):
        native_events({**record, "client": "Unknown Co"}, directory)


def test_an_answer_that_is_not_a_list_is_rejected_and_changes_nothing(trmm, clock) -> None:
    aid = trmm.raise_alert(agent(trmm), "cpu")
    c = connector(trmm)
    p1 = c.pull_alert_events(None, NOW)
    trmm.fail_next(200, path="/alerts/", body={"detail": "maintenance"})
    p2 = c.pull_alert_events(p1.cursor, clock.at)
    assert p2.items == [] and "expected a list of records, got dict" in p2.rejected[0].reason
    assert p2.cursor == p1.cursor and p2.calls == 1  # nothing looked up, nothing cleared
    assert c.pull_alert_events(p2.cursor, clock.at).items == [] and str(aid) in json.loads(p2.cursor)["open"]


def test_a_cleared_alert_that_cannot_be_read_stays_open_until_it_can(trmm, clock) -> None:
    aid = trmm.raise_alert(agent(trmm), "cpu")
    c = connector(trmm)
    p1 = c.pull_alert_events(None, NOW)
    trmm.resolve(aid)
    trmm._advance()
    trmm.alerts[aid]["alert_time"] = None  # the vendor serves it broken for a while
    p2 = c.pull_alert_events(p1.cursor, clock.at)
    assert p2.items == [] and len(p2.rejected) == 1 and str(aid) in json.loads(p2.cursor)["open"]
    trmm.alerts[aid]["alert_time"] = NOW
    (event,) = c.pull_alert_events(p2.cursor, clock.at).items
    assert (event.kind, event.alert_id) == ("resolved", str(aid))
