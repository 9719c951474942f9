"""KB ranking: synonyms, typos, the top three and why."""

from __future__ import annotations

import pytest

from connectors.canonical import KBArticle, Ref
from rules.kb_corpus import articles
from rules.kb_index import KBIndex, KBScope
from rules.taxonomy import load_taxonomy

OUTLOOK = "Office 365 - Outlook Continually Asking for Password"


@pytest.fixture(scope="module")
def index() -> KBIndex:
    return KBIndex(articles(), synonyms=load_taxonomy().synonyms)


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("outlook keeps asking for password", OUTLOOK),
        ("Outlook keeps prompting for my pwd", OUTLOOK),
        ("outlok keps askin for pasword", OUTLOOK),
        ("printer offline", "Printing - Printer Offline"),
        ("printer shows ofline", "Printing - Printer Offline"),
        ("QuickBooks says H202 and is stuck in single user mode", "QuickBooks - H202 Error Stuck in single user mode"),
        ("PC will not boot", "PC Will Not Boot Troubleshooting Process"),
        ("need a deleted folder restored from unitrends", "Unitrends Backup - Restore files and folders"),
        ("vpn wont let me log in", "VPN - Unable to Login"),
    ],
)
def test_finds_the_article(index: KBIndex, query: str, title: str) -> None:
    hits = index.search(query)
    assert title in [h.article.title for h in hits], [h.article.title for h in hits]


def test_top_three_with_score_and_why(index: KBIndex) -> None:
    hits = index.search("outlook keeps asking for password")
    assert len(hits) == 3 and hits[0].article.title == OUTLOOK
    assert hits[0].score > hits[1].score >= hits[2].score > 0
    assert "outlook" in hits[0].why and "password" in hits[0].why


def test_nothing_relevant_returns_nothing(index: KBIndex) -> None:
    assert index.search("hello there") == []
    assert KBIndex([]).search("outlook") == []


def test_any_article_set() -> None:
    mine = [KBArticle(ref=Ref(vendor="hudu", id="7"), title="Zebra label printer calibration",
                      body="Hold the feed button until the light blinks twice.", url="https://hudu/kb/7")]
    (hit,) = KBIndex(mine).search("zebra printer labels misaligned")
    assert str(hit.article.ref) == "hudu:7"


def test_a_client_scope_keeps_other_clients_articles_out() -> None:
    def article(aid: str, title: str, client: str | None) -> KBArticle:
        return KBArticle(ref=Ref(vendor="hudu", id=aid), title=title, client=Ref(vendor="hudu", id=client) if client else None,
                         body="Outlook asks for the password again and again: clear the cached credentials.")

    index = KBIndex([article("1", "Outlook password prompts (all clients)", None),
                     article("2", "Acme Dental - Outlook password prompts with the Dentrix add-in", "acme"),
                     article("3", "Birch Law - Outlook password prompts with Worldox", "birch")])
    query = "outlook keeps asking for my password"
    assert {h.article.ref.id for h in index.search(query)} == {"1", "2", "3"}, "no scope: every article"
    assert {h.article.ref.id for h in index.search(query, scope=KBScope("acme"))} == {"1", "2"}
    assert {h.article.ref.id for h in index.search(query, scope=KBScope("birch"))} == {"1", "3"}
    assert {h.article.ref.id for h in index.search(query, scope=KBScope(None))} == {"1"}, "unknown client: shared only"
