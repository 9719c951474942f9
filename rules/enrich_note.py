"""The words of enrichment on a ticket: the suggestion note, and the KB section of an alert ticket's note.

Pure (no I/O). An enrichment *record* is the JSON-able dict Switchboard keeps per ticket::

    {"type", "subtype", "confidence", "confident", "priority", "source", "threshold",
     "kb": [{"title", "url", "score", "why", "ref"}], "reasons": [...], "model_version"}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["kb_lines", "kb_section", "suggestion_note", "type_label"]


def type_label(record: Mapping[str, Any]) -> str:
    if not record.get("type"):
        return "no type found"
    return f"{record['type']} / {record['subtype']}" if record.get("subtype") else str(record["type"])


def kb_lines(kb: Sequence[Mapping[str, Any]], limit: int = 3) -> list[str]:
    lines = []
    for i, a in enumerate(kb[:limit], 1):
        url = f" — {a['url']}" if a.get("url") else ""
        lines.append(f"{i}. {a['title']}{url}")
        if a.get("why"):
            lines.append(f"   why: {a['why']}")
    return lines


def _split(record: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(type reasons, priority reasons) — the facade prefixes the priority's with "priority Pn: "."""
    kinds: list[str] = []
    prio: list[str] = []
    for r in (str(x) for x in record.get("reasons") or () if x):
        if r.startswith("priority P"):
            prio.append(r.partition(": ")[2] or r)
        else:
            kinds.append(r)
    return kinds, prio


def _reasons(record: Mapping[str, Any]) -> list[str]:
    kinds, _ = _split(record)
    return [f"Why: {'; '.join(kinds[:4])}."] if kinds else []


def suggestion_note(record: Mapping[str, Any], outcome: Mapping[str, str], *, max_articles: int = 3) -> str:
    """The one note enrichment keeps on a PSA ticket.

    ``outcome`` says, per field (``type``, ``subtype``, ``priority``), what was done: ``set``,
    ``kept`` (already so), or why it was left (``set by a person``, ``below threshold``…).
    """
    lines: list[str] = []
    conf = float(record.get("confidence") or 0.0)
    label = type_label(record)
    t_out = outcome.get("type", "")
    if not record.get("type"):
        lines.append("Type: no confident match in the taxonomy; left for the dispatcher.")
    elif not record.get("confident"):
        threshold = record.get("threshold")
        below = f" (below the threshold {threshold:.2f})" if isinstance(threshold, int | float) else ""
        lines.append(f"Suggested type, left for the dispatcher: {label} — confidence {conf:.2f}{below}.")
    else:
        lines.append(f"Type: {label} — confidence {conf:.2f}; {t_out or 'suggested'}.")
    if record.get("priority"):
        _, prio = _split(record)
        because = f" ({'; '.join(prio[:3])})" if prio else ""
        lines.append(f"Priority: P{record['priority']}{because} — {outcome.get('priority') or 'suggested'}.")
    lines += _reasons(record)
    kb = list(record.get("kb") or ())
    if kb and max_articles:
        lines.append("")
        lines.append("Troubleshooting articles to open first:")
        lines += kb_lines(kb, max_articles)
    elif max_articles:
        lines.append("")
        lines.append("No troubleshooting article matched this ticket.")
    return "\n".join(lines)


def kb_section(record: Mapping[str, Any] | None, *, max_articles: int = 3) -> str:
    """The lines added to the note of a ticket Switchboard opened from alerts ("" when there is nothing)."""
    if not record:
        return ""
    lines = []
    if record.get("type"):
        state = "" if record.get("confident") else ", a suggestion: below the confidence threshold"
        lines.append(f"Type: {type_label(record)} (confidence {float(record.get('confidence') or 0):.2f}{state}); "
                      f"priority P{record.get('priority')}.")
    kb = list(record.get("kb") or ())
    if kb and max_articles:
        lines.append("Troubleshooting articles to open first:")
        lines += kb_lines(kb, max_articles)
    return "\n".join(lines)
