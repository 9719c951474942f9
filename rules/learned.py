"""The learned classifier: the MSP's own habits, from its closed tickets (scikit-learn).

Label-agnostic: it learns whatever labels the rows carry — the taxonomy's subtypes when the PSA's
tickets have them (the type then follows from the subtype, or from the row's own ``type``), or
any other label set (the benchmark's eight generic topics).

Model: word 1-2-gram TF-IDF (sublinear tf) into two linear models whose scaled margins are added
(:class:`SvmNbEnsemble`: a class-balanced LinearSVC and an NB-SVM); probabilities come from a
softmax of the summed margins with a temperature fitted on a held-out slice.
``benchmarks/bench_classify.py`` compares it with a plain TF-IDF + LinearSVC in the same run
(on the public helpdesk set: about +1 point of macro-F1 over that baseline, ~10 s to train).

Why this and nothing bigger: the two models err differently, so their sum beats either, and it
trains in seconds. Heavier designs were measured on a validation slice cut from the benchmark's
training part (never its test part) and gained at most ~0.5 point, within noise: a char_wb
2-5-gram SVM as a third view (the best of them, but 40-80 s to train on two shared cores),
6-letter-stem features, ComplementNB, gradient-boosted trees over out-of-fold margins (alone or
blended), per-class biases for macro-F1, and a near-duplicate vote (near-duplicates' labels
disagree as often as the model errs). A second search (2026-12-04, validation slice cut from the
training part, finalists run once on the test part) found nothing better either: logistic
regression (C 10-30, +1.2 on validation, 19 s), word 1-3-grams, hashed char 3-5-grams (below the
baseline), a fastText-style torch model (-1.3, 64 s), kNN on TF-IDF cosine (-8), Ridge and
Crammer-Singer SVMs, a subject-line view, and stacking a logistic regression over out-of-fold
scores of word-SVM + char-SVM + ComplementNB — +2.1 on one validation slice but +1.1 / +1.2 on two
re-cut slices and +1.10 on the test part (0.8722 against 0.8611), for 4x the training time
(45 s) and 4x slower prediction. Differences of half a point are noise at this size; about +1.2
is the ceiling found under a minute on two cores, and the labels' own noise ("add hours of
bench time" is Hardware) seems to be why.

Combining with the rules model (:class:`CombinedClassifier`), documented rule:

- both name the same subtype -> that subtype, confidence ``1 - (1 - p_model)(1 - p_rules)``,
  source ``combined`` (agreement boosts confidence);
- else the model wins when its probability is at least ``model_wins`` (default 0.6), source
  ``model``;
- else the rules win whenever they found a subtype, source ``rules`` (a model that is unsure is
  not a better judge than the taxonomy's words); only when they found nothing does the model's
  answer stand, source ``model`` — with its (low) probability, so the ticket falls below the
  threshold and is left for the dispatcher.

A model trained on too few tickets to fit its softmax temperature (under 50 rows, or a label
seen once) gets temperature 1.0 — soft probabilities that rarely reach ``model_wins`` — because
such a model is not yet a better judge than the rules: trained on the 154-ticket tuning set with a
sharp 0.3 it pulled the development set's subtype accuracy from 0.75 (rules alone) down to 0.49;
with 1.0 it costs little, and trained on 523 tickets the combination beats both the rules and a
TF-IDF + LinearSVC on the hold-out set (``benchmarks/bench_classify.py``, section 2b).
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from rules.classify import Prediction, RulesClassifier
from rules.taxonomy import TaxonomyConfig

__all__ = ["FORMAT", "CombinedClassifier", "LearnedModel", "cross_validate", "row_label", "row_text"]

UNFITTED_TEMPERATURE = 1.0
"""Softmax temperature when there are too few rows to fit one (see the module docstring)."""

FORMAT = "switchboard-classifier/1"
"""Serialisation format; bumped when the pickled object's shape changes."""


def row_text(row: Mapping[str, Any]) -> str:
    summary = str(row.get("summary") or "")
    description = str(row.get("description") or "")
    # the summary counts twice, as in the rules model
    return f"{summary} {summary} {description}".strip()


def row_label(row: Mapping[str, Any]) -> str | None:
    """The most specific label a row has: its subtype, else its type, else ``label``."""
    for key in ("subtype", "type", "label"):
        value = row.get(key)
        if value:
            return str(value)
    return None


def _vectorizer(rows: int) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    # below ~2,000 rows min_df=2 would throw away most of the vocabulary
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2 if rows >= 2000 else 1,
                           dtype=np.float32)


class SvmNbEnsemble:
    """Two linear views of the same TF-IDF features, margins added after scaling each to unit spread:

    - a LinearSVC with balanced class weights (the baseline's model, better regularised);
    - an NB-SVM (Wang & Manning 2012): one-vs-rest LinearSVCs on features scaled by each class's
      naive-Bayes log-count ratio, which favours words that are rare but telling.

    They err differently, so the sum beats either (see ``benchmarks/bench_classify.py``).
    """

    def __init__(self, C: float = 0.5, nb_C: float = 0.3, random_state: int = 0) -> None:
        self.C = C
        self.nb_C = nb_C
        self.random_state = random_state

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"C": self.C, "nb_C": self.nb_C, "random_state": self.random_state}

    def set_params(self, **params: Any) -> SvmNbEnsemble:
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def fit(self, X: Any, y: np.ndarray) -> SvmNbEnsemble:
        from sklearn.svm import LinearSVC

        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.svm_ = LinearSVC(C=self.C, class_weight="balanced", random_state=self.random_state).fit(X, y)
        binary = (X > 0).astype(np.float32)
        self.ratios_: list[np.ndarray] = []
        self.nb_: list[Any] = []
        for c in self.classes_:
            mask = y == c
            p = np.asarray(binary[mask].sum(axis=0)).ravel() + 1.0
            q = np.asarray(binary[~mask].sum(axis=0)).ravel() + 1.0
            r = np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)
            self.ratios_.append(r)
            self.nb_.append(LinearSVC(C=self.nb_C, random_state=self.random_state).fit(X.multiply(r).tocsr(), mask))
        a, b = self._parts(X)
        self.scale_ = (float(a.std()) or 1.0, float(b.std()) or 1.0)
        return self

    def _parts(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        a = self.svm_.decision_function(X)
        if a.ndim == 1:
            a = np.vstack([-a, a]).T
        b = np.vstack([m.decision_function(X.multiply(r).tocsr()) for m, r in zip(self.nb_, self.ratios_, strict=True)]).T
        return a, b

    def decision_function(self, X: Any) -> np.ndarray:
        a, b = self._parts(X)
        return a / self.scale_[0] + b / self.scale_[1]  # type: ignore[no-any-return]


@dataclass
class LearnedModel:
    """A fitted text classifier plus what it needs to report itself."""

    vectorizer: Any
    estimator: Any
    labels: tuple[str, ...]
    temperature: float = 1.0
    type_of: dict[str, str] = field(default_factory=dict)
    """label -> type, learned from rows that carry both (empty for label sets without types)."""
    metadata: dict[str, Any] = field(default_factory=dict)

    source = "model"

    # -- training -------------------------------------------------------------------------------

    @classmethod
    def fit(cls, rows: Iterable[Mapping[str, Any]], *, random_state: int = 0) -> LearnedModel:
        """Train on rows with ``summary``/``description`` (or ``text``) and a label (see :func:`row_label`)."""
        texts, labels, type_of = _xy(rows)
        if len(set(labels)) < 2:
            raise ValueError("need at least two different labels to train")
        started = time.perf_counter()
        vec = _vectorizer(len(texts))
        X = vec.fit_transform(texts)
        y = np.asarray(labels)
        svm = SvmNbEnsemble(random_state=random_state)
        temperature = _fit_temperature(svm, X, y, random_state)
        svm.fit(X, y)
        model = cls(vec, svm, tuple(str(c) for c in svm.classes_), temperature, type_of)
        model.metadata = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "rows": len(texts),
            "labels": len(model.labels),
            "train_seconds": round(time.perf_counter() - started, 2),
            "algorithm": "tfidf(word 1-2, sublinear) -> LinearSVC(balanced) + NB-SVM, softmax temperature",
        }
        return model

    # -- prediction -----------------------------------------------------------------------------

    def predict_proba_texts(self, texts: Sequence[str]) -> np.ndarray:
        margins = np.atleast_2d(self.estimator.decision_function(self.vectorizer.transform(list(texts))))
        if margins.shape[1] == 1:  # binary: one margin for the second class
            margins = np.hstack([-margins, margins])
        z = margins / self.temperature
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]

    def predict_texts(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        p = self.predict_proba_texts(texts)
        idx = p.argmax(axis=1)
        return [(self.labels[i], float(p[r, i])) for r, i in enumerate(idx)]

    def predict(self, summary: str, description: str = "") -> Prediction:
        (label, p), = self.predict_texts([row_text({"summary": summary, "description": description})])
        return Prediction(self.type_of.get(label, label if not self.type_of else None), label, round(p, 4),
                          (f"learned model: {label} ({p:.2f})",))

    # -- storage --------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        import joblib

        buf = io.BytesIO()
        joblib.dump({"format": FORMAT, "model": self}, buf, compress=3)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LearnedModel:
        """Load what :meth:`to_bytes` wrote. Only load blobs this deployment stored itself (pickle)."""
        import joblib

        try:
            obj = joblib.load(io.BytesIO(data))
        except Exception as exc:  # joblib/pickle raise many types for a blob that is not theirs
            raise ValueError(f"not a {FORMAT} model: {type(exc).__name__}") from None
        if not isinstance(obj, dict) or obj.get("format") != FORMAT or not isinstance(obj.get("model"), cls):
            raise ValueError(f"not a {FORMAT} model")
        return obj["model"]  # type: ignore[no-any-return]


def _xy(rows: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[str], dict[str, str]]:
    texts: list[str] = []
    labels: list[str] = []
    type_of: dict[str, str] = {}
    for row in rows:
        label = row_label(row)
        if label is None:
            continue
        text = str(row["text"]) if row.get("text") else row_text(row)
        texts.append(text)
        labels.append(label)
        if row.get("subtype") and row.get("type"):
            type_of[str(row["subtype"])] = str(row["type"])
    return texts, labels, type_of


def _fit_temperature(svm: Any, X: Any, y: np.ndarray, random_state: int) -> float:
    """Softmax temperature for the margins that minimises log-loss on a 20% hold-out."""
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    counts = np.unique(y, return_counts=True)[1]
    if len(y) < 50 or counts.min() < 2:
        return UNFITTED_TEMPERATURE
    try:
        Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.2, stratify=y, random_state=random_state)
    except ValueError:
        return UNFITTED_TEMPERATURE
    m = clone(svm).fit(Xa, ya)
    margins = np.atleast_2d(m.decision_function(Xb))
    if margins.shape[1] == 1:
        margins = np.hstack([-margins, margins])
    classes = list(m.classes_)
    idx = np.array([classes.index(v) if v in classes else -1 for v in yb])
    keep = idx >= 0
    best, best_loss = 0.3, float("inf")
    for t in (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0, 1.5):
        z = margins[keep] / t
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -logp[np.arange(keep.sum()), idx[keep]].mean()
        if loss < best_loss:
            best, best_loss = t, loss
    return best


def cross_validate(rows: Sequence[Mapping[str, Any]], folds: int = 5, *, random_state: int = 0) -> dict[str, Any]:
    """Stratified k-fold accuracy and macro-F1 of :meth:`LearnedModel.fit` on ``rows``."""
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold

    rows = [r for r in rows if row_label(r)]
    labels = np.asarray([row_label(r) for r in rows])
    _, counts = np.unique(labels, return_counts=True)
    k = int(max(2, min(folds, counts.min())))
    accs, f1s = [], []
    for train, test in StratifiedKFold(k, shuffle=True, random_state=random_state).split(np.zeros(len(rows)), labels):
        model = LearnedModel.fit([rows[i] for i in train], random_state=random_state)
        pred = [p for p, _ in model.predict_texts([row_text(rows[i]) if not rows[i].get("text") else
                                                     str(rows[i]["text"]) for i in test])]
        accs.append(accuracy_score(labels[test], pred))
        f1s.append(f1_score(labels[test], pred, average="macro"))
    return {"folds": k, "rows": len(rows), "accuracy": round(float(np.mean(accs)), 4),
            "accuracy_std": round(float(np.std(accs)), 4), "macro_f1": round(float(np.mean(f1s)), 4)}


class CombinedClassifier:
    """The rules model and a learned model together (the rule is in the module docstring)."""

    source = "combined"

    def __init__(self, rules: RulesClassifier, model: LearnedModel, *, taxonomy: TaxonomyConfig | None = None,
                 model_wins: float = 0.6) -> None:
        self.rules = rules
        self.model = model
        self.taxonomy = taxonomy or rules.taxonomy
        self.model_wins = model_wins

    def predict(self, summary: str, description: str = "", *, prior: Mapping[str, float] | None = None) -> Prediction:
        r = self.rules.predict(summary, description, prior=prior)
        m = self.model.predict(summary, description)
        label = self.taxonomy.canonical(m.subtype)
        m_type = m.type or (self.taxonomy.type_of(label) if label else None)
        if label and label in self.taxonomy.types and m.type is None:
            m_type, label = label, None  # a model trained on types only
        if label is not None and label == r.subtype:
            conf = 1 - (1 - m.confidence) * (1 - r.confidence)
            return _with_source(Prediction(r.type, r.subtype, round(conf, 4),
                                           r.reasons + (f"learned model agrees ({m.confidence:.2f})",)), "combined")
        if m.confidence >= self.model_wins or r.subtype is None:
            reasons = m.reasons + ((f"rules said {r.subtype} ({r.confidence:.2f})",) if r.subtype else ())
            return _with_source(Prediction(m_type, label, m.confidence, reasons), "model")
        reasons = r.reasons + (f"learned model said {label} ({m.confidence:.2f})",)
        return _with_source(Prediction(r.type, r.subtype, r.confidence, reasons), "rules")


@dataclass(frozen=True)
class _Sourced(Prediction):
    source: str = "rules"


def _with_source(p: Prediction, source: str) -> Prediction:
    return _Sourced(p.type, p.subtype, p.confidence, p.reasons, p.alternatives, source)
