"""Webhook verification primitives and the per-vendor webhook interface.

A vendor module that receives webhooks exposes ``WEBHOOK``, an object with:

- ``vendor``: the registry name;
- ``verify(headers, body, secret, now)``: raise :class:`WebhookRejected` unless the call is
  authentic — the vendor's signature where it signs (HMAC over the raw body, constant-time
  compare, timestamp/replay window), else a per-tenant secret token the MSP puts in the URL or a
  header when registering the webhook;
- ``parse(headers, body)``: a :class:`WebhookDelivery` — canonical alert events, or the ids of
  tickets/documents that changed (the receiver enqueues a targeted pull for those; the
  incremental poll reconciles anything a webhook missed).

``switchboard serve`` (``worker/webhooks.py``) looks ``WEBHOOK`` up through the registry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from connectors.canonical import AlertEvent

__all__ = [
    "WebhookDelivery",
    "WebhookRejected",
    "WebhookSpec",
    "check_timestamp",
    "header",
    "sign",
    "verify_hmac",
    "verify_token",
]


class WebhookRejected(Exception):
    """The call is refused; ``code`` is a short label for the refusal counter."""

    def __init__(self, code: Literal["unsigned", "bad_signature", "stale", "replayed", "unknown_tenant", "malformed"],
                 message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class WebhookDelivery:
    vendor: str
    kind: Literal["alerts", "tickets", "documents", "other"]
    events: list[AlertEvent] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    """ids of changed tickets/documents, for a targeted pull"""
    delivery_id: str | None = None
    """the vendor's id of this delivery, for the replay guard"""


class WebhookSpec(Protocol):
    vendor: str

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, now: float) -> None: ...

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery: ...


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def sign(body: bytes, secret: str, *, algorithm: str = "sha256", encoding: str = "hex") -> str:
    digest = hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).digest()
    return base64.b64encode(digest).decode() if encoding == "base64" else digest.hex()


def verify_hmac(
    body: bytes,
    presented: str | None,
    secret: str,
    *,
    algorithm: str = "sha256",
    encoding: str = "hex",
    prefix: str = "",
) -> None:
    """Constant-time check of an HMAC signature over the raw body."""
    if not presented:
        raise WebhookRejected("unsigned", "no signature on the call")
    if prefix and presented.startswith(prefix):
        presented = presented[len(prefix):]
    expected = sign(body, secret, algorithm=algorithm, encoding=encoding)
    if not hmac.compare_digest(presented.strip().encode(), expected.encode()):
        raise WebhookRejected("bad_signature", "signature does not match")


def verify_token(presented: str | None, expected: str) -> None:
    """Constant-time check of a shared secret token (vendors that do not sign)."""
    if not presented:
        raise WebhookRejected("unsigned", "no token on the call")
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise WebhookRejected("bad_signature", "token does not match")


def check_timestamp(value: str | None, now: float, tolerance: float = 300.0) -> float:
    """A signed timestamp (seconds or milliseconds since the epoch) within ``tolerance`` of now."""
    if not value:
        raise WebhookRejected("unsigned", "no timestamp on the call")
    try:
        ts = float(value)
    except ValueError:
        raise WebhookRejected("malformed", "timestamp is not a number") from None
    if ts > 1e12:
        ts /= 1000.0
    if abs(now - ts) > tolerance:
        raise WebhookRejected("stale", f"timestamp is {abs(now - ts):.0f}s away from now (window {tolerance:.0f}s)")
    return ts


def json_body(body: bytes) -> Any:
    import json

    try:
        return json.loads(body or b"null")
    except ValueError:
        raise WebhookRejected("malformed", "body is not JSON") from None
