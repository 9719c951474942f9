"""The outbox: intended effects on vendors, applied exactly once on top of at-least-once jobs.

How a push stays single even when a job runs twice or its worker is killed mid-call:

1. Planning records each effect as an ``action_log`` row with an idempotency key
   (``create:{ticket}``, ``note:{ticket}:{what}``…) in the same transaction as the decision
   that caused it. A duplicate key is ignored, so re-processing an event records nothing new.
2. A push job works one *group* (one ticket's actions, in order). It claims the next row under
   a lease (row lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), calls the vendor, and marks
   the row done with the vendor's ids. Another worker finding a live lease backs off.
3. A row claimed before (``attempts > 1``) had an *unknown outcome*: before creating again the
   job searches the PSA for the correlation marker (ticket ``externalID``-style field, or the
   marker line at the end of a note) and adopts what it finds instead of posting twice.
4. Ids learned from the vendor are committed the moment they are known, so a crash after the
   call but before "done" is recovered by step 3, not by a second create.

Failures: a retriable error (429/5xx/timeout after the HTTP layer's own retries) releases the
row and re-raises, so RQ's ``Retry`` runs the job later; a fatal one (bad credentials,
validation) marks the row ``failed`` with the vendor's message, and the group's later rows wait
as ``blocked`` until ``switchboard actions retry``. In shadow mode rows are recorded as
``shadow`` and never applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connectors.canonical import NoteDraft, Ticket, TicketDraft, TicketPatch, TicketStatus
from connectors.errors import FatalError, NotFound, RetriableError, ValidationFailed
from pipelines.state import ActionRow, AlertLink, TicketEnrichment, TicketLink

__all__ = ["Action", "GroupResult", "LeaseHeld", "PushTargets", "pending_groups", "push_group", "record"]

KINDS = ("create_ticket", "update_ticket", "add_note", "upsert_note", "close_ticket", "reopen_ticket", "resolve_alert",
         "send_email")


class LeaseHeld(Exception):
    """Another worker is applying this group right now; try again after its lease."""


@dataclass(frozen=True)
class Action:
    key: str
    group: str
    kind: str
    payload: dict[str, Any]
    client: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown action kind {self.kind!r}")


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def record(
    session: Session,
    actions: Iterable[Action],
    *,
    now: datetime,
    status: str = "pending",
    blocked: dict[str, str] | None = None,
) -> list[str]:
    """Record actions in order (duplicates by key are ignored); returns the groups with new pending rows.

    ``blocked`` maps action keys that cannot go out yet to the reason (kept as ``last_error``);
    since a group is applied in order, everything after a blocked row waits with it.
    """
    blocked = blocked or {}
    rows = [
        {
            "key": a.key, "grp": a.group, "kind": a.kind, "payload": a.payload, "attempts": 0, "client": a.client,
            "status": "blocked" if a.key in blocked and status == "pending" else status,
            "last_error": blocked.get(a.key), "created_at": now, "updated_at": now,
        }
        for a in actions
    ]
    if not rows:
        return []
    insert = _insert(session)
    result = session.execute(
        insert(ActionRow).values(rows).on_conflict_do_nothing(index_elements=["key"])
        .returning(ActionRow.grp, ActionRow.status)
    )
    return sorted({g for g, st in result if st == "pending"})


def pending_groups(session: Session, *, older_than: datetime | None = None, limit: int = 1000) -> list[str]:
    """Groups with work left: pending rows, or running rows whose lease ran out (a dead worker).

    Groups held back by a failed or blocked row are left out: they wait for a person."""
    now = datetime.now(UTC)
    cond = sa.or_(
        ActionRow.status == "pending",
        sa.and_(ActionRow.status == "running", ActionRow.lease_until < now),
    )
    stuck = sa.select(ActionRow.grp).where(ActionRow.status.in_(("failed", "blocked")))
    q = sa.select(ActionRow.grp).where(cond, ActionRow.grp.not_in(stuck))
    if older_than is not None:
        q = q.where(ActionRow.updated_at <= older_than)
    return sorted(set(session.scalars(q.limit(limit))))


@dataclass
class PushTargets:
    """Where actions go: the PSA for ticket actions, RMM connectors by vendor for alert ones."""

    psa: Any
    rmm: Any = None
    rmm_by_vendor: dict[str, Any] = field(default_factory=dict)
    notifier: Any = None
    """Sends ``send_email`` actions (:class:`pipelines.notify.Notifier`); None: e-mail is not configured."""

    def rmm_for(self, vendor: str) -> Any:
        return self.rmm_by_vendor.get(vendor, self.rmm)


@dataclass
class GroupResult:
    group: str
    done: list[tuple[str, str]] = field(default_factory=list)
    """(kind, outcome) for each row applied"""
    failed: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Claim:
    id: int
    key: str
    kind: str
    payload: dict[str, Any]
    attempts: int


class _Pusher:
    def __init__(self, db: Any, targets: PushTargets, lease: timedelta) -> None:
        self.db = db
        self.targets = targets
        self.lease = lease

    # -- claiming ---------------------------------------------------------------------------------
    def claim_next(self, group: str) -> _Claim | None:
        now = datetime.now(UTC)
        with self.db.session() as s:
            return self._claim_in(s, group, now)

    def _claim_in(self, s: Session, group: str, now: datetime) -> _Claim | None:
        while True:
            q = (
                sa.select(ActionRow)
                .where(ActionRow.grp == group, ActionRow.status.in_(("pending", "running", "failed", "blocked")))
                .order_by(ActionRow.id)
                .limit(1)
            )
            if s.get_bind().dialect.name == "postgresql":
                q = q.with_for_update()
            row = s.scalar(q)
            if row is None or row.status in ("failed", "blocked"):
                return None  # a failed or blocked row holds the rest of its group back, in order
            if row.status == "running" and row.lease_until is not None and row.lease_until > now:
                raise LeaseHeld(f"{group}: action {row.key} is being applied by another worker")
            if row.kind == "upsert_note" and self._superseded(s, row):
                row.status, row.updated_at, row.done_at = "skipped", now, now
                row.result = {"outcome": "superseded by a newer version of the note"}
                s.flush()
                continue
            row.status = "running"
            row.attempts += 1
            row.lease_until = now + self.lease
            row.updated_at = now
            return _Claim(row.id, row.key, row.kind, dict(row.payload), row.attempts)

    @staticmethod
    def _superseded(s: Session, row: ActionRow) -> bool:
        """A later pending upsert of the same note slot makes this one pointless."""
        slot = row.payload.get("slot")
        later = s.scalars(
            sa.select(ActionRow.payload).where(
                ActionRow.grp == row.grp, ActionRow.kind == "upsert_note", ActionRow.status == "pending",
                ActionRow.id > row.id,
            )
        )
        return any(p.get("slot") == slot for p in later)

    def finish(self, claim: _Claim, status: str, result: dict[str, Any] | None, error: str | None = None) -> None:
        now = datetime.now(UTC)
        with self.db.session() as s:
            row = s.get(ActionRow, claim.id)
            assert row is not None
            row.status = status
            row.result = result
            row.last_error = error
            row.lease_until = None
            row.updated_at = now
            if status in ("done", "skipped"):
                row.done_at = now
            if status == "failed":
                s.execute(
                    sa.update(ActionRow)
                    .where(ActionRow.grp == row.grp, ActionRow.status == "pending", ActionRow.id > row.id)
                    .values(status="blocked", last_error=f"waiting for {row.key}", updated_at=now)
                )

    # -- links ------------------------------------------------------------------------------------
    def link(self, key: str) -> TicketLink:
        with self.db.session() as s:
            link = s.get(TicketLink, key)
            if link is None:
                raise FatalError(f"ticket {key} is not known to Switchboard")
            s.expunge(link)
            return link

    def save_link(self, key: str, **changes: Any) -> None:
        with self.db.session() as s:
            link = s.get(TicketLink, key)
            assert link is not None
            for name, value in changes.items():
                setattr(link, name, value)

    def ticket_id(self, key: str) -> str:
        link = self.link(key)
        if not link.psa_ticket_id:
            raise FatalError(f"ticket {key} was never created in the PSA (its create action failed)")
        return link.psa_ticket_id

    # -- effects ------------------------------------------------------------------------------------
    def apply(self, claim: _Claim) -> dict[str, Any]:
        p = claim.payload
        retry = claim.attempts > 1
        psa = self.targets.psa
        if claim.kind == "create_ticket":
            return self._create(p, retry)
        if claim.kind == "resolve_alert":
            try:
                self.targets.rmm_for(p["source"]).resolve_alert(p["alert_id"])
            except NotFound:
                return {"outcome": "alert no longer exists in the RMM"}
            with self.db.session() as s:
                s.execute(
                    sa.update(AlertLink)
                    .where(AlertLink.source == p["source"], AlertLink.alert_id == p["alert_id"])
                    .values(rmm_resolved=True)
                )
            return {"outcome": "alert resolved in the RMM"}
        if claim.kind == "send_email":
            if self.targets.notifier is None:
                raise FatalError("e-mail is not configured: set SWITCHBOARD_SMTP__HOST")
            return dict(self.targets.notifier.send_email(p, retry=retry))
        # a ticket Switchboard did not open (SLA notes and patches) is addressed by its PSA id
        ticket_id = p.get("psa_ticket_id") or self.ticket_id(p["ticket"])
        if claim.kind == "add_note":
            return self._note(ticket_id, p, retry, slot=None)
        if claim.kind == "upsert_note":
            return self._note(ticket_id, p, retry, slot=p["slot"])
        if claim.kind == "update_ticket":
            patch = TicketPatch.model_validate(p["patch"])
            try:
                updated = psa.update_ticket(ticket_id, patch)
            except ValidationFailed as exc:
                if not p.get("types_optional") or (patch.type is None and patch.subtype is None):
                    raise
                rest = patch.model_copy(update={"type": None, "subtype": None})
                updated = psa.update_ticket(ticket_id, rest) if not rest.is_empty() else None
                return {"outcome": f"updated without type/subtype: {exc}", "types": "refused",
                        **_fields_of(updated)}
            return {"outcome": "updated", **_fields_of(updated)}
        if claim.kind == "reopen_ticket":
            if psa.get_ticket(ticket_id).is_open:  # a person kept it open: never undo their status
                self.save_link(p["ticket"], status="open", closed_at=None)
                return {"outcome": "already open in the PSA; status left as it is"}
            psa.update_ticket(ticket_id, TicketPatch(status=TicketStatus.new))
            self.save_link(p["ticket"], status="open", closed_at=None)
            return {"outcome": "reopened"}
        if claim.kind == "close_ticket":
            return self._close(ticket_id, p)
        raise FatalError(f"unknown action kind {claim.kind}")

    def _create(self, p: dict[str, Any], retry: bool) -> dict[str, Any]:
        key = p["ticket"]
        link = self.link(key)
        if link.psa_ticket_id:
            return {"outcome": "already created", "ticket_id": link.psa_ticket_id}
        draft = TicketDraft.model_validate(p["draft"])
        if retry:
            found = self.targets.psa.find_ticket_by_marker(draft.marker)
            if found is not None:
                self.save_link(key, psa_ticket_id=found.ref.id)
                return {"outcome": "found by marker after an unknown outcome", "ticket_id": found.ref.id}
        try:
            ticket = self.targets.psa.create_ticket(draft)
        except ValidationFailed as exc:
            if not p.get("types_optional") or (draft.type is None and draft.subtype is None):
                raise
            # the PSA does not know the type names (no mapping for it yet): the ticket matters more
            ticket = self.targets.psa.create_ticket(draft.model_copy(update={"type": None, "subtype": None}))
            self.save_link(key, psa_ticket_id=ticket.ref.id)
            return {"outcome": f"created without type/subtype: {exc}", "ticket_id": ticket.ref.id, "types": "refused"}
        self.save_link(key, psa_ticket_id=ticket.ref.id)
        return {"outcome": "created", "ticket_id": ticket.ref.id}

    def _note(self, ticket_id: str, p: dict[str, Any], retry: bool, slot: str | None) -> dict[str, Any]:
        psa = self.targets.psa
        draft = NoteDraft(body=p["body"], marker=p["marker"], internal=p.get("internal", True), title=p.get("title", "Switchboard"))
        note_id = self._notes(p["ticket"]).get(slot) if slot else None
        if note_id:
            psa.update_note(ticket_id, note_id, draft)
            return {"outcome": "note updated", "note_id": note_id}
        if retry:
            for note in psa.list_notes(ticket_id):
                if f"[switchboard:{draft.marker}]" in note.body:
                    self._remember_note(p["ticket"], slot, note.ref.id)
                    return {"outcome": "note found by marker after an unknown outcome", "note_id": note.ref.id}
        note = psa.add_note(ticket_id, draft)
        self._remember_note(p["ticket"], slot, note.ref.id)
        return {"outcome": "note added", "note_id": note.ref.id}

    def _notes(self, key: str) -> dict[str, Any]:
        """Note slot -> PSA note id of a ticket: Switchboard's own (``ticket_link``) or an enriched one."""
        with self.db.session() as s:
            link = s.get(TicketLink, key)
            if link is not None:
                return dict(link.notes or {})
            enriched = s.get(TicketEnrichment, key)
            if enriched is not None:
                return dict(enriched.notes or {})
        raise FatalError(f"ticket {key} is not known to Switchboard")

    def _remember_note(self, key: str, slot: str | None, note_id: str) -> None:
        if not slot:
            return
        with self.db.session() as s:
            row = s.get(TicketLink, key) or s.get(TicketEnrichment, key)
            if row is None:
                raise FatalError(f"ticket {key} is not known to Switchboard")
            row.notes = {**(row.notes or {}), slot: note_id}

    def _close(self, ticket_id: str, p: dict[str, Any]) -> dict[str, Any]:
        psa = self.targets.psa
        status = TicketStatus(p.get("status", "closed"))
        current = psa.get_ticket(ticket_id)
        if not current.is_open:
            self.save_link(p["ticket"], status=current.status.value)
            return {"outcome": "already closed in the PSA", "moved": False}
        if p.get("only_if_untouched", True):
            why = touched_by_person(psa, ticket_id, current)
            if why:
                return {"outcome": f"left open: {why}", "moved": False, "touched": why}
        psa.update_ticket(ticket_id, TicketPatch(status=status))
        self.save_link(p["ticket"], status=status.value, closed_at=datetime.now(UTC))
        return {"outcome": f"moved to {status.value}", "moved": True}


def _fields_of(ticket: Any) -> dict[str, Any]:
    """The classification fields as the PSA shows them after a write (its ids for the names we sent)."""
    if not isinstance(ticket, Ticket):
        return {}
    return {"fields": {"type": ticket.type, "subtype": ticket.subtype, "priority": ticket.priority}}


def touched_by_person(psa: Any, ticket_id: str, ticket: Any) -> str | None:
    """Why a person has touched the ticket (so Switchboard must not close it), or None."""
    if ticket.status not in (TicketStatus.new, TicketStatus.other) and ticket.status.is_open:
        return f"a person changed its status to {ticket.status_label or ticket.status.value}"
    if ticket.assigned_to is not None:
        return "a person assigned it"
    entries = psa.list_time_entries(ticket_id)
    if entries:
        return f"{len(entries)} time entr{'y' if len(entries) == 1 else 'ies'} logged"
    human = [n for n in psa.list_notes(ticket_id) if not n.by_integration]
    if human:
        return f"{len(human)} note(s) by a person"
    return None


def push_group(db: Any, targets: PushTargets, group: str, *, lease_seconds: int = 90) -> GroupResult:
    """Apply the group's pending actions in order. Raises :class:`LeaseHeld` or a retriable error."""
    pusher = _Pusher(db, targets, timedelta(seconds=lease_seconds))
    result = GroupResult(group)
    while True:
        claim = pusher.claim_next(group)
        if claim is None:
            return result
        try:
            outcome = pusher.apply(claim)
        except RetriableError as exc:
            pusher.finish(claim, "pending", None, str(exc))
            raise
        except (FatalError, ValueError) as exc:  # ValueError: a request the connector cannot express (unmapped status)
            pusher.finish(claim, "failed", None, str(exc))
            result.failed.append((claim.kind, str(exc)))
            return result
        pusher.finish(claim, "done", outcome)
        result.done.append((claim.kind, str(outcome.get("outcome", ""))))


def retry_failed(session: Session, groups: Sequence[str] | None = None) -> list[str]:
    """Put failed and blocked rows back to pending (after a person fixed the cause)."""
    q = sa.select(ActionRow).where(ActionRow.status.in_(("failed", "blocked")))
    if groups:
        q = q.where(ActionRow.grp.in_(groups))
    touched: set[str] = set()
    for row in session.scalars(q):
        row.status = "pending"
        row.last_error = None
        row.updated_at = datetime.now(UTC)
        touched.add(row.grp)
    return sorted(touched)
