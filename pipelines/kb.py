"""The local KB: troubleshooting articles pulled incrementally from the documentation platform.

:func:`sync` pulls what changed since the stream's cursor (``kb:{vendor}``: one API call when
nothing changed) from the configured docs platform (``SWITCHBOARD_DOCS``: Hudu or IT Glue) into
``kb_article``, in one transaction with the cursor (compare-and-set, as for alerts): a sync that
fails leaves both as they were, and two syncs of one stream can never both commit. Articles the
platform took back (a Hudu draft, an archived IT Glue asset) are marked ``withdrawn`` and no
longer linked. Records that do not fit are quarantined with their reason.

:func:`index_articles` is what the KB index is built from: the synced articles of the configured
platform — or, with no platform configured (or nothing synced yet, when
``enrichment.yaml: kb.fallback_builtin``), the built-in corpus (``rules.kb_corpus``), so KB
linking works out of the box.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from connectors.canonical import KBArticle, Ref, utc
from connectors.errors import ConnectorError
from pipelines import quarantine
from pipelines.alerts import _save_cursor, note_error, read_cursor
from pipelines.state import KBArticleRow

__all__ = ["KBSyncReport", "builtin_articles", "index_articles", "signature", "stream_name", "sync", "upsert"]

log = logging.getLogger("switchboard.kb")


def stream_name(vendor: str) -> str:
    return f"kb:{vendor}"


@dataclass
class KBSyncReport:
    vendor: str | None
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    quarantined: int = 0
    calls: int = 0
    total: int = 0
    """articles in the local index after the sync"""
    skipped: str | None = None
    titles: list[str] = field(default_factory=list)
    """titles of the new and changed articles"""

    def as_dict(self) -> dict[str, Any]:
        return {"vendor": self.vendor, "new": self.new, "updated": self.updated, "unchanged": self.unchanged,
                "withdrawn": self.withdrawn, "quarantined": self.quarantined, "calls": self.calls,
                "total": self.total, "skipped": self.skipped}


def _key(ref: Ref) -> str:
    return f"{ref.vendor}:{ref.id}"


def upsert(session: Session, articles: Iterable[KBArticle], now: datetime, report: KBSyncReport | None = None) -> None:
    """Store articles (insert or update by vendor id); a changed title/body counts as updated."""
    report = report or KBSyncReport(vendor=None)
    for a in articles:
        key = _key(a.ref)
        digest = a.content_hash()
        row = session.get(KBArticleRow, key)
        if row is None:
            session.add(KBArticleRow(
                key=key, vendor=a.ref.vendor, article_id=a.ref.id, title=a.title[:500], body=a.body, url=a.url,
                folder=a.folder, client=a.client.id if a.client else None, content_hash=digest,
                updated_at=a.updated_at, withdrawn=False, synced_at=now,
            ))
            report.new += 1
            report.titles.append(a.title)
            continue
        changed = row.content_hash != digest or row.withdrawn or row.url != a.url or row.folder != a.folder
        row.title, row.body, row.url, row.folder = a.title[:500], a.body, a.url, a.folder
        row.client = a.client.id if a.client else None
        row.content_hash, row.updated_at, row.withdrawn = digest, a.updated_at, False
        if changed:
            row.synced_at = now
            report.updated += 1
            report.titles.append(a.title)
        else:
            report.unchanged += 1


def _withdraw(session: Session, vendor: str, ids: Sequence[str], now: datetime) -> int:
    n = 0
    for article_id in ids:
        row = session.get(KBArticleRow, f"{vendor}:{article_id}")
        if row is not None and not row.withdrawn:
            row.withdrawn, row.synced_at = True, now
            n += 1
    return n


def sync(ctx: Any, *, now: datetime | None = None) -> KBSyncReport:
    """One incremental pull of the configured documentation platform's articles into ``kb_article``."""
    now = utc(now or ctx.clock.now())
    docs = ctx.docs()
    if docs is None:
        return KBSyncReport(vendor=None, skipped="no documentation platform configured (SWITCHBOARD_DOCS): "
                                                 "the built-in corpus is the KB")
    report = KBSyncReport(vendor=docs.vendor)
    stream = stream_name(docs.vendor)
    value, version = read_cursor(ctx, stream)
    try:
        pulled = docs.pull_articles(value, now)
    except ConnectorError as exc:
        note_error(ctx, stream, str(exc), now)
        raise
    report.calls = pulled.calls
    with ctx.db.session() as session:
        _save_cursor(session, stream, version, pulled.cursor, now)
        report.quarantined = quarantine.keep_all(session, pulled.rejected, now)
        upsert(session, pulled.items, now, report)
        report.withdrawn = _withdraw(session, docs.vendor, pulled.withdrawn, now)
        session.flush()
        report.total = session.scalar(sa.select(sa.func.count()).select_from(KBArticleRow).where(
            KBArticleRow.vendor == docs.vendor, KBArticleRow.withdrawn.is_(False))) or 0
    if report.new or report.updated or report.withdrawn:
        log.info("kb sync %s: %d new, %d updated, %d withdrawn (%d in the index)", docs.vendor, report.new,
                 report.updated, report.withdrawn, report.total)
    return report


def builtin_articles() -> list[KBArticle]:
    """The built-in troubleshooting corpus (``rules.kb_corpus``); empty if it is not installed."""
    try:
        from rules import kb_corpus
    except ImportError:  # pragma: no cover - the corpus ships with the package
        return []
    return list(kb_corpus.articles())


def _article_of(row: KBArticleRow) -> KBArticle:
    return KBArticle(ref=Ref(vendor=row.vendor, id=row.article_id), title=row.title, body=row.body, url=row.url,
                     client=Ref(vendor=row.vendor, id=row.client) if row.client else None,
                     updated_at=row.updated_at, folder=row.folder)


def synced_articles(session: Session, vendor: str) -> list[KBArticle]:
    rows = session.scalars(sa.select(KBArticleRow).where(KBArticleRow.vendor == vendor,
                                                         KBArticleRow.withdrawn.is_(False))
                           .order_by(KBArticleRow.key))
    return [_article_of(r) for r in rows]


def signature(session: Session, vendor: str | None) -> tuple[Any, ...]:
    """Changes whenever the index's articles change (count, last sync): the enricher cache key."""
    if vendor is None:
        return ("builtin",)
    count, last = session.execute(
        sa.select(sa.func.count(), sa.func.max(KBArticleRow.synced_at)).where(
            KBArticleRow.vendor == vendor, KBArticleRow.withdrawn.is_(False))).one()
    return (vendor, count, last.isoformat() if last else None)


def index_articles(session: Session, vendor: str | None, *, fallback_builtin: bool = True) -> tuple[list[KBArticle], str]:
    """The articles the KB index is built from, and where they come from (``hudu``, ``builtin``…)."""
    if vendor is not None:
        found = synced_articles(session, vendor)
        if found or not fallback_builtin:
            return found, vendor
    return (builtin_articles(), "builtin") if fallback_builtin or vendor is None else ([], "none")
