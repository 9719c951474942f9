"""The one place connectors talk HTTP: ``VendorHttp.request``.

Retry and rate limiting live here, above the transport, so that respx (which replaces the
transport in tests) exercises them exactly as production does.

- Retried (tenacity, jittered exponential backoff, bounded by attempts and total delay):
  timeouts and connection errors, 429 and 5xx. ``Retry-After`` (seconds or an HTTP date) is the
  minimum wait, and also pauses every worker sharing the tenant's rate limiter.
- Writes are different: a POST/PATCH that timed out after it was sent, lost its connection, or
  got a 5xx may have been applied. It is *not* re-sent here: :class:`UnknownOutcome` goes up to
  the outbox, which searches the vendor for the action's marker before trying again. Only 429
  (refused before any work) and connection failures before sending are retried in-line.
  Reads sent as POST (Autotask queries) say ``idempotent=True``.
- Never retried: 400/401/403/404/409/422 and any other 4xx. They become a clear
  :class:`~connectors.errors.FatalError` that names the vendor, the operation and, for 401, the
  settings that hold the credential (never the credential itself).
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    stop_after_delay,
)

from connectors.errors import (
    AuthError,
    ConnectorError,
    FatalError,
    NotFound,
    PermissionDenied,
    RateLimited,
    RetriableError,
    ServerError,
    TransportError,
    UnknownOutcome,
    ValidationFailed,
)
from connectors.ratelimit import RateLimiter, Unlimited

__all__ = ["RetryPolicy", "VendorHttp", "parse_retry_after", "redact"]

log = logging.getLogger("switchboard.http")


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` with ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    total_delay: float = 90.0
    """Give up once this many seconds have passed since the first attempt."""
    base: float = 0.5
    cap: float = 20.0
    max_retry_after: float = 120.0
    """A ``Retry-After`` longer than this is not slept on in-line: the error is raised and the
    job/poll retries later (the shared limiter keeps every worker paused meanwhile)."""


@dataclass
class _Stats:
    requests: int = 0
    retries: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)


class VendorHttp:
    """An ``httpx.Client`` plus the policies every vendor shares."""

    def __init__(
        self,
        vendor: str,
        client: httpx.Client,
        *,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        secrets: Iterable[str] = (),
        credential_settings: str = "",
        classify: Callable[[httpx.Response], ConnectorError | None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.vendor = vendor
        self.client = client
        self.limiter = limiter or Unlimited()
        self.retry = retry or RetryPolicy()
        self._secrets = tuple(s for s in secrets if s)
        self.credential_settings = credential_settings
        self._classify_extra = classify
        self._sleep = sleep
        self.stats = _Stats()

    def __repr__(self) -> str:
        return f"VendorHttp(vendor={self.vendor!r}, base_url={str(self.client.base_url)!r})"

    # -- classification -------------------------------------------------------------------

    def _detail(self, response: httpx.Response) -> str:
        try:
            text = response.text
        except Exception:  # noqa: BLE001 - a body we cannot decode is no detail at all
            return ""
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict):
            for key in ("errors", "error", "message", "Message", "detail", "error_description", "title"):
                if body.get(key):
                    text = json.dumps(body[key]) if not isinstance(body[key], str) else body[key]
                    break
        return redact(text.strip()[:400], self._secrets)

    def classify(self, response: httpx.Response, operation: str) -> ConnectorError | None:
        if response.is_success:
            return None
        if self._classify_extra is not None:
            special = self._classify_extra(response)
            if special is not None:
                return special
        status = response.status_code
        detail = self._detail(response)
        where = f"{operation} -> HTTP {status}"
        kw: dict[str, Any] = {"vendor": self.vendor, "status": status}
        if status == 401:
            hint = f"; check {self.credential_settings}" if self.credential_settings else ""
            return AuthError(f"{where}: the vendor refused the credentials{hint}", **kw)
        if status == 403:
            return PermissionDenied(
                f"{where}: the credentials work but lack permission for this call ({detail or 'no detail'})",
                **kw,
            )
        if status == 404:
            return NotFound(f"{where}: not found ({detail or 'no detail'})", **kw)
        if status in (400, 409, 422):
            return ValidationFailed(f"{where}: the vendor refused the request: {detail or 'no detail'}", **kw)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return RateLimited(f"{where}: rate limited (Retry-After {retry_after})", retry_after=retry_after, **kw)
        if status >= 500:
            return ServerError(f"{where}: vendor server error: {detail or 'no detail'}", **kw)
        return FatalError(f"{where}: {detail or 'unexpected status'}", **kw)

    # -- the one request function -----------------------------------------------------------

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = min(self.retry.cap, self.retry.base * (2 ** (state.attempt_number - 1)))
        backoff = random.uniform(backoff / 2, backoff)
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return max(exc.retry_after, 0.0) + random.uniform(0, min(1.0, backoff))
        return backoff

    def _stop(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after and exc.retry_after > self.retry.max_retry_after:
            return True
        return bool(
            stop_after_attempt(self.retry.attempts)(state) or stop_after_delay(self.retry.total_delay)(state)
        )

    def _before_sleep(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s: retrying after %s (attempt %d)",
            self.vendor,
            redact(str(exc), self._secrets),
            state.attempt_number,
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        operation: str = "",
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send one request with the shared policies; return the successful response."""
        operation = operation or f"{method} {url.split('?')[0]}"
        safe = idempotent if idempotent is not None else method.upper() in ("GET", "HEAD", "OPTIONS", "PUT", "DELETE")

        def attempt() -> httpx.Response:
            self.limiter.acquire()
            self.stats.requests += 1
            self.stats.by_operation[operation] = self.stats.by_operation.get(operation, 0) + 1
            try:
                response = self.client.request(
                    method, url, params=params, json=json_body, data=data, headers=headers
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # never reached the vendor: safe to send again
                raise TransportError(f"{operation}: could not connect ({type(exc).__name__})", vendor=self.vendor) from None
            except httpx.TransportError as exc:
                kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection lost"
                if not safe:
                    raise UnknownOutcome(
                        f"{operation}: {kind} after sending ({type(exc).__name__}); it may have been applied",
                        vendor=self.vendor,
                    ) from None
                raise TransportError(f"{operation}: {kind} ({type(exc).__name__})", vendor=self.vendor) from None
            error = self.classify(response, operation)
            if error is None:
                return response
            if isinstance(error, RateLimited) and error.retry_after:
                self.limiter.penalize(error.retry_after)
            if isinstance(error, ServerError) and not safe:
                raise UnknownOutcome(f"{error}; it may have been applied", vendor=self.vendor,
                                     status=error.status) from None
            raise error

        retrying = Retrying(
            retry=retry_if_exception_type(RetriableError) & retry_if_not_exception_type(UnknownOutcome),
            stop=self._stop,
            wait=self._wait,
            before_sleep=self._before_sleep,
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(attempt)

    def get_json(self, url: str, **kw: Any) -> Any:
        return self.json_of(self.request("GET", url, **kw), kw.get("operation") or f"GET {url}")

    def json_of(self, response: httpx.Response, operation: str) -> Any:
        """The response's JSON, or a clear error if the vendor sent something else."""
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            from connectors.errors import MalformedRecord

            raise MalformedRecord(
                f"{operation}: response is not JSON ({response.headers.get('content-type', '?')})",
                vendor=self.vendor,
                payload=redact(response.text[:2000], self._secrets),
                stream=operation,
            ) from None
