"""What Switchboard remembers, in SQLAlchemy 2.x models (SQLite or PostgreSQL).

- ``sync_cursor``   per-stream incremental cursors, saved in the same transaction as the work
                    they cover, with a version so two polls of one stream cannot both commit.
- ``action_log``    the outbox: every intended effect on a PSA/RMM, keyed by an idempotency key,
                    applied in order per ``grp`` (one ticket), marked done only after the vendor
                    answered. A retried or duplicated job finds the row and does not repeat it.
- ``ticket_link``   a ticket Switchboard opened: its key (the correlation marker), PSA id,
                    fingerprint, status and the note ids it keeps updating.
- ``alert_link``    each RMM alert and the ticket it belongs to (for outcomes and two-way close).
- ``rules_state``   the rules engine's state, one row per client, with the next timer due.
- ``decision``      the explain trail: every rule decision with its rule id and reason.
- ``quarantine``    inputs that could not be used (payload + reason), never silently dropped.
- ``client_map``    the reviewed table RMM client ↔ PSA company ↔ documentation organisation.
- ``sla_ticket``    each PSA ticket's SLA clocks and steps taken, with the next due time (indexed).
- ``sla_event``     the history of each ticket's clocks and notifications (``sla explain``).
- ``kb_article``    the documentation platform's troubleshooting articles, pulled incrementally
                    (the local KB index is built from this table).
- ``classifier_model`` trained classifier versions (metrics, blob); the active one is used.
- ``ticket_enrichment`` what enrichment decided for each ticket, what it wrote (so its values can
                    be told from a person's), and the note it keeps updating.

All timestamps are stored as UTC and read back as aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ActionRow",
    "AlertLink",
    "Base",
    "ClassifierModel",
    "ClientMap",
    "DecisionRow",
    "Quarantine",
    "RulesState",
    "SlaEvent",
    "SlaTicket",
    "KBArticleRow",
    "SyncCursor",
    "TicketEnrichment",
    "TicketLink",
    "UTCDateTime",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in Python, naive UTC in the database (same on SQLite and PostgreSQL)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: sa.JSON, list[Any]: sa.JSON}


class SyncCursor(Base):
    __tablename__ = "sync_cursor"

    stream: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    value: Mapped[str | None] = mapped_column(sa.Text)
    version: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=_now)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    last_success_at: Mapped[datetime | None] = mapped_column()


class ActionRow(Base):
    __tablename__ = "action_log"
    __table_args__ = (sa.Index("ix_action_log_grp_status", "grp", "status"), sa.Index("ix_action_log_status", "status"))

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(300), unique=True)
    grp: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    """pending | running | done | failed | blocked | shadow | skipped"""
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    client: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now)
    done_at: Mapped[datetime | None] = mapped_column()


class TicketLink(Base):
    __tablename__ = "ticket_link"
    __table_args__ = (sa.UniqueConstraint("psa", "psa_ticket_id", name="uq_ticket_link_psa_id"),)

    key: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    psa: Mapped[str] = mapped_column(sa.String(40))
    psa_ticket_id: Mapped[str | None] = mapped_column(sa.String(64))
    client: Mapped[str] = mapped_column(sa.String(200), index=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(600), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    """open | resolved | closed (as Switchboard last set or saw it)"""
    title: Mapped[str] = mapped_column(sa.String(300), default="")
    rule: Mapped[str] = mapped_column(sa.String(80), default="")
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    opened_at: Mapped[datetime] = mapped_column(default=_now)
    last_seen_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    repeat_count: Mapped[int] = mapped_column(default=0)
    notes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """note slot ("explain", "kb", …) -> PSA note id, so a note is updated rather than re-posted"""


class AlertLink(Base):
    __tablename__ = "alert_link"

    source: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    alert_id: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    client: Mapped[str] = mapped_column(sa.String(200), index=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(600))
    ticket_key: Mapped[str | None] = mapped_column(sa.String(120), index=True)
    state: Mapped[str] = mapped_column(sa.String(20), default="raised")
    raised_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    rule: Mapped[str] = mapped_column(sa.String(80), default="")
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    rmm_resolved: Mapped[bool] = mapped_column(default=False)


class RulesState(Base):
    __tablename__ = "rules_state"

    client: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    next_due: Mapped[datetime | None] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=_now)


class DecisionRow(Base):
    __tablename__ = "decision"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    client: Mapped[str] = mapped_column(sa.String(200), index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    rule: Mapped[str] = mapped_column(sa.String(80))
    reason: Mapped[str] = mapped_column(sa.Text)
    alert_id: Mapped[str | None] = mapped_column(sa.String(120))
    fingerprint: Mapped[str | None] = mapped_column(sa.String(600))
    ticket_key: Mapped[str | None] = mapped_column(sa.String(120), index=True)


class Quarantine(Base):
    __tablename__ = "quarantine"
    __table_args__ = (sa.UniqueConstraint("stream", "digest", name="uq_quarantine_stream_digest"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    stream: Mapped[str] = mapped_column(sa.String(200), index=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    payload: Mapped[str] = mapped_column(sa.Text)
    digest: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(20), default="new")
    """new | retried | dismissed"""
    seen_count: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    last_seen_at: Mapped[datetime] = mapped_column(default=_now)


class ClientMap(Base):
    __tablename__ = "client_map"
    __table_args__ = (sa.UniqueConstraint("rmm", "rmm_client_id", name="uq_client_map_rmm"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    rmm: Mapped[str] = mapped_column(sa.String(40))
    rmm_client_id: Mapped[str] = mapped_column(sa.String(120))
    rmm_name: Mapped[str] = mapped_column(sa.String(300), default="")
    psa: Mapped[str | None] = mapped_column(sa.String(40))
    psa_company_id: Mapped[str | None] = mapped_column(sa.String(120))
    psa_name: Mapped[str | None] = mapped_column(sa.String(300))
    docs: Mapped[str | None] = mapped_column(sa.String(40))
    docs_org_id: Mapped[str | None] = mapped_column(sa.String(120))
    docs_name: Mapped[str | None] = mapped_column(sa.String(300))
    source: Mapped[str] = mapped_column(sa.String(40), default="manual")
    """manual | import | vendor-link — how the row came to be (never "guessed")"""
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now)


# -- SLA clocks (issue 6) ------------------------------------------------------------------------------


class SlaTicket(Base):
    """One PSA ticket's SLA clocks: the facts observed, the steps taken, and when it is next due.

    ``next_due`` is indexed: the periodic job reads only the tickets whose next step has come
    (``WHERE next_due <= now``), never every open ticket.
    """

    __tablename__ = "sla_ticket"

    key: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    """``{psa}:{ticket id}``"""
    psa: Mapped[str] = mapped_column(sa.String(40))
    ticket_id: Mapped[str] = mapped_column(sa.String(64))
    number: Mapped[str] = mapped_column(sa.String(64), default="", index=True)
    company: Mapped[str | None] = mapped_column(sa.String(120), index=True)
    priority: Mapped[int | None] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(40), default="new")
    tier: Mapped[int] = mapped_column(default=0)
    open: Mapped[bool] = mapped_column(default=True)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    next_due: Mapped[datetime | None] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now)


class SlaEvent(Base):
    """What happened to a ticket's clocks and notifications, in order (``switchboard sla explain``)."""

    __tablename__ = "sla_event"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    ticket_key: Mapped[str] = mapped_column(sa.String(120), index=True)
    at: Mapped[datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(sa.String(40))
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(default=_now)


# -- classification, KB linking and enrichment (issue 5) ----------------------------------------------


class KBArticleRow(Base):
    """One troubleshooting article of the documentation platform, as last pulled."""

    __tablename__ = "kb_article"

    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    """``{vendor}:{article id}``"""
    vendor: Mapped[str] = mapped_column(sa.String(40), index=True)
    article_id: Mapped[str] = mapped_column(sa.String(120))
    title: Mapped[str] = mapped_column(sa.String(500))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    url: Mapped[str | None] = mapped_column(sa.Text)
    folder: Mapped[str | None] = mapped_column(sa.String(500))
    client: Mapped[str | None] = mapped_column(sa.String(120))
    content_hash: Mapped[str] = mapped_column(sa.String(40), default="")
    updated_at: Mapped[datetime | None] = mapped_column()
    """The article's own last change, as the vendor reports it."""
    withdrawn: Mapped[bool] = mapped_column(default=False)
    """Taken back in the documentation platform (draft, archived): no longer linked."""
    synced_at: Mapped[datetime] = mapped_column(default=_now)


class ClassifierModel(Base):
    """A trained classifier version: its metrics and the serialised model; at most one is active."""

    __tablename__ = "classifier_model"

    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    source: Mapped[str] = mapped_column(sa.String(300), default="")
    """Where the training data came from (``psa:autotask``, ``file:export.csv``)."""
    samples: Mapped[int] = mapped_column(default=0)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    blob: Mapped[bytes] = mapped_column(sa.LargeBinary)
    active: Mapped[bool] = mapped_column(default=False)


class TicketEnrichment(Base):
    """What enrichment decided for one ticket and what it wrote.

    ``written`` keeps the values Switchboard set (field -> value) and ``observed`` what the PSA
    showed for them after the write, so a later change by a person is recognised and never
    overwritten. ``notes`` maps note slots to PSA note ids (the suggestion note is updated, not
    re-posted).
    """

    __tablename__ = "ticket_enrichment"

    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    """``{psa}:{ticket id}`` for the PSA's own tickets; the ticket key for tickets opened from alerts"""
    psa: Mapped[str] = mapped_column(sa.String(40))
    ticket_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    origin: Mapped[str] = mapped_column(sa.String(20), default="psa")
    """psa | alert"""
    text_hash: Mapped[str] = mapped_column(sa.String(40), default="")
    type: Mapped[str | None] = mapped_column(sa.String(120))
    subtype: Mapped[str | None] = mapped_column(sa.String(200))
    priority: Mapped[int | None] = mapped_column()
    confidence: Mapped[float] = mapped_column(sa.Float, default=0.0)
    confident: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(sa.String(40), default="")
    model_version: Mapped[int | None] = mapped_column()
    kb: Mapped[list[Any]] = mapped_column(default=list)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    decision: Mapped[str] = mapped_column(sa.Text, default="")
    """What was done, for people: "set type, subtype, priority", "suggested (confidence 0.41 < 0.6)", …"""
    written: Mapped[dict[str, Any]] = mapped_column(default=dict)
    observed: Mapped[dict[str, Any]] = mapped_column(default=dict)
    human: Mapped[list[Any]] = mapped_column(default=list)
    """fields a person set: never written unless ``overwrite_human_fields``"""
    notes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    revision: Mapped[int] = mapped_column(default=0)
    shadow: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now, index=True)
