"""The rules/keyword classifier: type and subtype from the taxonomy's vocabulary alone.

How a ticket is scored (all of it data in ``taxonomy.yaml``):

1. Words: signature furniture dropped (labelled phone numbers, addresses, the ``ignore`` phrases
   such as "sent from my iphone"), lower-cased, lightly stemmed, one-typo corrected against the
   vocabulary (``printr`` -> ``printer``). The summary counts twice, the description once (its
   first ``max_words`` words).
2. Component: every phrase of a component that occurs adds its weight (``strong`` 3, ``words`` 1;
   a phrase counts once per field). Longest match wins a position: "print server" (Print
   Management) hides the "print" (Printer) inside it. Action words lend a quarter of their weight
   to the components that have that action ("install" leans to software); an action only one
   component has lends three quarters ("no longer works here" is Offboard, so User; "restore" is
   backups).
   A component that ``refines`` a broader one (Print Management refines Printer) also takes the
   broader one's word score once its own words reach ``REFINE_MIN``: "printer" plus "print queue"
   is the print server, while "printer" alone stays the printer.
   The best-scoring component gives the type.
3. Action: among that component's actions only, the action words that occur add their weight
   (the component's own ``action_words`` 2, else the global ``strong`` 3 / ``words`` 1); the
   component's default action gets a small head start, so "printer jammed" with no action word is
   Troubleshooting. Restricting to the component's actions is what keeps "install" meaning
   Add/Remove/Change for a printer and Install/Reinstall/Update for Chrome. Generic words for an
   action the component lacks count toward its nearest one (``FALLBACK``: "add a cron job" is
   Linux - Configuration). Where the component's own action words and a generic list found the
   same words, they count once. Generic action words lying strictly inside a longer component phrase
   do not count, symptom (Troubleshooting) words and the component's own action words aside:
   "signature pad" names a peripheral, not a Configuration of a signature.
4. Outside evidence: ``prior`` adds a score to named components — the enricher passes the
   component of the best-matching KB article (scaled by how well it matched), so a ticket whose
   words are all in the article's body but none in the taxonomy still lands somewhere sensible.
5. Confidence: a softmax of the component scores against a "none of these" score, times the
   square root of the action's share of its softmax — so a lone weak word gives a low confidence and two components
   neck and neck give about half.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, cast

from rules.taxonomy import Component, TaxonomyConfig
from rules.text import PhraseMatcher, Speller, drop_phrases, phrase_tokens, scrub, words

__all__ = ["Prediction", "RulesClassifier"]

STRONG, WORD, OWN_ACTION = 3.0, 1.0, 2.0
SUMMARY_WEIGHT = 2.0
NONE_SCORE = 2.0
"""Score of "no component": a ticket needs more than one weak word to be typed with confidence."""
TEMPERATURE = 1.6
DEFAULT_PRIOR = 0.6
ACTION_SHARE, ACTION_CAP = 0.25, 8.0
OWN_ACTION_SHARE = 0.75
"""Share for an action only one component has (Offboard, Password Reset, File Restore): its words
name the component as surely as the component's own words do."""
REFINE_MIN = 2.0
"""A component that ``refines`` another (Print Management refines Printer) takes the broader one's
word score once its own words reach this much (a strong phrase, or a weak one in the summary)."""
SYMPTOM = "Troubleshooting"
"""Symptom words inside a component phrase still count ("service stopped", "phone won't charge" name
a fault as well as a component); other action words inside one do not."""
FALLBACK = {"Add/Remove/Change": ("Configuration",)}
"""Where a component lacks an action, the generic words for it count toward the first of these it
has (unless the same words already name one of its actions): "add a cron job" on Linux is a change
to its configuration."""


@dataclass(frozen=True)
class Prediction:
    type: str | None
    subtype: str | None
    confidence: float
    reasons: tuple[str, ...] = ()
    alternatives: tuple[tuple[str, float], ...] = ()
    """Other subtypes considered, with their share of the confidence."""


@dataclass(frozen=True)
class _Comp:
    index: int
    type: str
    name: str
    spec: Component
    actions: tuple[str, ...]
    subtypes: tuple[str, ...]
    default: str


class _Hit(NamedTuple):
    """One action phrase found: whose (component index, -1 for the generic lists), which action,
    its weight in its field, and where (field 0 summary / 1 description, token span)."""

    ci: int
    action: str
    weight: float
    phrase: str
    field: int
    start: int
    end: int


def _dedupe(entries: list[tuple[tuple[str, ...], object]], key_end: int, weight_at: int) -> list[tuple[tuple[str, ...], object]]:
    """One entry per (words, owner): "printer" and "printers" are the same phrase once stemmed;
    the higher weight wins."""
    best: dict[tuple[object, ...], tuple[tuple[str, ...], object]] = {}
    for toks, payload in entries:
        key = (toks, *payload[: key_end + 1])  # type: ignore[index]
        if key not in best or payload[weight_at] > best[key][1][weight_at]:  # type: ignore[index]
            best[key] = (toks, payload)
    return list(best.values())


class RulesClassifier:
    """Built once from a taxonomy; :meth:`predict` is pure and allocation-light."""

    source = "rules"

    def __init__(self, taxonomy: TaxonomyConfig, *, known_words: Iterable[str] = (), max_words: int = 400) -> None:
        self.taxonomy = taxonomy
        self.max_words = max_words
        comps: list[_Comp] = []
        comp_entries: list[tuple[tuple[str, ...], object]] = []
        action_entries: list[tuple[tuple[str, ...], object]] = []
        for type_name, components in taxonomy.types.items():
            for comp_name, spec in components.items():
                c = _Comp(
                    len(comps),
                    type_name,
                    comp_name,
                    spec,
                    tuple(spec.actions),
                    tuple(spec.subtype_name(comp_name, a) for a in spec.actions),
                    spec.default(),
                )
                comps.append(c)
                for p in spec.strong:
                    comp_entries.append((phrase_tokens(p), (c.index, STRONG, p)))
                for p in spec.words:
                    comp_entries.append((phrase_tokens(p), (c.index, WORD, p)))
                for action, phrases in spec.action_words.items():
                    for p in phrases:
                        action_entries.append((phrase_tokens(p), (c.index, action, OWN_ACTION, p)))
        for action, kind in taxonomy.actions.items():
            for p in kind.strong:
                action_entries.append((phrase_tokens(p), (-1, action, STRONG, p)))
            for p in kind.words:
                action_entries.append((phrase_tokens(p), (-1, action, WORD, p)))
        self._comps = comps
        owners: dict[str, int] = {}
        for c in comps:
            for a in c.actions:
                owners[a] = owners.get(a, 0) + 1
        self._exclusive = frozenset(a for a, n in owners.items() if n == 1)
        self._comp_by_name = {c.name: c.index for c in comps}
        self._refines: dict[int, tuple[int, ...]] = {}
        for c in comps:  # names checked when the taxonomy was loaded (TaxonomyConfig)
            if c.spec.refines:
                self._refines[c.index] = tuple(self._comp_by_name[n] for n in c.spec.refines)
        self._comp_matcher = PhraseMatcher(_dedupe(comp_entries, 0, 1))
        self._action_matcher = PhraseMatcher(_dedupe(action_entries, 1, 2))
        self._ignore = PhraseMatcher((phrase_tokens(p), None) for p in taxonomy.ignore)
        vocab = self._comp_matcher.vocabulary | self._action_matcher.vocabulary
        self.speller = Speller(vocab, known=known_words)

    # -- scoring --------------------------------------------------------------------------------

    def tokens(self, text: str) -> list[str]:
        return drop_phrases(self.speller.correct_all(words(scrub(text))), self._ignore)

    @staticmethod
    def _longest(matches: list[tuple[int, tuple[str, ...], object]]) -> list[tuple[int, tuple[str, ...], object]]:
        """Drop matches that lie inside a longer match (any payload) — longest match wins."""
        if not matches:
            return matches
        cover: dict[int, int] = {}
        for pos, toks, _ in matches:
            end = pos + len(toks)
            for i in range(pos, end):
                if cover.get(i, 0) < len(toks):
                    cover[i] = len(toks)
        return [m for m in matches if all(cover[i] <= len(m[1]) for i in range(m[0], m[0] + len(m[1])))]

    @staticmethod
    def _inside(spans: list[tuple[int, int]], start: int, end: int) -> bool:
        """Whether the words start:end lie strictly inside a longer component phrase ("signature" in
        "signature pad", "drop" in "network drop"): that phrase names a thing, not an action."""
        return any(s <= start and end <= e and (e - s) > (end - start) for s, e in spans)

    def predict(self, summary: str, description: str = "", *, prior: Mapping[str, float] | None = None) -> Prediction:
        """``prior``: extra score per component name, with its reason, from evidence outside the
        text's own words (the enricher passes the component of the best-matching KB article)."""
        return self.predict_tokens(self.tokens(summary), self.tokens(description)[: self.max_words], prior=prior)

    def component_index(self, name: str) -> int | None:
        return self._comp_by_name.get(name)

    def predict_tokens(
        self, summary: Sequence[str], description: Sequence[str], *, prior: Mapping[str, float] | None = None
    ) -> Prediction:
        comp_scores: dict[int, float] = {}
        comp_why: dict[int, list[str]] = {}
        prior_w: dict[int, float] = {}
        for name, w in (prior or {}).items():
            pci = self._comp_by_name.get(name)
            if pci is not None and w > 0:
                comp_scores[pci] = prior_w[pci] = w
                comp_why[pci] = ["best KB article"]
        action_hits: list[_Hit] = []
        for field, (field_tokens, fw) in enumerate(((summary, SUMMARY_WEIGHT), (description, 1.0))):
            if not field_tokens:
                continue
            seen: set[tuple[int, str]] = set()
            comp_found = self._longest(self._comp_matcher.find(field_tokens))
            spans = [(pos, pos + len(toks)) for pos, toks, _ in comp_found if len(toks) > 1]
            for _, _, payload in comp_found:
                ci, w, phrase = cast(tuple[int, float, str], payload)
                if (ci, phrase) in seen:
                    continue
                seen.add((ci, phrase))  # phrases are deduplicated by their words: one per meaning
                comp_scores[ci] = comp_scores.get(ci, 0.0) + w * fw
                comp_why.setdefault(ci, []).append(phrase)
            seen_a: set[tuple[int, str, str]] = set()
            for pos, toks, payload in self._longest(self._action_matcher.find(field_tokens)):
                ci, action, w, phrase = cast(tuple[int, str, float, str], payload)
                if (ci, action, phrase) in seen_a or (
                    ci == -1 and action != SYMPTOM and spans and self._inside(spans, pos, pos + len(toks))
                ):
                    continue
                seen_a.add((ci, action, phrase))
                action_hits.append(_Hit(ci, action, w * fw, phrase, field, pos, pos + len(toks)))
        if not comp_scores:
            return Prediction(None, None, 0.0, ("no component words found",))

        # a narrower component with words of its own also owns the broader one's words: "printer"
        # and "print queue" together are the print server, not the printer
        if self._refines:
            text = {ci: s - (prior_w.get(ci, 0.0)) for ci, s in comp_scores.items()}
            for ci, parents in self._refines.items():
                if text.get(ci, 0.0) >= REFINE_MIN:
                    extra = max((text.get(p, 0.0) for p in parents), default=0.0)
                    if extra > 0:
                        comp_scores[ci] += extra
                        comp_why[ci].append("+ " + "/".join(self._comps[p].name for p in parents if p in text))

        # the action words say something about the component too: "install" leans to software,
        # "restore" to backups. Each component gets a share of its best non-default action's score.
        by_action: dict[tuple[int, str], float] = {}
        for h in action_hits:
            by_action[h.ci, h.action] = by_action.get((h.ci, h.action), 0.0) + h.weight
        if by_action:
            for ci in list(comp_scores):
                comp = self._comps[ci]
                best, share = 0.0, ACTION_SHARE
                for action in comp.actions:
                    if action == comp.default:
                        continue
                    w = by_action.get((-1, action), 0.0) + by_action.get((ci, action), 0.0)
                    if w > best:
                        best, share = w, OWN_ACTION_SHARE if action in self._exclusive else ACTION_SHARE
                comp_scores[ci] += share * min(best, ACTION_CAP)
        ranked = sorted(comp_scores.items(), key=lambda kv: (-kv[1], kv[0]))
        denom = math.exp(NONE_SCORE / TEMPERATURE) + sum(math.exp(s / TEMPERATURE) for _, s in ranked)
        best_ci, best_score = ranked[0]
        comp = self._comps[best_ci]
        p_comp = math.exp(best_score / TEMPERATURE) / denom
        # a type's confidence also counts its other components ("Outlook" vs "MS Office": still Software)
        p_type = sum(math.exp(s / TEMPERATURE) for ci, s in ranked if self._comps[ci].type == comp.type) / denom

        action, p_action, action_why = self._action(comp, action_hits)
        subtype = comp.subtypes[comp.actions.index(action)]
        confidence = round(p_comp * math.sqrt(p_action), 4)
        reasons = [
            f"{comp.name}: " + ", ".join(f"'{w}'" for w in list(dict.fromkeys(comp_why[best_ci]))[:6]),
            f"{action}: " + (", ".join(f"'{w}'" for w in action_why[:4]) if action_why else "default action"),
        ]
        if len(ranked) > 1:
            runner = self._comps[ranked[1][0]]
            reasons.append(f"runner-up {runner.name} ({ranked[1][1]:g} vs {best_score:g})")
        alternatives = tuple(
            (self._comps[ci].subtypes[self._comps[ci].actions.index(self._comps[ci].default)],
             round(math.exp(s / TEMPERATURE) / denom, 4))
            for ci, s in ranked[1:4]
        )
        del p_type  # kept in the reasons' spirit; the facade reports subtype confidence
        return Prediction(comp.type, subtype, confidence, tuple(reasons), alternatives)

    def _action(self, comp: _Comp, hits: list[_Hit]) -> tuple[str, float, list[str]]:
        scores = dict.fromkeys(comp.actions, 0.0)
        scores[comp.default] += DEFAULT_PRIOR
        why: dict[str, list[str]] = {}
        own = {(h.action, h.field, h.start, h.end) for h in hits if h.ci == comp.index}
        # words that speak to one of the component's actions directly: "install" is Install for
        # Chrome even though the generic Add/Remove/Change list (for hardware) has it too
        direct = {(h.field, h.start, h.end) for h in hits if h.action in scores and h.ci in (-1, comp.index)}
        for h in hits:
            if h.ci not in (-1, comp.index):
                continue
            action = h.action
            if action not in scores:
                action = next((a for a in FALLBACK.get(action, ()) if a in scores), "")
                if not action or h.ci != -1 or (h.field, h.start, h.end) in direct:
                    continue
            elif h.ci == -1 and (action, h.field, h.start, h.end) in own:
                continue  # the component's own words for this action already counted these words
            scores[action] += h.weight
            why.setdefault(action, []).append(h.phrase)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], comp.actions.index(kv[0])))
        best, best_score = ranked[0]
        denom = sum(math.exp(s / TEMPERATURE) for _, s in ranked)
        return best, math.exp(best_score / TEMPERATURE) / denom, why.get(best, [])
