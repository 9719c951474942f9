"""Quarantine: inputs we could not use are kept with a clear reason, never dropped.

The same payload seen again (a malformed record that the vendor keeps serving) bumps a counter
instead of filling the table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from connectors.protocols import Rejected
from pipelines.state import Quarantine

__all__ = ["keep", "keep_all", "listing"]


def _text(payload: Any) -> str:
    if isinstance(payload, str):
        return payload
    try:
        return json.dumps(payload, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(payload)


def keep(session: Session, stream: str, reason: str, payload: Any, now: datetime | None = None) -> Quarantine:
    text = _text(payload)
    digest = hashlib.sha256(text.encode()).hexdigest()
    now = now or datetime.now(UTC)
    row = session.scalar(sa.select(Quarantine).where(Quarantine.stream == stream, Quarantine.digest == digest))
    if row is not None:
        row.seen_count += 1
        row.last_seen_at = now
        row.reason = reason
        return row
    row = Quarantine(stream=stream, reason=reason, payload=text, digest=digest, created_at=now, last_seen_at=now)
    session.add(row)
    session.flush()
    return row


def keep_all(session: Session, rejected: Iterable[Rejected], now: datetime | None = None) -> int:
    n = 0
    for r in rejected:
        keep(session, r.stream, r.reason, r.payload, now)
        n += 1
    return n


def listing(session: Session, *, status: str | None = "new", limit: int = 50) -> list[Quarantine]:
    q = sa.select(Quarantine).order_by(Quarantine.id.desc()).limit(limit)
    if status:
        q = q.where(Quarantine.status == status)
    return list(session.scalars(q))
