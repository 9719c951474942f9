"""Incremental cursors over a vendor's own change marker (a last-modified timestamp).

The saved value never moves past the start of the sync that produced it (a record changed
while we were paging is picked up next time), the pull may ask for ``lag`` seconds before the
saved value (late writes), and records that share the boundary timestamp are de-duplicated by id
so the overlap costs nothing downstream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connectors.canonical import utc

__all__ = ["TimeCursor"]


@dataclass
class TimeCursor:
    value: datetime | None = None
    boundary_ids: set[str] = field(default_factory=set)
    lag: timedelta = timedelta(seconds=0)

    # -- persistence --------------------------------------------------------------------------
    def dumps(self) -> str:
        return json.dumps(
            {"value": self.value.isoformat() if self.value else None, "ids": sorted(self.boundary_ids)}
        )

    @classmethod
    def loads(cls, text: str | None, *, lag: timedelta = timedelta(0)) -> TimeCursor:
        if not text:
            return cls(lag=lag)
        data = json.loads(text)
        value = datetime.fromisoformat(data["value"]) if data.get("value") else None
        return cls(value=utc(value) if value else None, boundary_ids=set(data.get("ids", [])), lag=lag)

    # -- use ----------------------------------------------------------------------------------
    def query_from(self) -> datetime | None:
        """The lower bound to ask the vendor for (inclusive)."""
        return self.value - self.lag if self.value else None

    def is_new(self, record_id: str, changed_at: datetime | None) -> bool:
        """False for a record already delivered at the boundary timestamp."""
        if self.value is None or changed_at is None:
            return True
        changed_at = utc(changed_at)
        if changed_at < self.value:
            return self.lag > timedelta(0)
        return not (changed_at == self.value and record_id in self.boundary_ids)

    def advanced(self, seen: list[tuple[str, datetime]], sync_started: datetime) -> TimeCursor:
        """The cursor after a sync that delivered ``seen`` (id, changed_at) pairs."""
        sync_started = utc(sync_started)
        times = [utc(t) for _, t in seen if t is not None and utc(t) <= sync_started]
        if not times:
            return TimeCursor(self.value, set(self.boundary_ids), self.lag)
        top = max(times)
        if self.value is not None and top < self.value:
            return TimeCursor(self.value, set(self.boundary_ids), self.lag)
        ids = {i for i, t in seen if t is not None and utc(t) == top}
        if self.value is not None and top == self.value:
            ids |= self.boundary_ids
        return TimeCursor(top, ids, self.lag)
