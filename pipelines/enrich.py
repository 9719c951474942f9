"""Enrichment: every ticket typed, prioritised and carrying its troubleshooting articles.

- :func:`consume` is a PSA ticket consumer (``pipelines.tickets.CONSUMERS``). For each new ticket,
  and each ticket whose title or description changed, it runs the enricher (``rules.enrich``:
  taxonomy classifier, the active trained model if any, the priority matrix, the KB index) and
  records, in the poll's transaction:

  * an ``update_ticket`` outbox action writing back type/subtype/priority — only the fields
    ``enrichment.yaml: fields`` allows, never a field a person set (unless
    ``overwrite_human_fields``), and type/subtype only when the prediction is confident (at or
    above ``threshold``); the PSA connector resolves the taxonomy names to its ids. A PSA that
    does not know a type name keeps the ticket untyped (the push says so) rather than failing;
  * one ``upsert_note`` action: the suggestion note (type, priority, the best articles and why),
    posted once and updated in place when the ticket's text changes — never re-posted.

  Both go in the ticket's own outbox group ``enrich:{psa}:{id}`` (note first), keyed
  ``enrich:{psa}:{id}:{note|fields}:{revision}``: a re-delivered ticket whose text did not change
  records nothing; a batch rolled back and polled again records the same keys.

- *Telling Switchboard's values from a person's.* ``ticket_enrichment.written`` keeps each value
  Switchboard set; once that push is done, the next poll's value is remembered in ``observed``.
  A field that differs from it later was changed by a person: it goes in ``human`` and is left
  alone from then on. A field that already had a value the first time Switchboard saw the ticket
  is a person's too (except ``unset_priority``).

- *Client articles.* With ``kb.client_scope`` (default on), a ticket is linked only to shared
  articles and to its own client's (:class:`rules.kb_index.KBScope`): the client's documentation
  organisation comes from the client map (``switchboard clients map … --docs-org``), by the
  ticket's PSA company or, for alert tickets, the RMM client. A client not in the map gets the
  shared articles only — an unknown client is never shown another client's runbook.

- Tickets Switchboard opened from alerts are enriched when they are planned (see
  :func:`alert_enricher` and ``pipelines/plan.py``), so the consumer skips them.

- Shadow (``SWITCHBOARD_MODE=shadow`` or ``enrichment.yaml: shadow``): everything is decided and
  recorded, the actions as ``shadow``; nothing is written to the PSA.

Trained models are versioned in ``classifier_model`` (:func:`save_model`, :func:`activate`); the
active one is loaded by the enricher (rules model only when none is).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from connectors.canonical import Ticket, TicketPatch, utc
from pipelines import kb as kb_store
from pipelines import outbox
from pipelines.state import ActionRow, ClassifierModel, ClientMap, TicketEnrichment, TicketLink
from rules.enrich import DEFAULT_THRESHOLD
from rules.enrich_note import suggestion_note
from rules.enrichment_config import EnrichmentConfig
from rules.kb_index import KBScope

__all__ = [
    "EnrichReport", "activate", "active_model", "alert_enricher", "config_of", "consume", "enricher_for",
    "list_models", "record_of", "save_model", "text_hash",
]

log = logging.getLogger("switchboard.enrich")

NOTE_SLOT = "enrich"
FIELDS = ("type", "subtype", "priority")


def config_of(ctx: Any) -> EnrichmentConfig:
    return ctx.configs["enrichment.yaml"]  # type: ignore[no-any-return]


def shadow_of(ctx: Any) -> bool:
    return bool(ctx.shadow or config_of(ctx).shadow)


def text_hash(title: str, description: str) -> str:
    return hashlib.sha1(f"{title.strip()}\n{(description or '').strip()}".encode()).hexdigest()[:32]


# -- model versions ---------------------------------------------------------------------------------


def save_model(session: Session, blob: bytes, *, metrics: Mapping[str, Any], source: str, samples: int,
               now: datetime, activate_it: bool = True) -> int:
    """Store a trained model as the next version (and make it the active one)."""
    last = session.scalar(sa.select(sa.func.max(ClassifierModel.version))) or 0
    version = int(last) + 1
    if activate_it:
        session.execute(sa.update(ClassifierModel).values(active=False))
    session.add(ClassifierModel(version=version, created_at=now, source=source[:300], samples=samples,
                                metrics=dict(metrics), blob=blob, active=activate_it))
    session.flush()
    return version


def activate(session: Session, version: int | None) -> None:
    """Make ``version`` the active model (None: no trained model, the rules model alone)."""
    if version is not None and session.get(ClassifierModel, version) is None:
        raise KeyError(f"no model version {version}")
    session.execute(sa.update(ClassifierModel).values(active=False))
    if version is not None:
        session.execute(sa.update(ClassifierModel).where(ClassifierModel.version == version).values(active=True))


def active_model(session: Session) -> tuple[int, bytes] | None:
    row = session.execute(sa.select(ClassifierModel.version, ClassifierModel.blob)
                          .where(ClassifierModel.active.is_(True)).limit(1)).first()
    return (int(row[0]), bytes(row[1])) if row else None


def active_version(session: Session) -> int | None:
    return session.scalar(sa.select(ClassifierModel.version).where(ClassifierModel.active.is_(True)).limit(1))


def list_models(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(sa.select(ClassifierModel).order_by(ClassifierModel.version))
    return [{"version": r.version, "created_at": r.created_at.isoformat(), "source": r.source, "samples": r.samples,
             "metrics": r.metrics, "active": r.active, "bytes": len(r.blob)} for r in rows]


# -- the enricher -------------------------------------------------------------------------------------

_CACHE: dict[tuple[Any, ...], tuple[Any, int | None, str]] = {}


def enricher_for(ctx: Any, session: Session) -> tuple[Any, int | None, str]:
    """The enricher for the current KB and model: (enricher, model version, KB source).

    Built once per process for each KB state (count and last sync of the synced articles) and
    active model version; rebuilt when either changes.
    """
    from rules.enrich import Enricher

    cfg = config_of(ctx)
    vendor = ctx.settings.docs
    active = session.execute(sa.select(ClassifierModel.version, ClassifierModel.created_at)
                             .where(ClassifierModel.active.is_(True)).limit(1)).first()
    version = int(active[0]) if active else None
    key = (ctx.settings.effective_database_url, ctx.settings.db_schema, str(ctx.settings.config_dir or ""),
           kb_store.signature(session, vendor), tuple(active) if active else None, cfg.kb.fallback_builtin,
           cfg.threshold)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    articles, source = kb_store.index_articles(session, vendor, fallback_builtin=cfg.kb.fallback_builtin)
    model = active_model(session)
    enricher = Enricher.default(ctx.settings.config_dir, articles=articles, model_bytes=model[1] if model else None,
                                threshold=cfg.threshold)
    if len(_CACHE) > 8:
        _CACHE.clear()
    _CACHE[key] = (enricher, version, source)
    return _CACHE[key]


def record_of(e: Any, cfg: EnrichmentConfig, model_version: int | None) -> dict[str, Any]:
    """The JSON-able record of an :class:`rules.enrich.Enrichment` under this configuration."""
    confident = bool(e.confident) if cfg.threshold is None else e.confidence >= cfg.threshold
    threshold = cfg.threshold if cfg.threshold is not None else DEFAULT_THRESHOLD
    kb = [{"title": k.title, "url": k.url, "score": round(float(k.score), 3), "why": k.why, "ref": k.ref}
          for k in e.kb if float(k.score) >= cfg.kb.min_score][: max(cfg.note.max_articles, 3)]
    return {
        "type": e.type, "subtype": e.subtype, "confidence": round(float(e.confidence), 3),
        "confident": bool(confident and e.type), "priority": e.priority, "source": e.source,
        "threshold": threshold, "kb": kb, "reasons": list(e.reasons)[:12], "model_version": model_version,
    }


def _enrich(enricher: Any, title: str, description: str, **kw: Any) -> Any:
    return enricher.enrich(title or "", description or "", **kw)


class KBScopes:
    """Each client's :class:`KBScope` from the client map, looked up once per batch.

    ``None`` (every article) when ``kb.client_scope`` is off; otherwise the shared articles plus
    those of the documentation organisation the map gives the client (none found: shared only).
    """

    def __init__(self, ctx: Any, session: Session, cfg: EnrichmentConfig) -> None:
        self.on = cfg.kb.client_scope
        self.session, self.settings = session, ctx.settings
        self._seen: dict[tuple[str, str | None], KBScope | None] = {}

    def _org(self, where: Any) -> str | None:
        q = sa.select(ClientMap.docs_org_id).where(where, ClientMap.docs == self.settings.docs,
                                                   ClientMap.docs_org_id.is_not(None))
        return self.session.scalars(q.order_by(ClientMap.id).limit(1)).first()

    def _scope(self, kind: str, client: str | None, where: Callable[[], Any]) -> KBScope | None:
        if not self.on:
            return None
        key = (kind, client)
        if key not in self._seen:
            self._seen[key] = KBScope(self._org(where()) if client and self.settings.docs else None)
        return self._seen[key]

    def of_company(self, company_id: str | None) -> KBScope | None:
        """A PSA ticket's scope, by its company."""
        return self._scope("psa", company_id, lambda: sa.and_(ClientMap.psa == self.settings.psa,
                                                              ClientMap.psa_company_id == company_id))

    def of_rmm_client(self, client: str | None) -> KBScope | None:
        """An alert ticket's scope, by the RMM's client id."""
        return self._scope("rmm", client, lambda: sa.and_(ClientMap.rmm == self.settings.rmm,
                                                          ClientMap.rmm_client_id == client))


# -- tickets opened from alerts -----------------------------------------------------------------------


def alert_enricher(ctx: Any, session: Session) -> Callable[[Mapping[str, Any]], dict[str, Any]] | None:
    """For ``pipelines.plan``: alert ticket data -> enrichment record (None: enrichment of alert tickets is off)."""
    cfg = config_of(ctx)
    if not (cfg.enabled and cfg.alert_tickets):
        return None
    state: dict[str, Any] = {}
    scopes = KBScopes(ctx, session, cfg)

    def run(data: Mapping[str, Any]) -> dict[str, Any]:
        if "enricher" not in state:
            state["enricher"], state["version"], _ = enricher_for(ctx, session)
            state["names"] = _psa_names_for(ctx, state["enricher"])
        severity = data.get("severity")
        client = data.get("client")
        e = _enrich(state["enricher"], str(data.get("title", "")), str(data.get("text", "")),
                    severity=str(severity) if severity else None,
                    kb_scope=scopes.of_rmm_client(str(client) if client else None))
        rec = record_of(e, cfg, state["version"])
        rec["psa_type"], rec["psa_subtype"] = state["names"](rec["type"], rec["subtype"], None)
        return rec

    return run


def stored_records(session: Session, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Enrichment records of tickets opened from alerts, by ticket key."""
    if not keys:
        return {}
    rows = session.scalars(sa.select(TicketEnrichment).where(TicketEnrichment.key.in_(list(keys))))
    return {r.key: _record_of_row(r) for r in rows}


def _record_of_row(r: TicketEnrichment) -> dict[str, Any]:
    return {"type": r.type, "subtype": r.subtype, "confidence": r.confidence, "confident": r.confident,
            "priority": r.priority, "source": r.source, "kb": list(r.kb or []), "reasons": list(r.reasons or []),
            "model_version": r.model_version}


def remember_alert_records(ctx: Any, session: Session, records: Mapping[str, dict[str, Any]],
                           written: Mapping[str, dict[str, Any]], now: datetime) -> None:
    """Keep the records of newly planned alert tickets (their note is re-rendered from them)."""
    for key, rec in records.items():
        if session.get(TicketEnrichment, key) is not None:
            continue
        session.add(TicketEnrichment(
            key=key, psa=ctx.settings.psa, ticket_id=None, origin="alert", text_hash="",
            type=rec.get("type"), subtype=rec.get("subtype"), priority=rec.get("priority"),
            confidence=float(rec.get("confidence") or 0), confident=bool(rec.get("confident")),
            source=str(rec.get("source") or ""), model_version=rec.get("model_version"), kb=rec.get("kb") or [],
            reasons=rec.get("reasons") or [], decision="set at creation: " + (", ".join(written.get(key, {})) or "nothing"),
            written=dict(written.get(key, {})), observed={}, human=[], notes={}, revision=1, shadow=shadow_of(ctx),
            created_at=now, updated_at=now,
        ))


# -- the PSA's own tickets ------------------------------------------------------------------------------


@dataclass
class EnrichReport:
    tickets: int = 0
    enriched: int = 0
    written: int = 0
    suggested: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)


def _current(t: Ticket, name: str) -> Any:
    return getattr(t, name)


def _lock(session: Session, key: str) -> TicketEnrichment | None:
    q = sa.select(TicketEnrichment).where(TicketEnrichment.key == key)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    return session.scalar(q)


def _create(session: Session, key: str, values: dict[str, Any]) -> TicketEnrichment:
    """Insert the row unless another worker just did (then take theirs, locked)."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(TicketEnrichment).values(**values).on_conflict_do_nothing(index_elements=["key"]))
    row = _lock(session, key)
    assert row is not None
    return row


def _prefetch(session: Session, tickets: Sequence[Ticket]) -> tuple[set[Any], dict[str, TicketEnrichment]]:
    """Switchboard's own tickets among these (markers and (psa, id)), and the enrichment rows
    already kept for the others (locked on PostgreSQL) — a few queries per batch, not per ticket."""
    ours: set[Any] = set()
    rows: dict[str, TicketEnrichment] = {}
    pg = session.get_bind().dialect.name == "postgresql"
    items = list(tickets)
    for i in range(0, len(items), 500):
        chunk = items[i:i + 500]
        markers = [t.marker for t in chunk if t.marker]
        if markers:
            ours.update(session.scalars(sa.select(TicketLink.key).where(TicketLink.key.in_(markers))))
        for vendor in {t.ref.vendor for t in chunk}:
            ids = [t.ref.id for t in chunk if t.ref.vendor == vendor]
            ours.update((vendor, tid) for tid in session.scalars(sa.select(TicketLink.psa_ticket_id).where(
                TicketLink.psa == vendor, TicketLink.psa_ticket_id.in_(ids))))
        q = sa.select(TicketEnrichment).where(TicketEnrichment.key.in_([f"{t.ref.vendor}:{t.ref.id}" for t in chunk]))
        if pg:
            q = q.order_by(TicketEnrichment.key).with_for_update()
        rows.update((r.key, r) for r in session.scalars(q))
    return ours, rows


def _notice_people(session: Session, row: TicketEnrichment, t: Ticket) -> None:
    """After Switchboard's write landed, a later different value is a person's change."""
    if not row.written:
        return
    observed = dict(row.observed)
    action = observed.pop("_action", None)
    if action:
        found = session.execute(sa.select(ActionRow.status, ActionRow.result).where(ActionRow.key == action)).first()
        if found is None or found[0] != "done":
            return  # not applied yet (or shadow): what the PSA shows is not ours to compare
        shown = (found[1] or {}).get("fields") or {}
        for name in row.written:
            if name not in observed and shown.get(name) is not None:
                observed[name] = shown[name]  # the PSA's id for the name we wrote, right after our write
    human = list(row.human)
    written = dict(row.written)
    for name, ours in list(written.items()):
        current = _current(t, name)
        if name == "priority":
            changed = current is not None and current != ours
        elif name in observed:
            changed = current != observed[name]
        else:
            if current is not None:
                observed[name] = current  # the PSA's id for the name we wrote
            changed = False
        if changed:
            human.append(name)
            written.pop(name)
            observed.pop(name, None)
    if human != list(row.human):
        row.human, row.written, row.observed = sorted(set(human)), written, observed
    elif observed != row.observed:
        row.observed = observed


def _plan_fields(t: Ticket, row: TicketEnrichment, rec: Mapping[str, Any], cfg: EnrichmentConfig,
                 psa_names: Callable[[str | None, str | None, str | None], tuple[str | None, str | None]]
                 ) -> tuple[dict[str, Any], dict[str, str]]:
    """The fields to write and, per field, what happens to it (for the note)."""
    patch: dict[str, Any] = {}
    outcome: dict[str, str] = {}
    human = set(row.human)
    ptype, psub = psa_names(rec.get("type"), rec.get("subtype"), t.board)
    wanted: dict[str, Any] = {"priority": rec.get("priority")}
    if rec.get("confident"):
        wanted.update(type=ptype, subtype=psub)
    for name in FIELDS:
        value = wanted.get(name)
        if name in ("type", "subtype") and not rec.get("confident"):
            outcome[name] = "left for the dispatcher"
            continue
        if value is None:
            continue
        if name not in cfg.fields:
            outcome[name] = "suggested (not written: enrichment.yaml fields)"
            continue
        current = _current(t, name)
        ours = name in row.written
        if not cfg.overwrite_human_fields:
            if name in human:
                outcome[name] = _kept(name, current)
                continue
            unset = current is None or (name == "priority" and cfg.unset_priority is not None
                                        and current == cfg.unset_priority)
            if not ours and not unset:
                human.add(name)
                outcome[name] = _kept(name, current)
                continue
        if ours and row.written.get(name) == value:
            outcome[name] = "set"
            continue
        if name == "priority" and current == value:
            outcome[name] = "already so"
            continue
        patch[name] = value
        outcome[name] = "set"
    if human != set(row.human):
        row.human = sorted(human)
    return patch, outcome


def _kept(name: str, current: Any) -> str:
    shown = f" (P{current})" if name == "priority" and current is not None else ""
    return f"suggested only: a person set the ticket's {name}{shown}"


def _psa_names_for(ctx: Any, enricher: Any) -> Callable[[str | None, str | None, str | None], tuple[str | None, str | None]]:
    """Taxonomy names -> the PSA's own type/subtype names (``taxonomy.yaml: psa_names``, board then ``*``)."""
    taxonomy = getattr(enricher, "taxonomy", None)
    if taxonomy is None or not hasattr(taxonomy, "psa_name"):
        from rules.taxonomy import load_taxonomy

        taxonomy = load_taxonomy(ctx.settings.config_dir)
    psa = ctx.settings.psa

    def names(type_: str | None, subtype: str | None, board: str | None) -> tuple[str | None, str | None]:
        return (taxonomy.psa_name(psa, board, type_) if type_ else None,
                taxonomy.psa_name(psa, board, subtype) if subtype else None)

    return names


def _is_vip(ctx: Any, holder: dict[str, Any], t: Ticket) -> bool:
    """Whether the ticket's contact is a VIP in the PSA (the SLA directory's cached contacts);
    False when the PSA cannot be asked now — the priority is then decided without it."""
    if t.contact is None or holder.get("down"):
        return False
    from pipelines.notify import DirectoryUnavailable
    from pipelines.sla import directory_of

    try:
        if "d" not in holder:
            holder["d"] = directory_of(ctx)
        row = holder["d"].contact(t.company.id if t.company else None, t.contact.id)
    except DirectoryUnavailable as exc:
        log.warning("enrichment: contacts unavailable (%s); priority decided without VIP", exc)
        holder["down"] = True
        return False
    return bool((row or {}).get("vip"))


def consume(ctx: Any, session: Session, tickets: Sequence[Ticket], now: datetime) -> list[str]:
    """Ticket consumer: enrich new tickets and tickets whose text changed (see module doc)."""
    return enrich_tickets(ctx, session, tickets, now).groups


def enrich_tickets(ctx: Any, session: Session, tickets: Sequence[Ticket], now: datetime) -> EnrichReport:
    cfg = config_of(ctx)
    report = EnrichReport()
    if not (cfg.enabled and cfg.existing_tickets) or not tickets:
        return report
    now = utc(now)
    shadow = shadow_of(ctx)
    status = "shadow" if shadow else "pending"
    enricher: Any = None
    version: int | None = None
    psa_names: Any = None
    recorded: list[outbox.Action] = []
    directory: dict[str, Any] = {}
    scopes = KBScopes(ctx, session, cfg)

    def skip(why: str) -> None:
        report.skipped[why] = report.skipped.get(why, 0) + 1

    ours, rows = _prefetch(session, tickets)
    for t in tickets:
        report.tickets += 1
        if (t.marker and t.marker in ours) or (t.ref.vendor, t.ref.id) in ours:
            skip("opened by Switchboard (enriched at creation)")
            continue
        key = f"{t.ref.vendor}:{t.ref.id}"
        row = rows.get(key)
        if row is not None:
            _notice_people(session, row, t)
        if cfg.skip.status(t.status.value, t.status_label):
            skip("status")
            continue
        if cfg.skip.board(t.board):
            skip("board")
            continue
        digest = text_hash(t.title, t.description)
        if row is not None and row.text_hash == digest:
            skip("unchanged")
            continue
        if enricher is None:
            enricher, version, _source = enricher_for(ctx, session)
            psa_names = _psa_names_for(ctx, enricher)
        vip = cfg.vip_contacts and _is_vip(ctx, directory, t)
        rec = record_of(_enrich(enricher, t.title, t.description, vip=vip,
                                kb_scope=scopes.of_company(t.company.id if t.company else None)), cfg, version)
        if row is None:
            # what the ticket already carries the first time Switchboard sees it is a person's
            human = sorted(name for name in FIELDS if _current(t, name) is not None and not (
                name == "priority" and cfg.unset_priority is not None and t.priority == cfg.unset_priority))
            row = _create(session, key, dict(
                key=key, psa=t.ref.vendor, ticket_id=t.ref.id, origin="psa", text_hash="", written={}, observed={},
                human=human, notes={}, kb=[], reasons=[], revision=0, created_at=now, updated_at=now,
                confidence=0.0, confident=False, source="", decision="", shadow=shadow))
            if row.text_hash == digest:
                skip("unchanged")
                continue  # another worker enriched it a moment ago
        patch, outcome = _plan_fields(t, row, rec, cfg, psa_names)
        body = suggestion_note(rec, outcome, max_articles=cfg.note.max_articles)
        rev = row.revision + 1
        group = f"enrich:{key}"
        actions: list[outbox.Action] = []
        if cfg.note.enabled:
            actions.append(outbox.Action(
                f"enrich:{key}:note:{rev}", group, "upsert_note",
                {"ticket": key, "psa_ticket_id": t.ref.id, "slot": NOTE_SLOT, "body": body, "marker": f"enrich:{key}",
                 "internal": cfg.note.internal, "title": cfg.note.title[:250]},
                t.company.id if t.company else None,
            ))
        if patch:
            fields_key = f"enrich:{key}:fields:{rev}"
            actions.append(outbox.Action(
                fields_key, group, "update_ticket",
                {"ticket": key, "psa_ticket_id": t.ref.id, "types_optional": True,
                 "patch": TicketPatch(**patch).model_dump(mode="json", exclude_none=True)},
                t.company.id if t.company else None,
            ))
            written = dict(row.written)
            observed = {k: v for k, v in row.observed.items() if k not in patch}
            written.update(patch)
            observed["_action"] = fields_key
            row.written, row.observed = written, observed
            report.written += 1
        if not rec.get("confident"):
            report.suggested += 1
        recorded.extend(actions)
        row.text_hash, row.revision = digest, rev
        row.type, row.subtype, row.priority = rec["type"], rec["subtype"], rec["priority"]
        row.confidence, row.confident, row.source = rec["confidence"], rec["confident"], str(rec["source"])
        row.kb, row.reasons, row.model_version = rec["kb"], rec["reasons"], version
        row.decision = "; ".join(f"{k}: {v}" for k, v in outcome.items()) or "note only"
        row.shadow, row.updated_at = shadow, now
        report.enriched += 1
    groups: set[str] = set()
    for i in range(0, len(recorded), 1000):  # one INSERT per thousand actions, in order
        groups.update(outbox.record(session, recorded[i:i + 1000], now=now, status=status))
    report.groups = sorted(groups)
    return report
