"""A simulator's schedule: things that happen at a time on the simulator's clock (an alert
opens, an alert clears), applied in time order when a request arrives.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Timeline", "alert_spans"]


@dataclass(order=True)
class _Pending:
    at: datetime
    seq: int
    action: str = field(compare=False)
    key: str = field(compare=False)


class Timeline:
    def __init__(self) -> None:
        self._heap: list[_Pending] = []
        self._seq = itertools.count()

    def push(self, at: datetime, action: str, key: str) -> None:
        heapq.heappush(self._heap, _Pending(at, next(self._seq), action, key))

    def due(self, now: datetime) -> Iterator[tuple[datetime, str, str]]:
        """Pop and yield (at, action, key) for everything scheduled at or before ``now``, in order."""
        while self._heap and self._heap[0].at <= now:
            item = heapq.heappop(self._heap)
            yield item.at, item.action, item.key

    def when(self, action: str, key: str) -> datetime | None:
        return min((p.at for p in self._heap if p.key == key and p.action == action), default=None)

    def next_at(self) -> datetime | None:
        return self._heap[0].at if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)


def alert_spans(events: Iterable[Any]) -> list[tuple[Any, datetime | None]]:
    """Each alert of a canonical stream as (its first raise, when it cleared or None).

    An RMM shows an alert open from its first raise to its clear; the repeats in between are not
    visible through its open/resolved lists.
    """
    first: dict[str, Any] = {}
    cleared: dict[str, datetime] = {}
    for e in events:
        if e.kind == "raised":
            first.setdefault(e.alert_id, e)
        else:
            cleared[e.alert_id] = e.at
    return [(e, cleared.get(aid)) for aid, e in first.items()]
