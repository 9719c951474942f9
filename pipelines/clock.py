"""Where "now" comes from. Rules never read a clock; pipelines take ``now`` from one of these.

``RedisClock`` reads an ISO-8601 time from a Redis key, so a demo can play a day in two
minutes while the service, its workers and the simulators agree on the time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from connectors.canonical import utc

__all__ = ["Clock", "FixedClock", "RedisClock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = utc(at)

    def now(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = utc(at)


class RedisClock:
    def __init__(self, redis: Any, key: str) -> None:
        self.redis = redis
        self.key = key

    def now(self) -> datetime:
        raw = self.redis.get(self.key)
        if not raw:
            return datetime.now(UTC)
        return utc(datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else raw))

    def set(self, at: datetime) -> None:
        self.redis.set(self.key, utc(at).isoformat())
