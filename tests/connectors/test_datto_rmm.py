"""Datto RMM: the connector checklist, against the simulator mounted in respx."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import respx

from connectors.canonical import DeviceType, Severity
from connectors.datto_rmm import DattoRmm, DattoRmmSettings, check_of
from connectors.errors import AuthError, PaginationLoop
from connectors.simulators.datto_rmm import DattoRmmSimulator

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def datto(sim):
    s = sim(DattoRmmSimulator, now=lambda: NOW)
    with respx.mock(assert_all_called=False) as router:
        s.mount(router)
        yield s


def connector(sim: DattoRmmSimulator, secret: str = "sim-datto-secret") -> DattoRmm:
    return DattoRmm.from_settings(DattoRmmSettings(base_url=sim.base_url, api_key="sim-datto-key", api_secret=secret))


def test_open_alerts_are_read_across_pages_at_the_vendors_max_page_size(datto) -> None:
    site = datto.add_site("Acme Dental", autotask_company_id="7001")
    dev = datto.add_device(site, "ACME-FS01", category="Server")
    for i in range(260):
        datto.raise_alert(dev, context={"@class": "perf_disk_usage_ctx", "diskName": f"D{i}:"})
    pulled = connector(datto).pull_alert_events(None, NOW)
    assert len(pulled.items) == 260 and len({e.alert_id for e in pulled.items}) == 260
    pages = [c for c in datto.calls if c.path.endswith("/alerts/open")]
    assert [c.params.get("max") for c in pages] == ["250", "250"]
    assert datto.count("POST", "/auth/oauth/token") == 1


def test_incremental_pull_reports_only_new_raises_and_clears(datto) -> None:
    site = datto.add_site("Acme Dental")
    dev = datto.add_device(site, "ACME-WS01")
    first = datto.raise_alert(dev)
    c = connector(datto)
    p1 = c.pull_alert_events(None, NOW)
    assert [(e.kind, e.alert_id) for e in p1.items] == [("raised", first)]
    second = datto.raise_alert(dev, context={"@class": "perf_resource_usage_ctx", "type": "CPU"})
    datto.resolve(first)
    p2 = c.pull_alert_events(p1.cursor, NOW)
    assert sorted((e.kind, e.alert_id) for e in p2.items) == sorted([("raised", second), ("resolved", first)])
    p3 = c.pull_alert_events(p2.cursor, NOW)
    assert p3.items == []
    assert json.loads(p3.cursor)["open"].keys() == {second}


def test_alerts_map_to_the_canonical_model(datto) -> None:
    site = datto.add_site("Birchwood Accounting")
    fw = datto.add_device(site, "BA-FW01", category="Network Device", device_class="rmmnetworkdevice")
    aid = datto.raise_alert(fw, priority="Critical", diagnostics="Firewall not responding",
                            context={"@class": "online_offline_status_ctx", "status": "OFFLINE"})
    (event,) = connector(datto).pull_alert_events(None, NOW).items
    assert event.alert_id == aid and event.kind == "raised" and event.source == "datto-rmm"
    assert event.check == "device_offline" and event.severity is Severity.critical
    assert event.device_type is DeviceType.network and event.device_name == "BA-FW01"
    assert event.client == site and event.client_name == "Birchwood Accounting"
    assert event.fingerprint == f"{site}|{fw}|device_offline"


@pytest.mark.parametrize(
    ("context", "check"),
    [
        ({"@class": "perf_resource_usage_ctx", "type": "MEMORY"}, "memory"),
        ({"@class": "perf_disk_usage_ctx", "diskName": "C:"}, "disk_usage:C:"),
        ({"@class": "eventlog_ctx", "source": "Disk", "code": "7"}, "eventlog:Disk:7"),
        ({"@class": "srvc_status_ctx", "processName": "Spooler", "status": "STOPPED"}, "service:Spooler"),
        ({"@class": "online_offline_status_ctx", "status": "ONLINE"}, "device_online"),
        ({"@class": "something_new_ctx"}, "something_new"),
    ],
)
def test_check_names(context: dict, check: str) -> None:
    assert check_of(context) == check


def test_malformed_alert_is_rejected_with_a_reason_and_the_rest_go_on(datto) -> None:
    site = datto.add_site("Acme")
    dev = datto.add_device(site, "ACME-WS01")
    good = datto.raise_alert(dev)
    bad = datto.raise_alert(dev)
    del datto.alerts[bad]["alertSourceInfo"]
    pulled = connector(datto).pull_alert_events(None, NOW)
    assert [e.alert_id for e in pulled.items] == [good]
    assert len(pulled.rejected) == 1
    assert "alertSourceInfo" in pulled.rejected[0].reason and pulled.rejected[0].payload["alertUid"] == bad


def test_429_with_retry_after_is_honoured(datto, monkeypatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("connectors.http.time.sleep", slept.append)
    datto.add_device(datto.add_site("Acme"), "ACME-WS01")
    datto.fail_next(429, retry_after="3", path="/alerts/open")
    c = connector(datto)
    c.http._sleep = slept.append
    assert c.pull_alert_events(None, NOW).items == []
    assert slept and slept[0] >= 3
    assert datto.count("GET", "/alerts/open") == 2


def test_5xx_then_success(datto) -> None:
    c = connector(datto)
    c.http._sleep = lambda s: None
    datto.fail_next(503, times=2, path="/alerts/open")
    c.pull_alert_events(None, NOW)
    assert datto.count("GET", "/alerts/open") == 3


def test_bad_secret_is_not_retried_and_says_which_setting(datto) -> None:
    with pytest.raises(AuthError) as info:
        connector(datto, secret="wrong").pull_alert_events(None, NOW)
    assert "SWITCHBOARD_DATTO_RMM__API_SECRET" in str(info.value)
    assert "wrong" not in str(info.value)
    assert datto.count("POST", "/auth/oauth/token") == 1


def test_expired_token_is_refreshed_once(datto) -> None:
    c = connector(datto)
    c.pull_alert_events(None, NOW)
    datto.tokens.clear()  # the vendor revoked every token
    c.pull_alert_events(None, NOW)
    assert datto.count("POST", "/auth/oauth/token") == 2


def test_a_repeated_next_page_url_stops_instead_of_looping(datto) -> None:
    dev = datto.add_device(datto.add_site("Acme"), "ACME-WS01")
    for _ in range(300):
        datto.raise_alert(dev)
    loop = {"pageDetails": {"count": 0, "totalCount": 0, "nextPageUrl": f"{datto.base_url}/api/v2/account/alerts/open?max=250&page=1"},
            "alerts": []}
    datto.fail_next(200, times=2, path=r"/alerts/open", body=loop)
    with pytest.raises(PaginationLoop):
        connector(datto).open_alerts()


def test_resolve_alert_two_way(datto) -> None:
    dev = datto.add_device(datto.add_site("Acme"), "ACME-WS01")
    aid = datto.raise_alert(dev)
    connector(datto).resolve_alert(aid)
    assert datto.alerts[aid]["resolved"] is True and datto.resolved_by_api == [aid]


def test_sites_carry_the_vendors_own_psa_links(datto) -> None:
    datto.add_site("Linked", autotask_company_id="7001")
    datto.add_site("Unlinked")
    clients = {c.name: c for c in connector(datto).list_clients()}
    assert clients["Linked"].links == {"autotask": "7001"} and clients["Unlinked"].links == {}


def test_resolved_alert_is_seen_even_if_it_cleared_between_polls(datto) -> None:
    dev = datto.add_device(datto.add_site("Acme"), "ACME-WS01")
    aid = datto.schedule_alert(dev, raise_at=NOW - timedelta(minutes=10), resolve_at=NOW - timedelta(minutes=2))
    c = connector(datto)
    # the first poll happened before the clear: simulate by a cursor that knew the alert as open
    cursor = json.dumps({"open": {aid: (NOW - timedelta(minutes=10)).isoformat()}})
    (event,) = c.pull_alert_events(cursor, NOW).items
    assert event.kind == "resolved" and event.at == NOW - timedelta(minutes=2)


def test_native_record_and_webhook_map_to_the_same_events(datto) -> None:
    import json as _json

    from connectors.datto_rmm import WEBHOOK, native_events
    from connectors.webhooks import WebhookRejected

    dev = datto.add_device(datto.add_site("Acme"), "ACME-WS01")
    aid = datto.raise_alert(dev)
    datto.resolve(aid)
    record = connector(datto).http.get_json(f"/api/v2/alert/{aid}")
    events = native_events(record)
    assert [e.kind for e in events] == ["raised", "resolved"] and events[0].alert_id == aid
    body = _json.dumps(record).encode()
    WEBHOOK.verify({"X-Switchboard-Token": "t0k3n"}, body, "t0k3n", 0)
    with pytest.raises(WebhookRejected) as info:
        WEBHOOK.verify({"X-Switchboard-Token": "wrong"}, body, "t0k3n", 0)
    assert info.value.code == "bad_signature"
    with pytest.raises(WebhookRejected):
        WEBHOOK.verify({}, body, "t0k3n", 0)
    assert WEBHOOK.parse({}, body).events == events
    with pytest.raises(WebhookRejected) as bad:
        WEBHOOK.parse({}, b'{"alertUid": 1}')
    assert bad.value.code == "malformed"


def test_sites_are_listed_as_their_own_client(datto) -> None:
    uid = datto.add_site("Acme Dental")
    (site,) = connector(datto).list_sites()
    assert site.ref.id == uid and site.client == site.ref and site.name == "Acme Dental"


def test_new_alerts_on_many_devices_read_the_site_not_each_device(datto) -> None:
    site = datto.add_site("Acme Dental")
    lone = datto.add_site("Birchwood")
    devices = [datto.add_device(site, f"ACME-WS{i:03d}") for i in range(300)]
    for dev in devices:
        datto.raise_alert(dev, context={"@class": "antivirus_ctx", "status": "NOTRUNNING"})
    datto.raise_alert(datto.add_device(lone, "BW-SRV01", category="Server"))
    pulled = connector(datto).pull_alert_events(None, NOW)
    assert len(pulled.items) == 301 and {e.device_type for e in pulled.items} == {DeviceType.workstation,
                                                                                  DeviceType.server}
    assert datto.count("GET", f"/site/{site}/devices") == 2  # 300 devices: two pages of 250
    assert datto.count("GET", "/api/v2/device/") == 1  # the lone device of the other site
    assert pulled.calls == 2 + 2 + 1
