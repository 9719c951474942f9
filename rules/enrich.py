"""The enrichment facade: type, subtype, priority and KB links for one ticket.

Everything else (pipelines, CLI, demo) goes through :class:`Enricher`::

    enricher = Enricher.default()                       # taxonomy + priority YAML, built-in KB
    e = enricher.enrich("Outlook keeps asking for password", "since this morning", vip=True)
    e.subtype, e.priority, [k.title for k in e.kb], e.confident

Order of work for one ticket: KB search (BM25, synonyms, typos) -> classify, with the component of
the best-matching article as extra evidence (``KB_PRIOR``) -> KB re-ranked with the predicted
component as a hint -> priority from impact x urgency, informed by the component and the action.

Pure: no I/O except reading the YAML (and the built-in corpus) in :meth:`Enricher.default`.
``confident`` is ``confidence >= threshold``; below it the caller should leave type/subtype to
the dispatcher and only suggest them (the threshold is the caller's setting, default
:data:`DEFAULT_THRESHOLD`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from connectors.canonical import KBArticle
from rules.classify import Prediction, RulesClassifier
from rules.kb_index import KBIndex, KBScope
from rules.learned import CombinedClassifier
from rules.priority import PriorityConfig, PriorityMatrix, load_priority
from rules.taxonomy import TaxonomyConfig, load_taxonomy
from rules.text import words

__all__ = ["DEFAULT_THRESHOLD", "Classifier", "Enricher", "Enrichment", "KBLink"]

DEFAULT_THRESHOLD = 0.5
KB_PRIOR = 2.0
"""Score the best KB article's component gets (a strong keyword is worth 3, in the summary 6)."""
KB_FULL_SCORE = 8.0
"""A KB score at which that prior counts in full; weaker matches count in proportion."""
KB_COMPONENT_BONUS = 4.0
"""Added (times the confidence) to an article of the predicted component when the prediction is
confident: the classifier's reading of the whole ticket says which articles are about it ("2 summer
interns" is an onboarding, so the onboarding SOP, though the words barely overlap). Measured on the
studied sets (KB top-3): 0 -> 4 kept dev at 0.962 and lifted hold-out 1 0.918 -> 0.929 and hold-out 2
0.876 -> 0.897; 9 started to cost (hold-out 2 0.887)."""
KB_CANDIDATES = 12
"""Articles ranked before the bonus re-orders them (any article in the top 3 after it is in these)."""


class Classifier(Protocol):
    source: str

    def predict(self, summary: str, description: str = "") -> Prediction: ...


@dataclass(frozen=True)
class KBLink:
    title: str
    url: str | None
    score: float
    why: str
    ref: str
    """``vendor:id`` of the article."""


@dataclass(frozen=True)
class Enrichment:
    type: str | None
    subtype: str | None
    confidence: float
    priority: int
    kb: tuple[KBLink, ...]
    reasons: tuple[str, ...]
    confident: bool
    source: str
    """Which model decided: ``rules``, ``model`` or ``combined`` (both agreed)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "subtype": self.subtype,
            "confidence": self.confidence,
            "priority": self.priority,
            "kb": [{"title": k.title, "url": k.url, "score": k.score} for k in self.kb],
        }


class Enricher:
    def __init__(
        self,
        *,
        taxonomy: TaxonomyConfig,
        kb: KBIndex,
        classifier: Classifier | None = None,
        priority_matrix: PriorityMatrix | PriorityConfig | None = None,
        threshold: float | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.kb = kb
        self.classifier: Classifier = classifier or RulesClassifier(taxonomy, known_words=kb.vocabulary)
        if priority_matrix is None:
            priority_matrix = load_priority()
        if isinstance(priority_matrix, PriorityConfig):
            priority_matrix = PriorityMatrix(priority_matrix)
        self.priority = priority_matrix
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        # each article's components (taxonomy.yaml kb_components, else the rules model on its title):
        # the best KB match for a ticket is evidence for its main component (a nearest neighbour,
        # found with the body's many words); a confident prediction favours its component's articles
        self._article_component: dict[str, str] = {}
        self._component_articles: dict[str, set[str]] = {}
        rules = self.classifier if isinstance(self.classifier, RulesClassifier) else getattr(
            self.classifier, "rules", None)
        for a in kb.articles:
            named = taxonomy.kb_components_of(a.title)
            if not named and isinstance(rules, RulesClassifier):
                p = rules.predict(a.title)
                st = taxonomy.subtype(p.subtype) if p.subtype else None
                named = (st.component,) if st and p.confidence >= 0.5 else ()
            if named:
                self._article_component[str(a.ref)] = named[0]
                for component in named:
                    self._component_articles.setdefault(component, set()).add(str(a.ref))

    @classmethod
    def default(
        cls,
        config_dir: Path | str | None = None,
        articles: Iterable[KBArticle] | None = None,
        model_bytes: bytes | None = None,
        *,
        threshold: float | None = None,
    ) -> Enricher:
        """Taxonomy and priority YAML from ``config_dir`` (else the defaults); ``articles`` None means
        the built-in corpus; ``model_bytes`` None means the rules model alone."""
        taxonomy = load_taxonomy(config_dir)
        if articles is None:
            from rules.kb_corpus import articles as builtin

            articles = builtin()
        kb = KBIndex(articles, synonyms=taxonomy.synonyms)
        rules = RulesClassifier(taxonomy, known_words=kb.vocabulary)
        classifier: Classifier = rules
        if model_bytes is not None:
            from rules.learned import LearnedModel

            classifier = CombinedClassifier(rules, LearnedModel.from_bytes(model_bytes), taxonomy=taxonomy)
        return cls(
            taxonomy=taxonomy,
            kb=kb,
            classifier=classifier,
            priority_matrix=PriorityMatrix(load_priority(config_dir)),
            threshold=threshold,
        )

    def enrich(
        self,
        summary: str,
        description: str = "",
        *,
        severity: str | None = None,
        vip: bool = False,
        affected: int | None = None,
        kb_scope: KBScope | None = None,
    ) -> Enrichment:
        """``kb_scope``: the ticket's client, so another client's articles are never linked (None:
        every article — the CLI and the benchmarks, which have no clients)."""
        summary = summary or ""
        description = description or ""
        query = self.kb.query_tokens(f"{summary}\n{summary}\n{description[:4000]}")
        hits = self.kb.search_tokens(query, 3, scope=kb_scope)
        prior = None
        if hits and self._article_component:
            comp = self._article_component.get(str(hits[0].article.ref))
            if comp:
                prior = {comp: KB_PRIOR * min(1.0, hits[0].score / KB_FULL_SCORE)}
        if prior and isinstance(self.classifier, RulesClassifier | CombinedClassifier):
            pred = self.classifier.predict(summary, description, prior=prior)
        else:
            pred = self.classifier.predict(summary, description)
        source = str(getattr(pred, "source", None) or getattr(self.classifier, "source", "rules"))
        st = self.taxonomy.subtype(pred.subtype) if pred.subtype else None
        if st is not None:  # rank again with the component's name as a light hint ("Printer")
            hits = self.kb.search_tokens(query, KB_CANDIDATES, hint=st.component, scope=kb_scope)
            if pred.confidence >= self.threshold:  # and its articles ahead, in proportion to the confidence
                favoured = self._component_articles.get(st.component, set())
                bonus = KB_COMPONENT_BONUS * pred.confidence
                hits = sorted(
                    (replace(h, score=round(h.score + bonus, 3)) if str(h.article.ref) in favoured else h
                     for h in hits), key=lambda h: -h.score)
            hits = hits[:3]
        assessment = self.priority.assess(
            words(summary) + words(description[:4000]), severity=severity, vip=vip, affected=affected,
            component=st.component if st else None, action=st.action if st else None,
            raw_text=f"{summary}\n{description[:4000]}",
        )
        kb = tuple(
            KBLink(h.article.title, h.article.url, h.score, h.why, str(h.article.ref)) for h in hits
        )
        reasons = tuple(pred.reasons) + tuple(f"priority P{assessment.priority}: {r}" for r in assessment.reasons)
        return Enrichment(
            type=pred.type,
            subtype=pred.subtype,
            confidence=pred.confidence,
            priority=assessment.priority,
            kb=kb,
            reasons=reasons,
            confident=pred.subtype is not None and pred.confidence >= self.threshold,
            source=source,
        )
