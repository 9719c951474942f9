"""A local KB index: the best three troubleshooting articles for a ticket, with a human "why".

Ranking is BM25 per field, the title's score weighted ``TITLE_WEIGHT`` and added to the body's
(a title is the article's own summary of what it is for), after
three normalisations applied alike to articles and tickets:

- synonyms from ``taxonomy.yaml`` collapse to one word ("keeps prompting for pwd" and
  "continually asking for password" both become ``keep ask for password``);
- a light stemmer (``printers`` = ``printer``, ``asking`` = ``ask``);
- one typo per word is corrected against the index's own vocabulary (``pasword`` -> ``password``,
  ``outlok`` -> ``outlook``).

On top, a query word pair that occurs side by side in a title adds ``PAIR_BONUS`` (so "printer
offline" prefers "Printing - Printer Offline" to every body that mentions both words somewhere).
An optional ``hint`` (the classifier's component, e.g. "Printer") adds its words at a low weight.

Client articles: a documentation platform keeps some articles to one client (an IT Glue
organisation's documents, a Hudu company's articles). A search with a :class:`KBScope` returns
only the shared articles and that client's own — another client's runbook (its network layout,
its passwords' location) never reaches a ticket of a different client. The index itself stays
one index for all clients (word weights are computed over every article).

Built once per article set; a search is a few dictionary look-ups per query word.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from connectors.canonical import KBArticle
from rules.text import PhraseMatcher, Speller, phrase_tokens, stem, words

__all__ = ["KBHit", "KBIndex", "KBScope", "STOPWORDS"]

TITLE_WEIGHT = 2.0
PAIR_BONUS = 1.5
HINT_WEIGHT = 0.35
K1, B = 1.2, 0.75
MIN_SCORE = 0.3
"""Below this share of the rarest word's weight an article is not worth a Level 1 tech's click
(relative, so that it means the same for a 5-article and a 5,000-article KB)."""

_STOP_TEXT = (
    """a an the and or but if of to in on at for from by with without into onto over under as is are was were
    be been being am do doe did have ha had i im ive id me my mine we us our you your he him his she her it its
    they them their this that these those there here what when where which who whom why how can could would
    should will shall may might must not no yes please thank thanks hi hello dear regard regards best kind
    just also so too very really all any some get got gett go going one two again still now today
    know let need want like see seem help issue problem ticket user team anyone someone something thing
    about after before then than up down out off only same other more most much many each every
    windows office"""
)
STOPWORDS = frozenset(_STOP_TEXT.split()) | frozenset(stem(w) for w in _STOP_TEXT.split())
"""Words too common in tickets and runbooks to say anything about which article fits
(stemmed forms: ``does`` -> ``doe``, ``has`` -> ``ha``). "windows" and "office" are title prefixes
("Windows - …", "Office 365 - …") that tickets use for other things ("the whole office")."""


@dataclass(frozen=True)
class KBScope:
    """The articles one ticket may be linked to: the shared ones and those of ``client`` (the
    documentation platform's id of the ticket's client; None: the client is not known, so shared
    articles only)."""

    client: str | None = None

    def allows(self, article: KBArticle) -> bool:
        return article.client is None or (self.client is not None and article.client.id == self.client)


@dataclass(frozen=True)
class KBHit:
    article: KBArticle
    score: float
    why: str


class KBIndex:
    def __init__(self, articles: Iterable[KBArticle], *, synonyms: Sequence[Sequence[str]] = ()) -> None:
        self.articles: tuple[KBArticle, ...] = tuple(articles)
        self._syn = PhraseMatcher(
            (phrase_tokens(v), phrase_tokens(group[0])) for group in synonyms for v in group[1:]
        )
        titles = [self.normalise(a.title) for a in self.articles]
        bodies = [self.normalise(a.body) for a in self.articles]
        n = max(len(self.articles), 1)
        self._title_tf = [Counter(t) for t in titles]
        self._body_tf = [Counter(b) for b in bodies]
        self._title_len = [len(t) or 1 for t in titles]
        self._body_len = [len(b) or 1 for b in bodies]
        self._avg_title = sum(self._title_len) / n
        self._avg_body = sum(self._body_len) / n
        df: Counter[str] = Counter()
        postings: dict[str, list[int]] = {}
        for i, (t, b) in enumerate(zip(self._title_tf, self._body_tf, strict=True)):
            for w in set(t) | set(b):
                df[w] += 1
                postings.setdefault(w, []).append(i)
        self._postings = postings
        self._idf = {w: math.log(1 + (n - d + 0.5) / (d + 0.5)) for w, d in df.items()}
        self._title_pairs = [set(zip(t, t[1:], strict=False)) for t in titles]
        self.speller = Speller((w for w in df if len(w) >= 4 and not w.isdigit()), known=STOPWORDS)
        self._min = math.log(1 + (n - 0.5) / 1.5)  # the idf of a word found in one article
        self.vocabulary = frozenset(df)

    def __len__(self) -> int:
        return len(self.articles)

    # -- text -----------------------------------------------------------------------------------

    def _synonyms(self, tokens: list[str]) -> list[str]:
        matches = self._syn.find(tokens)
        if not matches:
            return tokens
        out: list[str] = []
        i = 0
        starts: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        for pos, toks, canon in matches:
            if pos not in starts or len(toks) > len(starts[pos][0]):
                starts[pos] = (toks, canon)  # type: ignore[assignment]
        while i < len(tokens):
            hit = starts.get(i)
            if hit:
                out.extend(hit[1])
                i += len(hit[0])
            else:
                out.append(tokens[i])
                i += 1
        return out

    def normalise(self, text: str, *, correct: bool = False) -> list[str]:
        toks = words(text)
        if correct:
            toks = self.speller.correct_all(toks)
        return [t for t in self._synonyms(toks) if t not in STOPWORDS]

    # -- search ---------------------------------------------------------------------------------

    def search(self, query: str, k: int = 3, *, hint: str | None = None, min_score: float = MIN_SCORE,
               scope: KBScope | None = None) -> list[KBHit]:
        """The best ``k`` articles for ``query`` scoring at least ``min_score`` x the rarest word's idf
        (within ``scope``; None: every article)."""
        return self.search_tokens(self.query_tokens(query), k, hint=hint, min_score=min_score, scope=scope)

    def query_tokens(self, query: str) -> list[str]:
        """A query's normalised words, to search more than once without redoing the work."""
        return self.normalise(query, correct=True)[:200]

    def search_tokens(
        self, q: list[str], k: int = 3, *, hint: str | None = None, min_score: float = MIN_SCORE,
        scope: KBScope | None = None,
    ) -> list[KBHit]:
        if not self.articles:
            return []
        weights: dict[str, float] = {}
        for w in q:
            weights[w] = 1.0  # a word repeated in a long ticket says no more than once
        if hint:
            for w in self.normalise(hint):
                weights.setdefault(w, HINT_WEIGHT)
        scores: dict[int, float] = {}
        matched: dict[int, list[tuple[float, str, str]]] = {}
        for w, qw in weights.items():
            idf = self._idf.get(w)
            if idf is None:
                continue
            for i in self._postings[w]:
                tf_t = self._title_tf[i].get(w, 0)
                tf_b = self._body_tf[i].get(w, 0)
                s = 0.0
                if tf_t:
                    norm = 1 - B + B * self._title_len[i] / self._avg_title
                    s += TITLE_WEIGHT * tf_t * (K1 + 1) / (tf_t + K1 * norm)
                if tf_b:
                    norm = 1 - B + B * self._body_len[i] / self._avg_body
                    s += tf_b * (K1 + 1) / (tf_b + K1 * norm)
                s *= qw * idf
                scores[i] = scores.get(i, 0.0) + s
                matched.setdefault(i, []).append((s, w, "title" if tf_t else "body"))
        pairs = set(zip(q, q[1:], strict=False))
        if pairs:
            for i in list(scores):
                shared = pairs & self._title_pairs[i]
                if shared:
                    scores[i] += PAIR_BONUS * len(shared)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        if scope is not None:
            ranked = [(i, sc) for i, sc in ranked if scope.allows(self.articles[i])]
        ranked = ranked[:k]
        return [
            KBHit(self.articles[i], round(s, 3), self._why(matched[i]))
            for i, s in ranked
            if s >= min_score * self._min
        ]

    @staticmethod
    def _why(matched: list[tuple[float, str, str]]) -> str:
        top = sorted(matched, reverse=True)[:5]
        title = [w for _, w, f in top if f == "title"]
        body = [w for _, w, f in top if f == "body"]
        parts = []
        if title:
            parts.append("title matches " + ", ".join(f"'{w}'" for w in title))
        if body:
            parts.append("text mentions " + ", ".join(f"'{w}'" for w in body))
        return "; ".join(parts)
