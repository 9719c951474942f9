"""Training data for ``switchboard classify train``: an export file, or the PSA's own typed tickets.

- :func:`from_file` reads a CSV or JSONL export. Text columns default to ``summary,description``
  (or ``title,description``, ``subject,body``, ``Document``), the label to ``subtype`` (or ``type``,
  ``Topic_group``, ``label``); several label columns are joined with `` / ``. Every unusable line
  (bad JSON, missing column, empty label) is reported with its line number, nothing is trained.
- :func:`from_psa_tickets` takes the PSA's closed tickets that carry a type and subtype *a person
  set* (values Switchboard wrote itself are left out: training on them would teach the model its
  own guesses), labelled ``"{type} / {subtype}"`` by the PSA's names for them.
- :func:`fit` trains the learned model (``rules.learned``) and returns the blob and its metrics.
"""

from __future__ import annotations

import csv
import time
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rules.enrich_eval import describe_problems, json_objects

__all__ = ["TrainingInputError", "fit", "from_file", "from_psa_tickets"]

TEXT_DEFAULTS = (("summary", "description"), ("title", "description"), ("subject", "body"), ("summary",),
                 ("title",), ("Document",), ("text",))
LABEL_DEFAULTS = (("subtype",), ("type",), ("Topic_group",), ("label",), ("category",))


class TrainingInputError(Exception):
    """Training data that cannot be used, with line numbers where it is a file."""


def _pick(columns: Sequence[str], wanted: Sequence[str] | None, defaults: Sequence[Sequence[str]], what: str,
          path: Path) -> list[str]:
    if wanted:
        missing = [c for c in wanted if c not in columns]
        if missing:
            raise TrainingInputError(f"{path}: no column {', '.join(map(repr, missing))} (columns: {', '.join(columns)})")
        return list(wanted)
    for option in defaults:
        if all(c in columns for c in option):
            return list(option)
    flag = "--text-cols" if what == "text" else "--label-cols"
    raise TrainingInputError(f"{path}: cannot tell which columns hold the {what}; give {flag} "
                             f"(columns: {', '.join(columns) or 'none'})")


def from_file(path: Path, *, text_cols: Sequence[str] | None = None,
              label_cols: Sequence[str] | None = None) -> list[dict[str, str]]:
    """Training rows: ``{"summary", "description", "type", "subtype"}`` when the file has the
    taxonomy's own columns, else ``{"text", "label"}``."""
    if not path.exists():
        raise TrainingInputError(f"{path}: no such file")
    rows: list[tuple[int, dict[str, Any]]] = []
    problems: list[tuple[int, str]] = []
    try:
        if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
            rows, problems = json_objects(path.read_text(encoding="utf-8"))
            columns = sorted({k for _, r in rows for k in r})
        elif path.suffix.lower() in (".csv", ".tsv"):
            with path.open(newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
                columns = list(reader.fieldnames or [])
                for r in reader:
                    if None in r:
                        problems.append((reader.line_num, "more fields than the header has"))
                        continue
                    rows.append((reader.line_num, r))
        else:
            raise TrainingInputError(f"{path}: give a .csv, .tsv or .jsonl file")
    except UnicodeDecodeError as exc:
        raise TrainingInputError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise TrainingInputError(f"{path}: not a readable CSV file ({exc})") from None
    tcols = _pick(columns, text_cols, TEXT_DEFAULTS, "text", path)
    lcols = _pick(columns, label_cols, LABEL_DEFAULTS, "label", path)
    out: list[dict[str, str]] = []
    for n, r in rows:
        missing = [c for c in (*tcols, *lcols) if r.get(c) is None]
        if missing:
            problems.append((n, f"missing {', '.join(map(repr, missing))}"))
            continue
        bad = [c for c in (*tcols, *lcols) if not isinstance(r[c], str | int | float)]
        if bad:
            problems.append((n, f"{', '.join(map(repr, bad))} must be text"))
            continue
        label = " / ".join(str(r[c]).strip() for c in lcols)
        if not all(str(r[c]).strip() for c in lcols):
            problems.append((n, "empty label"))
            continue
        text = "\n".join(str(r[c]) for c in tcols).strip()
        if not text:
            problems.append((n, "empty text"))
            continue
        if tcols == ["summary", "description"] and lcols == ["subtype"] and str(r.get("type") or "").strip():
            out.append({"summary": str(r["summary"]), "description": str(r["description"]),
                        "type": str(r["type"]).strip(), "subtype": label})
        else:
            out.append({"text": text, "label": label})
    if problems:
        raise TrainingInputError(describe_problems(path, problems))
    if not out:
        raise TrainingInputError(f"{path}: no tickets to train on")
    return out


def from_psa_tickets(ctx: Any, *, limit: int = 20000) -> list[dict[str, str]]:
    """The PSA's closed tickets with a type and subtype a person set."""
    import sqlalchemy as sa

    from pipelines.state import TicketEnrichment

    psa = ctx.psa()
    pulled = psa.pull_tickets(None, datetime.now(UTC))
    names: dict[tuple[str, str], str] = {}
    for getter, kind in (("list_issue_types", "type"), ("list_sub_issue_types", "subtype")):
        for choice in getattr(psa, getter, lambda: [])():
            names[(kind, str(choice.id))] = choice.name
    with ctx.db.session() as s:
        ours = {(r.ticket_id, f) for r in s.scalars(sa.select(TicketEnrichment).where(TicketEnrichment.origin == "psa"))
                for f in (r.written or {})}
    out: list[dict[str, str]] = []
    for t in pulled.items:
        if t.is_open or not t.type or not t.subtype:
            continue
        if (t.ref.id, "type") in ours or (t.ref.id, "subtype") in ours:
            continue
        type_name = names.get(("type", t.type), t.type)
        sub_name = names.get(("subtype", t.subtype), t.subtype)
        out.append({"summary": t.title, "description": t.description, "type": type_name, "subtype": sub_name})
        if len(out) >= limit:
            break
    if len(out) < 20:
        raise TrainingInputError(f"only {len(out)} closed {ctx.settings.psa} ticket(s) carry a type and subtype a "
                                 "person set; at least 20 are needed (or train from an export: --input FILE)")
    return out


def labels_of(rows: Sequence[dict[str, str]]) -> list[str]:
    return [r.get("subtype") or r.get("label") or "" for r in rows]


def fit(rows: Sequence[dict[str, str]], *, folds: int = 5) -> tuple[bytes, dict[str, Any]]:
    """Train the learned model; returns (serialised model, metrics incl. cross-validated accuracy)."""
    from collections import Counter

    from rules import learned

    counts = Counter(labels_of(rows))
    if len(counts) < 2:
        raise TrainingInputError(f"{len(rows)} ticket(s) but only one label ({next(iter(counts))!r}): "
                                 "a classifier needs at least two")
    metrics: dict[str, Any] = {"labels": len(counts)}
    if folds > 1:
        with warnings.catch_warnings():  # labels with fewer tickets than folds: scikit-learn says so, we too
            warnings.simplefilter("ignore", UserWarning)
            cv = learned.cross_validate(list(rows), folds)
        rare = sum(1 for v in counts.values() if v < folds)
        if rare:
            metrics["rare_labels"] = rare
        metrics.update(cv_accuracy=cv["accuracy"], cv_std=cv.get("accuracy_std", 0.0),
                       cv_macro_f1=cv.get("macro_f1"), folds=cv.get("folds", folds))
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = learned.LearnedModel.fit(list(rows))
    metrics["train_seconds"] = round(time.perf_counter() - started, 2)
    metrics.update({k: v for k, v in getattr(model, "metadata", {}).items() if k in ("algorithm", "format")})
    return model.to_bytes(), metrics
