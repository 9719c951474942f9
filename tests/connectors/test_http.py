"""The shared request policy: what is retried, what is not, and what the user is told."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from connectors.errors import (
    AuthError,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransportError,
    ValidationFailed,
)
from connectors.http import RetryPolicy, VendorHttp, parse_retry_after
from connectors.ratelimit import Limit, LocalTokenBucket

BASE = "https://api.vendor.example"


def make_http(sleeps: list[float], **kw: object) -> VendorHttp:
    client = httpx.Client(base_url=BASE)
    return VendorHttp("vendorx", client, sleep=sleeps.append, credential_settings="SWITCHBOARD_X__KEY",
                      secrets=["s3cr3t-value"], **kw)  # type: ignore[arg-type]


@respx.mock
def test_429_waits_at_least_retry_after_then_succeeds() -> None:
    route = respx.get(f"{BASE}/items").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={"ok": True})]
    )
    sleeps: list[float] = []
    http = make_http(sleeps)
    assert http.get_json("/items") == {"ok": True}
    assert route.call_count == 2
    assert len(sleeps) == 1 and 7.0 <= sleeps[0] <= 8.0


@respx.mock
def test_429_pauses_the_shared_limiter_for_everyone() -> None:
    respx.get(f"{BASE}/items").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "30"}), httpx.Response(200, json={})]
    )
    now = [0.0]
    limiter = LocalTokenBucket(Limit(100, 60), clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    http = make_http([], limiter=limiter)
    http.get_json("/items")
    # the limiter (shared with every other worker of the tenant) held the retry until Retry-After passed
    assert now[0] >= 29


@respx.mock
def test_5xx_then_success_is_retried_with_backoff() -> None:
    route = respx.get(f"{BASE}/items").mock(
        side_effect=[httpx.Response(502), httpx.Response(503), httpx.Response(200, json=[1])]
    )
    sleeps: list[float] = []
    assert make_http(sleeps).get_json("/items") == [1]
    assert route.call_count == 3
    assert len(sleeps) == 2 and all(0 < s <= 20 for s in sleeps)


@respx.mock
def test_5xx_gives_up_after_the_bounded_attempts() -> None:
    route = respx.get(f"{BASE}/items").mock(return_value=httpx.Response(500, json={"message": "boom"}))
    sleeps: list[float] = []
    with pytest.raises(ServerError, match="boom"):
        make_http(sleeps, retry=RetryPolicy(attempts=3)).get_json("/items")
    assert route.call_count == 3


@respx.mock
def test_401_is_not_retried_and_names_the_credential_settings() -> None:
    route = respx.get(f"{BASE}/items").mock(return_value=httpx.Response(401, json={"message": "bad key s3cr3t-value"}))
    sleeps: list[float] = []
    with pytest.raises(AuthError) as info:
        make_http(sleeps).get_json("/items")
    assert route.call_count == 1 and sleeps == []
    assert "SWITCHBOARD_X__KEY" in str(info.value)
    assert "s3cr3t-value" not in str(info.value)


@respx.mock
@pytest.mark.parametrize(("status", "error"), [(403, PermissionDenied), (400, ValidationFailed), (422, ValidationFailed)])
def test_client_errors_are_not_retried(status: int, error: type) -> None:
    route = respx.post(f"{BASE}/items").mock(return_value=httpx.Response(status, json={"errors": ["title is required"]}))
    with pytest.raises(error) as info:
        make_http([]).request("POST", "/items", json_body={})
    assert route.call_count == 1
    if error is ValidationFailed:
        assert "title is required" in str(info.value)


@respx.mock
def test_timeouts_are_retried_then_reported_clearly() -> None:
    route = respx.get(f"{BASE}/items").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(TransportError, match="timed out"):
        make_http([], retry=RetryPolicy(attempts=2)).get_json("/items")
    assert route.call_count == 2


@respx.mock
def test_a_retry_after_beyond_the_inline_cap_is_raised_not_slept() -> None:
    respx.get(f"{BASE}/items").mock(return_value=httpx.Response(429, headers={"Retry-After": "3600"}))
    sleeps: list[float] = []
    with pytest.raises(RateLimited) as info:
        make_http(sleeps).get_json("/items")
    assert sleeps == [] and info.value.retry_after == 3600


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    assert parse_retry_after("12") == 12.0
    when = (now + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(when, now=now) == pytest.approx(90, abs=1)
    assert parse_retry_after("soon") is None


@respx.mock
def test_retries_are_logged_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    respx.get(f"{BASE}/items").mock(
        side_effect=[httpx.Response(500, json={"message": "db error for key s3cr3t-value"}), httpx.Response(200, json={})]
    )
    with caplog.at_level(logging.DEBUG):
        make_http([]).get_json("/items")
    assert "retrying" in caplog.text
    assert "s3cr3t-value" not in caplog.text


@respx.mock
@pytest.mark.parametrize("failure", [httpx.ReadTimeout("slow"), httpx.Response(502)])
def test_a_write_with_an_unknown_outcome_is_never_resent_inline(failure) -> None:
    from connectors.errors import UnknownOutcome

    route = respx.post(f"{BASE}/tickets").mock(side_effect=[failure, httpx.Response(200, json={"id": 2})])
    with pytest.raises(UnknownOutcome, match="may have been applied"):
        make_http([]).request("POST", "/tickets", json_body={"title": "x"})
    assert route.call_count == 1


@respx.mock
def test_a_write_refused_with_429_or_never_sent_is_retried() -> None:
    route = respx.post(f"{BASE}/tickets").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(429, headers={"Retry-After": "1"}),
                     httpx.Response(200, json={"id": 1})]
    )
    assert make_http([]).request("POST", "/tickets", json_body={}).json() == {"id": 1}
    assert route.call_count == 3


@respx.mock
def test_reads_sent_as_post_may_declare_themselves_idempotent() -> None:
    route = respx.post(f"{BASE}/query").mock(side_effect=[httpx.Response(503), httpx.Response(200, json=[])])
    make_http([]).request("POST", "/query", json_body={}, idempotent=True)
    assert route.call_count == 2
