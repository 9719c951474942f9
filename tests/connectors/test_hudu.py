"""Hudu: the connector checklist — companies, folders and KB articles, paged and incremental."""

from __future__ import annotations

from datetime import timedelta

import pytest
import respx

from connectors.errors import AuthError, MalformedRecord
from connectors.hudu import Hudu, HuduSettings, text_of_html, vendor_of_integrator
from connectors.ratelimit import Limit
from connectors.simulators.hudu import HuduSimulator
from tests.helpers import Clock, virtual_time


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hudu(sim, clock):
    s = sim(HuduSimulator, now=clock)
    with respx.mock(assert_all_called=False) as router:
        s.mount(router)
        yield s


def connector(sim: HuduSimulator, key: str = "sim-hudu-key") -> Hudu:
    c = Hudu.from_settings(HuduSettings(base_url=sim.base_url, api_key=key))
    c.http._sleep = lambda s: None
    return c


def test_full_pull_pages_at_1000_and_drafts_are_skipped(hudu) -> None:
    for i in range(2300):
        hudu.add_article(f"Article {i}", f"<p>body {i}</p>")
    hudu.add_article("Unfinished", "<p>draft</p>", draft=True)
    pulled = connector(hudu).pull_articles(None, hudu.now())
    assert len(pulled.items) == 2300 and len({a.ref.id for a in pulled.items}) == 2300
    assert "Unfinished" not in {a.title for a in pulled.items} and pulled.withdrawn == []
    assert pulled.calls == 3  # ceil(2301 / 1000): the short third page ends it
    assert {c.params["page_size"] for c in hudu.calls} == {"1000"}


def test_incremental_articles_by_updated_at(hudu, clock) -> None:
    ids = []
    for i in range(1200):
        clock.at += timedelta(minutes=5)
        ids.append(hudu.add_article(f"A{i}", "<p>x</p>"))
    c = connector(hudu)
    first = c.pull_articles(None, clock.at)
    clock.at += timedelta(hours=1)
    hudu.edit_article(ids[2], content="<p>new steps</p>")
    hudu.edit_article(ids[700], draft=True)
    before = len(hudu.calls)
    second = c.pull_articles(first.cursor, clock.at)
    assert [a.title for a in second.items] == ["A2"] and second.items[0].body == "new steps"
    assert second.withdrawn == [str(ids[700])]  # taken back to draft: an index should drop it
    assert len(hudu.calls) - before == 1 and hudu.calls[-1].params["updated_at"].endswith(",")
    assert c.pull_articles(second.cursor, clock.at).items == []


def test_articles_carry_folder_path_and_absolute_links(hudu, clock) -> None:
    printing = hudu.add_folder("Printing")
    drivers = hudu.add_folder("Drivers", parent_id=printing)
    acme = hudu.add_company("Acme Dental")
    hudu.add_article("Printing - Not in Color", "<p>Reinstall the driver</p>", folder_id=drivers, company_id=acme)
    hudu.add_article("VPN - Unable to Login", "<p>Reset MFA</p>")
    hudu.articles[max(hudu.articles)]["url"] = "/kba/vpn-unable-to-login"
    c = connector(hudu)
    color, vpn = sorted(c.pull_articles(None, clock.at).items, key=lambda a: a.title)
    assert color.folder == "Printing / Drivers" and color.client is not None and color.client.id == str(acme)
    assert color.url and color.url.startswith("https://docs.msp.example/kba/")
    assert vpn.folder is None and vpn.url == "https://docs.msp.example/kba/vpn-unable-to-login"
    assert hudu.count("GET", "/folders") == 1
    clock.at += timedelta(minutes=1)
    hudu.edit_article(color.ref.id and int(color.ref.id), content="<p>Use the PCL6 driver</p>")
    c.pull_articles(None, clock.at)
    assert hudu.count("GET", "/folders") == 1  # known folders are not fetched again


def test_html_becomes_readable_text() -> None:
    assert text_of_html("<h2>Steps</h2><ol><li>Check &amp; restart</li><li>Call ISP</li></ol>") == (
        "Steps\nCheck & restart\nCall ISP"
    )


def test_wrong_key_is_not_retried_and_names_the_setting(hudu) -> None:
    with pytest.raises(AuthError, match="SWITCHBOARD_HUDU__API_KEY") as info:
        connector(hudu, key="nope-nope").pull_articles(None, hudu.now())
    assert "nope-nope" not in str(info.value)
    assert hudu.count("GET", "/articles") == 1


def test_missing_permission_is_not_retried(hudu) -> None:
    from connectors.errors import PermissionDenied

    hudu.fail_next(403, path="/companies", body={"error": "API key has no access to companies"})
    with pytest.raises(PermissionDenied, match="no access"):
        list(connector(hudu).list_clients())
    assert hudu.count("GET", "/companies") == 1


def test_malformed_article_is_rejected_and_the_rest_go_on(hudu) -> None:
    hudu.add_article("Good", "<p>ok</p>")
    bad = hudu.add_article("Bad", "<p>x</p>")
    hudu.articles[bad]["name"] = None
    pulled = connector(hudu).pull_articles(None, hudu.now())
    assert [a.title for a in pulled.items] == ["Good"]
    (rejected,) = pulled.rejected
    assert rejected.payload["id"] == bad and "name" in rejected.reason


def test_a_page_that_is_not_json_is_a_clear_error(hudu) -> None:
    hudu.fail_next(200, raw=b"<html>502 Bad Gateway</html>", path="/articles")
    with pytest.raises(MalformedRecord, match="not JSON"):
        connector(hudu).pull_articles(None, hudu.now())
    assert hudu.contract.problems == ["GET /api/v1/articles -> 200: response is not JSON"]
    hudu.contract.problems.clear()  # the contract checker saw the bad answer we injected, as it should


def test_5xx_then_success(hudu) -> None:
    hudu.add_company("Acme")
    hudu.fail_next(502, path="/companies")
    assert [c.name for c in connector(hudu).list_clients()] == ["Acme"]
    assert hudu.count("GET", "/companies") == 2


def test_429_with_retry_after(hudu) -> None:
    hudu.add_article("A", "<p>x</p>")
    c = connector(hudu)
    slept = virtual_time(c.http, Limit(300, 60.0))
    hudu.fail_next(429, retry_after="4", path="/articles")
    assert len(c.pull_articles(None, hudu.now()).items) == 1
    assert slept[0] >= 4 and hudu.count("GET", "/articles") == 2


def test_companies_carry_the_links_hudu_integrations_record(hudu) -> None:
    acme = hudu.add_company("Acme Dental", integrations=[("Autotask", "29684001"), ("Datto RMM", "site-9")])
    hudu.add_company("Birchwood", integrations=[("CW Manage", "250")])
    hudu.add_company("Gone Ltd", integrations=[("Autotask", "1")], archived=True)
    hudu.add_company("Cedar Law")
    clients = {c.name: c for c in connector(hudu).list_clients()}
    assert set(clients) == {"Acme Dental", "Birchwood", "Cedar Law"}
    assert clients["Acme Dental"].links == {"autotask": "29684001", "datto-rmm": "site-9"}
    assert clients["Birchwood"].links == {"connectwise-psa": "250"} and clients["Cedar Law"].links == {}
    found = connector(hudu).linked_orgs("autotask", ["29684001", "777"])
    assert [c.ref.id for c in found["29684001"]] == [str(acme)] and found["777"] == []


def test_integrator_names() -> None:
    assert vendor_of_integrator("CW Manage") == "connectwise-psa"
    assert vendor_of_integrator("autotask") == "autotask"
    assert vendor_of_integrator("HaloPSA") == "halopsa"
    assert vendor_of_integrator("Some CRM") is None


def test_check(hudu) -> None:
    hudu.add_company("Acme", integrations=[("Autotask", "1")])
    hudu.add_article("A", "<p>x</p>")
    results = connector(hudu).check()
    assert all(r.ok for r in results), results
    assert "1 companies readable, 1 linked" in results[1].detail
