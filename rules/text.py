"""Text helpers shared by the classifier and the KB index: words, a light stemmer, phrase
matching and single-typo correction.

Everything expensive is done once, when a :class:`PhraseMatcher` or :class:`Speller` is built;
per-call work is a regex split, dictionary look-ups and a bounded cache of corrected words.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

__all__ = ["PhraseMatcher", "Speller", "drop_phrases", "phrase_tokens", "scrub", "stem", "words"]

_APOSTROPHE = re.compile(r"['\u2019`]")
_WORD = re.compile(r"[a-z0-9]+")
_SCRUB = re.compile(
    r"\b(?:phone|tel|telephone|cell|mobile|mob|fax|direct|office|main|ph|[mptfc])\s*[:.#]?\s*\+?[\d(][\d\s().-]{6,}\d"
    r"|[\w.+-]+@[\w-]+\.[\w.]+"
    r"|https?://\S+"
    r"|\b(?:re|fwd?|aw|wg)\s*:",
    re.IGNORECASE,
)


def scrub(text: str) -> str:
    """Drop labelled phone numbers ("Cell: 555-222-3333"), e-mail addresses, URLs and reply/forward
    prefixes ("RE: FW: ..."): signature and mail-chain furniture whose words ("cell", "office", "fw"
    the firewall) would otherwise read as evidence."""
    return _SCRUB.sub(" ", text) if text else text
_KEEP = frozenset({"ios", "mac", "dns", "bsod", "ssl", "tls", "vpn", "wan", "lan", "rds", "its", "this", "is",
                   "was", "has", "does", "gps", "os", "sms", "us", "status", "access", "address", "news",
                   "windows", "express", "less", "pass", "chassis", "bus", "plus", "previous", "various",
                   "campus", "virus", "business", "process", "wireless", "series", "canvas", "alias",
                   "citrix", "aps", "ups", "always", "perhaps", "across", "yes", "class", "glass", "miss", "monitoring", "accounting",
                   "teams", "expired"})


_HOST = re.compile(r"(ws|wks|wkstn|lt|rtr|sw|fw)\d{1,4}")
"""Device names built from a role prefix and a number (ACME-WS017, BR2-RTR01, SW02): the prefix
is the evidence ("ws" is a workstation, "rtr" a router), the number is not."""


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A deliberately light stemmer: plural and -ing/-ed endings, nothing clever.

    ``printers`` -> ``printer``, ``asking`` -> ``ask``, ``crashed`` -> ``crash``. Both the
    vocabulary and the text go through it, so the only requirement is that it is consistent.
    """
    host = _HOST.fullmatch(word)
    if host:
        return host.group(1)
    if len(word) <= 3 or word in _KEEP or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("ing") and len(word) > 5:
        base = word[:-3]
        if len(base) > 2 and base[-1] == base[-2] and base[-1] not in "ls":
            base = base[:-1]  # dropping -> drop, but calling -> call
        return base[:-1] if base.endswith("e") and len(base) > 4 and not base.endswith("ee") else base
    if word.endswith("ed") and len(word) > 4:
        base = word[:-2]
        if len(base) > 2 and base[-1] == base[-2] and base[-1] not in "ls":
            base = base[:-1]
        return base[:-1] if base.endswith("e") and len(base) > 4 and not base.endswith("ee") else base
    if word.endswith("es") and len(word) > 4 and word[-3] in "sxz":
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("e") and len(word) > 4 and not word.endswith("ee"):
        word = word[:-1]  # change / changed / changing all become "chang"
    return word


def words(text: str) -> list[str]:
    """Lower-cased, stemmed words; apostrophes vanish (``can't`` -> ``cant``)."""
    return [stem(w) for w in _WORD.findall(_APOSTROPHE.sub("", text.lower()))]


def phrase_tokens(phrase: str) -> tuple[str, ...]:
    return tuple(words(phrase))


class Speller:
    """Corrects a word to a vocabulary word one edit away (SymSpell-style deletion index).

    Only words of ``min_len`` letters or more that are not themselves in the vocabulary are
    corrected, and only when the correction is unambiguous enough (the most frequent candidate).
    """

    def __init__(self, vocabulary: Iterable[str], *, min_len: int = 5, known: Iterable[str] = ()) -> None:
        self.vocab = frozenset(w for w in vocabulary if w)
        self.known = self.vocab | frozenset(known)
        self.min_len = min_len
        index: dict[str, set[str]] = {}
        for w in self.vocab:
            if len(w) < min_len - 1:
                continue
            for d in self._deletes(w):
                index.setdefault(d, set()).add(w)
        self._index = {k: tuple(sorted(v)) for k, v in index.items()}
        self._cache: dict[str, str] = {}

    @staticmethod
    def _deletes(word: str) -> set[str]:
        out = {word}
        for i in range(len(word)):
            out.add(word[:i] + word[i + 1 :])
        return out

    def correct(self, word: str) -> str:
        if word in self.known or len(word) < self.min_len or word.isdigit():
            return word
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        best = word
        candidates: set[str] = set()
        for d in self._deletes(word):
            candidates.update(self._index.get(d, ()))
        good = [c for c in candidates if _one_edit(word, c)]
        if good:
            # prefer same first letter, then same length, then alphabetical (deterministic)
            good.sort(key=lambda c: (c[0] != word[0], abs(len(c) - len(word)), c))
            best = good[0]
        if len(self._cache) < 100_000:
            self._cache[word] = best
        return best

    def correct_all(self, tokens: Sequence[str]) -> list[str]:
        return [self.correct(t) for t in tokens]


def _one_edit(a: str, b: str) -> bool:
    """Levenshtein distance 1, or one transposition of neighbours."""
    if a == b:
        return False
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    if la > lb:
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


def drop_phrases(tokens: list[str], matcher: PhraseMatcher) -> list[str]:
    """``tokens`` without the words of any phrase ``matcher`` finds."""
    hits = matcher.find(tokens)
    if not hits:
        return tokens
    dropped: set[int] = set()
    for pos, toks, _ in hits:
        dropped.update(range(pos, pos + len(toks)))
    return [t for i, t in enumerate(tokens) if i not in dropped]


class PhraseMatcher:
    """Finds every occurrence of a set of phrases (token tuples) in a token list.

    Built once: ``first word -> [(phrase, payload), ...]`` with the longest phrases first, so
    matching is a dictionary look-up per token plus a slice compare per candidate.
    """

    def __init__(self, phrases: Iterable[tuple[tuple[str, ...], object]]) -> None:
        index: dict[str, list[tuple[tuple[str, ...], object]]] = {}
        for toks, payload in phrases:
            if toks:
                index.setdefault(toks[0], []).append((toks, payload))
        for entries in index.values():
            entries.sort(key=lambda e: -len(e[0]))
        self._index = index
        self.vocabulary = frozenset(t for entries in index.values() for toks, _ in entries for t in toks)

    def find(self, tokens: Sequence[str]) -> list[tuple[int, tuple[str, ...], object]]:
        """(position, phrase, payload) for each match; overlapping matches are all reported."""
        out: list[tuple[int, tuple[str, ...], object]] = []
        index = self._index
        n = len(tokens)
        for i, tok in enumerate(tokens):
            entries = index.get(tok)
            if not entries:
                continue
            for toks, payload in entries:
                k = len(toks)
                if k == 1 or (i + k <= n and tuple(tokens[i : i + k]) == toks):
                    out.append((i, toks, payload))
        return out
