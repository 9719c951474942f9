"""The learned model: fit, cross-validate, serialise, combine with the rules model."""

from __future__ import annotations

import random

import pytest

from rules.classify import Prediction, RulesClassifier
from rules.learned import CombinedClassifier, LearnedModel, cross_validate
from rules.taxonomy import load_taxonomy

TOPICS = {
    ("Hardware", "Printer - Troubleshooting"): ["printer", "toner", "paper jam", "tray", "prints blank"],
    ("Software/SaaS", "Outlook - Troubleshooting"): ["outlook", "mailbox", "inbox", "calendar invite", "pst"],
    ("Network", "VPN - Troubleshooting"): ["vpn", "anyconnect", "tunnel", "remote access", "from home"],
}
FILLER = ["please help", "since this morning", "again", "urgent", "thanks", "not working", "error", "hi team"]


def synthetic(n: int, seed: int = 1) -> list[dict[str, str]]:
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        (type_, subtype), words = list(TOPICS.items())[i % len(TOPICS)]
        rows.append({
            "summary": f"{rnd.choice(words)} {rnd.choice(FILLER)}",
            "description": " ".join(rnd.choice(words + FILLER) for _ in range(8)),
            "type": type_,
            "subtype": subtype,
        })
    return rows


@pytest.fixture(scope="module")
def model() -> LearnedModel:
    return LearnedModel.fit(synthetic(90))


def test_fit_predict(model: LearnedModel) -> None:
    p = model.predict("toner light on, paper jam", "")
    assert (p.type, p.subtype) == ("Hardware", "Printer - Troubleshooting")
    assert 0 < p.confidence <= 1
    assert set(model.labels) == {s for _, s in TOPICS}
    assert model.metadata["rows"] == 90 and model.metadata["format"].startswith("switchboard-classifier/")


def test_round_trip_bytes(model: LearnedModel) -> None:
    blob = model.to_bytes()
    again = LearnedModel.from_bytes(blob)
    texts = ["vpn tunnel keeps dropping", "outlook inbox empty", "printer tray stuck"]
    assert again.predict_texts(texts) == model.predict_texts(texts)
    assert again.metadata == model.metadata
    with pytest.raises(ValueError):
        LearnedModel.from_bytes(b"not a model")


def test_label_agnostic() -> None:
    rows = [{"text": f"{w} {f}", "label": lab} for lab, ws in (("Storage", ["disk", "quota", "share"]),
                                                               ("Access", ["login", "account", "badge"]))
            for w in ws for f in FILLER]
    m = LearnedModel.fit(rows)
    assert m.predict("disk quota full").subtype == "Storage"
    assert m.predict("disk quota full").type == "Storage"  # no types learned: the label stands for both


def test_cross_validated_accuracy() -> None:
    result = cross_validate(synthetic(60), folds=3)
    assert result["folds"] == 3 and result["rows"] == 60
    assert result["accuracy"] > 0.8 and 0 <= result["macro_f1"] <= 1


def test_needs_two_labels() -> None:
    with pytest.raises(ValueError, match="two different labels"):
        LearnedModel.fit([{"summary": "x", "subtype": "A"}] * 5)


class _Fixed:
    def __init__(self, subtype: str | None, confidence: float) -> None:
        self.p = Prediction("Hardware" if subtype else None, subtype, confidence)

    def predict(self, summary: str, description: str = "") -> Prediction:
        return self.p


@pytest.mark.parametrize(
    ("model_pred", "expected", "source"),
    [
        (("Outlook - Troubleshooting", 0.5), "Outlook - Troubleshooting", "combined"),  # agreement
        (("Printer - Troubleshooting", 0.9), "Printer - Troubleshooting", "model"),  # sure model wins
        (("Printer - Troubleshooting", 0.3), "Outlook - Troubleshooting", "rules"),  # unsure model: rules
        # more sure than the rules but below model_wins: the rules still decide
        (("Printer - Troubleshooting", 0.55), "Outlook - Troubleshooting", "rules"),
    ],
)
def test_combination_rule(model_pred: tuple[str, float], expected: str, source: str) -> None:
    tax = load_taxonomy()
    combined = CombinedClassifier(RulesClassifier(tax), _Fixed(*model_pred), taxonomy=tax)  # type: ignore[arg-type]
    p = combined.predict("outlook keeps asking for password")
    assert p.subtype == expected and p.source == source  # type: ignore[attr-defined]
    if source == "combined":
        rules_only = RulesClassifier(tax).predict("outlook keeps asking for password")
        assert p.confidence > rules_only.confidence


def test_a_model_from_a_handful_of_tickets_does_not_overrule_the_rules() -> None:
    """Trained on two tickets per label, the model's probabilities stay soft (no fitted
    temperature), so the rules' clear answer stands instead of the model's guess."""
    rows = [{"summary": text, "type": typ, "subtype": sub} for text, typ, sub in [
        ("printer jammed again", "Hardware", "Printer - Troubleshooting"),
        ("printer shows offline", "Hardware", "Printer - Troubleshooting"),
        ("new starter monday", "User Admin", "User - Onboard"),
        ("please set up account for new hire", "User Admin", "User - Onboard"),
        ("vpn will not connect from home", "Network", "VPN - Troubleshooting"),
        ("vpn drops every hour", "Network", "VPN - Troubleshooting"),
    ]]
    model = LearnedModel.fit(rows)
    tax = load_taxonomy()
    combined = CombinedClassifier(RulesClassifier(tax), model, taxonomy=tax)
    p = combined.predict("outlook keeps asking for password")
    assert p.subtype == "Outlook - Troubleshooting" and p.source == "rules"  # type: ignore[attr-defined]
