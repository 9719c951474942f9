"""Hudu: companies and KB articles, paged and incremental."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import respx

from connectors.errors import AuthError
from connectors.hudu import Hudu, HuduSettings, text_of_html
from connectors.simulators.hudu import HuduSimulator


class Clock:
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


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


def test_articles_across_pages_and_drafts_skipped(hudu) -> None:
    for i in range(230):
        hudu.add_article(f"Article {i}", f"<p>body {i}</p>")
    hudu.add_article("Unfinished", "<p>draft</p>", draft=True)
    pulled = connector(hudu).pull_articles(None, hudu.now())
    assert len(pulled.items) == 230
    assert "Unfinished" not in {a.title for a in pulled.items}
    assert hudu.count("GET", "/articles") == 4  # 3 pages of 100 (the last short) + the empty page that ends it


def test_incremental_articles_by_updated_at(hudu, clock) -> None:
    ids = [hudu.add_article(f"A{i}", "<p>x</p>") for i in range(5)]
    c = connector(hudu)
    first = c.pull_articles(None, clock.at)
    clock.at += timedelta(hours=1)
    hudu.edit_article(ids[2], content="<p>new steps</p>")
    second = c.pull_articles(first.cursor, clock.at)
    assert [a.title for a in second.items] == ["A2"] and second.items[0].body == "new steps"
    assert "updated_at" in hudu.calls[-2].params


def test_html_becomes_readable_text() -> None:
    assert text_of_html("<h2>Steps</h2><ol><li>Check &amp; restart</li><li>Call ISP</li></ol>") == (
        "Steps\nCheck & restart\nCall ISP"
    )


def test_wrong_key(hudu) -> None:
    with pytest.raises(AuthError, match="SWITCHBOARD_HUDU__API_KEY"):
        connector(hudu, key="nope").pull_articles(None, hudu.now())


def test_malformed_article_is_rejected(hudu) -> None:
    hudu.add_article("Good", "<p>ok</p>")
    bad = hudu.add_article("Bad", "<p>x</p>")
    hudu.articles[bad]["name"] = None
    pulled = connector(hudu).pull_articles(None, hudu.now())
    assert [a.title for a in pulled.items] == ["Good"] and len(pulled.rejected) == 1


def test_5xx_then_success(hudu) -> None:
    hudu.add_company("Acme")
    hudu.fail_next(502, path="/companies")
    assert [c.name for c in connector(hudu).list_clients()] == ["Acme"]
