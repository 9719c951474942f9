"""KB ranking: synonyms, typos, the top three and why."""

from __future__ import annotations

import pytest

from connectors.canonical import KBArticle, Ref
from rules.kb_corpus import articles
from rules.kb_index import KBIndex
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
