"""The rate limiter is one budget for every worker: it lives in Redis and uses Redis's clock."""

from __future__ import annotations

import time

import pytest

from connectors.errors import RateLimited
from connectors.ratelimit import Limit, RedisTokenBucket


def test_two_workers_share_one_bucket(redis_client, redis_prefix) -> None:
    limit = Limit(10, 1.0, burst=5)  # 10 per second, bursts of 5
    key = f"{redis_prefix}:rl:v:t"
    a = RedisTokenBucket(redis_client, key, limit)
    b = RedisTokenBucket(redis_client, key, limit)
    start = time.monotonic()
    for _ in range(3):
        a.acquire()
    for _ in range(2):
        b.acquire()
    assert time.monotonic() - start < 0.08, "the burst is free"
    # the burst of 5 is spent across both workers: 5 more calls need ~0.5 s of refill
    for _ in range(5):
        (a if _ % 2 else b).acquire()
    assert time.monotonic() - start >= 0.4


def test_penalize_blocks_every_sharer(redis_client, redis_prefix) -> None:
    key = f"{redis_prefix}:rl:v:p"
    RedisTokenBucket(redis_client, key, Limit(1000, 60.0)).penalize(0.5)
    start = time.monotonic()
    RedisTokenBucket(redis_client, key, Limit(1000, 60.0)).acquire()
    assert time.monotonic() - start >= 0.45


def test_a_wait_longer_than_allowed_raises_instead_of_hanging(redis_client, redis_prefix) -> None:
    key = f"{redis_prefix}:rl:v:w"
    RedisTokenBucket(redis_client, key, Limit(1000, 60.0)).penalize(30)
    with pytest.raises(RateLimited):
        RedisTokenBucket(redis_client, key, Limit(1000, 60.0), max_wait=1.0).acquire()
