"""The enrichment facade: what other code (pipelines, CLI, demo) relies on."""

from __future__ import annotations

import json

import pytest

from rules.enrich import Enricher, Enrichment, KBLink
from rules.kb_corpus import articles


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher.default()


def test_outlook_password_ticket_is_typed_and_linked(enricher: Enricher) -> None:
    e = enricher.enrich("outlook keeps asking for password")
    assert (e.type, e.subtype) == ("Software/SaaS", "Outlook - Troubleshooting")
    assert e.kb[0].title == "Office 365 - Outlook Continually Asking for Password"
    assert e.kb[0].ref.startswith("builtin:") and e.kb[0].url and e.kb[0].why
    assert e.confident and e.source == "rules" and 1 <= e.priority <= 4


def test_as_json_shape(enricher: Enricher) -> None:
    e = enricher.enrich("printer offline", "the whole office cannot print")
    doc = e.as_json()
    assert set(doc) == {"type", "subtype", "confidence", "priority", "kb"}
    assert all(set(k) == {"title", "url", "score"} for k in doc["kb"])
    json.dumps(doc)
    assert e.priority <= 2


def test_unknown_text_is_not_confident(enricher: Enricher) -> None:
    e = enricher.enrich("hello", "")
    assert e.subtype is None and not e.confident and e.kb == ()
    assert isinstance(e, Enrichment)


def test_custom_articles_and_threshold() -> None:
    e = Enricher.default(articles=articles()[:3], threshold=1.01).enrich("outlook keeps asking for password")
    assert not e.confident
    assert all(isinstance(k, KBLink) for k in e.kb)
    assert "Office 365 - Outlook Continually Asking for Password" not in [k.title for k in e.kb]


def test_model_bytes_combine_with_rules() -> None:
    from rules.learned import LearnedModel

    rows = [{"summary": f"outlook {w}", "subtype": "Outlook - Troubleshooting", "type": "Software/SaaS"}
            for w in ("crash", "error", "slow", "search broken", "not opening", "freezes")]
    rows += [{"summary": f"printer {w}", "subtype": "Printer - Troubleshooting", "type": "Hardware"}
             for w in ("jam", "offline", "streaks", "error", "not printing", "faded")]
    blob = LearnedModel.fit(rows).to_bytes()
    e = Enricher.default(model_bytes=blob).enrich("outlook crashes when opening")
    assert e.subtype == "Outlook - Troubleshooting" and e.source == "combined"


def test_combined_classifier_also_gets_the_kb_evidence() -> None:
    from rules.learned import CombinedClassifier, LearnedModel

    rows = [{"summary": f"outlook {w}", "subtype": "Outlook - Troubleshooting", "type": "Software/SaaS"}
            for w in ("crash", "error", "slow", "search broken", "not opening", "freezes")]
    rows += [{"summary": f"printer {w}", "subtype": "Printer - Troubleshooting", "type": "Hardware"}
             for w in ("jam", "offline", "streaks", "error", "not printing", "faded")]
    e = Enricher.default(model_bytes=LearnedModel.fit(rows).to_bytes())
    assert isinstance(e.classifier, CombinedClassifier)
    assert e._article_component  # built from the rules half
    assert e.enrich("PC will not boot").kb[0].title == "PC Will Not Boot Troubleshooting Process"


def test_a_confident_type_brings_its_components_articles_forward(enricher: Enricher) -> None:
    # few words in common with "Internet Problems Troubleshooting Process", but the ticket is
    # confidently a LAN fault, and taxonomy.yaml says that runbook serves LAN faults
    got = enricher.enrich("wifi keeps cutting out in the back office", "laptops lose the connection every few minutes")
    assert got.subtype == "LAN - Troubleshooting" and got.confident
    assert "Internet Problems Troubleshooting Process" in [k.title for k in got.kb]
