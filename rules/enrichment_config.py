"""The model of ``enrichment.yaml``: how Switchboard types, prioritises and annotates tickets.

Pure settings (no I/O). Statuses are Switchboard's canonical names (``new``, ``resolved``,
``closed``…) or the PSA's own status label; boards are the PSA's queue/board id or name. Both
match case-insensitively.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["EnrichmentConfig", "KBSettings", "NoteSettings", "SkipSettings"]

Field_ = Literal["type", "subtype", "priority"]
ALL_FIELDS: tuple[Field_, ...] = ("type", "subtype", "priority")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoteSettings(_Strict):
    enabled: bool = True
    """Post one note per ticket with the suggested type and the troubleshooting articles (updated, never re-posted)."""
    internal: bool = True
    title: str = "Switchboard: type, priority and troubleshooting articles"
    max_articles: int = Field(default=3, ge=0, le=10)


class SkipSettings(_Strict):
    statuses: list[str] = Field(default_factory=lambda: ["resolved", "closed"])
    """Tickets in these statuses are not enriched."""
    boards: list[str] = Field(default_factory=list)
    """Tickets on these PSA queues/boards (id or name) are not enriched."""

    def status(self, canonical: str, label: str) -> bool:
        wanted = {s.lower() for s in self.statuses}
        return canonical.lower() in wanted or (bool(label) and label.lower() in wanted)

    def board(self, board: str | None) -> bool:
        return board is not None and board.lower() in {b.lower() for b in self.boards}


class KBSettings(_Strict):
    fallback_builtin: bool = True
    """With no documentation platform configured (``SWITCHBOARD_DOCS=``), or nothing synced from it yet,
    link the built-in troubleshooting corpus."""
    min_score: float = Field(default=5.0, ge=0)
    """Articles scoring below this are not linked (the KB index's BM25 scale: a clear match scores 10-40)."""
    client_scope: bool = True
    """Link a client's own articles (an IT Glue organisation's, a Hudu company's) only on that client's
    tickets, found through the client map; shared articles go on every ticket. false: one index for all."""


class EnrichmentConfig(_Strict):
    enabled: bool = True
    """Master switch: classify, prioritise and link KB at all."""
    existing_tickets: bool = True
    """Enrich the PSA's own new and changed tickets (the ticket poll)."""
    alert_tickets: bool = True
    """Type, prioritise and link KB on the tickets Switchboard opens from alerts."""
    shadow: bool = False
    """Decide and record, write nothing (as ``SWITCHBOARD_MODE=shadow``, for enrichment only)."""
    threshold: float | None = Field(default=None, ge=0, le=1)
    """Confidence below which type/subtype are left to the dispatcher (suggested in the note);
    null: the classifier's own default."""
    fields: list[Field_] = Field(default_factory=lambda: list(ALL_FIELDS))
    """Which ticket fields enrichment may write back."""
    overwrite_human_fields: bool = False
    """false: a field a person set (any value Switchboard did not write) is never changed."""
    unset_priority: int | None = Field(default=None, ge=1, le=4)
    """A priority the PSA gives every new ticket by default (e.g. 3 from the e-mail parser): a ticket
    still at it counts as not prioritised by a person, so Switchboard sets the priority. null: every
    priority already on a ticket is a person's."""
    vip_contacts: bool = True
    """Look the ticket's contact up in the PSA (cached): a VIP contact raises the urgency (priority.yaml)."""
    note: NoteSettings = NoteSettings()
    skip: SkipSettings = SkipSettings()
    kb: KBSettings = KBSettings()

    @field_validator("fields")
    @classmethod
    def _unique(cls, value: list[Field_]) -> list[Field_]:
        return list(dict.fromkeys(value))
