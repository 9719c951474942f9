"""Reading labelled/unlabelled ticket files and scoring predictions (pure: no database, no vendor).

A ticket file is JSON Lines: one object per line (blank lines are ignored). :func:`read_jsonl`
checks every line and reports each bad one with its line number (:class:`InputProblems`), so a
command can say exactly what to fix instead of failing half-way.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["InputProblems", "Scores", "describe_problems", "json_objects", "macro_f1", "read_jsonl", "score"]


class InputProblems(Exception):
    """Lines of an input file that cannot be used, each with its line number."""

    def __init__(self, path: str, problems: Sequence[tuple[int, str]]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__(describe_problems(path, self.problems))


def describe_problems(path: object, problems: Sequence[tuple[int, str]]) -> str:
    """``"FILE: 2 bad line(s): line 3: …; line 9: …"`` (the first ten); line 0 means the whole file."""
    if len(problems) == 1 and problems[0][0] == 0:  # the whole file (missing, not text)
        return f"{path}: {problems[0][1]}"
    shown = "; ".join(f"line {n}: {why}" for n, why in problems[:10])
    more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
    return f"{path}: {len(problems)} bad line(s): {shown}{more}"


def json_objects(text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, str]]]:
    """Every non-blank line of JSON Lines ``text`` as an object with its line number, and the lines
    that are not a JSON object, each with why."""
    out: list[tuple[int, dict[str, Any]]] = []
    problems: list[tuple[int, str]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append((n, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(obj, dict):
            problems.append((n, f"expected a JSON object, got {type(obj).__name__}"))
            continue
        out.append((n, obj))
    return out, problems


def read_jsonl(path: Path | str, *, required: Sequence[str] = ("summary",), optional_text: Sequence[str] = ("description",),
               labelled: bool = False) -> list[tuple[int, dict[str, Any]]]:
    """The file's objects with their line numbers; raises :class:`InputProblems` listing every bad line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputProblems(str(path), [(0, "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise InputProblems(str(path), [(0, f"not UTF-8 text ({exc.reason})")]) from None
    out: list[tuple[int, dict[str, Any]]] = []
    objects, problems = json_objects(text)
    for n, obj in objects:
        why = _check(obj, required, optional_text, labelled)
        if why:
            problems.append((n, why))
            continue
        out.append((n, obj))
    problems.sort()
    if problems:
        raise InputProblems(str(path), problems)
    if not out:
        raise InputProblems(str(path), [(0, "no tickets in the file")])
    return out


def _check(obj: Mapping[str, Any], required: Sequence[str], optional_text: Sequence[str], labelled: bool) -> str | None:
    for name in required:
        if name not in obj:
            return f"missing {name!r}"
        if not isinstance(obj[name], str):
            return f"{name!r} must be a string"
    for name in optional_text:
        if obj.get(name) is not None and not isinstance(obj[name], str):
            return f"{name!r} must be a string"
    if labelled:
        for name in ("type", "subtype"):
            if not isinstance(obj.get(name), str) or not obj[name]:
                return f"missing label {name!r}"
        if obj.get("kb") is not None and not isinstance(obj["kb"], str):
            return "'kb' must be an article title or null"
    return None


def macro_f1(gold: Sequence[Any], pred: Sequence[Any]) -> float:
    """Macro-averaged F1 over every label seen in either list (as scikit-learn's ``average="macro"``)."""
    labels = set(gold) | set(pred)
    if not labels:
        return 0.0
    tp: Counter[Any] = Counter()
    fp: Counter[Any] = Counter()
    fn: Counter[Any] = Counter()
    for g, p in zip(gold, pred, strict=True):
        if g == p:
            tp[g] += 1
        else:
            fp[p] += 1
            fn[g] += 1
    total = 0.0
    for label in labels:
        denom = 2 * tp[label] + fp[label] + fn[label]
        total += (2 * tp[label] / denom) if denom else 0.0
    return total / len(labels)


@dataclass
class Scores:
    tickets: int
    type_accuracy: float
    type_macro_f1: float
    subtype_accuracy: float
    subtype_macro_f1: float
    kb_labelled: int
    kb_top3_hit_rate: float | None
    confident_share: float
    confusions: list[tuple[str, str, int]] = field(default_factory=list)
    """(gold subtype, predicted subtype, count), most frequent first"""

    def as_dict(self) -> dict[str, Any]:
        return {
            "tickets": self.tickets,
            "type": {"accuracy": round(self.type_accuracy, 4), "macro_f1": round(self.type_macro_f1, 4)},
            "subtype": {"accuracy": round(self.subtype_accuracy, 4), "macro_f1": round(self.subtype_macro_f1, 4)},
            "kb": {"labelled": self.kb_labelled,
                   "top3_hit_rate": None if self.kb_top3_hit_rate is None else round(self.kb_top3_hit_rate, 4)},
            "confident_share": round(self.confident_share, 4),
            "top_confusions": [{"gold": g, "predicted": p, "count": n} for g, p, n in self.confusions[:10]],
        }


def score(gold_rows: Iterable[Mapping[str, Any]], predictions: Iterable[Mapping[str, Any]],
          canonical: Any = None) -> Scores:
    """Score predictions (``type``, ``subtype``, ``kb`` titles, ``confident``) against labelled rows.

    ``canonical`` maps a label to its canonical spelling (taxonomy aliases) before comparing."""
    canon = canonical or (lambda x: x)
    gt, pt, gs, ps = [], [], [], []
    kb_hits = kb_n = confident = 0
    confusions: Counter[tuple[str, str]] = Counter()
    n = 0
    for g, p in zip(gold_rows, predictions, strict=True):
        n += 1
        gt.append(canon(g["type"]))
        pt.append(p.get("type") or "")
        gs.append(canon(g["subtype"]))
        ps.append(p.get("subtype") or "")
        if gs[-1] != ps[-1]:
            confusions[(gs[-1], ps[-1])] += 1
        confident += bool(p.get("confident"))
        if g.get("kb"):
            kb_n += 1
            kb_hits += g["kb"] in [a["title"] for a in (p.get("kb") or [])[:3]]
    acc = lambda a, b: sum(x == y for x, y in zip(a, b, strict=True)) / len(a) if a else 0.0  # noqa: E731
    return Scores(
        tickets=n, type_accuracy=acc(gt, pt), type_macro_f1=macro_f1(gt, pt), subtype_accuracy=acc(gs, ps),
        subtype_macro_f1=macro_f1(gs, ps), kb_labelled=kb_n, kb_top3_hit_rate=(kb_hits / kb_n) if kb_n else None,
        confident_share=confident / n if n else 0.0,
        confusions=[(g, p, c) for (g, p), c in confusions.most_common()],
    )
