"""IT Glue: the connector checklist against the simulator (which checks every request against the
parameters IT Glue's public reference declares)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
import respx

from connectors.errors import AuthError, MalformedRecord, NotConfigured, PaginationLoop
from connectors.itglue import ItGlue, ItGlueSettings
from connectors.ratelimit import Limit
from connectors.simulators.itglue import ItGlueSimulator
from tests.helpers import Clock, virtual_time


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def itg(sim, clock):
    s = sim(ItGlueSimulator, now=clock)
    with respx.mock(assert_all_called=False) as router:
        s.mount(router)
        yield s


def connector(s: ItGlueSimulator, key: str = "ITG.sim-itglue-key", **kw: object) -> ItGlue:
    settings = ItGlueSettings(base_url=s.base_url, api_key=key, **kw)  # type: ignore[arg-type]
    c = ItGlue.from_settings(settings)
    c.http._sleep = lambda seconds: None
    return c


def kb_type(s: ItGlueSimulator) -> int:
    return s.add_asset_type("KB Article", description="Troubleshooting articles")


def article(s: ItGlueSimulator, type_id: int, title: str, steps: str = "<p>Restart it.</p>", **kw: object) -> int:
    return s.add_asset(type_id, title, {"title": title, "steps": steps, "applies-to": {"type": "Configurations",
                                                                                       "values": []}}, **kw)


def test_full_pull_pages_at_1000_and_links_back(itg) -> None:
    t = kb_type(itg)
    for i in range(2500):
        article(itg, t, f"Article {i:04d}")
    other = itg.add_asset_type("Email")
    itg.add_asset(other, "Exchange 2013", {"type": "Exchange"})
    pulled = connector(itg, article_type_id=t).pull_articles(None, itg.now())
    assert len(pulled.items) == 2500 and len({a.ref.id for a in pulled.items}) == 2500
    assert pulled.calls == 3  # ceil(2500 / 1000): meta.next-page ends it, no extra empty page
    assert {c.params["page[size]"] for c in itg.calls} == {"1000"}
    first = pulled.items[0]
    assert first.url and first.url.startswith("https://msp.itglue.com/") and f"/records/{first.ref.id}" in first.url


def test_incremental_pull_picks_up_only_changes_in_one_call(itg, clock) -> None:
    t = kb_type(itg)
    ids = []
    for i in range(1500):  # written over a few weeks, as a real KB is
        clock.at += timedelta(minutes=20)
        ids.append(article(itg, t, f"A{i}"))
    c = connector(itg, article_type_id=t)
    first = c.pull_articles(None, clock.at)
    assert len(first.items) == 1500
    clock.at += timedelta(hours=1)
    itg.edit_asset(ids[3], traits={"steps": "<ol><li>Power-cycle the printer</li><li>Clear the queue</li></ol>"})
    itg.edit_asset(ids[900], name="A900 (revised)")
    before = len(itg.calls)
    second = c.pull_articles(first.cursor, clock.at)
    assert sorted(a.title for a in second.items) == ["A3", "A900 (revised)"]
    assert "Power-cycle the printer\nClear the queue" in next(a.body for a in second.items if a.title == "A3")
    assert len(itg.calls) - before == 1 and itg.calls[-1].params["sort"] == "-updated_at"
    third = c.pull_articles(second.cursor, clock.at)
    assert third.items == [] and third.calls == 1


def test_archived_articles_are_not_articles_and_tag_traits_are_not_text(itg) -> None:
    t = kb_type(itg)
    article(itg, t, "Printing - Printer Offline", "<p>Check the cable &amp; power</p>")
    article(itg, t, "Old VPN client", archived=True)
    (a,) = connector(itg, article_type_id=t).pull_articles(None, itg.now()).items
    assert a.title == "Printing - Printer Offline"
    assert a.body == "Printing - Printer Offline\nCheck the cable & power"
    (b,) = connector(itg, article_type_id=t, body_traits=["steps"]).pull_articles(None, itg.now()).items
    assert b.body == "Check the cable & power"


def test_429_with_retry_after_is_waited_out(itg) -> None:
    t = kb_type(itg)
    article(itg, t, "A")
    c = connector(itg, article_type_id=t)
    slept = virtual_time(c.http, Limit(3000, 300.0))
    itg.fail_next(429, retry_after="7", path="/flexible_assets")
    assert len(c.pull_articles(None, itg.now()).items) == 1
    assert slept and slept[0] >= 7 and sum(slept) < 9  # waited out once, not twice
    assert itg.count("GET", "/flexible_assets") == 2


def test_5xx_then_success(itg) -> None:
    itg.add_organization("Acme Dental")
    itg.fail_next(502, times=2, path="/organizations")
    assert [o.name for o in connector(itg).list_clients()] == ["Acme Dental"]
    assert itg.count("GET", "/organizations") == 3


@pytest.mark.parametrize("status", [403, 401])
def test_bad_key_is_not_retried_and_names_the_setting(itg, status: int) -> None:
    t = kb_type(itg)
    c = connector(itg, key="ITG.wrong-key", article_type_id=t)
    if status == 401:
        c.http.client.auth = None  # no key header at all
    with pytest.raises(AuthError) as info:
        c.pull_articles(None, itg.now())
    assert info.value.status == status and "SWITCHBOARD_ITGLUE__API_KEY" in str(info.value)
    assert "ITG.wrong-key" not in str(info.value)
    assert itg.count("GET", "/flexible_assets") == 1


def test_malformed_record_is_rejected_and_the_rest_go_on(itg) -> None:
    t = kb_type(itg)
    good = article(itg, t, "Good")
    bad = article(itg, t, "Bad")
    itg.assets[bad]["updated-at"] = "yesterday-ish"
    pulled = connector(itg, article_type_id=t).pull_articles(None, itg.now())
    assert [a.ref.id for a in pulled.items] == [str(good)]
    (rejected,) = pulled.rejected
    assert rejected.payload["id"] == str(bad) and "updated-at" in rejected.reason


def test_a_page_that_is_not_json_is_a_clear_error_and_the_cursor_does_not_move(itg) -> None:
    t = kb_type(itg)
    article(itg, t, "A")
    itg.fail_next(200, raw=b"<html>maintenance</html>", path="/flexible_assets")
    with pytest.raises(MalformedRecord, match="not JSON"):
        connector(itg, article_type_id=t).pull_articles(None, itg.now())
    assert itg.count("GET", "/flexible_assets") == 1


def test_a_repeated_next_page_raises_instead_of_looping(itg) -> None:
    t = kb_type(itg)
    stuck = {"data": [], "meta": {"current-page": 1, "next-page": 1, "total-pages": 9}}
    itg.fail_next(200, body=stuck, path="/flexible_assets")
    with pytest.raises(PaginationLoop):
        connector(itg, article_type_id=t).pull_articles(None, itg.now())


def test_article_type_not_set_names_the_setting_and_check_lists_the_types(itg) -> None:
    kb_type(itg)
    c = connector(itg)
    with pytest.raises(NotConfigured, match="SWITCHBOARD_ITGLUE__ARTICLE_TYPE_ID"):
        c.pull_articles(None, itg.now())
    orgs, articles = c.check()
    assert orgs.ok and "organizations readable" in orgs.detail
    assert not articles.ok and "'KB Article'" in articles.detail


def test_check_with_everything_set(itg) -> None:
    t = kb_type(itg)
    article(itg, t, "A")
    results = connector(itg, article_type_id=t).check()
    assert all(r.ok for r in results), results
    assert "1 articles readable" in results[1].detail


def test_organizations_synced_from_the_psa_are_found_by_its_company_id(itg) -> None:
    acme = itg.add_organization("Acme Dental Group", psa=("autotask", "29684001"))
    itg.add_organization("Acme Dental", psa=("manage", "29684001"))  # same id, other PSA: not a match
    itg.add_organization("Birchwood")
    found = connector(itg).linked_orgs("autotask", ["29684001", "424242"])
    assert [o.ref.id for o in found["29684001"]] == [str(acme)] and found["424242"] == []
    assert found["29684001"][0].links == {"autotask": "29684001"}
    assert connector(itg).linked_orgs("halopsa", ["1"]) == {}  # IT Glue does not sync with HaloPSA


def test_regions_choose_the_host() -> None:
    assert ItGlueSettings(region="eu").effective_base_url == "https://api.eu.itglue.com"
    assert ItGlueSettings(region="au").effective_base_url == "https://api.au.itglue.com"
    assert ItGlueSettings().effective_base_url == "https://api.itglue.com"


def test_get_one_article(itg) -> None:
    t = kb_type(itg)
    aid = article(itg, t, "VPN - Unable to Login", "<p>Reset the MFA token</p>")
    a = connector(itg, article_type_id=t).get_article(str(aid))
    assert a.title == "VPN - Unable to Login" and "Reset the MFA token" in a.body


def test_the_simulator_flags_requests_the_reference_does_not_declare(itg) -> None:
    with httpx.Client(base_url=itg.base_url, headers={"x-api-key": itg.api_key}) as client:
        ok = client.get("/flexible_assets", params={"filter[flexible_asset_type_id]": "1"})
        client.get("/organizations", params={"page[size]": "5000", "filter[updated_at]": "last week"})
    assert ok.status_code == 400  # the required filter is spelled with dashes
    problems = list(itg.contract.problems)
    itg.contract.problems.clear()  # this test made them on purpose
    assert any("filter[flexible_asset_type_id]" in p and "not documented" in p for p in problems)
    assert any("required parameter 'filter[flexible-asset-type-id]'" in p for p in problems)
    assert any("page[size] above the maximum" in p for p in problems)
    assert any("filter[updated_at]" in p and "start,end" in p for p in problems)
    assert json.loads(ok.content)["errors"][0]["status"] == "400"


def test_an_edit_while_paging_is_neither_read_twice_nor_lost(itg, clock) -> None:
    t = kb_type(itg)
    ids = []
    for i in range(1500):
        clock.at += timedelta(minutes=1)
        ids.append(article(itg, t, f"A{i}"))
    c = connector(itg, article_type_id=t)
    edited: list[int] = []

    def editor_saves_an_old_article(query: dict[str, str]) -> None:  # between our first and second page
        if query.get("page[number]") == "2" and not edited:
            clock.at += timedelta(minutes=1)
            itg.edit_asset(ids[10], name="A10 (edited)")
            edited.append(ids[10])

    itg.before_assets_page = editor_saves_an_old_article
    sync_start = clock.at
    first = c.pull_articles(None, sync_start)
    titles = [a.title for a in first.items]
    assert len(titles) == len(set(titles))  # the article pushed onto page 2 by the edit is not read twice
    assert len(titles) == 1499 and "A10" not in titles  # the edited one jumped to page 1, already read…
    second = c.pull_articles(first.cursor, clock.at)
    assert [a.title for a in second.items] == ["A10 (edited)"]  # …so it comes with the next pull
