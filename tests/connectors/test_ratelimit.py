"""The rate limiter is one budget for every worker: it lives in Redis and uses Redis's clock."""

from __future__ import annotations

import time

import pytest

from connectors.errors import RateLimited
from connectors.ratelimit import Limit, RedisTokenBucket


def recorder(slept: list[float]):
    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    return sleep


def test_two_workers_share_one_bucket(redis_client, redis_prefix) -> None:
    limit = Limit(5, 2.5, burst=5)  # 2 per second, bursts of 5
    key = f"{redis_prefix}:rl:v:t"
    slept_a: list[float] = []
    slept_b: list[float] = []
    a = RedisTokenBucket(redis_client, key, limit, sleep=recorder(slept_a))
    b = RedisTokenBucket(redis_client, key, limit, sleep=recorder(slept_b))
    for _ in range(3):
        a.acquire()
    for _ in range(2):
        b.acquire()
    assert slept_a == [] and slept_b == [], "the burst is free"
    # the burst of 5 is spent across both workers: each further call waits for a refill (0.5 s per token)
    a.acquire()
    b.acquire()
    assert slept_a and slept_b
    assert 0.5 <= sum(slept_a) + sum(slept_b) <= 1.2


def test_penalize_blocks_every_sharer(redis_client, redis_prefix) -> None:
    key = f"{redis_prefix}:rl:v:p"
    RedisTokenBucket(redis_client, key, Limit(1000, 60.0)).penalize(0.5)
    slept: list[float] = []
    RedisTokenBucket(redis_client, key, Limit(1000, 60.0), sleep=recorder(slept)).acquire()
    assert slept and 0.3 <= sum(slept) <= 0.6


def test_a_wait_longer_than_allowed_raises_instead_of_hanging(redis_client, redis_prefix) -> None:
    key = f"{redis_prefix}:rl:v:w"
    RedisTokenBucket(redis_client, key, Limit(1000, 60.0)).penalize(30)
    with pytest.raises(RateLimited):
        RedisTokenBucket(redis_client, key, Limit(1000, 60.0), max_wait=1.0).acquire()
