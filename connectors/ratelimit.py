"""Per-vendor-tenant rate limiting shared by every worker through Redis.

A token bucket lives in one Redis hash per vendor tenant (``{prefix}:rl:{vendor}:{tenant}``);
a Lua script refills and takes tokens atomically using Redis's own clock, so workers on many
machines see one budget. When a vendor answers 429 with ``Retry-After``, :meth:`penalize` blocks
the whole tenant until then, so an alert storm never becomes a 429 storm.

``LocalTokenBucket`` is the same policy in process memory, for tools that run without Redis
(replay, unit tests); ``Unlimited`` is for simulators under test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from connectors.errors import RateLimited

__all__ = ["Limit", "LocalTokenBucket", "RateLimiter", "RedisTokenBucket", "Unlimited"]


@dataclass(frozen=True)
class Limit:
    """``requests`` per ``per_seconds``, with bursts up to ``burst`` (default: a tenth of the window)."""

    requests: int
    per_seconds: float
    burst: int | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.per_seconds

    @property
    def capacity(self) -> int:
        return self.burst or max(1, self.requests // 10)


class RateLimiter(Protocol):
    def acquire(self, cost: int = 1) -> None: ...

    def penalize(self, seconds: float) -> None: ...


class Unlimited:
    def acquire(self, cost: int = 1) -> None:
        return None

    def penalize(self, seconds: float) -> None:
        return None


class LocalTokenBucket:
    def __init__(
        self,
        limit: Limit,
        *,
        max_wait: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = limit
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(limit.capacity)
        self._stamp = clock()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def _take(self, cost: int) -> float:
        with self._lock:
            now = self._clock()
            if now < self._blocked_until:
                return self._blocked_until - now
            self._tokens = min(self.limit.capacity, self._tokens + (now - self._stamp) * self.limit.rate)
            self._stamp = now
            if self._tokens >= cost:
                self._tokens -= cost
                return 0.0
            return (cost - self._tokens) / self.limit.rate

    def acquire(self, cost: int = 1) -> None:
        waited = 0.0
        while True:
            wait = self._take(cost)
            if wait <= 0:
                return
            if waited + wait > self.max_wait:
                raise RateLimited(f"local rate limit would wait {waited + wait:.1f}s", retry_after=wait)
            self._sleep(wait)
            waited += wait

    def penalize(self, seconds: float) -> None:
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)


# KEYS[1] bucket hash; ARGV: capacity, rate per ms, cost. Returns milliseconds to wait (0 = taken).
_BUCKET_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked_until') or '0')
if now < blocked then
  return blocked - now
end
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or ARGV[1])
local stamp = tonumber(redis.call('HGET', KEYS[1], 'stamp') or now)
tokens = math.min(capacity, tokens + (now - stamp) * rate)
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = math.ceil((cost - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate) + 60000)
return wait
"""

_PENALIZE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('HGET', KEYS[1], 'blocked_until') or '0')
if until_ms > cur then
  redis.call('HSET', KEYS[1], 'blocked_until', tostring(until_ms))
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) + 60000)
return until_ms
"""


class RedisTokenBucket:
    """Token bucket shared by all workers of all machines through one Redis key."""

    def __init__(
        self,
        redis: Any,
        key: str,
        limit: Limit,
        *,
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.key = key
        self.limit = limit
        self.max_wait = max_wait
        self._sleep = sleep
        self._take = redis.register_script(_BUCKET_LUA)
        self._penalize = redis.register_script(_PENALIZE_LUA)

    def acquire(self, cost: int = 1) -> None:
        waited = 0.0
        rate_per_ms = self.limit.rate / 1000.0
        while True:
            wait_ms = int(self._take(keys=[self.key], args=[self.limit.capacity, rate_per_ms, cost]))
            if wait_ms <= 0:
                return
            wait = wait_ms / 1000.0
            if waited + wait > self.max_wait:
                raise RateLimited(
                    f"shared rate limit {self.key} would wait {waited + wait:.1f}s", retry_after=wait
                )
            self._sleep(wait)
            waited += wait

    def penalize(self, seconds: float) -> None:
        self._penalize(keys=[self.key], args=[int(seconds * 1000)])
